"""Phone numbers, parsed with phonenumbers and stored in E.164."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "GB"


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """``raw`` in E.164 ("07700 900123" -> "+447700900123"), or None if not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str | None) -> str:
    """A stored number the way people write it ("+447700900123" -> "07700 900123")."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

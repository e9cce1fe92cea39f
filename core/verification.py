"""Verification codes: the short public code printed in every alert, with which anyone
can check at ``/verify`` that an alert is genuine and who sent it (docs/messaging.md).

A code is 8 characters from an alphabet without the characters people confuse when
reading aloud or typing (no 0 or O, 1, I or L, and no U, which reads like V), printed
in two groups of four ("K7QM-4XT2"). It is made with :mod:`secrets` when the message is
sent, and is unique. There are 30^8 (about 6.6 x 10^11) codes: with 10,000 alerts sent,
a code guessed at random is a real one about once in 66 million guesses, and the
verification page is rate limited as well.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select

from core.extensions import db
from core.models import Message

#: Digits and capital letters, less 0, 1, I, L, O and U.
VERIFICATION_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8

#: Message states in which a message has gone out (and so has a code that checks).
SENT_STATES = ("sending", "sent")

_CODE_RE = re.compile(f"[{VERIFICATION_ALPHABET}]{{{CODE_LENGTH}}}")


def new_code() -> str:
    """A fresh random code (without the dash), not yet given to any message."""
    while True:
        code = "".join(secrets.choice(VERIFICATION_ALPHABET) for _ in range(CODE_LENGTH))
        taken = db.session.scalar(select(Message.id).where(Message.verification_code == code))
        if taken is None:
            return code


def normalise_code(raw: str | None) -> str | None:
    """The code as stored, from what someone typed: any case, spaces and dashes
    ("k7qm 4xt2", "K7QM-4XT2"); None when it cannot be a code at all."""
    compact = re.sub(r"[\s\-‐‑–—_.]+", "", raw or "").upper()
    return compact if _CODE_RE.fullmatch(compact) else None


def format_code(code: str) -> str:
    """A stored code as printed: "K7QM4XT2" -> "K7QM-4XT2"."""
    return f"{code[:4]}-{code[4:]}"


def genuine_message(raw: str | None) -> Message | None:
    """The message that went out with the code ``raw`` (as typed), or None for a code
    that is malformed, unknown, or not of a sent message (a draft, a message awaiting
    approval or scheduled has no code yet; the state is checked all the same)."""
    code = normalise_code(raw)
    if code is None:
        return None
    return db.session.scalar(
        select(Message).where(Message.verification_code == code,
                              Message.status.in_(SENT_STATES))
    )

"""Emails the core sends, as background jobs that take ids only."""

from __future__ import annotations

import hmac
import json
from email.utils import formataddr
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mail import Message
from itsdangerous import TimestampSigner
from itsdangerous.encoding import base64_encode, int_to_bytes
from itsdangerous.signer import HMACAlgorithm

from core.extensions import db, mail
from core.jobs import enqueue
from core.models import Member, SecurityEvent, Staff, utcnow
from core.security import make_token, password_fingerprint, token_serializer

VERIFY_MAX_AGE = 7 * 24 * 3600
DOORSTEP_MAX_AGE = 14 * 24 * 3600
RESET_MAX_AGE = 3600


def external_url(endpoint: str, **values: str) -> str:
    """An absolute link built from ``BASE_URL`` (never from a request's Host header)."""
    # Bound once per app: alert batches build two links per recipient.
    adapter = current_app.extensions.get("commonwatch_url_adapter")
    if adapter is None:
        adapter = current_app.url_map.bind("localhost", script_name="/")
        current_app.extensions["commonwatch_url_adapter"] = adapter
    return current_app.config["BASE_URL"].rstrip("/") + adapter.build(endpoint, values)


def mail_sender() -> str:
    """The From address of the emails we send (``MAIL_DEFAULT_SENDER``), as a header."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    return formataddr(tuple(sender)) if isinstance(sender, tuple | list) else sender


UNSUBSCRIBE_PURPOSE = "unsubscribe"


def unsubscribe_url(member_id: int) -> str:
    """The signed one-click unsubscribe link of a member, for the List-Unsubscribe header
    and the foot of every email (RFC 8058)."""
    token = make_token(UNSUBSCRIBE_PURPOSE, {"m": member_id})
    return external_url("account.unsubscribe", token=token)


#: JSON as itsdangerous writes it, with the encoder made once.
_compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class LinkSigner:
    """Signed links to one endpoint for one purpose, for a batch of recipients: tokens
    ``core.security.read_token`` reads as it reads ``make_token``'s, in a sixth of the
    time. itsdangerous derives the key, sets up an HMAC and tries compressing the payload
    anew for every token; here the key is derived once, the batch shares one timestamp,
    and the payload (a few ids) is left uncompressed, which the reader accepts too (for
    such payloads it is what ``make_token`` gives anyway)."""

    _STAND_IN = "CWxTOKENxCW"

    def __init__(self, purpose: str, endpoint: str) -> None:
        self._serializer = token_serializer(purpose)
        signer = self._serializer.make_signer(self._serializer.salt)
        self._fast = (isinstance(signer, TimestampSigner)
                      and isinstance(signer.algorithm, HMACAlgorithm)
                      and signer.sep == b"." and self._serializer.is_text_serializer
                      and not self._serializer.serializer_kwargs)
        if self._fast:
            self._mac = hmac.new(signer.derive_key(), digestmod=signer.algorithm.digest_method)
            self._timestamp = b"." + base64_encode(int_to_bytes(signer.get_timestamp()))
        # Tokens are URL-safe, so the link is the same around every token.
        url = external_url(endpoint, token=self._STAND_IN)
        self._prefix, _, self._suffix = url.partition(self._STAND_IN)

    def token(self, data: Any) -> str:
        """The signed, timestamped token carrying ``data`` (JSON-serialisable)."""
        if not self._fast:
            return self._serializer.dumps(data)
        payload = base64_encode(_compact_json(data))
        value = payload + self._timestamp
        mac = self._mac.copy()
        mac.update(value)
        return (value + b"." + base64_encode(mac.digest())).decode()

    def url(self, data: Any) -> str:
        """The link carrying ``data``."""
        return self._prefix + self.token(data) + self._suffix


def unsubscribe_links() -> LinkSigner:
    """Signs members' unsubscribe links in bulk: ``.url({"m": member_id})`` is
    ``unsubscribe_url(member_id)``."""
    return LinkSigner(UNSUBSCRIBE_PURPOSE, "account.unsubscribe")


def send(to: str, subject: str, template: str, language: str = "en", **context: object) -> None:
    """Render ``emails/<template>.txt`` (and ``.html``) in ``language`` and send it."""
    with force_locale(language):
        brand = current_app.config["BRAND_NAME"]
        msg = Message(
            subject=f"{subject} – {brand}",
            recipients=[to],
            body=render_template(f"emails/{template}.txt", brand_name=brand, **context),
        )
    if current_app.config.get("MAIL_SERVER"):
        mail.send(msg)
    else:
        save_to_outbox(msg)


def save_to_outbox(msg: Message) -> None:
    """Keep an email as a file in instance/outbox/ (the embedded default, with no mail
    server set) and log where."""
    outbox = Path(current_app.instance_path) / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{utcnow():%Y%m%dT%H%M%S%f}-{msg.recipients[0]}.eml"
    path.write_bytes(msg.as_bytes())
    current_app.logger.warning("no MAIL_SERVER set: email to %s saved as %s",
                               msg.recipients[0], path)


def send_verification_email(member_id: int) -> None:
    """Ask a resident to confirm their email address."""
    member = db.session.get(Member, member_id)
    if member is None or member.email_verified_at:
        return
    token = make_token("verify-email", {"m": member.id, "e": member.email})
    with force_locale(member.language):
        subject = _("Confirm your email address")
    send(member.email, subject, "verify_email", member.language, member=member,
         link=external_url("account.verify_email", token=token))


def send_doorstep_confirmation(member_id: int) -> None:
    """Ask a resident registered by staff to confirm and choose a password."""
    member = db.session.get(Member, member_id)
    if member is None:
        return
    token = make_token("doorstep", {"m": member.id, "e": member.email})
    with force_locale(member.language):
        subject = _("Confirm your registration")
    send(member.email, subject, "doorstep", member.language, member=member,
         link=external_url("account.confirm_doorstep", token=token))


def send_password_reset(kind: str, user_id: int) -> None:
    """Send a single-use link to choose a new password."""
    model = Member if kind == "m" else Staff
    user = db.session.get(model, user_id)
    if user is None:
        return
    token = make_token("reset", {"k": kind, "u": user.id, "f": password_fingerprint(user)})
    language = getattr(user, "language", "en")
    with force_locale(language):
        subject = _("Reset your password")
    send(user.email, subject, "reset_password", language, user=user,
         link=external_url("auth.reset_password", token=token))


def notify_security_event(user: Member | Staff, kind: str, old_email: str | None = None) -> None:
    """Record a change to how ``user`` signs in and email them about it (commits)."""
    owner = {"staff_id": user.id} if isinstance(user, Staff) else {"member_id": user.id}
    event = SecurityEvent(kind=kind, old_email=old_email, **owner)
    db.session.add(event)
    db.session.commit()
    enqueue(send_security_notice, event.id)


def send_security_notice(event_id: int) -> None:
    """Tell someone their password, email address or two-factor setting changed."""
    event = db.session.get(SecurityEvent, event_id)
    if event is None:
        return
    user = db.session.get(Staff, event.staff_id) if event.staff_id else db.session.get(
        Member, event.member_id)
    if user is None:
        return
    language = getattr(user, "language", "en")
    with force_locale(language):
        subject = {
            "password_changed": _("Your password was changed"),
            "email_changed": _("Your email address was changed"),
            "two_factor_enabled": _("Two-factor authentication was turned on"),
        }[event.kind]
    for address in dict.fromkeys([user.email, event.old_email]):
        if address:
            send(address, subject, "security_notice", language, user=user, event=event,
                 reset_link=external_url("auth.forgot_password"))

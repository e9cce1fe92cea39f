"""Personal notices: telling one resident something meant for them alone.

Alerts go to many people through messaging; a notice goes to one resident, about
something of theirs (a plugin's answer to a concern they raised, say). It goes out by
email and by text message, as the resident chose among their channels, and is kept as a
:class:`core.models.Notice` with the channels it went out over.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import force_locale
from flask_babel import gettext as _

from core.emails import send
from core.extensions import db
from core.models import Delivery, Member, Message, Notice, Staff, utcnow
from core.registry import Channel, Outgoing, current_registry

#: Text message deliveries of notices carry the notice's id negated and offset by this
#: (a delivery row needs a message id): below every answer to a reply (``-answer id``),
#: so the two never meet, and never an alert's.
NOTICE_DELIVERY_OFFSET = 1_000_000_000

#: The channels a notice can go out over.
NOTICE_CHANNELS = ("email", "sms")


def notice_delivery_message_id(notice_id: int) -> int:
    """The message id of a notice's text message delivery row."""
    return -(NOTICE_DELIVERY_OFFSET + notice_id)


def notify_member(member: Member, subject: str, text: str, *, link: str | None = None,
                  channels: Iterable[str] | None = None) -> Notice:
    """Send ``member`` a personal notice now and record it (committed).

    ``subject`` and ``text`` are plain text in the member's language (build them under
    ``flask_babel.force_locale(member.language)``); ``link`` is an absolute URL added to
    it. It goes by email when the member has a confirmed, working address, and by text
    message through the registered ``sms`` channel when they have a working number; of
    those, only over ``channels`` if given, else over the ones among the member's chosen
    channels. Nothing is sent to a member who opted out of everything. The returned
    notice says which channels it went out over (``channels``) and why others failed
    (``error``); a failure never raises."""
    notice = Notice(member_id=member.id, subject=subject[:200], text=text, link=link,
                    at=utcnow(), channels="")
    db.session.add(notice)
    db.session.flush()
    wanted = set(channels) if channels is not None else {c.channel for c in member.channels}
    wanted &= set(NOTICE_CHANNELS)
    sent: list[str] = []
    errors: list[str] = []
    if member.opted_out_at:
        errors.append("the resident opted out of all messages")
        wanted = set()
    if "email" in wanted:
        if member.email_verified_at and not member.email_invalid_at:
            try:
                send(member.email, subject, "notice", member.language, member=member,
                     text=text, link=link)
                sent.append("email")
            except Exception as exc:  # noqa: BLE001 - recorded on the notice
                errors.append(f"email: {type(exc).__name__}")
        else:
            errors.append("email: no confirmed, working address")
    if "sms" in wanted:
        error = _send_sms(notice, member)
        if error is None:
            sent.append("sms")
        else:
            errors.append(error)
    if not sent and not errors:
        errors.append("no channel reaches the resident")
    notice.channels = ",".join(sent)
    notice.error = "; ".join(errors)[:255] or None
    db.session.commit()
    return notice


def _send_sms(notice: Notice, member: Member) -> str | None:
    """Text the notice through the registered SMS channel; the error, if any."""
    if not member.phone or member.phone_invalid_at:
        return "sms: no working number"
    channel = current_registry().channels.get("sms")
    if channel is None:
        return "sms: no sms channel"
    with force_locale(member.language):
        body = notice.text if not notice.link else _(
            "%(text)s %(link)s", text=notice.text, link=notice.link)
    return send_one_sms(channel, notice_delivery_message_id(notice.id), member,
                        notice.subject, body)


def send_one_sms(channel: Channel, message_id: int, member: Member, subject: str, text: str,
                 message: Message | None = None) -> str | None:
    """Text ``member`` one personal message now through ``channel``; the error
    (``"sms: <reason>"``), if any.

    It gets a delivery row of its own, so that the provider's reference and receipts, and
    the development channel's record, work as for alerts. ``message_id`` must be negative
    (an answer's id negated, a notice's offset below those): it never mixes with an
    alert's deliveries, counts or pages. The row is written as sent at once, so the
    sweeper never takes it for an alert delivery to retry."""
    now = utcnow()
    delivery = Delivery(message_id=message_id, member_id=member.id, channel="sms",
                        state="sent", queued_at=now, claimed_at=now, sent_at=now, attempts=1)
    db.session.add(delivery)
    db.session.flush()
    item = Outgoing(delivery_id=delivery.id, member_id=member.id, address=member.phone or "",
                    language=member.language, subject=subject, text=text, html="")
    try:
        failures = channel.send(message, [item])
    except Exception as exc:  # noqa: BLE001 - recorded by the caller
        failures = {delivery.id: ("permanent-failure", type(exc).__name__)}
    if delivery.id in failures:
        delivery.state, delivery.error = "permanent-failure", failures[delivery.id][1][:255]
        delivery.sent_at = None
        return f"sms: {failures[delivery.id][1]}"
    return None


def notify_staff(staff: Staff, subject: str, text: str, *, link: str | None = None) -> bool:
    """Email a staff account something for their attention (a case near its due date,
    say), now; whether it went. ``subject`` and ``text`` are plain text; ``link`` an
    absolute URL added to it. Inactive accounts get nothing."""
    if not staff.active:
        return False
    try:
        send(staff.email, subject, "staff_notice", "en", staff=staff, text=text, link=link)
    except Exception:  # noqa: BLE001 - the caller records that it did not go
        return False
    return True

"""Residents' replies to alerts, staff answers to them, and ratings of alerts.

Every alert carries a signed link (no sign-in) to a reply form and to "useful" / "not
useful"; alert emails also carry ``Reply-To: reply+<token>@<INBOUND_EMAIL_DOMAIN>``, and
emailed replies come in through the inbound webhook or ``commonwatch fetch-replies``
(IMAP). Each reply is a ticket in the inbox of the sender's team, and of the team a
keyword rule escalates it to. docs/messaging.md describes it all.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import hashlib
import hmac
import imaplib
import json
import logging
import re
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from core.emails import external_url, mail_sender, send
from core.extensions import db
from core.jobs import enqueue
from core.models import (
    Area,
    Delivery,
    Member,
    Message,
    MessageRating,
    Reply,
    ReplyAnswer,
    Staff,
    utcnow,
)
from core.notices import send_one_sms
from core.registry import current_registry
from core.security import make_token, read_token

#: Logs what came in by email and why anything was refused: ids and reasons only.
log = logging.getLogger("commonwatch.replies")

REPLY_PURPOSE = "reply"
#: Where an alert's texts take the member's reply link (see core.registry.Outgoing).
REPLY_STAND_IN = "{reply_url}"
#: The longest reply kept, in characters (an email's text beyond it is cut).
MAX_REPLY_LENGTH = 5000


def max_age_seconds() -> int:
    """How long reply and rating links (and Reply-To addresses) work."""
    return int(current_app.config["REPLY_LINK_MAX_AGE_DAYS"]) * 24 * 3600


# -- signed links ---------------------------------------------------------------------------


def reply_token(message_id: int, member_id: int) -> str:
    """The signed token of ``member_id``'s reply and rating links for ``message_id``."""
    return make_token(REPLY_PURPOSE, [message_id, member_id])


def reply_url(message_id: int, member_id: int) -> str:
    """The member's "Reply to the sender" link for an alert, from ``BASE_URL``; the rating
    links are it followed by ``/useful`` and ``/not-useful``."""
    return external_url("replies.reply", token=reply_token(message_id, member_id))


@dataclass(frozen=True)
class MessageLink:
    """What a signed link about one message for one member names, or why it cannot be
    used (``problem``: "forged", "expired" or "gone")."""

    message: Message | None = None
    member: Member | None = None
    problem: str | None = None


#: The reply and rating links' kind of :class:`MessageLink`.
ReplyLink = MessageLink


def read_message_link(purpose: str, token: str, max_age: int) -> MessageLink:
    """The message and member a ``[message id, member id]`` token signed for
    ``purpose`` names, if it is genuine, younger than ``max_age`` seconds and both still
    exist."""
    data = read_token(purpose, token, max_age)
    if data is None:
        forever = read_token(purpose, token, 100 * 365 * 24 * 3600)
        return MessageLink(problem="expired" if forever is not None else "forged")
    if (not isinstance(data, list) or len(data) != 2
            or not all(isinstance(i, int) for i in data)):
        return MessageLink(problem="forged")
    message = db.session.get(Message, data[0])
    member = db.session.get(Member, data[1])
    if message is None or member is None:
        return MessageLink(problem="gone")
    return MessageLink(message, member)


def read_reply_link(token: str) -> ReplyLink:
    """The message and member a reply link's ``token`` names, if it is genuine, not
    expired and both still exist."""
    return read_message_link(REPLY_PURPOSE, token, max_age_seconds())


# -- Reply-To addresses ---------------------------------------------------------------------

#: "reply+<message id>-<member id>-<day issued>-<signature>": short enough for the 64
#: characters an address's local part may have, and still valid if a mail system
#: lower-cases it.
_ADDRESS_TOKEN = re.compile(r"reply\+(\d{1,12})-(\d{1,12})-(\d{1,6})-([a-z2-7]{16})")


def _address_signature(message_id: int, member_id: int, day: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    payload = f"commonwatch.reply-address:{message_id}-{member_id}-{day}".encode()
    digest = hmac.new(key, payload, hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:16].lower()


def address_token(message_id: int, member_id: int, day: int | None = None) -> str:
    """The local part of a member's Reply-To address for an alert (``reply+...``),
    signed, issued on ``day`` (days since 1970; today by default)."""
    day = int(time.time() // 86400) if day is None else day
    signature = _address_signature(message_id, member_id, day)
    return f"reply+{message_id}-{member_id}-{day}-{signature}"


def read_address_token(local_part: str) -> tuple[int, int] | str:
    """(message id, member id) from a Reply-To local part, or why not: "forged",
    "expired" or "none" (not one of ours)."""
    match = _ADDRESS_TOKEN.fullmatch(local_part.strip().lower())
    if not match:
        return "none"
    message_id, member_id, day = (int(match.group(n)) for n in (1, 2, 3))
    expected = _address_signature(message_id, member_id, day)
    if not hmac.compare_digest(expected, match.group(4)):
        return "forged"
    if time.time() - day * 86400 > max_age_seconds() + 86400:
        return "expired"
    return message_id, member_id


def reply_address(link: str) -> str | None:
    """The Reply-To address of the alert email whose reply link is ``link``; None when
    ``INBOUND_EMAIL_DOMAIN`` is not set or there is no link."""
    domain = current_app.config.get("INBOUND_EMAIL_DOMAIN")
    if not domain or not link:
        return None
    data = read_token(REPLY_PURPOSE, link.rstrip("/").rpartition("/")[2], 10**10)
    if not isinstance(data, list) or len(data) != 2:
        return None
    return f"{address_token(data[0], data[1])}@{domain}"


def message_id_domain() -> str:
    """The domain of our Message-IDs (``<delivery id@domain>``): the sender's."""
    return parseaddr(mail_sender())[1].rpartition("@")[2] or "localhost"


# -- keyword escalation ---------------------------------------------------------------------


def keyword_rules() -> dict[str, str]:
    """``REPLY_KEYWORD_RULES``: keyword -> area code of the team to escalate to."""
    rules = current_app.config.get("REPLY_KEYWORD_RULES") or {}
    if isinstance(rules, str):  # from COMMONWATCH_REPLY_KEYWORD_RULES, as JSON
        rules = json.loads(rules)
    return {str(k): str(v) for k, v in rules.items() if str(k).strip()}


def match_keyword(text: str) -> tuple[str, str] | None:
    """The first rule (keyword, area code) whose keyword is a whole word of ``text``, in
    any case; None if none is."""
    for keyword, code in keyword_rules().items():
        if re.search(rf"(?<!\w){re.escape(keyword.strip())}(?!\w)", text, re.IGNORECASE):
            return keyword.strip(), code
    return None


# -- taking replies in ----------------------------------------------------------------------


def team_area_id(message: Message, member: Member) -> int | None:
    """The team a reply to ``message`` goes to: the sender's first area (by code), or,
    when the sender's account is gone, the resident's own area."""
    sender: Staff | None = message.sender
    if sender is not None and sender.areas:
        return min(sender.areas, key=lambda a: a.code).id
    return member.area_id


def take_reply(message: Message, member: Member, body: str, via: str,
               may_contact: bool = False, email_message_id: str | None = None) -> Reply:
    """Record a resident's reply as an open ticket in the team inbox, flagged and
    escalated when a keyword rule matches (not committed)."""
    reply = Reply(message_id=message.id, member_id=member.id,
                  organisation_id=message.organisation_id, body=body[:MAX_REPLY_LENGTH],
                  via=via, may_contact=may_contact, state="open",
                  team_area_id=team_area_id(message, member),
                  email_message_id=email_message_id)
    rule = match_keyword(body)
    if rule is not None:
        keyword, code = rule
        reply.flagged, reply.keyword = True, keyword[:64]
        reply.escalated_area_id = db.session.scalar(select(Area.id).where(Area.code == code))
        if reply.escalated_area_id is None:
            log.warning("keyword rule %r names unknown area %r: flagged only", keyword, code)
    db.session.add(reply)
    db.session.flush()
    log.info("reply %s taken via %s for message %s", reply.id, via, message.id)
    return reply


# -- inbound email ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """What became of an inbound email: the reply it made (or had made already,
    ``duplicate``), or why it was refused (``reason``)."""

    reply: Reply | None = None
    reason: str = ""
    duplicate: bool = False


#: Headers that may carry the address the email was sent to (forwarding adds some).
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")

_MSG_ID = re.compile(r"<([^<>@\s]+)@([^<>\s]+)>")


def parse_email(raw: bytes) -> EmailMessage:
    """A raw RFC 822 message as an :class:`email.message.EmailMessage`."""
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _header(mail: EmailMessage, name: str) -> str:
    try:
        return " ".join(str(v) for v in mail.get_all(name, []))
    except Exception:  # noqa: BLE001 - a malformed header counts as absent
        return ""


def _addresses(mail: EmailMessage, names: tuple[str, ...]) -> list[str]:
    found = []
    for name in names:
        for _display, address in getaddresses([_header(mail, name)]):
            if "@" in address:
                found.append(address.strip())
    return found


def is_automatic(mail: EmailMessage) -> bool:
    """Whether the email is an automatic one (out of office, bounce, list traffic),
    which must not open a ticket (RFC 3834)."""
    auto = _header(mail, "Auto-Submitted").strip().lower()
    precedence = _header(mail, "Precedence").strip().lower()
    return ((auto not in ("", "no")) or precedence in ("bulk", "junk", "auto_reply", "list")
            or bool(_header(mail, "X-Autoreply")) or bool(_header(mail, "X-Autorespond")))


def match_email(mail: EmailMessage) -> tuple[Message, Member] | str:
    """The message and member an emailed reply answers, or why none: first by its
    ``reply+<token>@`` recipient address, else by ``In-Reply-To``/``References`` naming
    one of our Message-IDs (``<delivery id@domain>``), from the member's own address."""
    refused = "no reply address or reference of ours"
    for address in _addresses(mail, RECIPIENT_HEADERS):
        found = read_address_token(address.rpartition("@")[0])
        if isinstance(found, tuple):
            message = db.session.get(Message, found[0])
            member = db.session.get(Member, found[1])
            if message is not None and member is not None:
                return message, member
            refused = "the message or the resident no longer exists"
        elif found != "none":
            refused = f"{found} reply address"
    sender = _addresses(mail, ("From",))
    domain = message_id_domain().lower()
    references = _header(mail, "In-Reply-To") + " " + _header(mail, "References")
    for local, host in _MSG_ID.findall(references):
        if host.lower() != domain or not local.isdigit():
            continue
        delivery = db.session.get(Delivery, int(local))
        if delivery is None or delivery.message_id < 0:
            continue
        member = db.session.get(Member, delivery.member_id)
        message = db.session.get(Message, delivery.message_id)
        if member is None or message is None:
            continue
        if not sender or sender[0].casefold() != member.email.casefold():
            refused = "a reference of ours, but not from the resident's address"
            continue
        sent = delivery.sent_at or delivery.queued_at
        if sent is not None and (utcnow() - sent).total_seconds() > max_age_seconds():
            refused = "expired reference"
            continue
        return message, member
    return refused


class _HTMLText(HTMLParser):
    """The text of an HTML email, leaving out quoted parts (blockquotes, Gmail's and
    Thunderbird's quote blocks), styles and scripts."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table"}
    SKIP = {"blockquote", "style", "script", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").lower()
        if self._skipping or tag in self.SKIP or "gmail_quote" in classes \
                or "moz-cite-prefix" in classes:
            self._skipping.append(tag)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML email body, quotes left out."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


_QUOTE_START = [
    re.compile(r"^-{2,}\s*(original message|forwarded message|neges wreiddiol)\s*-{2,}", re.I),
    re.compile(r"^_{10,}$"),  # Outlook's line above the quoted message
    re.compile(r"^(sent from my|get outlook for|anfonwyd o'?m)\b", re.I),
]
_SIGNATURE = ("-- ", "--")


def strip_quoted(text: str) -> str:
    """What the resident wrote, without the quoted alert, the "On ... wrote:" line,
    Outlook's quoted headers or their signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.rstrip("\n") in _SIGNATURE:
            break
        if any(p.search(stripped) for p in _QUOTE_START):
            break
        # "On Mon, 1 Dec 2026, Alerts <...> wrote:", sometimes wrapped over two lines;
        # Welsh mail programs say "Ar ... ysgrifennodd ...:".
        if re.match(r"^(on|ar)\b", stripped, re.I) and (
                re.search(r"(wrote|ysgrifennodd\b.*):$", stripped, re.I)
                or re.search(r"(wrote|ysgrifennodd\b.*):$", following, re.I)):
            break
        # Outlook: "From: ..." followed by "Sent:" or "Date:".
        if re.match(r"^(from|oddi wrth):\s", stripped, re.I) and \
                re.match(r"^(sent|date|anfonwyd|dyddiad):\s", following, re.I):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def email_text(mail: EmailMessage) -> str:
    """The text the resident wrote in an emailed reply (plain part preferred)."""
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset, say
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        content = html_to_text(content)
    return strip_quoted(content)


def take_email(raw: bytes) -> Inbound:
    """Take in an emailed reply (a raw RFC 822 message): match it to its message and
    member, strip what it quotes and record it (committed). Refused and automatic
    emails make nothing; the same email twice makes one reply."""
    try:
        mail = parse_email(raw)
    except Exception:  # noqa: BLE001 - whatever the parser makes of junk, it is refused
        return _refuse("not an email")
    if is_automatic(mail):
        return _refuse("an automatic reply")
    message_id = _header(mail, "Message-ID").strip()[:255] or None
    if message_id:
        earlier = db.session.scalar(select(Reply).where(Reply.email_message_id == message_id))
        if earlier is not None:
            return Inbound(earlier, "taken already", duplicate=True)
    matched = match_email(mail)
    if isinstance(matched, str):
        return _refuse(matched)
    text = email_text(mail)
    if not text:
        return _refuse("no text of the resident's own")
    message, member = matched
    try:
        reply = take_reply(message, member, text, "email", email_message_id=message_id)
        db.session.commit()
    except IntegrityError:  # the same email, taken by another process just now
        db.session.rollback()
        earlier = db.session.scalar(select(Reply).where(Reply.email_message_id == message_id))
        return Inbound(earlier, "taken already", duplicate=True)
    return Inbound(reply, "taken")


def _refuse(reason: str) -> Inbound:
    log.warning("inbound email refused: %s", reason)
    return Inbound(None, reason)


# -- IMAP ------------------------------------------------------------------------------------


@dataclass
class FetchResult:
    """What one ``commonwatch fetch-replies`` run did with the unseen emails."""

    taken: int = 0
    duplicates: int = 0
    refused: int = 0
    failed: int = 0


class ImapError(RuntimeError):
    """The mailbox could not be read (settings, sign-in or folder)."""


def _imap_connection() -> imaplib.IMAP4:
    config = current_app.config
    host = config.get("IMAP_HOST")
    if not host:
        raise ImapError("IMAP_HOST is not set")
    port = int(config.get("IMAP_PORT") or (993 if config.get("IMAP_SSL", True) else 143))
    if config.get("IMAP_SSL", True):
        context = ssl.create_default_context(cafile=config.get("IMAP_CA_FILE") or None)
        return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=30)
    return imaplib.IMAP4(host, port, timeout=30)


def _fetched_bytes(parts: list[Any]) -> bytes | None:
    for part in parts or ():
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
            return part[1]
    return None


def unseen_emails(connection: imaplib.IMAP4) -> Iterator[tuple[bytes, bytes]]:
    """(sequence number, raw email) of each unseen email in the selected folder."""
    status, data = connection.search(None, "UNSEEN")
    if status != "OK":
        raise ImapError("SEARCH UNSEEN failed")
    for number in (data[0] or b"").split():
        status, parts = connection.fetch(number, "(RFC822)")
        raw = _fetched_bytes(parts) if status == "OK" else None
        if raw is not None:
            yield number, raw


def fetch_replies() -> FetchResult:
    """Read the unseen emails of ``IMAP_FOLDER`` over IMAP (TLS unless ``IMAP_SSL`` is
    false), take each in as a reply and mark it seen; an email that could not be
    processed (a database error) is marked unseen again, for the next run."""
    config = current_app.config
    result = FetchResult()
    try:
        connection = _imap_connection()
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"cannot connect to {config.get('IMAP_HOST')}: {exc}") from exc
    try:
        try:
            connection.login(config.get("IMAP_USER") or "", config.get("IMAP_PASSWORD") or "")
        except imaplib.IMAP4.error as exc:
            raise ImapError("the IMAP server refused the user name or password") from exc
        status, _data = connection.select(config.get("IMAP_FOLDER") or "INBOX")
        if status != "OK":
            raise ImapError(f"no folder {config.get('IMAP_FOLDER')!r}")
        for number, raw in unseen_emails(connection):
            try:
                outcome = take_email(raw)
            except Exception:  # noqa: BLE001 - left for the next run
                db.session.rollback()
                log.exception("inbound email %s could not be processed", number.decode())
                connection.store(number, "-FLAGS", "\\Seen")
                result.failed += 1
                continue
            connection.store(number, "+FLAGS", "\\Seen")
            if outcome.duplicate:
                result.duplicates += 1
            elif outcome.reply is not None:
                result.taken += 1
            else:
                result.refused += 1
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            connection.logout()
    return result


# -- answers ---------------------------------------------------------------------------------


def answer_reply(reply: Reply, staff: Staff, text: str) -> ReplyAnswer:
    """Record ``staff``'s public answer to ``reply`` and send it to the resident in the
    background (committed). An open reply becomes pending."""
    answer = ReplyAnswer(reply_id=reply.id, staff_id=staff.id, text=text)
    db.session.add(answer)
    if reply.state == "open":
        reply.state = "pending"
    db.session.commit()
    enqueue(deliver_answer, answer.id)
    return answer


def _answer_sms(answer: ReplyAnswer, reply: Reply, member: Member, title: str) -> str | None:
    """Text the answer through the registered SMS channel; the error, if any."""
    channel = current_registry().channels.get("sms")
    if channel is None:
        return "no sms channel"
    with force_locale(member.language):
        text = _("%(organisation)s, about \"%(title)s\": %(answer)s",
                 organisation=reply.message.organisation.name, title=title,
                 answer=answer.text)
    # Its delivery's message id is the answer's id negated.
    return send_one_sms(channel, -answer.id, member, title, text, reply.message)


def deliver_answer(answer_id: int) -> None:
    """Send a public answer to the resident: by email when they have a working, confirmed
    address and get email (or replied by email), and by SMS when they get SMS and have a
    working number. Internal notes are never part of it. A background job; does nothing
    for an answer already sent."""
    answer = db.session.get(ReplyAnswer, answer_id)
    if answer is None or answer.channels:
        return
    reply = db.session.get(Reply, answer.reply_id)
    member = reply.member if reply is not None else None
    if reply is None or member is None:
        return
    if member.opted_out_at:
        answer.error = "the resident opted out of all messages"
        db.session.commit()
        return
    message = reply.message
    welsh = member.language == "cy" and bool(message.title_cy)
    title = message.title_cy if welsh else message.title
    allowed = {c.channel for c in member.channels}
    sent: list[str] = []
    errors: list[str] = []
    if member.email_verified_at and not member.email_invalid_at and (
            "email" in allowed or reply.via == "email"):
        staff = answer.staff
        with force_locale(member.language):
            subject = _("An answer to your reply about: %(title)s", title=title)
        try:
            send(member.email, subject, "reply_answer", member.language, member=member,
                 title=title, answer=answer, reply=reply,
                 organisation=message.organisation.name,
                 staff_name=staff.name if staff is not None else message.organisation.name,
                 link=reply_url(message.id, member.id))
            sent.append("email")
        except Exception as exc:  # noqa: BLE001 - recorded on the answer
            errors.append(f"email: {type(exc).__name__}")
    if "sms" in allowed and member.phone and not member.phone_invalid_at:
        error = _answer_sms(answer, reply, member, title)
        if error is None:
            sent.append("sms")
        else:
            errors.append(error)
    answer.channels = ",".join(sent)
    if not sent and not errors:
        errors.append("no channel reaches the resident")
    answer.error = "; ".join(errors)[:255] or None
    db.session.commit()


# -- ratings ---------------------------------------------------------------------------------


def rate(message: Message, member: Member, useful: bool) -> None:
    """Record (or change) ``member``'s rating of ``message`` (committed): one per member
    and message."""
    for _attempt in range(2):
        rating = db.session.get(MessageRating, (message.id, member.id))
        if rating is None:
            db.session.add(MessageRating(message_id=message.id, member_id=member.id,
                                         useful=useful, at=utcnow()))
        else:
            rating.useful, rating.at = useful, utcnow()
        try:
            db.session.commit()
            return
        except IntegrityError:  # rated at the same moment in another request
            db.session.rollback()


def current_rating(message: Message, member: Member) -> bool | None:
    """``member``'s rating of ``message``: True (useful), False, or None."""
    rating = db.session.get(MessageRating, (message.id, member.id))
    return None if rating is None else rating.useful


def _useful_counts() -> tuple[Any, Any]:
    return (func.coalesce(func.sum(case((MessageRating.useful, 1), else_=0)), 0),
            func.coalesce(func.sum(case((MessageRating.useful, 0), else_=1)), 0))


def message_ratings(message_id: int) -> tuple[int, int]:
    """(useful, not useful) ratings of a message."""
    useful, not_useful = _useful_counts()
    row = db.session.execute(
        select(useful, not_useful).where(MessageRating.message_id == message_id)).one()
    return int(row[0]), int(row[1])


def ratings_by_sender(staff: Staff) -> list[Any]:
    """Per sender of the messages ``staff`` may see (core.scoping.message_scope): name,
    messages rated, useful and not useful ratings; most rated first."""
    from core.scoping import message_scope

    useful, not_useful = _useful_counts()
    return list(db.session.execute(
        select(Staff.name.label("name"),
               func.count(func.distinct(Message.id)).label("messages"),
               useful.label("useful"), not_useful.label("not_useful"))
        .join(Message, Message.sender_id == Staff.id)
        .join(MessageRating, MessageRating.message_id == Message.id)
        .where(message_scope(staff))
        .group_by(Staff.id, Staff.name)
        .order_by(func.count().desc(), Staff.name)
    ))


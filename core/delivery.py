"""Delivering messages: background jobs that claim a batch of deliveries and hand them
to their channels.

PostgreSQL, not Redis, is the record of what remains to be sent. A job carries only a
message id and a range of delivery ids; it claims the still-queued deliveries of that
range with one conditional UPDATE, so two workers never send the same delivery, and
writes the outcome of the whole batch back in a few statements.
"""

from __future__ import annotations

import contextlib
import json
import re
import smtplib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mail import Message as MailMessage
from sqlalchemy import (
    BigInteger,
    String,
    Text,
    any_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from core import reach
from core.archive import sender_details
from core.emails import LinkSigner, mail_sender, save_to_outbox, unsubscribe_links, unsubscribe_url
from core.extensions import db, mail
from core.links import fill_personal_link, personal_links
from core.locations import forget_expired
from core.models import (
    Delivery,
    DevOutbox,
    Member,
    MemberChannel,
    Message,
    UTCDateTime,
    utcnow,
)
from core.plugins import hookimpl
from core.push import send_push
from core.registry import Channel, Outgoing
from core.replies import (
    REPLY_PURPOSE,
    REPLY_STAND_IN,
    address_token,
    message_id_domain,
    reply_address,
)


def claim(message_id: int, first_id: int, last_id: int) -> list[int]:
    """Mark the queued, due deliveries of a range as sending; the ids this call won."""
    from core.messaging import is_due

    now = utcnow()
    table = Delivery.__table__
    ids = list(db.session.scalars(
        update(table)
        .where(Delivery.id.between(first_id, last_id), _only_message(message_id),
               Delivery.state.in_(RETRYABLE), is_due())
        .values(state="sending", claimed_at=now, attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    ))
    db.session.commit()
    return sorted(ids)


def _id_in(ids: Sequence[int]) -> Any:
    """SQL: the delivery's id is one of ``ids``: on PostgreSQL one array parameter (a
    batch's few hundred ids as as many parameters cost more to send than the statement
    takes to run), elsewhere an IN list."""
    if db.session.get_bind().dialect.name == "postgresql":
        return Delivery.id == any_(literal(list(ids), ARRAY(BigInteger)))
    return Delivery.id.in_(ids)


def _only_message(message_id: int) -> Any:
    """SQL: the delivery is ``message_id``'s, as a filter only. Written ``message_id + 0``
    so that PostgreSQL finds a batch by its id range on the primary key: straight after a
    fan-out its statistics do not know the message's new rows yet, and it would otherwise
    scan the message's whole index (every row of a county-wide alert) for every batch."""
    return (Delivery.message_id + 0) == message_id


def outgoing(message: Message, ids: Sequence[int]) -> dict[str, list[Outgoing]]:
    """The claimed deliveries, rendered for each member's language, by channel."""
    wanted = set(ids)
    rows = [row for row in db.session.execute(
        select(Delivery.id, Delivery.channel, Member.id, Member.email, Member.phone,
               Member.language)
        .join(Member, Member.id == Delivery.member_id)
        # A batch is a range of ids (claimed ones, or ones a caller names).
        .where(Delivery.id.between(min(ids), max(ids)))
    ) if row[0] in wanted] if ids else []
    sender_line = sender_details(message).line()
    rendered: dict[str, tuple[str, str, str, str]] = {}
    for language in {row[5] for row in rows}:
        welsh = language == "cy" and bool(message.title_cy)
        subject = message.title_cy if welsh else message.title
        html = message.body_html_cy if welsh else message.body_html
        plain = (message.plain_text_cy if welsh else message.plain_text) or ""
        with force_locale("cy" if welsh else "en"):
            text = render_template("emails/alert.txt", message=message, subject=subject,
                                   plain=plain, sender_line=sender_line)
            body = render_template("emails/alert.html", message=message, subject=subject,
                                   html=html, sender_line=sender_line)
        rendered[language] = (subject, text, body, plain)
    # The links are signed in bulk: the same as unsubscribe_url() and reply_url() give.
    unsubscribe_link = unsubscribe_links().url
    reply_link = LinkSigner(REPLY_PURPOSE, "replies.reply").url
    # A message inviting its recipients to a plugin's page: each gets their own link.
    personal = personal_links(message) if rows else None
    by_channel: dict[str, list[Outgoing]] = defaultdict(list)
    for delivery_id, channel, member_id, email, phone, language in rows:
        subject, text, body, plain = rendered[language]
        personal_link = personal.url([message.id, member_id]) if personal else ""
        if personal_link:
            text, body, plain = (fill_personal_link(t, personal_link)
                                 for t in (text, body, plain))
        # Push goes to every device of the member: the address is the member.
        address = {"email": email, "push": str(member_id)}.get(channel, phone or "")
        by_channel[channel].append(Outgoing(
            delivery_id=delivery_id, member_id=member_id, address=address,
            language=language, subject=subject,
            text=text if channel == "email" else plain, html=body,
            unsubscribe_url=unsubscribe_link({"m": member_id}) if channel == "email" else "",
            # Every channel gets it (a provider plugin may use it); the core's email
            # channel fills it into the email's {reply_url} stand-ins, the core's SMS
            # channel leaves it out (it would add a part to every text).
            reply_url=reply_link([message.id, member_id]),
            personal_url=personal_link,
        ))
    return by_channel


#: States a worker may claim (a temporary failure once its retry time has come).
RETRYABLE = ("queued", "temporary-failure")


def _record_failures(failures: dict[int, tuple[str, str]], now: datetime) -> int:
    """Write failures back per batch: a temporary one is retried later with exponential
    backoff until the attempts run out; permanent ones may mark the contact not working
    and move the message to the member's next channel. Returns how many deliveries were
    added for that."""
    config = current_app.config
    by_outcome: dict[tuple[str, str], list[int]] = defaultdict(list)
    for delivery_id, outcome in failures.items():
        by_outcome[outcome].append(delivery_id)
    for (state, reason), batch in by_outcome.items():
        values: dict[str, Any] = {"state": state, "error": reason[:255]}
        if state == "temporary-failure":
            # not_before = now + base * 2^(attempts - 1), computed by the database.
            backoff = config["DELIVERY_RETRY_SECONDS"] * func.power(2, Delivery.attempts - 1)
            last = Delivery.attempts >= config["DELIVERY_MAX_ATTEMPTS"]
            values["state"] = case((last, literal("permanent-failure")),
                                   else_=literal("temporary-failure"))
            values["not_before"] = case((last, literal(None, UTCDateTime)),
                                        else_=_plus_seconds(now, backoff))
        db.session.execute(update(Delivery).where(Delivery.id.in_(batch)).values(**values))
    if not failures:
        return 0
    mark_failing_contacts(list(failures), now)
    return try_next_channel(list(failures), now)


def _plus_seconds(when: datetime, seconds: Any) -> Any:
    """SQL: ``when`` plus a number of seconds, on PostgreSQL and SQLite alike."""
    if db.session.get_bind().dialect.name == "postgresql":
        return literal(when, UTCDateTime) + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    return func.strftime("%Y-%m-%d %H:%M:%f", literal(when, UTCDateTime),
                         func.printf("+%d seconds", seconds))


#: The order in which a member's channels are fallen back on.
FALLBACK_ORDER = ("email", "sms", "voice", "push")


def try_next_channel(delivery_ids: list[int], now: datetime) -> int:
    """For members whose delivery failed permanently and whom nothing else of the message
    is reaching, queue the message on their next allowed channel with a working contact,
    whatever its time of day, quiet hours still holding SMS and voice (one statement).
    "Next" follows ``FALLBACK_ORDER`` from the failed channel, then wraps around to the
    channels before it (push, last, falls back on email); a channel is tried once per
    message. Returns how many deliveries were added."""
    from core.messaging import has_contact, held_until

    failed = aliased(Delivery)
    other = aliased(Delivery)
    rank = case({c: n for n, c in enumerate(FALLBACK_ORDER)}, value=MemberChannel.channel)
    failed_rank = case({c: n for n, c in enumerate(FALLBACK_ORDER)}, value=failed.channel)
    still_reaching = exists().where(
        other.message_id == failed.message_id, other.member_id == failed.member_id,
        other.state.in_(("queued", "sending", "sent", "delivered", "temporary-failure",
                         "digest")))
    tried = exists().where(
        other.message_id == failed.message_id, other.member_id == failed.member_id,
        other.channel == MemberChannel.channel)
    candidates = (
        select(failed.message_id, failed.member_id, MemberChannel.channel,
               held_until(Message.priority, now).label("not_before"),
               func.row_number().over(partition_by=failed.id,
                                      order_by=(rank < failed_rank, rank)).label("n"))
        .select_from(failed)
        .join(Member, Member.id == failed.member_id)
        .join(Message, Message.id == failed.message_id)
        .join(MemberChannel, MemberChannel.member_id == failed.member_id)
        .where(failed.id.in_(delivery_ids), failed.state == "permanent-failure",
               ~still_reaching, ~tried, has_contact())
        .subquery()
    )
    added = db.session.execute(
        insert(Delivery).from_select(
            ["message_id", "member_id", "channel", "state", "queued_at", "not_before",
             "attempts"],
            select(candidates.c.message_id, candidates.c.member_id, candidates.c.channel,
                   literal("queued"), literal(now, UTCDateTime), candidates.c.not_before,
                   literal(0))
            .where(candidates.c.n == 1),
        )
    ).rowcount
    return added or 0


def mark_failing_contacts(delivery_ids: list[int], now: datetime) -> None:
    """Mark an email address or phone number as not working once it failed permanently
    ``CONTACT_FAILURES_TO_INVALID`` times; nothing is sent to it until it changes."""
    limit = current_app.config["CONTACT_FAILURES_TO_INVALID"]
    members = select(Delivery.member_id).where(Delivery.id.in_(delivery_ids))
    reach.mark_members(db.session.scalars(members.distinct()))
    for column, channels in ((Member.email_invalid_at, ("email",)),
                             (Member.phone_invalid_at, ("sms", "voice"))):
        failing = (
            select(Delivery.member_id)
            .where(Delivery.member_id.in_(members), Delivery.channel.in_(channels),
                   Delivery.state == "permanent-failure")
            .group_by(Delivery.member_id)
            .having(func.count() >= limit)
        )
        db.session.execute(
            update(Member).where(Member.id.in_(failing), column.is_(None))
            .values({column.key: now})
        )


def _rate_limiter() -> Any:
    """A moving-window limiter whose counts every worker shares (in Redis; per process
    without Redis)."""
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    state = current_app.extensions.setdefault("commonwatch_channel_limits", {})
    if "limiter" not in state:
        url = current_app.config.get("REDIS_URL") or "memory://"
        state["limiter"] = MovingWindowRateLimiter(storage_from_string(url))
    return state["limiter"]


def within_rate_limit(channel: str, count: int) -> bool:
    """Take ``count`` sends from the channel's allowance (``CHANNEL_RATE_LIMITS``, e.g.
    ``{"sms": "3000/minute"}``); False, taking nothing, if that would exceed it."""
    from limits import parse

    rules = current_app.config["CHANNEL_RATE_LIMITS"]
    if isinstance(rules, str):  # from COMMONWATCH_CHANNEL_RATE_LIMITS, as JSON
        rules = json.loads(rules)
    rule = rules.get(channel)
    if not rule or count == 0:
        return True
    return _rate_limiter().hit(parse(rule), "commonwatch-channel", channel, cost=count)


def deliver_batch(message_id: int, first_id: int, last_id: int) -> None:
    """Send the queued deliveries of ``message_id`` with ids in [first_id, last_id]."""
    ids = claim(message_id, first_id, last_id)
    if not ids:
        return
    message = db.session.get(Message, message_id)
    channels = current_app.extensions["commonwatch"].registry.channels
    failures: dict[int, tuple[str, str]] = {}
    deferred: list[int] = []
    for name, items in outgoing(message, ids).items():
        if not within_rate_limit(name, len(items)):
            # Over the provider's rate: hand them back for a little later, untried.
            deferred += [i.delivery_id for i in items]
            continue
        channel = channels.get(name)
        if channel is None:
            failures.update({i.delivery_id: ("permanent-failure", f"no {name} channel")
                             for i in items})
            continue
        try:
            failures.update(channel.send(message, items))
        except Exception as exc:  # noqa: BLE001 - the whole batch failed for now
            current_app.logger.exception("channel %s failed", name)
            failures.update({i.delivery_id: ("temporary-failure", type(exc).__name__)
                             for i in items})
    now = utcnow()
    table = Delivery.__table__
    if deferred:
        db.session.execute(
            update(table).where(_id_in(deferred)).values(
                state="queued", attempts=Delivery.attempts - 1,
                not_before=now + timedelta(seconds=current_app.config["RATE_LIMIT_RETRY_SECONDS"]))
        )
    held = set(deferred)
    sent = [i for i in ids if i not in failures and i not in held]
    if sent:
        db.session.execute(update(table).where(_id_in(sent)).values(state="sent", sent_at=now))
    fallback = _record_failures(failures, now)
    if not (deferred or fallback) and message.status == "sending" and not _unfinished(
            message_id, first_id, last_id):
        message.status = "sent"
    db.session.commit()
    if fallback:
        from core.messaging import enqueue_deliveries

        enqueue_deliveries(message_id)


def _unfinished(message_id: int, first_id: int, last_id: int) -> bool:
    """Whether ``message_id`` has deliveries still to send (or being sent), asked by the
    job of the batch [first_id, last_id] once it has written its outcome.

    Batches are sent in about the order of their ids, so while a message has batches
    left one is usually next to this one: this batch and the next, then the one before,
    are looked at first (a short range of the primary key), and only when they are all
    done is the whole message read, which on a county-wide alert means a few of its last
    batches, not every one of them."""
    unfinished = Delivery.state.in_(RETRYABLE + ("sending",))
    span = last_id - first_id + 1
    for near in (Delivery.id.between(first_id, last_id + span),
                 Delivery.id.between(first_id - span, first_id - 1)):
        if db.session.scalar(select(Delivery.id).where(
                near, _only_message(message_id), unfinished).limit(1)) is not None:
            return True
    return db.session.scalar(select(Delivery.id).where(
        Delivery.message_id == message_id, unfinished).limit(1)) is not None


# -- the core's channels ---------------------------------------------------------------------


def _mail_message(item: Outgoing) -> MailMessage:
    html = item.html.replace("{unsubscribe_url}", item.unsubscribe_url)
    mail_message = MailMessage(
        subject=item.subject, recipients=[item.address],
        body=item.text.replace(REPLY_STAND_IN, item.reply_url) + "\n\n" + item.unsubscribe_url,
        html=html.replace(REPLY_STAND_IN, item.reply_url) or None,
        # Replies by email come back to the inbound address, naming message and member.
        reply_to=reply_address(item.reply_url),
    )
    # The same Message-ID as the fast path's, so replies thread back to the delivery.
    mail_message.msgId = f"<{item.delivery_id}@{message_id_domain()}>"
    mail_message.extra_headers = _alert_headers(str(item.delivery_id), item.unsubscribe_url)
    return mail_message


def _alert_headers(delivery_id: str, unsubscribe_url: str) -> dict[str, str]:
    """The headers every alert email carries besides the usual ones."""
    return {
        "X-Commonwatch-Delivery": delivery_id,
        # RFC 8058 one-click unsubscribe; the link needs no sign-in.
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


#: Stand-ins, in an email built once per batch and language, for what differs between
#: recipients. Letters and digits only, so quoted-printable leaves them as they are.
_TO, _ID, _URL = "CWRECIPIENTxTO", "CWDELIVERYxID", "CWUNSUBSCRIBExURL"
#: The member's reply link (in the bodies), and the token of their Reply-To address.
_REPLY_URL, _REPLY_TO = "CWREPLYxURL", "CWREPLYxADDRESS"
_STAND_INS = re.compile("(" + "|".join((_TO, _ID, _URL, _REPLY_URL, _REPLY_TO)) + ")")
#: A line starting with a dot, which SMTP's DATA doubles (RFC 5321 4.5.2).
_DOT_LINE = re.compile(rb"(?m)^\.")
#: Addresses the prepared emails take as they are: ASCII, nothing to quote or encode.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


def _qp(url: str) -> bytes:
    """``url`` in quoted-printable, in short soft-broken lines, none starting with a dot."""
    step = 20 if "=" in url else 60  # so that an "=3D" is never split
    lines = [url[i:i + step].replace("=", "=3D") for i in range(0, len(url), step)]
    return "=\r\n".join("=2E" + line[1:] if line[:1] == "." else line
                        for line in lines).encode()


class _Template:
    """One alert email as bytes, built once with the email package, then completed for
    each recipient by filling in their address, delivery id, unsubscribe and reply links
    and Reply-To address: the email package takes some 3 ms to build a message, filling
    this in a few microseconds.

    ``fill`` gives the email ready for SMTP's DATA: lines starting with a dot doubled
    (which the receiving server undoes), CRLF line ends, ASCII only. ``usable`` is False
    when a stand-in did not come out whole (the email is then sent the slow way)."""

    def __init__(self, item: Outgoing, sender: str, domain: str, message_id: int) -> None:
        email = EmailMessage(policy=SMTP)
        email["Subject"] = item.subject
        email["From"] = sender
        email["To"] = _TO
        email["Date"] = formatdate()
        email["Message-ID"] = f"<{_ID}@{domain}>"
        # Replies by email come back to the inbound address, naming message and member.
        reply_to = reply_address(item.reply_url)
        self.reply_to = reply_to is not None
        #: The message the Reply-To addresses name ("reply+<message>-<member>-...").
        self._message_id = message_id
        if reply_to is not None:
            email["Reply-To"] = f"reply+{_REPLY_TO}@{reply_to.partition('@')[2]}"
        for name, value in _alert_headers(_ID, _URL).items():
            email[name] = value
        text = item.text.replace(REPLY_STAND_IN, _REPLY_URL)
        # Quoted-printable keeps the stand-ins whole (base64 would not).
        email.set_content(text + "\n\n" + _URL + "\n", cte="quoted-printable")
        links = item.html.count("{unsubscribe_url}") if item.html else 0
        replies = text.count(_REPLY_URL) + (item.html.count(REPLY_STAND_IN) if item.html else 0)
        if item.html:
            html = item.html.replace("{unsubscribe_url}", _URL)
            email.add_alternative(html.replace(REPLY_STAND_IN, _REPLY_URL),
                                  subtype="html", cte="quoted-printable")
        self.raw = email.as_bytes()
        # Should a stand-in ever be split by line folding, send the slow way instead.
        self.usable = (self.raw.isascii()
                       and self.raw.count(_URL.encode()) == 2 + links
                       and self.raw.count(_ID.encode()) == 2
                       and self.raw.count(_TO.encode()) == 1
                       and self.raw.count(_REPLY_URL.encode()) == replies
                       and self.raw.count(_REPLY_TO.encode()) == int(self.reply_to))
        # The email as literal pieces, and between them the name of what goes there: in
        # the header links are plain, in the bodies quoted-printable.
        stuffed = _DOT_LINE.sub(b"..", self.raw).decode("ascii", "replace")
        head_end = stuffed.find("\r\n\r\n")
        self._pieces: list[bytes | str] = []
        position = 0
        for match in _STAND_INS.finditer(stuffed):
            self._pieces.append(stuffed[position:match.start()].encode())
            name = match.group()
            self._pieces.append(name + ("" if match.start() < head_end else "qp"))
            position = match.end()
        self._pieces.append(stuffed[position:].encode())

    def fill(self, item: Outgoing) -> bytes:
        """The email for ``item``, ready for SMTP's DATA."""
        values = {_TO: item.address.encode(), _ID: str(item.delivery_id).encode(),
                  _URL: item.unsubscribe_url.encode(), _URL + "qp": _qp(item.unsubscribe_url),
                  _REPLY_URL + "qp": _qp(item.reply_url)}
        if self.reply_to:
            token = address_token(self._message_id, item.member_id)
            values[_REPLY_TO] = token.removeprefix("reply+").encode()
        return b"".join([values[piece] if piece.__class__ is str else piece
                         for piece in self._pieces])


class _SmtpSession:
    """Sends prepared emails, one recipient each, over an open ``smtplib`` connection.

    When the server offers PIPELINING (RFC 2920, as Postfix, Exim and the large providers
    do) an email's MAIL, RCPT and DATA commands go out in one write together with the
    previous email's content, and their replies are read together: one round trip per
    email instead of smtplib's four. Without it the commands go one at a time."""

    def __init__(self, smtp: smtplib.SMTP, envelope_from: str) -> None:
        smtp.ehlo_or_helo_if_needed()
        self.smtp = smtp
        self.pipelining = bool(smtp.does_esmtp and smtp.has_extn("pipelining"))
        if smtp.file is None:
            smtp.file = smtp.sock.makefile("rb")
        self.replies = smtp.file
        self.mail_from = f"MAIL FROM:<{envelope_from}>\r\n".encode()

    def _reply(self) -> int:
        """The code of the server's next reply (smtplib's getreply(), less the text)."""
        while True:
            line = self.replies.readline(8193)  # smtplib's limit
            if not line:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            if line[3:4] != b"-":  # the last line of a reply
                return int(line[:3])

    def _end_data(self, delivery_id: int, failures: dict[int, tuple[str, str]]) -> None:
        """Read the reply to an email's content, which went out ending with ``.``."""
        if self._reply() != 250:
            failures[delivery_id] = ("temporary-failure", "SMTPDataError")

    def send(self, emails: list[tuple[int, bytes, bytes]]) -> dict[int, tuple[str, str]]:
        """Send (delivery id, recipient, email ready for DATA) each; the failures."""
        failures: dict[int, tuple[str, str]] = {}
        #: An email whose DATA the server accepted: its content goes with the next write.
        waiting: tuple[int, bytes] | None = None
        index = 0
        try:
            for index in range(len(emails)):
                delivery_id, recipient, content = emails[index]
                envelope = self.mail_from + b"RCPT TO:<" + recipient + b">\r\n"
                rcpt = data = 0
                if self.pipelining:
                    before = waiting[1] + b".\r\n" if waiting else b""
                    self.smtp.send(before + envelope + b"DATA\r\n")
                    if waiting:
                        self._end_data(waiting[0], failures)
                        waiting = None
                    mail, rcpt, data = self._reply(), self._reply(), self._reply()
                else:
                    self.smtp.send(self.mail_from)
                    mail = self._reply()
                    if mail == 250:
                        self.smtp.send(envelope[len(self.mail_from):])
                        rcpt = self._reply()
                    if rcpt in (250, 251):
                        self.smtp.send(b"DATA\r\n")
                        data = self._reply()
                if mail == 250 and rcpt in (250, 251) and data == 354:
                    if self.pipelining:
                        waiting = (delivery_id, content)
                    else:
                        self.smtp.send(content + b".\r\n")
                        self._end_data(delivery_id, failures)
                    continue
                failures[delivery_id] = ("temporary-failure", "SMTPSenderRefused" if mail != 250
                                         else "SMTPRecipientsRefused" if rcpt not in (250, 251)
                                         else "SMTPDataError")
                if data == 354:  # DATA accepted after a refusal: end it, empty
                    self.smtp.send(b".\r\n")
                    self._reply()
                self.smtp.send(b"RSET\r\n")
                self._reply()
            if waiting:
                self.smtp.send(waiting[1] + b".\r\n")
                self._end_data(waiting[0], failures)
                waiting = None
        except Exception as exc:  # noqa: BLE001 - the connection is gone: try again later
            unconfirmed = [waiting[0]] if waiting else []
            unconfirmed += [delivery_id for delivery_id, _, _ in emails[index:]]
            for delivery_id in unconfirmed:
                failures[delivery_id] = ("temporary-failure", type(exc).__name__)
        return failures


@contextlib.contextmanager
def _mail_connection() -> Iterator[Any]:
    """A Flask-Mail connection that, unlike ``mail.connect()``'s, does not fail the batch
    when the server has already hung up by the time of QUIT: every email it confirmed
    before that was sent."""
    connection = mail.connect()
    connection.__enter__()
    try:
        yield connection
    finally:
        if connection.host is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.host.quit()
            connection.host.close()


def send_email(message: Message | None, items: list[Outgoing]
               ) -> dict[int, tuple[str, str]]:
    """Email a batch over one SMTP connection (or save it, with no mail server set)."""
    if not current_app.config.get("MAIL_SERVER"):
        for item in items:
            save_to_outbox(_mail_message(item))
        return {}
    sender = mail_sender()
    domain = message_id_domain()
    templates: dict[tuple[str, str, str, bool], _Template | None] = {}
    prepared: list[tuple[int, bytes, bytes]] = []
    others: list[Outgoing] = []
    for item in items:
        key = (item.subject, item.text, item.html, bool(item.reply_url))
        if key not in templates:
            try:
                # Only alerts carry reply links (a digest has none).
                templates[key] = _Template(item, sender, domain, message.id if message else 0)
            except Exception:  # noqa: BLE001 - then each is built the slow way
                current_app.logger.exception("could not prepare the email")
                templates[key] = None
        template = templates[key]
        if template is not None and template.usable and _PLAIN_ADDRESS.fullmatch(item.address):
            try:
                prepared.append((item.delivery_id, item.address.encode(), template.fill(item)))
                continue
            except Exception:  # noqa: BLE001 - then it is built the slow way
                current_app.logger.exception("could not complete the email")
        others.append(item)
    failures: dict[int, tuple[str, str]] = {}
    with _mail_connection() as connection:
        if connection.host is None:  # Flask-Mail suppresses sending (MAIL_SUPPRESS_SEND)
            others, prepared = items, []
        if prepared:
            failures.update(_SmtpSession(connection.host, parseaddr(sender)[1]).send(prepared))
        for item in others:
            try:
                connection.send(_mail_message(item))
            except Exception as exc:  # noqa: BLE001 - recorded per delivery
                failures[item.delivery_id] = ("temporary-failure", type(exc).__name__)
    return failures


def send_to_dev_outbox(message: Message, items: list[Outgoing], channel: str
                       ) -> dict[int, tuple[str, str]]:
    """The development channel: record what would have been sent (one INSERT a batch)."""
    if not items:
        return {}
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        # The batch as three arrays: one short statement, compiled once, whatever the
        # batch's size.
        db.session.execute(_DEV_OUTBOX_INSERT, {
            "ids": [i.delivery_id for i in items], "addresses": [i.address for i in items],
            "texts": [i.text for i in items], "channel": channel, "at": now})
    else:
        db.session.execute(insert(DevOutbox.__table__), [
            {"delivery_id": i.delivery_id, "channel": channel, "address": i.address,
             "text": i.text, "at": now}
            for i in items
        ])
    return {}


_DEV_OUTBOX_INSERT = sql_text("""
    INSERT INTO dev_outbox (delivery_id, channel, address, text, at)
    SELECT d, :channel, a, t, :at FROM unnest(:ids, :addresses, :texts) AS u(d, a, t)
""").bindparams(bindparam("ids", type_=ARRAY(BigInteger)),
                bindparam("addresses", type_=ARRAY(String)),
                bindparam("texts", type_=ARRAY(Text)),
                bindparam("at", type_=UTCDateTime))


def send_sms_with_notify(message: Message, items: list[Outgoing]
                         ) -> dict[int, tuple[str, str]]:
    """SMS through GOV.UK Notify, with the delivery id as Notify's reference. A 400 (a
    number Notify will not send to, say) is permanent; anything else is retried."""
    from notifications_python_client.errors import HTTPError
    from notifications_python_client.notifications import NotificationsAPIClient

    config = current_app.config
    client = NotificationsAPIClient(config["NOTIFY_API_KEY"], base_url=config["NOTIFY_BASE_URL"],
                                    timeout=10)
    failures: dict[int, tuple[str, str]] = {}
    for item in items:
        try:
            client.send_sms_notification(
                phone_number=item.address, template_id=config["NOTIFY_SMS_TEMPLATE_ID"],
                personalisation={"body": item.text}, reference=str(item.delivery_id),
            )
        except HTTPError as exc:
            state = "permanent-failure" if exc.status_code == 400 else "temporary-failure"
            failures[item.delivery_id] = (state, f"Notify {exc.status_code}")
        except Exception as exc:  # noqa: BLE001 - network trouble: try again later
            failures[item.delivery_id] = ("temporary-failure", type(exc).__name__)
    return failures


def send_sms(message: Message, items: list[Outgoing]) -> dict[int, tuple[str, str]]:
    """SMS through GOV.UK Notify when ``NOTIFY_API_KEY`` is set, else the development
    channel."""
    if current_app.config.get("NOTIFY_API_KEY"):
        return send_sms_with_notify(message, items)
    return send_to_dev_outbox(message, items, "sms")


@hookimpl(trylast=True)
def commonwatch_channels() -> list[Channel]:
    def dev(name: str) -> Any:
        return lambda message, items: send_to_dev_outbox(message, items, name)

    # GOV.UK Notify sends no voice calls: voice stays on the development channel until a
    # voice provider plugin replaces it.
    return [Channel("email", send_email), Channel("sms", send_sms),
            Channel("voice", dev("voice")), Channel("push", send_push)]


def sweep(stuck_after_seconds: int | None = None) -> int:
    """Put back deliveries a worker claimed but never finished (it died, or Redis lost
    its job) and queue jobs again for every message with queued deliveries left.

    Returns how many deliveries were put back. Safe to run at any time, from several
    machines: claiming is atomic, so a delivery is still sent by one worker only.
    """
    from core.messaging import enqueue_deliveries

    seconds = stuck_after_seconds or current_app.config["DELIVERY_STUCK_SECONDS"]
    cutoff = utcnow() - timedelta(seconds=seconds)
    put_back = db.session.execute(
        update(Delivery)
        .where(Delivery.state == "sending", Delivery.claimed_at < cutoff)
        .values(state="queued")
    ).rowcount
    # Shared positions are kept only until they expire (core.locations).
    forget_expired()
    db.session.commit()
    from core.messaging import is_due, send_due_messages

    send_due_messages()
    # Jobs lost with Redis, and deliveries held back for quiet hours that are now due.
    waiting = db.session.scalars(
        select(Delivery.message_id)
        .where(Delivery.state.in_(RETRYABLE), is_due(),
               or_(Delivery.queued_at < cutoff, Delivery.not_before.is_not(None)))
        .distinct()
    ).all()
    # Deliveries put back just now were queued long ago, so they are covered too.
    for message_id in waiting:
        enqueue_deliveries(message_id)
    return put_back or 0


DIGEST_BATCH = 500


def send_digests() -> int:
    """Send each member one email gathering the messages held back for their digest, and
    settle those deliveries (email ones sent, others suppressed; a digest that could not
    be sent waits for the next run). Returns how many digests were sent. Run daily
    (``commonwatch send-digests``)."""
    sent = 0
    last_member = 0
    while True:
        member_ids = list(db.session.scalars(
            select(Delivery.member_id)
            .where(Delivery.state == "digest", Delivery.member_id > last_member)
            .group_by(Delivery.member_id).order_by(Delivery.member_id).limit(DIGEST_BATCH)
        ))
        if not member_ids:
            return sent
        last_member = member_ids[-1]
        rows = db.session.execute(
            select(Delivery.id, Delivery.member_id, Delivery.channel, Message)
            .join(Message, Message.id == Delivery.message_id)
            .where(Delivery.state == "digest", Delivery.member_id.in_(member_ids))
            .order_by(Delivery.member_id, Message.sent_at, Delivery.id)
        ).all()
        members = {m.id: m for m in db.session.scalars(
            select(Member).where(Member.id.in_(member_ids)))}
        by_member: dict[int, list[Message]] = defaultdict(list)
        #: A member's first email digest delivery: the reference of their digest email.
        reference: dict[int, int] = {}
        for delivery_id, member_id, channel, message in rows:
            if channel == "email" and message not in by_member[member_id]:
                by_member[member_id].append(message)
                reference.setdefault(member_id, delivery_id)
        items = []
        for member_id, messages in by_member.items():
            member = members[member_id]
            if not member.email_verified_at or member.opted_out_at:
                continue
            with force_locale(member.language):
                text = render_template("emails/digest.txt", messages=messages,
                                       welsh=member.language == "cy")
                subject = _("Your daily alerts digest")
            items.append(Outgoing(
                delivery_id=reference[member_id], member_id=member_id, address=member.email,
                language=member.language, subject=subject, text=text, html="",
                unsubscribe_url=unsubscribe_url(member_id),
            ))
        failures = send_email(None, items) if items else {}
        failed = {i.member_id for i in items if i.delivery_id in failures}
        emailed = {i.member_id for i in items} - failed
        sent += len(emailed)
        ids_by_state: dict[str, list[int]] = defaultdict(list)
        for delivery_id, member_id, channel, _message in rows:
            if member_id not in failed:
                delivered = channel == "email" and member_id in emailed
                ids_by_state["sent" if delivered else "suppressed"].append(delivery_id)
        now = utcnow()
        for state, ids in ids_by_state.items():
            db.session.execute(update(Delivery).where(Delivery.id.in_(ids))
                               .values(state=state, sent_at=now if state == "sent" else None))
        db.session.commit()

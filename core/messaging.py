"""Messages: writing, targeting, previewing and fanning out to delivery records.

Recipients are resolved in SQL, never by looping over members in Python. How a target
combines (docs/messaging.md):

* the sender's scope always applies: the member lives in the sender's areas and chose
  the sender's organisation;
* ``areas`` (any level) narrow it further; none means the whole scope; so does a
  ``shape`` drawn on a map (members whose postcode's point lies inside it);
* the audience is everyone with one of ``watch_types`` **or** matching an ``include``
  rule; with neither, everyone in the areas;
* every ``must`` rule must match too, and no ``exclude`` rule may;
* a follow-up (``follow_up_of``) reaches only members who had a delivery of the
  original message, which the sender must be able to see;
* only residents who can receive it: email confirmed, not opted out, and wanting
  messages of this priority.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import nh3
from flask import current_app
from markdown_it import MarkdownIt
from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Subquery,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
)

from core.areas import within
from core.extensions import db
from core.locations import PRESENT_RULE, present_in_scope
from core.models import (
    Area,
    Delivery,
    Member,
    MemberChannel,
    Message,
    PushSubscription,
    Staff,
    UTCDateTime,
    utcnow,
)
from core.reach import (
    Counts,
    dirty_areas,
    mark,
    messages_since,
    precounted,
    reachable,
    ward_of,
)
from core.scoping import member_scope, message_scope
from core.shapes import ShapeError, postcodes_inside
from core.shapes import check as check_shape
from core.targeting import RuleError, apply_rule, has_interest
from core.verification import new_code

RULE_MODES = ("include", "exclude", "must")
UK = ZoneInfo("Europe/London")

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})

#: The tags and attributes left in a message body after sanitising.
ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h2", "h3", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")


class TargetError(ValueError):
    """A target the sender may not use, or that cannot be understood; ``errors`` maps a
    part of the target to what is wrong with it."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to show and to email: raw HTML in the source is
    escaped, and anything but simple formatting and links is removed."""
    html = _markdown.render(text or "")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"https", "http", "mailto", "tel"},
                     link_rel="noopener noreferrer")


def sms_segments(text: str) -> int:
    """How many SMS parts ``text`` takes (GSM 7-bit: 160, or 153 each when split;
    anything else, UCS-2: 70, or 67 each)."""
    if not text:
        return 0
    if all(c in GSM7 or c in GSM7_EXTENDED for c in text):
        length = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, part = 160, 153
    else:
        length, single, part = len(text), 70, 67
    return 1 if length <= single else -(-length // part)


# -- targeting ------------------------------------------------------------------------------


@dataclass
class Target:
    """What a message is aimed at, as the sender chose it."""

    areas: list[str] = field(default_factory=list)
    watch_types: list[str] = field(default_factory=list)
    #: [{"name": rule name, "mode": include|exclude|must, "params": {...}}]
    rules: list[dict[str, Any]] = field(default_factory=list)
    #: A GeoJSON Polygon/MultiPolygon or a Circle (core.shapes); None for no shape.
    shape: dict[str, Any] | None = None
    #: A follow-up: only members who had a delivery of this message (id), which the
    #: sender must be able to see and which must have been sent; None otherwise.
    follow_up_of: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Target:
        data = data or {}
        return cls(list(data.get("areas", [])), list(data.get("watch_types", [])),
                   list(data.get("rules", [])), data.get("shape"), data.get("follow_up_of"))

    def to_json(self) -> dict[str, Any]:
        return {"areas": self.areas, "watch_types": self.watch_types, "rules": self.rules,
                "shape": self.shape, "follow_up_of": self.follow_up_of}


@dataclass
class Resolved:
    """A target turned into SQL over members, with its description in words."""

    clause: ColumnElement[bool]
    description: str
    #: The areas aimed at (the sender's own when none were chosen).
    areas: list[Area]
    #: Whether areas alone decide who is reached (no shape, watch types or rules).
    areas_only: bool


@dataclass
class GroupSender:
    """Someone who is not a staff account sending to a group they run (a watch scheme's
    coordinator), through the same pipeline, channels, caps and tracking as staff.

    The group's plugin decides who may send and aims the message with its own targeting
    rule; the core still reaches only members in ``areas`` who consented to
    ``organisation_id``, and shows recipients ``name``, ``role`` and ``area_label`` as
    the sender. Messages from a group sender go out at once: they are never scheduled,
    held for approval, or followed up, and staff do not see them among their messages.
    """

    organisation_id: int
    #: The areas the group covers; members outside them are never reached.
    areas: list[Area]
    name: str
    role: str
    area_label: str
    #: Group senders have no staff account.
    id: None = None


#: Whoever sends a message: a staff account or a group's coordinator.
Sender = Staff | GroupSender


def areas_of(message: Message) -> list[Area]:
    """The areas ``message`` was aimed at when it was sent (``Message.area_paths``: its
    chosen areas, or its sender's); empty for a message not sent yet."""
    ids = [int(path.strip("/").rsplit("/", 1)[-1])
           for path in (message.area_paths or "").split() if path.strip("/")]
    if not ids:
        return []
    return list(db.session.scalars(select(Area).where(Area.id.in_(ids)).order_by(Area.code)))


def resolve(target: Target, sender: Sender, priority: int, category: str | None = None
            ) -> Resolved:
    """The SQL condition selecting the members ``sender`` reaches with ``target``.

    When the audience is narrowed to watch types or rules, a message of ``category``
    also reaches the members of every watch type that claims that category
    (:attr:`core.registry.WatchType.categories`), under the same areas and conditions.

    Raises :class:`TargetError` for areas outside the sender's scope, unknown watch
    types or rules, and invalid rule parameters.
    """
    errors: dict[str, str] = {}
    words: list[str] = []
    scope = member_scope(sender)
    if any(rule.get("name") == PRESENT_RULE for rule in target.rules):
        # People currently in the sender's areas count too, wherever they live.
        scope = or_(scope, present_in_scope(sender))
    conditions: list[ColumnElement[bool]] = [
        scope,
        reachable(),
        Member.min_priority >= priority,
    ]
    aimed_at = list(sender.areas)

    if target.areas:
        areas = list(db.session.scalars(select(Area).where(Area.code.in_(target.areas))))
        unknown = sorted(set(target.areas) - {a.code for a in areas})
        inside = set(db.session.scalars(
            select(Area.id).where(Area.id.in_([a.id for a in areas]),
                                  within(sender.areas, Area.id))
        ))
        outside = sorted(a.code for a in areas if a.id not in inside)
        if unknown:
            errors["areas"] = f"unknown area codes: {', '.join(unknown)}"
        elif outside:
            errors["areas"] = f"outside your areas: {', '.join(outside)}"
        else:
            conditions.append(within(areas, Member.area_id))
            aimed_at = areas
            words.append("in " + ", ".join(a.name for a in areas))
    elif target.follow_up_of is None:
        words.append("in all your areas")

    if target.follow_up_of is not None and isinstance(sender, GroupSender):
        errors["follow_up_of"] = "a group's message cannot follow up another"
    elif target.follow_up_of is not None:
        # The original recipients: members with a delivery of a sent message the sender
        # may see (an EXISTS probe on delivery's unique index), still under every
        # condition above (scope, consent, opt-out, priority).
        original = db.session.scalar(select(Message).where(
            Message.id == target.follow_up_of, message_scope(sender),
            Message.status.in_(("sending", "sent"))))
        if original is None:
            errors["follow_up_of"] = "not a sent message you can see"
        else:
            conditions.append(exists().where(Delivery.message_id == original.id,
                                             Delivery.member_id == Member.id))
            words.append(f"who received “{original.title}”")
            if not target.areas:
                aimed_at = areas_of(original) or aimed_at

    if target.shape is not None:
        try:
            postcodes = postcodes_inside(check_shape(target.shape))
        except ShapeError as exc:
            errors["shape"] = str(exc)
        else:
            conditions.append(Member.postcode.in_(postcodes) if postcodes else false())
            count = len(postcodes)
            words.append(f"whose postcode lies in the shape drawn ({count} postcode"
                         f"{'' if count == 1 else 's'})")

    registry = current_app.extensions["commonwatch"].registry
    audience: list[ColumnElement[bool]] = []
    unknown_types = [w for w in target.watch_types if w not in registry.watch_types]
    if unknown_types:
        errors["watch_types"] = f"unknown watch types: {', '.join(unknown_types)}"
    elif target.watch_types:
        audience += [has_interest(w) for w in target.watch_types]
        words.append("interested in " + ", ".join(
            str(registry.watch_types[w].label) for w in target.watch_types))

    for n, rule in enumerate(target.rules):
        mode = rule.get("mode")
        if mode not in RULE_MODES:
            errors[f"rules.{n}"] = f"mode must be one of {', '.join(RULE_MODES)}"
            continue
        try:
            built = apply_rule(str(rule.get("name")), rule.get("params") or {})
        except RuleError as exc:
            errors[f"rules.{n}"] = str(exc)
            continue
        if mode == "include":
            audience.append(built.clause)
            words.append(f"or {built.description}")
        elif mode == "must":
            conditions.append(built.clause)
            words.append(f"who are {built.description}")
        else:
            conditions.append(not_(built.clause))
            words.append(f"except those {built.description}")
    if errors:
        raise TargetError(errors)
    if audience and category:
        routed = [w for w in registry.watch_types.values()
                  if category in w.categories and w.name not in target.watch_types]
        if routed:
            audience += [has_interest(w.name) for w in routed]
            words.append("and, as its category is routed to them, " + ", ".join(
                str(w.label) for w in routed))
    if audience:
        conditions.append(or_(*audience))
    return Resolved(and_(*conditions), "Residents " + " ".join(words), aimed_at,
                    areas_only=target.shape is None and not audience and not target.rules
                    and target.follow_up_of is None)


def recipients(message: Message, sender: Sender) -> Select[tuple[int]]:
    """A SELECT of the ids of the members ``message`` reaches."""
    resolved = resolve(Target.from_json(message.target), sender, message.priority,
                       message.category)
    return select(Member.id).where(resolved.clause)


# -- channels and time of day --------------------------------------------------------------


def is_daytime(at: datetime | None = None) -> bool:
    """Whether ``at`` (default now) falls in the day window, in UK time."""
    local = (at or utcnow()).astimezone(UK)
    start, end = current_app.config["DAY_STARTS_HOUR"], current_app.config["DAY_ENDS_HOUR"]
    return start <= local.hour < end


def has_contact() -> ColumnElement[bool]:
    """SQL over MemberChannel (joined to Member): the member has a working contact for
    the channel. Push needs at least one subscribed device."""
    return or_(
        and_(MemberChannel.channel == "email", Member.email_verified_at.is_not(None),
             Member.email_invalid_at.is_(None)),
        and_(MemberChannel.channel.in_(("sms", "voice")), Member.phone.is_not(None),
             Member.phone_invalid_at.is_(None)),
        and_(MemberChannel.channel == "push",
             exists().where(PushSubscription.member_id == MemberChannel.member_id)),
    )


def has_working_channel(channel: str) -> ColumnElement[bool]:
    """SQL over Member: the member chose ``channel`` and has a working contact for it
    (for email: a verified address that has not been failing)."""
    return exists().where(MemberChannel.member_id == Member.id,
                          MemberChannel.channel == channel, has_contact())


def _channel_usable(at: datetime | None) -> ColumnElement[bool]:
    """SQL over MemberChannel (joined to Member): the channel may be used now and the
    member has a contact for it."""
    allowed_now = MemberChannel.by_day if is_daytime(at) else MemberChannel.by_night
    return and_(allowed_now, has_contact())


def quiet_until(at: datetime | None = None) -> datetime | None:
    """When quiet hours end, if ``at`` (default now) falls in them; otherwise None."""
    now = at or utcnow()
    local = now.astimezone(UK)
    start, end = current_app.config["QUIET_HOURS_START"], current_app.config["QUIET_HOURS_END"]
    quiet = (local.hour >= start or local.hour < end) if start > end else start <= local.hour < end
    if not quiet:
        return None
    ends = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(UTC)


def _not_before(message: Message, at: datetime | None) -> ColumnElement[Any]:
    """SQL: when a delivery may go — later for SMS and voice in quiet hours (urgent
    messages excepted), otherwise at once (NULL)."""
    return held_until(literal(message.priority), at)


def held_until(priority: ColumnElement[int], at: datetime | None) -> ColumnElement[Any]:
    """SQL over MemberChannel: the end of quiet hours for SMS and voice of a non-urgent
    ``priority`` when ``at`` falls in them; otherwise NULL."""
    until = quiet_until(at)
    if until is None:
        return literal(None, UTCDateTime)
    return case((and_(MemberChannel.channel.in_(("sms", "voice")), priority > 1),
                 literal(until, UTCDateTime)), else_=literal(None, UTCDateTime))


def _day_start(at: datetime | None) -> datetime:
    local = (at or utcnow()).astimezone(UK)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _state_for(message: Message, today: Subquery | None) -> ColumnElement[str]:
    """SQL: "queued", or "digest" for a non-urgent message to a member who chose the
    digest or already had their daily number of messages (the fatigue guard)."""
    if message.priority <= 1:
        return literal("queued")  # urgent messages bypass the cap and the digest
    over: ColumnElement[bool] = Member.digest_only
    if today is not None:
        over = or_(over, func.coalesce(today.c.n, 0) >= current_app.config["DAILY_MESSAGE_CAP"])
    return case((over, literal("digest")), else_=literal("queued"))


def _deliveries_select(message: Message, who: ColumnElement[bool], at: datetime | None
                       ) -> Select[Any]:
    today = (None if message.priority <= 1
             else messages_since(_day_start(at), exclude_message_id=message.id))
    query = (
        select(
            literal(message.id).label("message_id"),
            Member.id.label("member_id"),
            MemberChannel.channel,
            _state_for(message, today).label("state"),
            literal(at or utcnow(), UTCDateTime).label("queued_at"),
            _not_before(message, at).label("not_before"),
            literal(0).label("attempts"),
        )
        .select_from(Member)
        .join(MemberChannel, MemberChannel.member_id == Member.id)
    )
    if today is not None:
        query = query.outerjoin(today, today.c.member_id == Member.id)
    return query.where(who, _channel_usable(at))


# -- preview --------------------------------------------------------------------------------


def ward_name() -> ScalarSelect[str]:
    """SQL: the name of the ward of a member (the parent of their street; the area
    itself when it has no parent), for grouping counts by ward."""
    return ward_of(Member.area_id)


@dataclass
class Preview:
    """What sending would do, counted by the database."""

    people: int
    deliveries_by_channel: dict[str, int]
    people_by_area: list[tuple[str, int]]
    sms_segments: int
    estimated_cost_pence: int
    recently_messaged: int
    description: str


def _count_exactly(message: Message, who: ColumnElement[bool], at: datetime | None
                   ) -> Counts:
    """Count, member by member in the database, whom ``who`` selects."""
    ids = select(Member.id).where(who)
    people = db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    planned = _deliveries_select(message, who, at).subquery()
    by_channel = dict(
        db.session.execute(
            select(planned.c.channel, func.count()).group_by(planned.c.channel)
        ).all()
    )
    ward = ward_name()
    by_ward = dict(db.session.execute(
        select(ward, func.count(Member.id)).where(who).group_by(ward)
    ).all())
    busy = 0
    recent = messages_since((at or utcnow()) - timedelta(days=7),
                            exclude_message_id=message.id)
    if recent is not None:
        busy = db.session.scalar(
            select(func.count()).select_from(Member)
            .join(recent, recent.c.member_id == Member.id)
            .where(who, recent.c.n >= current_app.config["PREVIEW_RECENT_MESSAGES"])
        ) or 0
    return Counts(people, by_channel, by_ward, busy)


def preview(message: Message, sender: Sender, at: datetime | None = None) -> Preview:
    """Count, without sending, who ``message`` reaches and over which channels.

    A target of areas alone is answered from the pre-counted figures (core.reach) for
    areas whose members did not change since they were counted, plus an exact count of
    those that did; any other target is counted exactly."""
    resolved = resolve(Target.from_json(message.target), sender, message.priority,
                       message.category)
    everything_dirty, dirty = dirty_areas()
    if resolved.areas_only and not everything_dirty:
        counts = precounted(sender.organisation_id, resolved.areas, message.priority,
                            is_daytime(at), leave_out=dirty)
        if dirty:
            fresh = _count_exactly(
                message, and_(resolved.clause, within(dirty, Member.area_id)), at)
            counts.people += fresh.people
            counts.busy += fresh.busy
            for key, n in fresh.deliveries_by_channel.items():
                counts.deliveries_by_channel[key] = counts.deliveries_by_channel.get(key, 0) + n
            for key, n in fresh.people_by_ward.items():
                counts.people_by_ward[key] = counts.people_by_ward.get(key, 0) + n
    else:
        counts = _count_exactly(message, resolved.clause, at)
    by_channel = {k: v for k, v in counts.deliveries_by_channel.items() if v}
    segments = sms_segments(message.plain_text)
    price = current_app.config["SMS_PENCE_PER_SEGMENT"]
    voice_price = current_app.config["VOICE_PENCE_PER_CALL"]
    cost = (by_channel.get("sms", 0) * segments * price
            + by_channel.get("voice", 0) * voice_price)
    return Preview(
        people=counts.people,
        deliveries_by_channel=by_channel,
        people_by_area=sorted(((name, n) for name, n in counts.people_by_ward.items() if n),
                              key=lambda item: (-item[1], item[0])),
        sms_segments=segments,
        estimated_cost_pence=cost,
        recently_messaged=counts.busy,
        description=resolved.description,
    )


def delivery_states(message: Message) -> list[tuple[str, str, int]]:
    """How far ``message`` has gone: (channel, state, number of deliveries), by channel
    and state."""
    return [(channel, state, n) for channel, state, n in db.session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.message_id == message.id)
        .group_by(Delivery.channel, Delivery.state)
        .order_by(Delivery.channel, Delivery.state)
    ).all()]


# -- sending --------------------------------------------------------------------------------


def needs_approval(message: Message, sender: Staff) -> bool:
    """Whether the force requires a second person to approve ``message`` first."""
    def listed(key: str) -> set[str]:
        return {v.strip() for v in str(current_app.config[key] or "").split(",") if v.strip()}

    return (sender.role in listed("APPROVAL_ROLES")
            or message.category in listed("APPROVAL_CATEGORIES"))


def create_message(sender: Sender, **fields: Any) -> Message:
    """A draft message from ``sender`` (not committed); Markdown is rendered here."""
    message = Message(organisation_id=sender.organisation_id, sender_id=sender.id, **fields)
    if isinstance(sender, GroupSender):
        message.sender_name = sender.name[:200]
        message.sender_role = sender.role[:100]
        message.sender_areas = sender.area_label[:255]
    message.body_html = render_markdown(message.body)
    if message.body_cy:
        message.body_html_cy = render_markdown(message.body_cy)
    return message


def send(message: Message, sender: Sender, at: datetime | None = None) -> int:
    """Fan ``message`` out: write one delivery per recipient and usable channel in one
    statement, in the same transaction that marks it sending, then queue delivery jobs
    in batches. Returns the number of people reached."""
    plugins = current_app.extensions["commonwatch"].plugins
    plugins.call("commonwatch_message_before_send", message=message)
    resolved = resolve(Target.from_json(message.target), sender, message.priority,
                       message.category)
    message.target_description = resolved.description
    columns = ["message_id", "member_id", "channel", "state", "queued_at", "not_before",
               "attempts"]
    db.session.execute(
        insert(Delivery).from_select(columns, _deliveries_select(message, resolved.clause, at))
    )
    message.recipient_count = db.session.scalar(
        select(func.count(func.distinct(Delivery.member_id))).where(
            Delivery.message_id == message.id)
    ) or 0
    message.status = "sending"
    message.sent_at = at or utcnow()
    message.verification_code = message.verification_code or new_code()
    message.area_paths = " " + " ".join(a.path for a in resolved.areas) + " "
    # Who had how many messages this week changed: those areas are counted again.
    mark(a.id for a in resolved.areas)
    db.session.commit()
    held = db.session.scalar(
        select(Delivery.id).where(Delivery.message_id == message.id,
                                  Delivery.state == "queued").limit(1))
    if enqueue_deliveries(message.id) == 0 and held is None:
        message.status = "sent"  # nobody to reach: nothing will ever finish it
        db.session.commit()
    plugins.call("commonwatch_message_sent", message=message,
                 recipient_count=message.recipient_count)
    return message.recipient_count


def is_due(at: datetime | None = None) -> ColumnElement[bool]:
    """SQL: the delivery is not held back (or no longer)."""
    return or_(Delivery.not_before.is_(None), Delivery.not_before <= (at or utcnow()))


def delivery_batches(message_id: int, size: int) -> list[tuple[int, int]]:
    """(first id, last id) of consecutive batches of ``size`` of ``message_id``'s queued
    deliveries, computed in one query."""
    numbered = (
        select(
            Delivery.id,
            ((func.row_number().over(order_by=Delivery.id) - 1) // size).label("batch"),
        )
        .where(Delivery.message_id == message_id,
               Delivery.state.in_(("queued", "temporary-failure")), is_due())
        .subquery()
    )
    return [
        (first, last) for first, last in db.session.execute(
            select(func.min(numbered.c.id), func.max(numbered.c.id))
            .group_by(numbered.c.batch)
            .order_by(func.min(numbered.c.id))
        )
    ]


def enqueue_deliveries(message_id: int) -> int:
    """Queue jobs for ``message_id``'s queued deliveries; returns how many jobs."""
    from core.delivery import deliver_batch
    from core.jobs import enqueue_many

    batches = delivery_batches(message_id, current_app.config["DELIVERY_BATCH_SIZE"])
    # Urgent messages have a queue of their own, which workers serve first, so a
    # county-wide backlog never delays them.
    priority = db.session.scalar(select(Message.priority).where(Message.id == message_id))
    enqueue_many(deliver_batch, [(message_id, first, last) for first, last in batches],
                 queue="urgent" if priority == 1 else "default")
    return len(batches)


def schedule(message: Message, when: datetime) -> None:
    """Hold ``message`` until ``when`` (committed). With Redis, RQ's scheduler sends it
    on time; without, ``commonwatch sweep-deliveries`` sends it once due."""
    message.status = "scheduled"
    message.scheduled_for = when
    db.session.commit()
    if current_app.config.get("REDIS_URL"):
        from rq import Queue

        from core.jobs import redis_connection

        Queue("default", connection=redis_connection()).enqueue_at(
            when, send_scheduled, message.id)


def send_scheduled(message_id: int) -> bool:
    """Send a scheduled message if it is still scheduled and due; whether it was sent."""
    message = db.session.get(Message, message_id)
    if (message is None or message.status != "scheduled" or message.sender is None
            or message.scheduled_for > utcnow()):
        return False
    message.status = "draft"
    send(message, message.sender)
    return True


def send_due_messages() -> int:
    """Send every scheduled message whose time has come; how many were sent."""
    due = db.session.scalars(
        select(Message.id).where(Message.status == "scheduled",
                                 Message.scheduled_for <= utcnow())
    ).all()
    return sum(send_scheduled(message_id) for message_id in due)

"""Pre-counted reach, so that previewing a force-wide alert need not count a million
members while the officer waits.

``reach_count`` holds, per organisation and members' own area, how many reachable people
there are and how many usable contacts per channel, by day and by night, split by the
members' priority threshold. Whenever members change, their areas are noted in
``reach_dirty`` in the same transaction (an ORM flush listener covers every change the
core and plugins make through the session; bulk statements call :func:`mark_members`).
A preview adds the pre-counted figures of the clean areas to an exact count of the
dirty ones, so it is always exact; :func:`refresh` (run by ``commonwatch
sweep-deliveries`` and ``commonwatch refresh-reach``) recounts dirty areas, keeping the
exact part small. The one figure that can lag is "people who already had N messages this
week" for clean areas: sends mark their areas dirty, and a full recount runs daily as
the week moves on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Subquery,
    and_,
    case,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session

from core.areas import within
from core.extensions import db
from core.models import (
    Area,
    Delivery,
    Member,
    MemberChannel,
    MemberConsent,
    Message,
    ReachCount,
    ReachDirty,
    UTCDateTime,
    utcnow,
)

#: Tables whose rows describe a member's reach (by their ``member_id``).
MEMBER_TABLES = frozenset({"member_channel", "member_consent", "push_subscription"})


def reachable() -> ColumnElement[bool]:
    """SQL over Member: the member can be sent messages at all (verified address, not
    opted out). Scope, consent and priority come on top."""
    return and_(Member.email_verified_at.is_not(None), Member.opted_out_at.is_(None))


def messages_since(since: datetime, exclude_message_id: int | None = None
                   ) -> Subquery | None:
    """Per member, how many messages reached them since ``since``: a subquery of
    (member_id, n) over the deliveries of the messages sent since then, or None when
    none were."""
    sent = db.session.scalars(
        select(Message.id).where(Message.sent_at >= since,
                                 Message.id != (exclude_message_id or 0))
    ).all()
    if not sent:
        return None
    return (
        select(Delivery.member_id, func.count(func.distinct(Delivery.message_id)).label("n"))
        .where(Delivery.message_id.in_(sent))
        .group_by(Delivery.member_id)
        .subquery()
    )


# -- noting what changed -------------------------------------------------------------------


def mark(area_ids: Iterable[int | None]) -> None:
    """Note that members of these areas (None: of every area) changed; in the current
    transaction."""
    rows = [{"area_id": a} for a in set(area_ids)]
    if rows:
        db.session.execute(insert(ReachDirty), rows)


def mark_members(member_ids: Iterable[int]) -> None:
    """Note that these members changed (after a bulk statement the session did not see)."""
    ids = list(member_ids)
    if ids:
        db.session.execute(insert(ReachDirty).from_select(
            ["area_id"], select(Member.area_id).where(Member.id.in_(ids)).distinct()))


_PENDING = "commonwatch_reach_members"


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, _context: Any, _instances: Any) -> None:
    areas: set[int | None] = set()
    members: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Member):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            areas.add(obj.area_id if obj.area_id is not None
                      else (obj.area.id if obj.area is not None else None))
            history = db.inspect(obj).attrs.area_id.history
            areas.update(a for a in history.deleted if a is not None)
        elif getattr(obj, "__tablename__", None) in MEMBER_TABLES:
            member_id = getattr(obj, "member_id", None)
            member = getattr(obj, "member", None) if member_id is None else None
            if member_id is not None:
                members.add(member_id)
            elif member is not None and member.area_id is not None:
                areas.add(member.area_id)
    areas.discard(None)
    if areas or members:
        pending = session.info.setdefault(_PENDING, [set(), set()])
        pending[0].update(areas)
        pending[1].update(members)


@event.listens_for(Session, "after_flush")
def _write_changes(session: Session, _context: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    areas, members = pending
    connection = session.connection()
    if areas:
        connection.execute(insert(ReachDirty), [{"area_id": a} for a in areas])
    if members:
        connection.execute(insert(ReachDirty).from_select(
            ["area_id"],
            select(Member.area_id).where(Member.id.in_(list(members))).distinct()))


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_PENDING, None)


def dirty_areas() -> tuple[bool, list[Area]]:
    """(whether every area is dirty, the dirty areas otherwise)."""
    ids = set(db.session.scalars(select(ReachDirty.area_id).distinct()))
    if None in ids:
        return True, []
    return False, list(db.session.scalars(select(Area).where(Area.id.in_(ids))))


# -- counting ------------------------------------------------------------------------------


def _count_rows(members: ColumnElement[bool], now: datetime) -> Any:
    """The reach_count rows of the members selected by ``members``."""
    from core.messaging import has_contact

    busy_messages = messages_since(now - timedelta(days=7))
    threshold = current_app.config["PREVIEW_RECENT_MESSAGES"]
    consent = MemberConsent.member_id == Member.id
    counted_at = literal(now, UTCDateTime)

    people = (
        select(MemberConsent.organisation_id, Member.area_id, Member.min_priority,
               literal("").label("channel"), func.count().label("by_day"),
               func.count().label("by_night"),
               (func.sum(case((busy_messages.c.n >= threshold, 1), else_=0))
                if busy_messages is not None else literal(0)).label("busy"),
               counted_at.label("counted_at"))
        .select_from(Member).join(MemberConsent, consent)
    )
    if busy_messages is not None:
        people = people.outerjoin(busy_messages, busy_messages.c.member_id == Member.id)
    people = people.where(members, reachable()).group_by(
        MemberConsent.organisation_id, Member.area_id, Member.min_priority)

    def usable(column: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((column, 1), else_=0))

    contacts = (
        select(MemberConsent.organisation_id, Member.area_id, Member.min_priority,
               MemberChannel.channel, usable(MemberChannel.by_day),
               usable(MemberChannel.by_night), literal(0), counted_at)
        .select_from(Member).join(MemberConsent, consent)
        .join(MemberChannel, MemberChannel.member_id == Member.id)
        .where(members, reachable(), has_contact())
        .group_by(MemberConsent.organisation_id, Member.area_id, Member.min_priority,
                  MemberChannel.channel)
    )
    return people.union_all(contacts)


def refresh(full: bool = False) -> int:
    """Recount the areas whose members changed (every area with ``full``, or when the
    last full count is more than a day old) and commit; returns how many dirty notes were
    settled. Safe to run from several machines at once: one recounts, the others skip."""
    db.session.commit()
    postgres = db.engine.dialect.name == "postgresql"
    if postgres:
        # One snapshot for the whole recount, so a change committed meanwhile keeps its
        # note; and one recount at a time.
        connection = db.session.connection(
            execution_options={"isolation_level": "REPEATABLE READ"})
        if not connection.scalar(text("SELECT pg_try_advisory_xact_lock(4207001)")):
            db.session.rollback()
            return 0
    now = utcnow()
    oldest = db.session.scalar(select(func.min(ReachCount.counted_at)))
    if oldest is not None and oldest < now - timedelta(days=1):
        full = True
    last = db.session.scalar(select(func.max(ReachDirty.id)))
    everything, areas = dirty_areas()
    members: ColumnElement[bool] | None = None
    if full or everything:
        members = true()
        db.session.execute(delete(ReachCount))
    elif areas:
        members = within(areas, Member.area_id)
        db.session.execute(delete(ReachCount).where(within(areas, ReachCount.area_id)))
    if members is not None:
        db.session.execute(insert(ReachCount).from_select(
            ["organisation_id", "area_id", "min_priority", "channel", "by_day", "by_night",
             "busy", "counted_at"], _count_rows(members, now)))
    settled = 0
    if last is not None:
        settled = db.session.execute(delete(ReachDirty).where(ReachDirty.id <= last)).rowcount
    db.session.commit()
    return settled or 0


@dataclass
class Counts:
    """Reach of a target, counted by the database."""

    people: int
    deliveries_by_channel: dict[str, int]
    people_by_ward: dict[str, int]
    busy: int


def ward_of(area_id: ColumnElement[int]) -> Any:
    """SQL: the name of the ward of the area ``area_id`` (its parent; the area itself
    when it has no parent)."""
    from sqlalchemy.orm import aliased

    street = aliased(Area)
    ward = aliased(Area)
    return (
        select(ward.name)
        .join(street, ward.id == func.coalesce(street.parent_id, street.id))
        .where(street.id == area_id)
        .scalar_subquery()
    )


def precounted(organisation_id: int, areas: list[Area], priority: int, daytime: bool,
               leave_out: list[Area]) -> Counts:
    """The pre-counted reach of ``organisation_id`` in ``areas`` (and below) for a message
    of ``priority``, leaving out the areas ``leave_out`` (the dirty ones)."""
    figure = ReachCount.by_day if daytime else ReachCount.by_night
    where = [ReachCount.organisation_id == organisation_id,
             ReachCount.min_priority >= priority, within(areas, ReachCount.area_id)]
    if leave_out:
        where.append(~within(leave_out, ReachCount.area_id))
    totals = db.session.execute(
        select(ReachCount.channel, func.sum(figure), func.sum(ReachCount.busy))
        .where(*where).group_by(ReachCount.channel)
    ).all()
    people = next((int(n) for c, n, _ in totals if c == ""), 0)
    busy = next((int(b) for c, _, b in totals if c == ""), 0)
    by_channel = {c: int(n) for c, n, _ in totals if c and n}
    ward = ward_of(ReachCount.area_id)
    by_ward = {
        name: int(n) for name, n in db.session.execute(
            select(ward, func.sum(figure)).where(*where, ReachCount.channel == "")
            .group_by(ward))
        if n
    }
    return Counts(people, by_channel, by_ward, busy)

"""Cases: raising a concern, routing it to a team, and the team's work on it.

Everything here works on the database session and leaves committing to the caller,
except where a docstring says otherwise. Staff reach cases only through
:func:`case_scope` (and :func:`get_scoped_case`); residents only their own, through
:func:`get_own_case`; the staff member who raised a case for someone, only those,
through :func:`get_assisted_case`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import abort, current_app
from flask_babel import force_locale, format_date, ngettext
from sqlalchemy import ColumnElement, and_, case, or_, select, update

from core.api import (
    Area,
    Member,
    Organisation,
    Staff,
    db,
    enqueue,
    external_url,
    gettext,
    log_denied,
    notify_member,
    notify_staff,
    utcnow,
    within,
)
from core.api import lazy_gettext as _l
from plugins.surgery import sla
from plugins.surgery.models import (
    OPEN_STATUSES,
    PUBLIC_KINDS,
    STATUSES,
    Case,
    Entry,
)

#: Roles whose staff handle cases (the ``surgery.handle`` permission): a case goes to a
#: team only where such staff work.
HANDLER_ROLES = frozenset({"officer", "supervisor", "force_admin"})
#: Roles told when a case of their areas nears or passes its due date.
SUPERVISOR_ROLES = ("supervisor", "force_admin")

#: The topics offered when SURGERY_TOPICS is not set.
DEFAULT_TOPICS: dict[str, Any] = {
    "antisocial_behaviour": _l("Anti-social behaviour"),
    "drugs": _l("Drugs"),
    "speeding": _l("Speeding and road safety"),
    "burglary": _l("Burglary concern"),
    "other": _l("Something else"),
}

STATUS_LABELS: dict[str, Any] = {
    "new": _l("New"),
    "assigned": _l("Assigned"),
    "awaiting_resident": _l("Awaiting resident"),
    "answered": _l("Answered"),
    "closed": _l("Closed"),
}
assert set(STATUS_LABELS) == set(STATUSES)

REPLY_CHANNEL_LABELS: dict[str, Any] = {
    "email": _l("Email"),
    "sms": _l("Text message"),
    "phone": _l("A phone call"),
    "post": _l("A letter"),
    "collect": _l("Collect it at the community centre"),
}


class NoTeam(LookupError):
    """No policing team covers the place a concern is about."""


# -- settings -------------------------------------------------------------------------------


def _setting(key: str) -> Any:
    value = current_app.config.get(key)
    if isinstance(value, str) and value.strip()[:1] in "[{":
        value = json.loads(value)
    return value


def topics() -> dict[str, Any]:
    """The topics residents choose from: ``SURGERY_TOPICS`` (a mapping of key to label,
    or a list of labels; JSON in the environment), else :data:`DEFAULT_TOPICS`."""
    configured = _setting("SURGERY_TOPICS")
    if not configured:
        return dict(DEFAULT_TOPICS)
    if isinstance(configured, str):
        configured = [t.strip() for t in configured.split(",") if t.strip()]
    if isinstance(configured, dict):
        return {str(k)[:64]: str(v) for k, v in configured.items()}
    return {str(label)[:64]: str(label) for label in configured}


def topic_label(key: str) -> Any:
    """How a topic reads; a topic no longer configured reads as its key."""
    return topics().get(key) or DEFAULT_TOPICS.get(key) or key


def region_of(organisation: Organisation) -> str:
    """The bank holiday calendar ``organisation`` counts working days on:
    ``SURGERY_REGIONS[slug]`` if set, else ``SURGERY_REGION`` (england-and-wales)."""
    regions = _setting("SURGERY_REGIONS") or {}
    region = regions.get(organisation.slug) or current_app.config.get("SURGERY_REGION")
    return sla.check_region(region or "england-and-wales")


def escalate_hours() -> int:
    """How long before its due date an unanswered case is escalated."""
    return int(current_app.config.get("SURGERY_ESCALATE_HOURS") or 24)


# -- routing --------------------------------------------------------------------------------


def area_ids_holding(area: Area) -> list[int]:
    """The ids of ``area`` and of every area above it, top first."""
    return [int(i) for i in area.path.strip("/").split("/") if i]


def route(area: Area) -> tuple[Organisation, Area]:
    """The organisation and team a concern in ``area`` goes to.

    The team is the most local area holding ``area`` (itself included) where active
    staff who handle cases work, of a police organisation when any police handler covers
    the place at all (a watch association's or council's staff take concerns only where
    no police team does). Raises :class:`NoTeam` when no such staff work anywhere above
    it."""
    ids = area_ids_holding(area)
    rows = db.session.execute(
        select(Area, Organisation)
        .select_from(Staff)
        .join(Staff.areas)
        .join(Organisation, Organisation.id == Staff.organisation_id)
        .where(Area.id.in_(ids), Staff.active, Staff.role.in_(sorted(HANDLER_ROLES)))
        .distinct()
    ).all()
    if not rows:
        raise NoTeam(area.code)
    depth = {area_id: n for n, area_id in enumerate(ids)}
    team, organisation = max(
        rows, key=lambda r: (r[1].kind == "police", depth[r[0].id], -r[1].id))
    return organisation, team


# -- scoping --------------------------------------------------------------------------------


def case_scope(staff: Staff) -> ColumnElement[bool]:
    """SQL condition: a case ``staff`` may see and work on — routed to their organisation,
    and about a place in their areas or routed to a team in them."""
    return and_(
        Case.organisation_id == staff.organisation_id,
        or_(within(staff.areas, Case.area_id), within(staff.areas, Case.team_area_id)),
    )


def scoped_cases(staff: Staff) -> Any:
    """A SELECT of the cases ``staff`` may see, for further filtering and paging."""
    return select(Case).where(case_scope(staff))


def get_scoped_case(staff: Staff, case_id: int) -> Case:
    """Case ``case_id`` if ``staff`` may see it; 404 otherwise (so other teams' case ids
    cannot be told from ids that do not exist)."""
    found = db.session.scalar(scoped_cases(staff).where(Case.id == case_id))
    if found is None:
        log_denied("case not in scope or not found")
        abort(404)
    return found


def get_own_case(member: Member, case_id: int) -> Case:
    """``member``'s own concern ``case_id``; 404 for anyone else's."""
    found = db.session.get(Case, case_id)
    if found is None or found.member_id != member.id or found.kind != "concern":
        log_denied("not the member's case")
        abort(404)
    return found


def get_assisted_case(staff: Staff, case_id: int) -> Case:
    """A case ``staff`` raised for someone at a centre; 404 for any other."""
    found = db.session.get(Case, case_id)
    if found is None or found.submitted_by_id != staff.id:
        log_denied("not a case this account raised")
        abort(404)
    return found


def handlers(found: Case) -> list[Staff]:
    """The staff a case can be assigned to: active handlers of its organisation whose
    areas hold it, by name."""
    return list(db.session.scalars(
        _staff_over(found, HANDLER_ROLES).order_by(Staff.name, Staff.id)))


def _staff_over(found: Case, roles: Iterable[str]) -> Any:
    """SELECT of the active staff of ``found``'s organisation in ``roles`` whose areas
    hold its place or its team."""
    ids = area_ids_holding(found.area) + area_ids_holding(found.team_area)
    return (select(Staff).join(Staff.areas)
            .where(Staff.organisation_id == found.organisation_id, Staff.active,
                   Staff.role.in_(sorted(roles)), Area.id.in_(ids))
            .distinct())


# -- what the resident sees -----------------------------------------------------------------


def public_entries(found: Case) -> list[Entry]:
    """What the person who raised ``found`` may read, oldest first: their own additions
    and the team's replies — also the replies on the case it was merged into, written
    since the merge. Never an internal note or a recorded event."""
    condition = and_(Entry.case_id == found.id, Entry.kind.in_(PUBLIC_KINDS))
    if found.merged_into_id is not None and found.merged_at is not None:
        # Only replies written since the merge: earlier ones were for the other resident.
        condition = or_(condition, and_(Entry.case_id == found.merged_into_id,
                                        Entry.kind == "reply", Entry.at >= found.merged_at))
    return list(db.session.scalars(select(Entry).where(condition).order_by(Entry.at, Entry.id)))


def all_entries(found: Case) -> list[Entry]:
    """Everything written and done on ``found``, oldest first, for staff in scope."""
    return list(db.session.scalars(
        select(Entry).where(Entry.case_id == found.id).order_by(Entry.at, Entry.id)))


def member_cases(member: Member) -> list[Case]:
    """``member``'s concerns, newest first."""
    return list(db.session.scalars(
        select(Case).where(Case.member_id == member.id, Case.kind == "concern")
        .order_by(Case.submitted_at.desc(), Case.id.desc())))


# -- raising a concern ----------------------------------------------------------------------


def submit_case(*, topic: str, description: str, area: Area, reply_channel: str,
                member: Member | None = None, location: str = "",
                postcode: str | None = None, submitted_by: Staff | None = None,
                requester_name: str | None = None, contact_phone: str | None = None,
                contact_address: str | None = None, collect_at: str | None = None,
                now: datetime | None = None) -> Case:
    """Raise a concern about ``area`` and route it (flushed, not committed): to the team
    :func:`route` finds, due five working days after it is received on the team's
    organisation's calendar. Raises :class:`NoTeam` when no team covers ``area``."""
    organisation, team = route(area)
    now = now or utcnow()
    region = region_of(organisation)
    found = Case(kind="concern", organisation_id=organisation.id, team_area_id=team.id,
                 area_id=area.id, member_id=member.id if member else None, topic=topic,
                 description=description, location=location, postcode=postcode,
                 reply_channel=reply_channel, requester_name=requester_name,
                 contact_phone=contact_phone, contact_address=contact_address,
                 collect_at=collect_at, submitted_by_id=submitted_by.id if submitted_by else None,
                 status="new", region=region, submitted_at=now,
                 due_at=sla.due_at(now, region))
    db.session.add(found)
    db.session.flush()
    return found


def add_information(found: Case, text: str, now: datetime | None = None) -> Entry:
    """The resident adds to their case (flushed): a case answered or awaiting them goes
    back to the team. Closed cases take nothing more (``ValueError``)."""
    if found.status == "closed":
        raise ValueError("the case is closed")
    entry = Entry(case_id=found.id, kind="resident", body=text, at=now or utcnow())
    db.session.add(entry)
    if found.status in ("answered", "awaiting_resident"):
        found.status = "assigned" if found.assigned_to_id else "new"
    db.session.flush()
    return entry


# -- the team's work ------------------------------------------------------------------------


def _event(found: Case, kind: str, staff: Staff | None, body: str = "",
           now: datetime | None = None) -> Entry:
    entry = Entry(case_id=found.id, kind=kind, staff_id=staff.id if staff else None,
                  body=body, at=now or utcnow())
    db.session.add(entry)
    return entry


def reply(found: Case, staff: Staff, text: str, status: str = "answered",
          now: datetime | None = None) -> Entry:
    """``staff``'s public reply on ``found`` (committed), which then has ``status``
    ("answered", "awaiting_resident" or "assigned"); the resident is told in the
    background over the reply channel they chose. Also tells the residents of cases
    merged into this one."""
    if status not in ("answered", "awaiting_resident", "assigned"):
        raise ValueError(f"a reply cannot leave a case {status!r}")
    if not workable(found):
        raise ValueError("reply on the case it was merged into")
    now = now or utcnow()
    entry = _event(found, "reply", staff, text, now)
    if found.first_reply_at is None:
        found.first_reply_at = now
    for duplicate in db.session.scalars(select(Case).where(Case.merged_into_id == found.id,
                                                           Case.first_reply_at.is_(None))):
        duplicate.first_reply_at = now
    if found.assigned_to_id is None and status == "assigned":
        found.assigned_to_id = staff.id
    _set_status(found, staff, status, now, record=False)
    db.session.commit()
    enqueue(notify_reply, entry.id)
    return entry


def add_note(found: Case, staff: Staff, text: str, now: datetime | None = None) -> Entry:
    """An internal note on ``found`` (flushed): staff in scope read it; the resident
    never does, on any page, notification or download."""
    entry = _event(found, "note", staff, text, now)
    db.session.flush()
    return entry


def assign(found: Case, staff: Staff, assignee: Staff, now: datetime | None = None) -> None:
    """Give ``found`` to ``assignee`` (one of :func:`handlers`; ``ValueError`` else); a
    new case becomes assigned (flushed)."""
    if assignee.id not in {s.id for s in handlers(found)}:
        raise ValueError("not a handler of this case's area")
    found.assigned_to_id = assignee.id
    _event(found, "assigned", staff, assignee.name, now)
    if found.status == "new":
        found.status = "assigned"
    db.session.flush()


def _set_status(found: Case, staff: Staff | None, status: str, now: datetime,
                record: bool = True) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if status == found.status:
        return
    found.status = status
    found.closed_at = now if status == "closed" else None
    if record:
        _event(found, "status", staff, status, now)


def workable(found: Case) -> bool:
    """Whether staff may reply on ``found`` or change its status: a concern not merged
    into another (work goes on there; a beat surgery's record follows its session)."""
    return found.kind == "concern" and found.merged_into_id is None


def set_status(found: Case, staff: Staff, status: str, now: datetime | None = None) -> None:
    """Move ``found`` to ``status`` (one of STATUSES), recorded for staff (flushed).
    ``ValueError`` for a case merged into another."""
    if found.merged_into_id is not None:
        raise ValueError("change the status of the case it was merged into")
    _set_status(found, staff, status, now or utcnow())
    db.session.flush()


def merge(duplicate: Case, into: Case, staff: Staff, now: datetime | None = None) -> None:
    """Close ``duplicate`` as a duplicate of ``into`` (flushed). Its resident then reads
    ``into``'s replies on their own case and is told of new ones. Both must be concerns
    of one organisation, and ``into`` must not itself be merged (``ValueError``)."""
    if duplicate.id == into.id:
        raise ValueError("a case cannot be merged into itself")
    if duplicate.kind != "concern" or into.kind != "concern":
        raise ValueError("only concerns can be merged")
    if into.merged_into_id is not None:
        raise ValueError("that case was itself merged into another")
    if duplicate.organisation_id != into.organisation_id:
        raise ValueError("the cases belong to different organisations")
    now = now or utcnow()
    duplicate.merged_into_id, duplicate.merged_at = into.id, now
    for earlier in db.session.scalars(select(Case).where(Case.merged_into_id == duplicate.id)):
        earlier.merged_into_id = into.id
    _event(duplicate, "merged", staff, into.reference, now)
    _event(into, "merged", staff, duplicate.reference, now)
    _set_status(duplicate, staff, "closed", now)
    if into.first_reply_at is not None and duplicate.first_reply_at is None:
        # The kept case's replies reach this resident from now on.
        duplicate.first_reply_at = now
    db.session.flush()


# -- telling the resident -------------------------------------------------------------------


def notify_reply(entry_id: int) -> None:
    """Tell the residents of a reply's case (and of cases merged into it) that it came, by
    the reply channel each chose (email or text message), with a link to the case. A
    background job; does nothing for a reply already notified. Cases raised for someone
    at a centre are passed on by staff, not here."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.kind != "reply" or entry.notified is not None:
        return
    found = db.session.get(Case, entry.case_id)
    merged = list(db.session.scalars(select(Case).where(Case.merged_into_id == found.id)))
    sent: list[str] = []
    errors: list[str] = []
    told: set[tuple[int, str]] = set()
    for each in [found, *merged]:
        member = each.member
        if member is None or each.reply_channel not in ("email", "sms") \
                or (member.id, each.reply_channel) in told:
            continue
        told.add((member.id, each.reply_channel))
        with force_locale(member.language):
            subject = gettext("Your local policing team replied: %(reference)s",
                              reference=each.reference)
            text = gettext("%(team)s replied to the concern you raised (%(reference)s):",
                           team=found.team_area.name, reference=each.reference) \
                + "\n\n" + entry.body
        notice = notify_member(member, subject, text,
                               link=external_url("surgery.case", case_id=each.id),
                               channels=[each.reply_channel])
        sent.extend(c for c in notice.channels.split(",") if c)
        if notice.error:
            errors.append(notice.error)
    entry = db.session.get(Entry, entry_id)
    entry.notified = ",".join(sorted(set(sent)))
    entry.error = "; ".join(errors)[:255] or None
    db.session.commit()


# -- escalation -----------------------------------------------------------------------------


def supervisors(found: Case) -> list[Staff]:
    """Who is told when ``found`` nears or passes its due date: active supervisors of its
    organisation whose areas hold it, else its force administrators."""
    for role in SUPERVISOR_ROLES:
        people = list(db.session.scalars(_staff_over(found, [role]).order_by(Staff.id)))
        if people:
            return people
    return []


def escalate(now: datetime | None = None) -> int:
    """Tell supervisors of every unanswered open concern that is due within
    ``SURGERY_ESCALATE_HOURS`` (once) and again once it is past due; returns how many
    cases were escalated. Run by ``commonwatch surgery escalate``.

    Each case is taken with a conditional update and committed before anyone is emailed,
    so runs that overlap (on several machines, say) tell each supervisor once. When
    supervisors exist but no email to them went, the case is put back for the next run to
    try again; a supervisor who could not be emailed while others were is recorded on the
    case's "escalated" event (internal, as every event)."""
    now = now or utcnow()
    hours = escalate_hours()
    near = now + timedelta(hours=hours)
    level = case((Case.due_at < now, sla.OVERDUE), else_=sla.DUE_SOON)
    waiting = (Case.kind == "concern", Case.status.in_(OPEN_STATUSES),
               Case.first_reply_at.is_(None))
    candidates = db.session.execute(
        select(Case.id, Case.due_at, Case.escalation, Case.escalated_at).where(
            *waiting, Case.due_at <= near,
            or_(Case.escalation.is_(None),
                and_(Case.escalation != sla.OVERDUE, level == sla.OVERDUE)))
        .order_by(Case.due_at, Case.id)).all()
    escalated = 0
    for case_id, due, before, before_at in candidates:
        state = sla.status_of(due, now, hours)
        if state == sla.ON_TIME:
            continue
        unchanged = Case.escalation.is_(None) if before is None else Case.escalation == before
        taken = db.session.execute(
            update(Case).where(Case.id == case_id, unchanged, *waiting)
            .values(escalation=state, escalated_at=now)
            .execution_options(synchronize_session=False))
        db.session.commit()
        if taken.rowcount != 1:
            continue  # answered meanwhile, or another run took it
        found = db.session.get(Case, case_id)
        people = supervisors(found)
        told = [s for s in people if _tell_supervisor(found, s, state)]
        if people and not told:
            db.session.execute(
                update(Case).where(Case.id == case_id, Case.escalation == state)
                .values(escalation=before, escalated_at=before_at)
                .execution_options(synchronize_session=False))
            db.session.commit()
            current_app.logger.warning("surgery case %s: no supervisor could be emailed; "
                                       "will try again", case_id)
            continue
        names = ", ".join(s.name for s in told) or "nobody: no supervisor for the area"
        failed = [s.name for s in people if s not in told]
        if failed:
            names += "; could not email " + ", ".join(failed)
        _event(found, "escalated", None, f"{state}: {names}", now)
        db.session.commit()
        escalated += 1
    return escalated


def _tell_supervisor(found: Case, staff: Staff, state: str) -> bool:
    """Email ``staff`` that ``found`` is near (``sla.DUE_SOON``) or past
    (``sla.OVERDUE``) its due date, in English as every staff email; whether it went."""
    hours = escalate_hours()
    with force_locale("en"):
        details = {"reference": found.reference, "topic": topic_label(found.topic),
                   "team": found.team_area.name,
                   "due": format_date(sla.uk_date(found.due_at), "EEEE d MMMM yyyy")}
        if state == sla.OVERDUE:
            subject = gettext("Surgery case %(reference)s is past its due date", **details)
            text = gettext("Case %(reference)s (%(topic)s, %(team)s) is past its due date "
                           "and has had no reply. It was due by the end of %(due)s.",
                           **details)
        else:
            subject = gettext("Surgery case %(reference)s is due within a day", **details) \
                if hours == 24 else \
                ngettext("Surgery case %(reference)s is due within %(num)d hour",
                         "Surgery case %(reference)s is due within %(num)d hours",
                         hours, **details)
            text = gettext("Case %(reference)s (%(topic)s, %(team)s) has had no reply and "
                           "is due by the end of %(due)s.", **details)
    return notify_staff(staff, subject, text,
                        link=external_url("surgery.staff_case", case_id=found.id))


def overdue_first() -> Sequence[Any]:
    """ORDER BY for queues: unanswered cases nearest their due date first, then the
    answered, newest first."""
    return (Case.first_reply_at.is_not(None), Case.due_at, Case.id)

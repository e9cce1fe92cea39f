"""The one way staff reach member data.

Every staff query for members starts from :func:`scoped_members` (or uses
:func:`member_scope` as its WHERE clause): a member is in a staff account's scope when
they live in one of the account's areas or their descendants **and** they have chosen
the account's organisation. Nothing else in the core selects members for staff.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import abort
from sqlalchemy import ColumnElement, Select, and_, exists, insert, literal, or_, select

from core.access import log_denied
from core.areas import within
from core.extensions import db
from core.models import (
    Member,
    MemberAccess,
    MemberConsent,
    Staff,
    UTCDateTime,
    staff_area,
    utcnow,
)


def member_scope(staff: Staff) -> ColumnElement[bool]:
    """SQL condition: the member is in ``staff``'s areas and consented to its organisation."""
    # EXISTS on the consent's primary key: one index probe per member in the areas,
    # instead of reading every consent the organisation holds.
    return and_(
        within(staff.areas, Member.area_id),
        exists().where(
            MemberConsent.member_id == Member.id,
            MemberConsent.organisation_id == staff.organisation_id,
        ),
    )


def scoped_members(staff: Staff) -> Select[tuple[Member]]:
    """A SELECT of the members ``staff`` may see, for further filtering and paging."""
    return select(Member).where(member_scope(staff))


def get_scoped_member(staff: Staff, member_id: int) -> Member:
    """The member with ``member_id`` if ``staff`` may see them; 404 otherwise (so ids of
    members out of scope cannot be told from ids that do not exist)."""
    member = db.session.scalar(scoped_members(staff).where(Member.id == member_id))
    if member is None:
        log_denied("member not in scope or not found")
        abort(404)
    return member


def log_access(staff: Staff, action: str, member_ids: Iterable[int] | None = None,
               query: Select | None = None) -> None:
    """Record that ``staff`` viewed or exported members, for the members to see.

    Give explicit ``member_ids`` or a ``query`` selecting member ids (written with one
    INSERT ... SELECT, however many members it covers).
    """
    now = utcnow()
    if query is not None:
        db.session.execute(
            insert(MemberAccess).from_select(
                ["member_id", "staff_id", "organisation_id", "action", "at"],
                query.with_only_columns(
                    Member.id,
                    literal(staff.id),
                    literal(staff.organisation_id),
                    literal(action),
                    literal(now, UTCDateTime),
                ).order_by(None),
            )
        )
    for member_id in member_ids or ():
        db.session.add(
            MemberAccess(member_id=member_id, staff_id=staff.id,
                         organisation_id=staff.organisation_id, action=action, at=now)
        )


def staff_scope(manager: Staff) -> ColumnElement[bool]:
    """SQL condition: a staff account ``manager`` may manage — same organisation (any, for
    a system administrator) and working only inside ``manager``'s areas."""
    outside = select(staff_area.c.staff_id).where(
        staff_area.c.staff_id == Staff.id, ~within(manager.areas, staff_area.c.area_id)
    )
    conditions = [~exists(outside)]
    if manager.role != "system_admin":
        conditions.append(Staff.organisation_id == manager.organisation_id)
    return and_(*conditions)


def scoped_staff(manager: Staff) -> Select[tuple[Staff]]:
    """A SELECT of the staff accounts ``manager`` may see and manage."""
    return select(Staff).where(staff_scope(manager))


def get_scoped_staff(manager: Staff, staff_id: int) -> Staff:
    """The staff account with ``staff_id`` if ``manager`` may manage it; 404 otherwise."""
    account = db.session.scalar(scoped_staff(manager).where(Staff.id == staff_id))
    if account is None:
        log_denied("staff account not in scope or not found")
        abort(404)
    return account


def message_scope(staff: Staff) -> ColumnElement[bool]:
    """SQL condition: a message ``staff`` may see — their own, or one sent by an account
    of their organisation working inside their areas (as :func:`staff_scope`)."""
    from core.models import Message

    colleagues = select(Staff.id).where(staff_scope(staff))
    return and_(
        Message.organisation_id == staff.organisation_id,
        or_(Message.sender_id == staff.id, Message.sender_id.in_(colleagues)),
    )


def get_scoped_message(staff: Staff, message_id: int) -> Any:
    """The message with ``message_id`` if ``staff`` may see it; 404 otherwise."""
    from core.models import Message

    message = db.session.scalar(
        select(Message).where(message_scope(staff), Message.id == message_id)
    )
    if message is None:
        log_denied("message not in scope or not found")
        abort(404)
    return message


def reply_scope(staff: Staff) -> ColumnElement[bool]:
    """SQL condition: a reply ``staff`` may see — one to a message of their organisation
    whose team (the area of the message's sender) or escalation team lies in their areas
    (or below them), or one to a message they wrote themselves."""
    from core.models import Message, Reply

    own_messages = select(Message.id).where(Message.sender_id == staff.id)
    return and_(
        Reply.organisation_id == staff.organisation_id,
        or_(within(staff.areas, Reply.team_area_id),
            within(staff.areas, Reply.escalated_area_id),
            Reply.message_id.in_(own_messages)),
    )


def get_scoped_reply(staff: Staff, reply_id: int) -> Any:
    """The reply with ``reply_id`` if ``staff`` may see it; 404 otherwise (so ids of other
    teams' replies cannot be told from ids that do not exist)."""
    from core.models import Reply

    reply = db.session.scalar(select(Reply).where(reply_scope(staff), Reply.id == reply_id))
    if reply is None:
        log_denied("reply not in scope or not found")
        abort(404)
    return reply

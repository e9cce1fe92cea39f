"""Watch schemes: who is in a scheme's boundary, joining and invitations, coordinators,
verification levels and what each level allows, and sending to a scheme.

Every decision is recorded in :class:`Decision`. Nothing here commits; the views do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select

from core.api import (
    Area,
    GroupSender,
    Member,
    Organisation,
    Postcode,
    Staff,
    Target,
    check_shape,
    create_message,
    db,
    give_consent,
    member_scope,
    postcodes_inside,
    send_message,
    shape_covers,
    utcnow,
    within,
)
from core.api import lazy_gettext as _l
from plugins.neighbourhood_watch.models import (
    COORDINATOR_ROLES,
    LEVELS,
    Decision,
    Scheme,
    SchemeMember,
    SchemeMessage,
    scheme_area,
)

#: What a scheme may do, and the least verification level it needs for it by default.
#: A force changes these with NEIGHBOURHOOD_WATCH_LEVELS ("message=association,...").
ABILITIES: dict[str, str] = {
    # shown when residents search by postcode
    "listed": "self",
    # take members (accept requests)
    "members": "self",
    # see residents in the boundary who are not members yet, and invite them
    "invite": "association",
    # print a message with the addresses of members without email
    "print": "association",
    # message members through the platform
    "message": "police",
}

#: The organisation kinds whose staff verify at each level.
VERIFIER_KINDS = {"watch_association": "association", "police": "police"}


class SchemeError(ValueError):
    """An action on a scheme that is not allowed, with the reason to show."""


# -- levels ---------------------------------------------------------------------------------


def required_levels() -> dict[str, str]:
    """The least level each ability needs here: the defaults, changed by the
    ``NEIGHBOURHOOD_WATCH_LEVELS`` setting (a mapping, or "ability=level,...")."""
    setting = current_app.config.get("NEIGHBOURHOOD_WATCH_LEVELS") or {}
    if isinstance(setting, str):
        pairs = (part.split("=", 1) for part in setting.split(",") if "=" in part)
        setting = {k.strip(): v.strip() for k, v in pairs}
    levels = dict(ABILITIES)
    for ability, level in dict(setting).items():
        if ability not in ABILITIES or level not in LEVELS:
            raise SchemeError(f"NEIGHBOURHOOD_WATCH_LEVELS: {ability}={level} is not one of "
                              f"{', '.join(ABILITIES)} = {', '.join(LEVELS)}")
        levels[ability] = level
    return levels


def may(scheme: Scheme, ability: str) -> bool:
    """Whether ``scheme`` is verified far enough for ``ability`` (a key of ABILITIES)."""
    return LEVELS.index(scheme.level) >= LEVELS.index(required_levels()[ability])


def level_clause(ability: str) -> ColumnElement[bool]:
    """SQL: the scheme is verified far enough for ``ability``."""
    needed = LEVELS.index(required_levels()[ability])
    return Scheme.level.in_(LEVELS[needed:])


# -- boundary -------------------------------------------------------------------------------


def shape_of(scheme: Scheme) -> dict[str, Any] | None:
    return json.loads(scheme.shape) if scheme.shape else None


def in_boundary(scheme: Scheme) -> ColumnElement[bool]:
    """SQL over Member: the member lives in the scheme's areas (and inside its drawn
    shape, when it has one)."""
    clause = within(scheme.areas, Member.area_id)
    shape = shape_of(scheme)
    if shape is not None:
        postcodes = postcodes_inside(shape)
        clause = and_(clause, Member.postcode.in_(postcodes) if postcodes else false())
    return clause


def lives_in(scheme: Scheme, member: Member) -> bool:
    """Whether ``member``'s address is inside the scheme's boundary."""
    return db.session.scalar(
        select(Member.id).where(Member.id == member.id, in_boundary(scheme))) is not None


def schemes_covering(postcode: Postcode, ability: str = "listed") -> list[Scheme]:
    """The schemes whose boundary takes in ``postcode``, verified far enough for
    ``ability``, by name."""
    ancestors = [int(part) for part in postcode.area.path.strip("/").split("/") if part]
    candidates = db.session.scalars(
        select(Scheme).where(
            level_clause(ability),
            exists().where(scheme_area.c.scheme_id == Scheme.id,
                           scheme_area.c.area_id.in_(ancestors)))
        .order_by(Scheme.name)
    ).all()
    return [scheme for scheme in candidates if scheme.shape is None
            or shape_covers(shape_of(scheme), postcode.longitude, postcode.latitude)]


def parse_shape(text: str | None) -> str | None:
    """The drawn boundary as stored (checked GeoJSON text), or None for none; raises
    :class:`SchemeError` saying what is wrong with it."""
    if not text or not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError:
        raise SchemeError(_l("The boundary must be GeoJSON, as the map writes it")) from None
    try:
        check_shape(data)
    except ValueError as exc:
        raise SchemeError(_l("The boundary is not a shape we can use: %(reason)s",
                             reason=str(exc))) from None
    return json.dumps(data, separators=(",", ":"))


# -- people ---------------------------------------------------------------------------------


def place_of(scheme: Scheme, member: Member) -> SchemeMember | None:
    return db.session.scalar(select(SchemeMember).where(
        SchemeMember.scheme_id == scheme.id, SchemeMember.member_id == member.id))


def is_coordinator(scheme: Scheme, member: Member) -> bool:
    place = place_of(scheme, member)
    return bool(place and place.status == "active" and place.role in COORDINATOR_ROLES)


def coordinated_by(member: Member) -> list[Scheme]:
    """The schemes ``member`` coordinates."""
    return list(db.session.scalars(
        select(Scheme).join(SchemeMember, SchemeMember.scheme_id == Scheme.id)
        .where(SchemeMember.member_id == member.id, SchemeMember.status == "active",
               SchemeMember.role.in_(COORDINATOR_ROLES))
        .order_by(Scheme.name)))


def coordinators(scheme: Scheme) -> list[SchemeMember]:
    """The scheme's coordinators, main first."""
    places = db.session.scalars(select(SchemeMember).where(
        SchemeMember.scheme_id == scheme.id, SchemeMember.status == "active",
        SchemeMember.role.in_(COORDINATOR_ROLES))).all()
    return sorted(places, key=lambda p: (p.role != "main", p.member.name))


def record(kind: str, outcome: str, *, scheme: Scheme | None = None,
           group_id: int | None = None, subject: Member | None = None,
           by_member: Member | None = None, by_staff: Staff | None = None) -> Decision:
    """Write one decision to the record (not committed)."""
    decision = Decision(kind=kind, outcome=outcome,
                        scheme_id=scheme.id if scheme else None, group_id=group_id,
                        subject_id=subject.id if subject else None,
                        by_member_id=by_member.id if by_member else None,
                        by_staff_id=by_staff.id if by_staff else None)
    db.session.add(decision)
    return decision


def start_scheme(member: Member, name: str, description: str, organisation: Organisation,
                 areas: list[Area], shape: str | None) -> Scheme:
    """A new, self-declared scheme with ``member`` as its main coordinator."""
    if not areas:
        raise SchemeError(_l("Choose at least one street or area the scheme covers"))
    scheme = Scheme(name=name.strip(), description=description.strip(),
                    organisation_id=organisation.id, shape=shape, level="self",
                    created_by_id=member.id, areas=areas)
    db.session.add(scheme)
    db.session.flush()
    if not lives_in(scheme, member):
        raise SchemeError(_l("Your own address must be inside the scheme's boundary"))
    give_consent(member, organisation.id)
    db.session.add(SchemeMember(scheme_id=scheme.id, member_id=member.id, role="main",
                                status="active"))
    record("start", "self", scheme=scheme, subject=member, by_member=member)
    return scheme


def ask_to_join(scheme: Scheme, member: Member) -> SchemeMember:
    """``member`` asks to join; they consent to the scheme's organisation. An invited
    member joins at once."""
    if not may(scheme, "listed"):
        raise SchemeError(_l("This scheme is not taking members yet"))
    if not lives_in(scheme, member):
        raise SchemeError(_l("Your address is outside this scheme's boundary"))
    place = place_of(scheme, member)
    if place is not None and place.status == "active":
        raise SchemeError(_l("You are already a member of this scheme"))
    give_consent(member, scheme.organisation_id)
    if place is not None and place.status == "invited":
        place.status = "active"
        record("invite", "accepted", scheme=scheme, subject=member, by_member=member)
        return place
    if place is None:
        place = SchemeMember(scheme_id=scheme.id, member_id=member.id)
        db.session.add(place)
    place.status, place.requested_at = "requested", utcnow()
    return place


def decide_request(scheme: Scheme, place: SchemeMember, accept: bool, by: Member) -> None:
    """A coordinator accepts or declines a request to join."""
    if place.scheme_id != scheme.id or place.status != "requested":
        raise SchemeError(_l("There is no such request"))
    if accept and not may(scheme, "members"):
        raise SchemeError(_l("This scheme must be verified before it takes members"))
    place.status = "active" if accept else "declined"
    record("join", "accepted" if accept else "declined", scheme=scheme,
           subject=place.member, by_member=by)


def not_yet_members(scheme: Scheme) -> Select[tuple[Member]]:
    """Residents in the boundary who let the scheme's organisation contact them and are
    not members, invited or asking."""
    return select(Member).where(
        member_scope(sender_for(scheme)),
        in_boundary(scheme),
        not_(exists().where(SchemeMember.scheme_id == scheme.id,
                            SchemeMember.member_id == Member.id,
                            SchemeMember.status.in_(("active", "invited", "requested")))),
    ).order_by(Member.name)


def invite(scheme: Scheme, member_id: int, by: Member) -> SchemeMember:
    """Invite a resident from :func:`not_yet_members`; they see it under their schemes."""
    if not may(scheme, "invite"):
        raise SchemeError(_l("This scheme must be verified before it invites residents"))
    member = db.session.scalar(not_yet_members(scheme).where(Member.id == member_id))
    if member is None:
        raise SchemeError(_l("That resident cannot be invited"))
    place = place_of(scheme, member)
    if place is None:
        place = SchemeMember(scheme_id=scheme.id, member_id=member.id)
        db.session.add(place)
    place.status, place.requested_at = "invited", utcnow()
    record("invite", "invited", scheme=scheme, subject=member, by_member=by)
    return place


def in_scheme(scheme_id: int) -> ColumnElement[bool]:
    """SQL over Member: an active member (coordinators included) of the scheme."""
    return exists().where(SchemeMember.scheme_id == scheme_id,
                          SchemeMember.member_id == Member.id,
                          SchemeMember.status == "active")


def members_of(scheme: Scheme) -> Select[tuple[Member]]:
    """The scheme's active members (coordinators included), by name."""
    return select(Member).where(in_scheme(scheme.id)).order_by(Member.name)


def apply_to_coordinate(scheme: Scheme, member: Member, role: str) -> SchemeMember:
    """A member of the scheme applies to be its main or deputy coordinator; staff who
    verify schemes decide."""
    if role not in COORDINATOR_ROLES:
        raise SchemeError(_l("Choose main or deputy coordinator"))
    place = place_of(scheme, member)
    if place is None or place.status != "active":
        raise SchemeError(_l("Join the scheme before applying to coordinate it"))
    if place.role == role:
        raise SchemeError(_l("You already have that role"))
    place.applied_role = role
    return place


# -- staff ----------------------------------------------------------------------------------


def staff_level(staff: Staff) -> str | None:
    """The level ``staff`` verifies at: police for police staff, association for a
    watch association's; None for other organisations."""
    return VERIFIER_KINDS.get(staff.organisation.kind)


def staff_schemes(staff: Staff) -> Select[tuple[Scheme]]:
    """The schemes ``staff`` looks after: every area of the scheme is inside the
    staff's areas, and the scheme is their organisation's or, for police, a watch
    association's (police verify the schemes of every association in their areas)."""
    outside = exists().where(scheme_area.c.scheme_id == Scheme.id,
                             not_(within(staff.areas, scheme_area.c.area_id)))
    query = select(Scheme).where(not_(outside),
                                 exists().where(scheme_area.c.scheme_id == Scheme.id))
    mine = Scheme.organisation_id == staff.organisation_id
    if staff_level(staff) == "police":
        associations = select(Organisation.id).where(Organisation.kind == "watch_association")
        mine = or_(mine, Scheme.organisation_id.in_(associations))
    return query.where(mine).order_by(Scheme.name)


def verify(scheme: Scheme, staff: Staff) -> None:
    """Raise the scheme to the level ``staff`` verifies at."""
    level = staff_level(staff)
    if level is None:
        raise SchemeError(_l("Only a watch association or the police can verify schemes"))
    if LEVELS.index(level) <= LEVELS.index(scheme.level):
        raise SchemeError(_l("This scheme is already verified at that level"))
    scheme.level, scheme.verified_by_id, scheme.verified_at = level, staff.id, utcnow()
    record("verify", level, scheme=scheme, by_staff=staff)


def decide_coordinator(scheme: Scheme, place: SchemeMember, accept: bool, staff: Staff
                       ) -> None:
    """Staff accept or decline an application to coordinate; a new main coordinator
    makes the previous one a deputy."""
    if place.scheme_id != scheme.id or not place.applied_role:
        raise SchemeError(_l("There is no such application"))
    role, place.applied_role = place.applied_role, None
    if accept:
        if role == "main":
            for other in coordinators(scheme):
                if other.role == "main":
                    other.role = "deputy"
        place.role = role
    record("coordinator", role if accept else "declined", scheme=scheme,
           subject=place.member, by_staff=staff)


# -- messaging ------------------------------------------------------------------------------


def sender_for(scheme: Scheme, member: Member | None = None) -> GroupSender:
    """The scheme as a sender: its organisation and areas, shown with the coordinator's
    name."""
    return GroupSender(organisation_id=scheme.organisation_id, areas=list(scheme.areas),
                       name=member.name if member else scheme.name,
                       role="Scheme coordinator", area_label=scheme.name)


def send_to_scheme(scheme: Scheme, coordinator: Member, fields: Mapping[str, Any]) -> int:
    """Send a message from ``coordinator`` to the scheme's members through the core's
    messaging (same channels, caps and tracking); returns how many people it reached.
    The target is always this scheme: nothing in ``fields`` can change it."""
    if not may(scheme, "message"):
        raise SchemeError(_l("This scheme must be verified before it can send messages"))
    if not is_coordinator(scheme, coordinator):
        raise SchemeError(_l("Only the scheme's coordinators can message it"))
    allowed = {"title", "body", "plain_text", "category", "title_cy", "body_cy",
               "plain_text_cy"}
    sender = sender_for(scheme, coordinator)
    target = Target(rules=[{"name": "neighbourhood_watch.scheme", "mode": "must",
                            "params": {"scheme": scheme.id}}])
    message = create_message(sender, priority=3, target=target.to_json(),
                             **{k: v for k, v in fields.items() if k in allowed})
    db.session.add(message)
    db.session.flush()
    db.session.add(SchemeMessage(message_id=message.id, scheme_id=scheme.id,
                                 sent_by_id=coordinator.id))
    return send_message(message, sender)

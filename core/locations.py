"""Where residents who share their location are, for alerts to "people currently in an
area" (a missing person's last sighting, say).

A resident opts in (``Member.location_alerts``); their app then reports the device's
position, which is kept **coarsened** to ``LOCATION_DECIMALS`` decimal places of a degree
(2: about a kilometre) and only until ``LOCATION_KEEP_MINUTES`` after it was reported;
the sweep deletes what has expired, and turning sharing off deletes it at once. Only the
latest position of each member is kept.

The targeting rule ``core.present`` picks the members whose unexpired position lies
inside the areas named (their boundaries, shapely). Such a member may live elsewhere:
a message using the rule also reaches members of the sender's organisation who are
currently inside the sender's areas, though they live outside them — never anyone who
did not consent to the organisation, and never by their home address.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from shapely.geometry import Point, shape
from shapely.prepared import prep
from sqlalchemy import and_, delete, exists, select

from core.extensions import db
from core.models import Area, Member, MemberConsent, MemberLocation, utcnow

PRESENT_RULE = "core.present"


def decimals() -> int:
    """How many decimal places of a degree a position keeps (``LOCATION_DECIMALS``)."""
    return max(1, min(4, int(current_app.config.get("LOCATION_DECIMALS", 2))))


def keep_for() -> timedelta:
    """How long a position is kept (``LOCATION_KEEP_MINUTES``)."""
    return timedelta(minutes=int(current_app.config.get("LOCATION_KEEP_MINUTES", 120)))


class LocationRefused(ValueError):
    """A position that cannot be kept: sharing is off, or it is not a place on Earth."""


def record(member: Member, latitude: float, longitude: float,
           at: datetime | None = None) -> MemberLocation:
    """Keep ``member``'s position, coarsened, replacing the last (not committed)."""
    if not member.location_alerts:
        raise LocationRefused("location sharing is off")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise LocationRefused("not a position on Earth")
    at = at or utcnow()
    places = decimals()
    row = db.session.get(MemberLocation, member.id) or MemberLocation(member_id=member.id)
    row.latitude, row.longitude = round(latitude, places), round(longitude, places)
    row.reported_at, row.expires_at = at, at + keep_for()
    db.session.add(row)
    return row


def stop_sharing(member: Member) -> None:
    """Turn sharing off and forget the member's position (not committed)."""
    member.location_alerts = False
    db.session.execute(delete(MemberLocation).where(MemberLocation.member_id == member.id))


def forget_expired(at: datetime | None = None) -> int:
    """Delete every position past its time; how many."""
    result = db.session.execute(delete(MemberLocation).where(
        MemberLocation.expires_at <= (at or utcnow())))
    return result.rowcount or 0


def present_in(areas: Iterable[Area], at: datetime | None = None) -> list[int]:
    """The ids of members sharing their location whose unexpired position lies inside
    any of ``areas`` (by their boundaries; an area without one holds nobody)."""
    shapes = []
    for area in areas:
        if not area.boundary:
            continue
        try:
            shapes.append(shape(json.loads(area.boundary)))
        except (ValueError, TypeError, AttributeError):
            continue
    if not shapes:
        return []
    west = min(s.bounds[0] for s in shapes)
    south = min(s.bounds[1] for s in shapes)
    east = max(s.bounds[2] for s in shapes)
    north = max(s.bounds[3] for s in shapes)
    prepared = [prep(s) for s in shapes]
    rows = db.session.execute(
        select(MemberLocation.member_id, MemberLocation.longitude, MemberLocation.latitude)
        .join(Member, Member.id == MemberLocation.member_id)
        .where(MemberLocation.expires_at > (at or utcnow()), Member.location_alerts,
               MemberLocation.longitude.between(west, east),
               MemberLocation.latitude.between(south, north)))
    return sorted(member_id for member_id, lon, lat in rows
                  if any(p.covers(Point(lon, lat)) for p in prepared))


def present_in_scope(sender: object, at: datetime | None = None) -> object:
    """SQL over members: consented to ``sender``'s organisation and currently inside
    ``sender``'s areas (the reach a location rule adds to a sender's scope)."""
    ids = present_in(getattr(sender, "areas", []), at)
    return and_(Member.id.in_(ids), exists().where(
        MemberConsent.member_id == Member.id,
        MemberConsent.organisation_id == getattr(sender, "organisation_id", None)))

"""Demo data: the fictional county of Wealdshire, its organisations, staff and residents.

Running it again adds only what is missing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from core.areas import import_areas, import_postcodes
from core.extensions import db
from core.models import (
    Area,
    Member,
    MemberChannel,
    MemberConsent,
    MemberInterest,
    Organisation,
    Postcode,
    Staff,
    utcnow,
)
from core.security import hash_password

FIXTURES = Path(__file__).parent / "fixtures"
DEMO_PASSWORD = "wealdshire-demo-2026"  # noqa: S105 - published demo credential

ORGANISATIONS = [
    ("wealdshire-police", "Wealdshire Police", "police"),
    ("wealdshire-fire", "Wealdshire Fire and Rescue Service", "fire"),
    ("ashendry-council", "Ashendry District Council", "council"),
    ("wealdshire-nhw", "Wealdshire Neighbourhood Watch Association", "watch_association"),
    ("wealdshire-pcc", "Wealdshire Police and Crime Commissioner", "pcc"),
]

#: email, name, role, organisation, area codes
STAFF = [
    ("sysadmin@demo.example.org", "Sam Admin", "system_admin", "wealdshire-police",
     ["E10900001"]),
    ("liaison@demo.example.org", "Lee Liaison", "force_admin", "wealdshire-police",
     ["E10900001"]),
    ("sergeant@demo.example.org", "Sgt Priya Shah", "supervisor", "wealdshire-police",
     ["E07900001"]),
    ("pc.jones@demo.example.org", "PC Alex Jones", "officer", "wealdshire-police",
     ["E05900001"]),
    ("coordinator@demo.example.org", "Chris Coordinator", "coordinator", "wealdshire-nhw",
     ["E05900003"]),
]

FIRST = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Florence", "Rosie",
         "Noah", "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Archie", "Henry", "Theo",
         "Aisha", "Mohammed", "Priya", "Kwame", "Siân", "Gareth", "Rhys", "Eleri", "Wei", "Zofia"]
LAST = ["Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
        "Johnson", "Roberts", "Khan", "Patel", "Walker", "Wright", "Robinson", "Thompson",
        "Hughes", "Edwards", "Green", "Lewis", "Hall", "Clarke", "Okafor", "Nowak", "Chen"]


def seed_demo(member_count: int = 3000) -> Iterator[str]:
    """Create whatever of the demo is missing; yields lines to show the person."""
    if db.session.scalar(select(Area.id).where(Area.code == "E10900001")) is None:
        with open(FIXTURES / "areas.csv", encoding="utf-8") as fh:
            result = import_areas(fh)
        yield f"areas: {result.created} created"
    if db.session.scalar(select(func.count()).select_from(Postcode)) == 0:
        with open(FIXTURES / "postcodes.csv", encoding="utf-8") as fh:
            result = import_postcodes(fh)
        yield f"postcodes: {result.created} created"

    orgs = {o.slug: o for o in db.session.scalars(select(Organisation))}
    for slug, name, kind in ORGANISATIONS:
        if slug not in orgs:
            orgs[slug] = Organisation(slug=slug, name=name, kind=kind)
            db.session.add(orgs[slug])
    db.session.flush()

    password_hash = hash_password(DEMO_PASSWORD)
    for email, name, role, org, codes in STAFF:
        if db.session.scalar(select(Staff.id).where(Staff.email == email)) is None:
            areas = list(db.session.scalars(select(Area).where(Area.code.in_(codes))))
            db.session.add(Staff(email=email, name=name, role=role, organisation=orgs[org],
                                 areas=areas, password_hash=password_hash))
    db.session.commit()

    created = _seed_members(member_count, orgs, password_hash)
    yield f"residents: {created} created"
    plugins = current_app.extensions["commonwatch"].plugins
    for _plugin, lines in plugins.call_each("commonwatch_demo_data"):
        yield from lines or ()
    yield ""
    yield "Demo accounts (password for all: " + DEMO_PASSWORD + ")"
    yield "  resident:  resident@demo.example.org   at /sign-in"
    for email, _name, role, _org, codes in STAFF:
        yield f"  {role:<13} {email:<36} at /staff/sign-in ({', '.join(codes)})"
    yield "Staff are asked to set up two-factor authentication (any TOTP app) at first sign-in."
    yield "Now run: commonwatch run"


def _seed_members(count: int, orgs: dict[str, Organisation], password_hash: str) -> int:
    existing = db.session.scalar(
        select(func.count(Member.id)).where(Member.email.like("%@demo.example.org"))
    ) or 0
    if existing >= count:
        return 0
    rng = random.Random(2026 + existing)
    postcodes = list(db.session.scalars(select(Postcode).order_by(Postcode.postcode)))
    watch_types = list(current_app.extensions["commonwatch"].registry.watch_types)
    police = orgs["wealdshire-police"]
    others = [o for slug, o in orgs.items() if slug != "wealdshire-police"]
    now = utcnow()
    version = current_app.config["PRIVACY_NOTICE_VERSION"]
    made = 0
    for n in range(existing, count):
        postcode = postcodes[0] if n == 0 else rng.choice(postcodes)
        email = "resident@demo.example.org" if n == 0 else f"resident{n:05d}@demo.example.org"
        phone = f"+447400{rng.randrange(1_000_000):06d}" if rng.random() < 0.35 else None
        channels = [MemberChannel(channel="email")]
        if phone:
            channels.append(MemberChannel(channel="sms", by_day=True, by_night=rng.random() < 0.3))
        chosen = [w for w in watch_types if rng.random() < 0.3]
        if "neighbourhood_watch.neighbourhood" in watch_types and rng.random() < 0.8:
            chosen = list(dict.fromkeys(["neighbourhood_watch.neighbourhood", *chosen]))
        registered = now - timedelta(days=rng.randrange(1, 900))
        consents = [MemberConsent(organisation=police, given_at=registered, method="self")]
        consents += [
            MemberConsent(organisation=o, given_at=registered, method="self")
            for o in others
            if rng.random() < 0.4
        ]
        demographics = {}
        if rng.random() < 0.6:
            demographics["age_band"] = rng.choice(["under_25", "25_44", "45_64", "65_74",
                                                   "75_plus"])
        db.session.add(
            Member(
                email=email,
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                password_hash=password_hash,
                address_line=f"{rng.randrange(1, 120)} {postcode.area.name}",
                postcode=postcode.postcode,
                area_id=postcode.area_id,
                phone=phone,
                language="cy" if rng.random() < 0.08 else "en",
                demographics=demographics,
                privacy_notice_version=version,
                privacy_accepted_at=registered,
                email_verified_at=registered if rng.random() < 0.92 else None,
                created_at=registered,
                channels=channels,
                interests=[MemberInterest(watch_type=w) for w in chosen],
                consents=consents,
            )
        )
        made += 1
        if made % 1000 == 0:
            db.session.flush()
    db.session.commit()
    return made

"""Residents: creating, changing, exporting, importing and erasing them.

The JSON Lines portability format is documented in docs/data-formats.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import delete, func, select

from core.areas import lookup_postcode, normalise_postcode
from core.extensions import db
from core.models import (
    CHANNELS,
    LANGUAGES,
    Area,
    Delivery,
    Member,
    MemberAccess,
    MemberChannel,
    MemberConsent,
    MemberFieldValue,
    MemberInterest,
    MemberLocation,
    Message,
    MessageRating,
    Notice,
    Organisation,
    Postcode,
    PushSubscription,
    Reply,
    Staff,
    utcnow,
)
from core.phones import normalise_phone
from core.registry import current_registry

EXPORT_FORMAT = "commonwatch-members"
EXPORT_VERSION = 1

#: Optional demographic questions: key -> allowed answers. Documented in docs/members-and-staff.md.
DEMOGRAPHICS = {
    "age_band": ("under_25", "25_44", "45_64", "65_74", "75_plus"),
    "ethnic_group": ("asian", "black", "mixed", "white", "other"),
}


@dataclass
class MemberData:
    """Everything a registration or profile form gathers about a resident."""

    name: str
    email: str
    address_line: str
    postcode: str
    phone: str | None = None
    language: str = "en"
    channels: list[str] = field(default_factory=lambda: ["email"])
    interests: list[str] = field(default_factory=list)
    organisation_ids: list[int] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    demographics: dict[str, str] = field(default_factory=dict)


def email_taken(email: str, except_id: int | None = None) -> bool:
    """Whether another member already uses ``email`` (case-insensitive)."""
    query = select(Member.id).where(Member.email == email.lower())
    if except_id is not None:
        query = query.where(Member.id != except_id)
    return db.session.scalar(query) is not None


def _apply(member: Member, data: MemberData, method: str) -> None:
    postcode = lookup_postcode(data.postcode)
    if postcode is None:
        raise ValueError(f"unknown postcode {data.postcode!r}")
    member.name = data.name.strip()
    member.email = data.email.strip().lower()
    member.address_line = data.address_line.strip()
    member.postcode = postcode.postcode
    member.area_id = postcode.area_id
    if (data.phone or None) != member.phone:
        member.phone_invalid_at = None  # a new number gets a fresh chance
    member.phone = data.phone or None
    member.language = data.language if data.language in LANGUAGES else "en"
    member.demographics = {
        k: v for k, v in data.demographics.items() if v in DEMOGRAPHICS.get(k, ())
    }

    wanted = [c for c in CHANNELS if c in data.channels]
    kept = {c.channel: c for c in member.channels}
    member.channels = [kept.get(c) or MemberChannel(channel=c) for c in wanted]

    # Interests of disabled plugins are kept, so re-enabling one restores them.
    registry = current_registry()
    known = registry.watch_types
    unknown_kept = [i for i in member.interests if i.watch_type not in known]
    chosen = [w for w in known if w in data.interests]
    current = {i.watch_type: i for i in member.interests}
    member.interests = unknown_kept + [
        current.get(w) or MemberInterest(watch_type=w) for w in chosen
    ]

    fields = registry.member_fields
    visible = {f.name for f in registry.fields_for(chosen)}
    values = {v.name: v for v in member.field_values}
    new_values = [v for n, v in values.items() if n not in fields]
    for name in fields:
        text = data.fields.get(name)
        if name in visible and text not in (None, ""):
            row = values.get(name) or MemberFieldValue(name=name)
            row.value = str(text)
            new_values.append(row)
    member.field_values = new_values

    current_orgs = {c.organisation_id: c for c in member.consents}
    member.consents = [
        current_orgs.get(org_id) or MemberConsent(organisation_id=org_id, method=method)
        for org_id in dict.fromkeys(data.organisation_ids)
    ]


def create_member(
    data: MemberData,
    *,
    method: str = "self",
    password_hash: str | None = None,
    registered_by: Staff | None = None,
) -> Member:
    """Add a resident (not committed); lifecycle hooks run before this returns."""
    now = utcnow()
    member = Member(
        password_hash=password_hash,
        privacy_notice_version=current_app.config["PRIVACY_NOTICE_VERSION"],
        privacy_accepted_at=now,
        registration_method=method,
        registered_by_id=registered_by.id if registered_by else None,
        created_at=now,
    )
    _apply(member, data, method)
    db.session.add(member)
    db.session.flush()
    current_app.extensions["commonwatch"].plugins.call(
        "commonwatch_member_registered", member=member, method=method
    )
    return member


def update_member(member: Member, data: MemberData) -> bool:
    """Change a resident's profile (not committed). Returns True when the email
    changed, which means it must be verified again."""
    old_email = member.email
    _apply(member, data, "self")
    if member.email != old_email:
        member.email_verified_at = None
        return True
    return False


def member_data(member: Member) -> MemberData:
    """The profile of ``member`` as a :class:`MemberData`, e.g. to fill a form."""
    return MemberData(
        name=member.name,
        email=member.email,
        address_line=member.address_line,
        postcode=member.postcode,
        phone=member.phone,
        language=member.language,
        channels=[c.channel for c in member.channels],
        interests=[i.watch_type for i in member.interests],
        organisation_ids=[c.organisation_id for c in member.consents],
        fields={v.name: v.value for v in member.field_values},
        demographics=dict(member.demographics or {}),
    )


def give_consent(member: Member, organisation_id: int, method: str = "self") -> bool:
    """Record that ``member`` lets the organisation see their details and contact them
    (not committed). Returns False when they had already given it."""
    if organisation_id in member.consented_organisation_ids:
        return False
    member.consents.append(MemberConsent(organisation_id=organisation_id, method=method))
    return True


def set_member_field(member: Member, name: str, value: str) -> bool:
    """Keep ``value`` in ``member``'s profile field ``name`` (a plugin's qualified
    field name; not committed). Returns False when the field is not an enabled plugin's,
    or is kept only for members with an interest ``member`` lacks."""
    field_def = current_registry().member_fields.get(name)
    if field_def is None or (field_def.watch_type and not any(
            i.watch_type == field_def.watch_type for i in member.interests)):
        return False
    row = next((v for v in member.field_values if v.name == name), None)
    if row is None:
        member.field_values.append(MemberFieldValue(name=name, value=str(value)))
    else:
        row.value = str(value)
    return True


def add_interest(member: Member, watch_type: str) -> bool:
    """Give ``member`` the interest ``watch_type`` (not committed). Returns False when
    they already had it."""
    if any(i.watch_type == watch_type for i in member.interests):
        return False
    member.interests.append(MemberInterest(watch_type=watch_type))
    return True


def opt_out(member: Member) -> None:
    """Stop every message to ``member`` until they opt back in."""
    member.opted_out_at = member.opted_out_at or utcnow()


def erase(member: Member) -> None:
    """Delete the member and everything held about them (not committed)."""
    # Deliveries carry no foreign key (see core.models.Delivery): delete them here.
    db.session.execute(delete(Delivery).where(Delivery.member_id == member.id))
    db.session.delete(member)


# -- portability --------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_record(member: Member) -> dict[str, Any]:
    """Everything held about ``member`` as JSON-ready data (the "download my data" file and
    one line of ``commonwatch export-members``)."""
    area = member.area
    return {
        "email": member.email,
        "name": member.name,
        "address_line": member.address_line,
        "postcode": member.postcode,
        "area_code": area.code if area else None,
        "phone": member.phone,
        "language": member.language,
        "min_priority": member.min_priority,
        "channels": [
            {"channel": c.channel, "by_day": c.by_day, "by_night": c.by_night}
            for c in sorted(member.channels, key=lambda c: CHANNELS.index(c.channel))
        ],
        "interests": sorted(i.watch_type for i in member.interests),
        "fields": {v.name: v.value for v in sorted(member.field_values, key=lambda v: v.name)},
        "demographics": dict(member.demographics or {}),
        "consents": [
            {
                "organisation": c.organisation.slug,
                "given_at": _iso(c.given_at),
                "method": c.method,
            }
            for c in sorted(member.consents, key=lambda c: c.organisation.slug)
        ],
        "privacy_notice": {
            "version": member.privacy_notice_version,
            "accepted_at": _iso(member.privacy_accepted_at),
        },
        "email_verified_at": _iso(member.email_verified_at),
        "opted_out_at": _iso(member.opted_out_at),
        "registered_at": _iso(member.created_at),
        "registration_method": member.registration_method,
        "password_hash": member.password_hash,
        "two_factor_enabled": bool(member.totp_secret),
    }


def personal_data(member: Member) -> dict[str, Any]:
    """The member's own data download: their record and who has looked at it."""
    record = export_record(member)
    record.pop("password_hash")
    accesses = db.session.scalars(
        select(MemberAccess).where(MemberAccess.member_id == member.id).order_by(MemberAccess.at)
    )
    record["seen_by"] = [
        {"organisation": a.organisation.name, "action": a.action, "at": _iso(a.at)}
        for a in accesses
    ]
    replies = db.session.scalars(
        select(Reply).where(Reply.member_id == member.id).order_by(Reply.received_at))
    # What they wrote and the answers they were sent; never staff's internal notes.
    record["replies"] = [
        {"alert": r.message.title, "text": r.body, "via": r.via, "received_at": _iso(r.received_at),
         "may_contact": r.may_contact,
         "answers": [{"text": a.text, "at": _iso(a.at)} for a in r.answers]}
        for r in replies
    ]
    ratings = db.session.execute(
        select(Message.title, MessageRating.useful, MessageRating.at)
        .join(Message, Message.id == MessageRating.message_id)
        .where(MessageRating.member_id == member.id).order_by(MessageRating.at))
    record["ratings"] = [{"alert": title, "useful": useful, "at": _iso(at)}
                         for title, useful, at in ratings]
    devices = db.session.scalars(select(PushSubscription).where(
        PushSubscription.member_id == member.id).order_by(PushSubscription.created_at))
    record["push_devices"] = [
        {"device": d.user_agent, "added_at": _iso(d.created_at),
         "last_used_at": _iso(d.last_used_at)}
        for d in devices
    ]
    notices = db.session.scalars(
        select(Notice).where(Notice.member_id == member.id).order_by(Notice.at, Notice.id))
    record["notices"] = [{"subject": n.subject, "text": n.text, "link": n.link,
                          "at": _iso(n.at), "sent_by": n.channels} for n in notices]
    location = db.session.get(MemberLocation, member.id)
    record["location_sharing"] = {
        "enabled": member.location_alerts,
        "last_position": None if location is None else {
            "latitude": location.latitude, "longitude": location.longitude,
            "reported_at": _iso(location.reported_at), "expires_at": _iso(location.expires_at)},
    }
    contributed = current_app.extensions["commonwatch"].plugins.call_each(
        "commonwatch_member_data", member=member)
    record["plugins"] = {plugin: data for plugin, data in contributed if data}
    return record


def export_members(out: IO[str], members: Iterable[Member] | None = None) -> int:
    """Write members as JSON Lines (a header line, then one member a line)."""
    out.write(json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION}) + "\n")
    count = 0
    query = select(Member).order_by(Member.id).execution_options(yield_per=500)
    for member in members if members is not None else db.session.scalars(query):
        out.write(json.dumps(export_record(member), ensure_ascii=False) + "\n")
        count += 1
    return count


class MemberImportError(ValueError):
    """A bad record in a members file; ``line`` is its 1-based line number."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line


def _parse_time(line: int, value: Any, what: str, required: bool = False) -> datetime | None:
    if value in (None, ""):
        if required:
            raise MemberImportError(line, f"{what} is required")
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise MemberImportError(line, f"{what} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise MemberImportError(line, f"{what} {value!r} has no time zone")
    return parsed


@dataclass
class _Known:
    """What an import checks records against, loaded in a few queries for the whole file."""

    organisations: dict[str, int]
    #: normalised postcode -> area id, for the postcodes the file uses.
    postcodes: dict[str, int]
    area_codes: set[str]


def _in_chunks(values: list[str], size: int = 1000) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _known_for(records: list[tuple[int, Any]]) -> _Known:
    postcodes = {
        normalise_postcode(str(rec.get("postcode", "")))
        for _line, rec in records if isinstance(rec, dict)
    } - {None}
    area_codes = {
        str(rec["area_code"]) for _line, rec in records
        if isinstance(rec, dict) and rec.get("area_code")
    }
    known = _Known(
        organisations={
            slug: pk for slug, pk in db.session.execute(select(Organisation.slug, Organisation.id))
        },
        postcodes={},
        area_codes=set(),
    )
    for chunk in _in_chunks(sorted(postcodes)):
        known.postcodes.update(
            (postcode, area_id) for postcode, area_id in db.session.execute(
                select(Postcode.postcode, Postcode.area_id).where(Postcode.postcode.in_(chunk))
            )
        )
    for chunk in _in_chunks(sorted(area_codes)):
        known.area_codes.update(db.session.scalars(select(Area.code).where(Area.code.in_(chunk))))
    return known


def _check_record(
    line: int, rec: Mapping[str, Any], known: _Known, seen: dict[str, int]
) -> Member:
    if not isinstance(rec, dict):
        raise MemberImportError(line, "a member must be a JSON object")
    for key in ("email", "name", "postcode", "privacy_notice", "consents"):
        if key not in rec:
            raise MemberImportError(line, f"{key} is missing")
    try:
        email = validate_email(str(rec["email"]), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise MemberImportError(line, f"email {rec['email']!r}: {exc}") from None
    if email in seen:
        raise MemberImportError(line, f"email {email} repeats line {seen[email]}")
    seen[email] = line
    postcode = normalise_postcode(str(rec["postcode"]))
    if postcode not in known.postcodes:
        raise MemberImportError(
            line, f"postcode {rec['postcode']!r} is not in the postcode table"
        )
    area_code = rec.get("area_code")
    if area_code and area_code not in known.area_codes:
        raise MemberImportError(line, f"area_code {area_code!r} is not a known area")
    phone = rec.get("phone")
    if phone:
        phone = normalise_phone(str(phone))
        if phone is None:
            raise MemberImportError(line, f"phone {rec['phone']!r} is not a valid number")
    language = rec.get("language", "en")
    if language not in LANGUAGES:
        raise MemberImportError(line, f"language {language!r} is not one of {LANGUAGES}")
    channels = rec.get("channels") or []
    for ch in channels:
        if not isinstance(ch, dict) or ch.get("channel") not in CHANNELS:
            raise MemberImportError(line, f"channel {ch!r} is not one of {CHANNELS}")
    if len({ch["channel"] for ch in channels}) != len(channels):
        raise MemberImportError(line, "a channel is listed twice")
    consents = []
    for c in rec["consents"]:
        if not isinstance(c, dict) or c.get("organisation") not in known.organisations:
            raise MemberImportError(line, f"consent names unknown organisation {c!r}")
        if any(x.organisation_id == known.organisations[c["organisation"]] for x in consents):
            raise MemberImportError(line, f"consent for {c['organisation']} is listed twice")
        consents.append(
            MemberConsent(
                organisation_id=known.organisations[c["organisation"]],
                given_at=_parse_time(line, c.get("given_at"), "consent given_at", True),
                method=str(c.get("method") or "import")[:16],
            )
        )
    notice = rec["privacy_notice"] or {}
    if not notice.get("version"):
        raise MemberImportError(line, "privacy_notice.version is missing")
    priority = rec.get("min_priority", 5)
    if priority not in (1, 2, 3, 4, 5):
        raise MemberImportError(line, f"min_priority {priority!r} is not 1 to 5")
    fields = rec.get("fields") or {}
    if not isinstance(fields, dict):
        raise MemberImportError(line, "fields must be an object")
    return Member(
        email=email,
        name=str(rec["name"])[:200],
        address_line=str(rec.get("address_line") or "")[:255],
        postcode=postcode,
        area_id=known.postcodes[postcode],
        phone=phone or None,
        language=language,
        min_priority=priority,
        demographics={
            k: v
            for k, v in (rec.get("demographics") or {}).items()
            if v in DEMOGRAPHICS.get(k, ())
        },
        privacy_notice_version=str(notice["version"])[:20],
        privacy_accepted_at=_parse_time(
            line, notice.get("accepted_at"), "privacy_notice.accepted_at", True
        ),
        email_verified_at=_parse_time(line, rec.get("email_verified_at"), "email_verified_at"),
        opted_out_at=_parse_time(line, rec.get("opted_out_at"), "opted_out_at"),
        created_at=_parse_time(line, rec.get("registered_at"), "registered_at") or utcnow(),
        registration_method="import",
        password_hash=rec.get("password_hash") or None,
        channels=[
            MemberChannel(
                channel=ch["channel"],
                by_day=bool(ch.get("by_day", True)),
                by_night=bool(ch.get("by_night", True)),
            )
            for ch in channels
        ],
        interests=[MemberInterest(watch_type=str(w)) for w in rec.get("interests") or []],
        field_values=[
            MemberFieldValue(name=str(k), value=str(v)) for k, v in fields.items()
        ],
        consents=consents,
    )


def import_members(fh: IO[str]) -> int:
    """Import members from JSON Lines; every record is checked before any is written,
    and a file with one bad record imports nothing."""
    parsed: list[tuple[int, Any]] = []
    header_seen = False
    for line_no, raw in enumerate(fh, 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError as exc:
            raise MemberImportError(line_no, f"not valid JSON ({exc})") from None
        if not header_seen:
            header_seen = True
            if not isinstance(rec, dict) or rec.get("format") != EXPORT_FORMAT:
                raise MemberImportError(
                    line_no, f"the first line must be the {EXPORT_FORMAT} header"
                )
            if rec.get("version") != EXPORT_VERSION:
                raise MemberImportError(line_no, f"unsupported version {rec.get('version')!r}")
            continue
        parsed.append((line_no, rec))
    if not header_seen:
        raise MemberImportError(1, "the file is empty")
    known = _known_for(parsed)
    seen: dict[str, int] = {}
    records = [(line_no, _check_record(line_no, rec, known, seen)) for line_no, rec in parsed]
    existing = set()
    for chunk in _in_chunks(list(seen)):
        existing.update(db.session.scalars(select(Member.email).where(Member.email.in_(chunk))))
    for line_no, member in records:
        if member.email in existing:
            raise MemberImportError(line_no, f"email {member.email} is already registered")
    try:
        for _line, member in records:
            db.session.add(member)
        db.session.flush()
        for _line, member in records:
            current_app.extensions["commonwatch"].plugins.call(
                "commonwatch_member_registered", member=member, method="import"
            )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(records)


def member_count() -> int:
    """How many residents are registered."""
    return db.session.scalar(select(func.count(Member.id))) or 0


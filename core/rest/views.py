"""The core's API operations: the signed-in person, areas and watch types, a resident's
messages and replies, and for staff, previewing, sending and following a message.
docs/api.md describes them; ``/api/v1/openapi.json`` is the reference."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from core.access import has_permission
from core.extensions import db
from core.links import fill_personal_link, personal_url
from core.locations import LocationRefused, record, stop_sharing
from core.messaging import (
    Target,
    TargetError,
    create_message,
    delivery_states,
    needs_approval,
    preview,
    send,
)
from core.models import (
    MESSAGE_CATEGORIES,
    Area,
    Delivery,
    Member,
    MemberChannel,
    MemberInterest,
    Message,
    Staff,
)
from core.plugins import MessageVetoed
from core.registry import current_registry
from core.replies import MAX_REPLY_LENGTH, take_reply
from core.rest import ApiError, PageInfo, PageQuery, bp, operation, page_of
from core.rest.openapi import openapi_document

CHANNELS = ("email", "sms", "voice", "push")

# -- schemas --------------------------------------------------------------------------------


class AreaRef(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class AreaSchema(AreaRef):
    level = fields.String(required=True)
    parent_code = fields.String(allow_none=True, required=True)


class AreaPage(Schema):
    items = fields.List(fields.Nested(AreaSchema), required=True)
    page = fields.Nested(PageInfo, required=True)


class AreaQuery(PageQuery):
    level = fields.String(validate=validate.Length(max=32))
    parent = fields.String(validate=validate.Length(max=64))


class WatchTypeSchema(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    description = fields.String(required=True)


class WatchTypeList(Schema):
    items = fields.List(fields.Nested(WatchTypeSchema), required=True)


class MeSchema(Schema):
    """The signed-in person: a resident's profile, or a staff member's account."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["member", "staff"]))
    name = fields.String(required=True)
    email = fields.String(required=True)
    language = fields.String()
    postcode = fields.String()
    phone = fields.String(allow_none=True)
    area = fields.Nested(AreaRef, allow_none=True)
    channels = fields.List(fields.String())
    interests = fields.List(fields.String())
    min_priority = fields.Integer()
    digest_only = fields.Boolean()
    location_alerts = fields.Boolean()
    role = fields.String()
    organisation = fields.String()
    areas = fields.List(fields.Nested(AreaRef))


class PreferencesSchema(Schema):
    """How a resident hears from the platform, and what about."""

    class Meta:
        unknown = EXCLUDE

    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), required=True,
                           validate=validate.Length(min=1, max=4))
    interests = fields.List(fields.String(validate=validate.Length(max=100)), required=True,
                            validate=validate.Length(max=50))


class MessageSummary(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    category = fields.String(required=True)
    priority = fields.Integer(required=True)
    organisation = fields.String(required=True)
    sent_at = fields.DateTime(allow_none=True, required=True)


class MessagePage(Schema):
    items = fields.List(fields.Nested(MessageSummary), required=True)
    page = fields.Nested(PageInfo, required=True)


class MessageDetail(MessageSummary):
    body_html = fields.String(required=True)
    plain_text = fields.String(required=True)


class ReplyBody(Schema):
    class Meta:
        unknown = EXCLUDE

    text = fields.String(required=True,
                         validate=validate.Length(min=1, max=MAX_REPLY_LENGTH))
    may_contact = fields.Boolean(load_default=False)


class ReplyCreated(Schema):
    id = fields.Integer(required=True)
    message_id = fields.Integer(required=True)
    status = fields.String(required=True)


class TargetSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    areas = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                        load_default=list, validate=validate.Length(max=100))
    watch_types = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                              load_default=list, validate=validate.Length(max=50))


class NewMessage(Schema):
    """A message as staff write it."""

    class Meta:
        unknown = EXCLUDE

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    plain_text = fields.String(required=True, validate=validate.Length(min=1, max=918))
    category = fields.String(required=True, validate=validate.OneOf(MESSAGE_CATEGORIES))
    priority = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    target = fields.Nested(TargetSchema, load_default=dict)


class PreviewSchema(Schema):
    people = fields.Integer(required=True)
    deliveries_by_channel = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                        required=True)
    sms_segments = fields.Integer(required=True)
    estimated_cost_pence = fields.Integer(required=True)
    description = fields.String(required=True)


class SentSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    recipient_count = fields.Integer(allow_none=True, required=True)


class StateCount(Schema):
    channel = fields.String(required=True)
    state = fields.String(required=True)
    count = fields.Integer(required=True)


class StatsSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    recipient_count = fields.Integer(allow_none=True, required=True)
    deliveries = fields.List(fields.Nested(StateCount), required=True)


def _ref(area: Area | None) -> dict[str, str] | None:
    return {"code": area.code, "name": area.name} if area is not None else None


# -- operations ------------------------------------------------------------------------------

ERRORS = (400, 401, 403, 404, 429)


@operation(bp, "/openapi.json", "GET", summary="This API's OpenAPI 3.1 document",
           scope=None, tags=["meta"])
def openapi() -> Any:
    return openapi_document()


@operation(bp, "/me", "GET", summary="The signed-in person", scope="read",
           response=MeSchema(), tags=["me"], errors=(401, 403, 429))
def me(owner: Member | Staff) -> dict[str, Any]:
    return _me(owner)


def _me(owner: Member | Staff) -> dict[str, Any]:
    if isinstance(owner, Member):
        return {"id": owner.id, "kind": "member", "name": owner.name, "email": owner.email,
                "language": owner.language, "postcode": owner.postcode, "phone": owner.phone,
                "area": _ref(owner.area), "channels": sorted(c.channel for c in owner.channels),
                "interests": sorted(i.watch_type for i in owner.interests),
                "min_priority": owner.min_priority, "digest_only": owner.digest_only,
                "location_alerts": owner.location_alerts}
    return {"id": owner.id, "kind": "staff", "name": owner.name, "email": owner.email,
            "role": owner.role, "organisation": owner.organisation.slug,
            "areas": [_ref(a) for a in sorted(owner.areas, key=lambda a: a.code)]}


@operation(bp, "/me/preferences", "PUT", summary="Change how a resident hears, and about what",
           scope="profile", who="member", body=PreferencesSchema(), response=MeSchema(),
           tags=["me"], errors=ERRORS)
def set_preferences(owner: Member, body: dict[str, Any]) -> dict[str, Any]:
    registry = current_registry()
    channels, interests = list(dict.fromkeys(body["channels"])), list(
        dict.fromkeys(body["interests"]))
    problems: dict[str, Any] = {}
    if any(c in ("sms", "voice") for c in channels) and not owner.phone:
        problems["channels"] = ["Text messages and calls need a phone number on the profile"]
    if "push" in channels and not current_registry().channels.get("push"):
        problems["channels"] = ["Notifications are not offered here"]
    unknown = [i for i in interests if i not in registry.watch_types]
    if unknown:
        problems["interests"] = [f"Unknown watch types: {', '.join(unknown)}"]
    if problems:
        raise ApiError(400, "invalid_request", "Some fields are not valid", problems)
    kept = {c.channel: c for c in owner.channels}
    owner.channels = [kept.get(c) or MemberChannel(channel=c) for c in channels]
    owner.interests = [MemberInterest(watch_type=w) for w in interests]
    db.session.commit()
    return _me(owner)


class SharingBody(Schema):
    class Meta:
        unknown = EXCLUDE

    enabled = fields.Boolean(required=True)


class PositionBody(Schema):
    class Meta:
        unknown = EXCLUDE

    latitude = fields.Float(required=True, allow_nan=False,
                            validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(required=True, allow_nan=False,
                             validate=validate.Range(min=-180, max=180))


class PositionSchema(Schema):
    latitude = fields.Float(required=True)
    longitude = fields.Float(required=True)
    expires_at = fields.DateTime(required=True)


@operation(bp, "/me/location-sharing", "PUT",
           summary="Turn sharing the device's position on or off (off forgets it)",
           scope="profile", who="member", body=SharingBody(), response=MeSchema(),
           tags=["me"], errors=ERRORS)
def set_location_sharing(owner: Member, body: dict[str, Any]) -> dict[str, Any]:
    if body["enabled"]:
        owner.location_alerts = True
    else:
        stop_sharing(owner)
    db.session.commit()
    return _me(owner)


@operation(bp, "/me/location", "PUT",
           summary="Report where the device is, for alerts to people in an area",
           scope="profile", who="member", body=PositionBody(), response=PositionSchema(),
           tags=["me"], errors=(*ERRORS, 409))
def set_location(owner: Member, body: dict[str, Any]) -> dict[str, Any]:
    try:
        kept = record(owner, body["latitude"], body["longitude"])
    except LocationRefused as exc:
        raise ApiError(409, "location_sharing_off",
                       "Turn location sharing on first (PUT /api/v1/me/location-sharing)"
                       ) from exc
    db.session.commit()
    return {"latitude": kept.latitude, "longitude": kept.longitude,
            "expires_at": kept.expires_at}


@operation(bp, "/areas", "GET", summary="The areas, a page at a time", scope="read",
           query=AreaQuery(), response=AreaPage(), tags=["reference"], errors=ERRORS)
def areas(owner: Member | Staff, query: dict[str, Any]) -> dict[str, Any]:
    statement = select(Area).order_by(Area.code)
    if query.get("level"):
        statement = statement.where(Area.level == query["level"])
    if query.get("parent"):
        parent = db.session.scalar(select(Area).where(Area.code == query["parent"]))
        if parent is None:
            raise ApiError(404, "not_found", "No area has that code")
        statement = statement.where(Area.parent_id == parent.id)
    items, page = page_of(statement, query["page"], query["per_page"])
    codes = dict(db.session.execute(select(Area.id, Area.code).where(
        Area.id.in_({a.parent_id for a in items if a.parent_id}))).all())
    return {"items": [{"code": a.code, "name": a.name, "level": a.level,
                       "parent_code": codes.get(a.parent_id)} for a in items], "page": page}


@operation(bp, "/watch-types", "GET", summary="The watch types residents may choose",
           scope="read", response=WatchTypeList(), tags=["reference"], errors=(401, 403, 429))
def watch_types(owner: Member | Staff) -> dict[str, Any]:
    return {"items": [{"name": w.name, "label": str(w.label), "description": str(w.description)}
                      for w in current_registry().watch_types.values()]}


def _received(member: Member) -> Any:
    return select(Message).where(Message.id.in_(
        select(Delivery.message_id).where(Delivery.member_id == member.id)))


def _summary(message: Message) -> dict[str, Any]:
    return {"id": message.id, "title": message.title, "category": message.category,
            "priority": message.priority, "organisation": message.organisation.name,
            "sent_at": message.sent_at}


@operation(bp, "/me/messages", "GET", summary="The messages a resident received, newest first",
           scope="read", who="member", query=PageQuery(), response=MessagePage(),
           tags=["messages"], errors=ERRORS)
def my_messages(owner: Member, query: dict[str, Any]) -> dict[str, Any]:
    items, page = page_of(_received(owner).order_by(Message.sent_at.desc(), Message.id.desc()),
                          query["page"], query["per_page"])
    return {"items": [_summary(m) for m in items], "page": page}


def _my_message(owner: Member, message_id: int) -> Message:
    found = db.session.scalar(_received(owner).where(Message.id == message_id))
    if found is None:
        raise ApiError(404, "not_found", "No such message was sent to you")
    return found


@operation(bp, "/me/messages/<int:message_id>", "GET", summary="One message a resident received",
           scope="read", who="member", response=MessageDetail(), tags=["messages"],
           errors=ERRORS)
def my_message(owner: Member, message_id: int) -> dict[str, Any]:
    message = _my_message(owner, message_id)
    welsh = owner.language == "cy" and bool(message.title_cy)
    link = personal_url(message, owner.id)
    return {**_summary(message),
            "title": message.title_cy if welsh else message.title,
            "body_html": fill_personal_link(
                message.body_html_cy if welsh else message.body_html, link),
            "plain_text": fill_personal_link(
                (message.plain_text_cy if welsh else message.plain_text) or "", link)}


@operation(bp, "/me/messages/<int:message_id>/replies", "POST",
           summary="Reply to a message a resident received", scope="reply", who="member",
           body=ReplyBody(), response=ReplyCreated(), status=201, tags=["messages"],
           errors=ERRORS)
def reply(owner: Member, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
    message = _my_message(owner, message_id)
    text = body["text"].strip()
    if not text:
        raise ApiError(400, "invalid_request", "Some fields are not valid",
                       {"text": ["Write your reply"]})
    made = take_reply(message, owner, text, "api", bool(body["may_contact"]))
    db.session.commit()
    return {"id": made.id, "message_id": message.id, "status": made.state}


def _staff_message(owner: Staff, body: dict[str, Any]) -> Message:
    if not has_permission(owner, "core.messages.send"):
        raise ApiError(403, "forbidden", "Your role may not send messages")
    target = Target(areas=list(body["target"].get("areas", [])),
                    watch_types=list(body["target"].get("watch_types", [])))
    message = create_message(owner, title=body["title"], body=body["body"],
                             plain_text=body["plain_text"], category=body["category"],
                             priority=body["priority"], target=target.to_json())
    db.session.add(message)
    db.session.flush()
    return message


def _target_refused(exc: TargetError) -> ApiError:
    return ApiError(400, "invalid_target", "The target is not one you may send to",
                    {f"target.{k}": [v] for k, v in exc.errors.items()})


@operation(bp, "/messages/preview", "POST", summary="Count who a message would reach",
           scope="send", who="staff", body=NewMessage(), response=PreviewSchema(),
           tags=["staff"], errors=ERRORS)
def preview_message(owner: Staff, body: dict[str, Any]) -> dict[str, Any]:
    message = _staff_message(owner, body)
    try:
        counted = preview(message, owner)
    except TargetError as exc:
        raise _target_refused(exc) from exc
    db.session.rollback()  # a preview leaves nothing behind
    return {"people": counted.people, "deliveries_by_channel": counted.deliveries_by_channel,
            "sms_segments": counted.sms_segments,
            "estimated_cost_pence": counted.estimated_cost_pence,
            "description": counted.description}


@operation(bp, "/messages", "POST", summary="Send a message (or put it up for approval)",
           scope="send", who="staff", body=NewMessage(), response=SentSchema(), status=201,
           tags=["staff"], errors=(*ERRORS, 409))
def send_message(owner: Staff, body: dict[str, Any]) -> dict[str, Any]:
    message = _staff_message(owner, body)
    try:
        preview(message, owner)  # refuses a target outside the sender's areas
    except TargetError as exc:
        raise _target_refused(exc) from exc
    if needs_approval(message, owner):
        message.status = "awaiting_approval"
        db.session.commit()
    else:
        db.session.commit()
        try:
            send(message, owner)
        except MessageVetoed as exc:
            db.session.rollback()
            raise ApiError(409, "vetoed", str(exc)) from exc
    return {"id": message.id, "status": message.status,
            "recipient_count": message.recipient_count}


@operation(bp, "/messages/<int:message_id>/stats", "GET",
           summary="How far a message has gone, by channel and state", scope="read",
           who="staff", response=StatsSchema(), tags=["staff"], errors=ERRORS)
def message_stats(owner: Staff, message_id: int) -> dict[str, Any]:
    from core.scoping import message_scope

    message = db.session.scalar(select(Message).where(message_scope(owner),
                                                      Message.id == message_id))
    if message is None:
        raise ApiError(404, "not_found", "No such message of yours")
    return {"id": message.id, "status": message.status,
            "recipient_count": message.recipient_count,
            "deliveries": [{"channel": c, "state": s, "count": n}
                           for c, s, n in delivery_states(message)]}

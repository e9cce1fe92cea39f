"""The surveys' part of the JSON API (``/api/v1/surveys``): the open rounds a resident
was invited to, with their own link to answer and whether they did."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from core.api import Member, Message, api_operation, db, personal_url
from plugins.surveys.models import Batch, Invitation, Response, Round, Survey
from plugins.surveys.rounds import is_open

bp = Blueprint("surveys_api", __name__)


class InvitationSchema(Schema):
    survey = fields.String(required=True)
    round = fields.Integer(required=True)
    closes_at = fields.DateTime(required=True)
    url = fields.String(required=True)
    state = fields.String(required=True)


class InvitationList(Schema):
    items = fields.List(fields.Nested(InvitationSchema), required=True)


@api_operation(bp, "/invitations", "GET", summary="The open surveys a resident was invited to",
               scope="read", who="member", response=InvitationList(), tags=["surveys"],
               errors=(401, 403, 429))
def my_invitations(owner: Member) -> dict[str, Any]:
    """Open rounds the resident was invited to, newest first: their own answer link, and
    "new", "draft" or "submitted"."""
    rows = db.session.execute(
        select(Round, Survey, Batch.message_id)
        .join(Survey, Survey.id == Round.survey_id)
        .join(Invitation, Invitation.round_id == Round.id)
        .join(Batch, Batch.id == Invitation.batch_id)
        .where(Invitation.member_id == owner.id)
        .order_by(Round.opens_at.desc())).all()
    items = []
    for round_, survey, message_id in rows:
        message = db.session.get(Message, message_id) if message_id else None
        if not is_open(round_) or message is None or message.status not in ("sending", "sent"):
            continue
        state = db.session.scalar(select(Response.state).where(
            Response.round_id == round_.id, Response.member_id == owner.id)) or "new"
        items.append({"survey": survey.title, "round": round_.number,
                      "closes_at": round_.closes_at,
                      "url": personal_url(message, owner.id) or "", "state": state})
    return {"items": items}

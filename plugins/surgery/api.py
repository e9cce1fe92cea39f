"""The surgery's part of the JSON API (``/api/v1/surgery``): a resident's own cases
and the team's replies to them (never internal notes)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from core.api import Member, PageInfo, PageQuery, api_operation, db, page_of
from plugins.surgery.models import PUBLIC_KINDS, Case, Entry

bp = Blueprint("surgery_api", __name__)


class EntrySchema(Schema):
    kind = fields.String(required=True)
    text = fields.String(required=True)
    at = fields.DateTime(required=True)


class CaseSchema(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    topic = fields.String(required=True)
    status = fields.String(required=True)
    submitted_at = fields.DateTime(required=True)
    due_at = fields.DateTime(required=True)
    entries = fields.List(fields.Nested(EntrySchema), required=True)


class CasePage(Schema):
    items = fields.List(fields.Nested(CaseSchema), required=True)
    page = fields.Nested(PageInfo, required=True)


@api_operation(bp, "/cases", "GET", summary="A resident's surgery cases and their replies",
               scope="read", who="member", query=PageQuery(), response=CasePage(),
               tags=["surgery"], errors=(400, 401, 403, 429))
def my_cases(owner: Member, query: dict[str, Any]) -> dict[str, Any]:
    """The concerns the resident raised, newest first, with what they added and the
    team's replies."""
    cases, page = page_of(select(Case).where(Case.member_id == owner.id,
                                             Case.kind == "concern")
                          .order_by(Case.submitted_at.desc(), Case.id.desc()),
                          query["page"], query["per_page"])
    entries: dict[int, list[Entry]] = {}
    for entry in db.session.scalars(select(Entry).where(
            Entry.case_id.in_([c.id for c in cases]), Entry.kind.in_(PUBLIC_KINDS))
            .order_by(Entry.at, Entry.id)):
        entries.setdefault(entry.case_id, []).append(entry)
    return {"items": [{
        "id": c.id, "reference": c.reference, "topic": c.topic, "status": c.status,
        "submitted_at": c.submitted_at, "due_at": c.due_at,
        "entries": [{"kind": e.kind, "text": e.body, "at": e.at}
                    for e in entries.get(c.id, [])]} for c in cases], "page": page}

"""The online police surgery: residents raise concerns with their local policing team
and get an answer within five working days; officers hold live beat surgeries.

A resident's concern goes to the team whose area covers it, into a queue its staff work
(assign, reply, internal notes, statuses, merging duplicates). Cases near or past their
due date escalate to supervisors, who have a dashboard of the service level. Volunteers
and staff can raise a concern for someone at a community centre (assisted digital).
docs/surgery.md describes it all for a force.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Blueprint, url_for
from flask.cli import with_appcontext
from sqlalchemy import func, select

from core import hookimpl
from core.api import Concern, Member, NavItem, Permission, Staff, db, has_permission
from core.api import lazy_gettext as _l
from plugins.surgery.models import MODELS, PUBLIC_KINDS, Case, Entry, Participant, Post

HANDLE = "surgery.handle"
ASSIST = "surgery.assist"
DASHBOARD = "surgery.dashboard"
BEAT = "surgery.beat"


@hookimpl
def commonwatch_models() -> list[type]:
    return MODELS


@hookimpl
def commonwatch_migration_locations() -> list[str]:
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def commonwatch_permissions() -> list[Permission]:
    return [
        Permission(HANDLE, _l("Work on surgery cases of their areas"),
                   frozenset({"officer", "supervisor", "force_admin"})),
        Permission(ASSIST, _l("Raise surgery concerns for people at a community centre"),
                   frozenset({"coordinator", "officer", "supervisor", "force_admin"})),
        Permission(DASHBOARD, _l("See the surgery's service level"),
                   frozenset({"supervisor", "force_admin"})),
        Permission(BEAT, _l("Hold live beat surgeries"),
                   frozenset({"officer", "supervisor", "force_admin"})),
    ]


@hookimpl
def commonwatch_blueprints() -> list[Blueprint]:
    # Each module adds its pages to the plugin's one blueprint.
    from plugins.surgery import dashboard, live, staff_views  # noqa: F401
    from plugins.surgery.views import bp

    return [bp]


@hookimpl
def commonwatch_navigation(user: Any) -> list[NavItem]:
    if isinstance(user, Member):
        return [NavItem(_l("Contact your local policing team"), url_for("surgery.contact"), 50),
                NavItem(_l("Beat surgeries"), url_for("surgery.beats"), 55)]
    if isinstance(user, Staff):
        items = []
        if has_permission(user, HANDLE):
            items.append(NavItem(_l("Surgery cases"), url_for("surgery.queue"), 50))
        if has_permission(user, ASSIST):
            items.append(NavItem(_l("Raise a concern for someone"),
                                 url_for("surgery.assist"), 51))
        if has_permission(user, DASHBOARD):
            items.append(NavItem(_l("Surgery service level"), url_for("surgery.dashboard"), 52))
        if has_permission(user, BEAT):
            items.append(NavItem(_l("Beat surgeries"), url_for("surgery.staff_beats"), 53))
        return items
    return []


@hookimpl
def commonwatch_member_data(member: Member) -> dict[str, Any] | None:
    cases = db.session.scalars(select(Case).where(Case.member_id == member.id,
                                                  Case.kind == "concern")
                               .order_by(Case.id)).all()
    posts = db.session.scalars(select(Post).join(Participant)
                               .where(Participant.member_id == member.id)
                               .order_by(Post.id)).all()
    if not cases and not posts:
        return None
    return {
        "cases": [{
            "reference": c.reference, "topic": c.topic, "description": c.description,
            "location": c.location, "postcode": c.postcode,
            "reply_channel": c.reply_channel, "status": c.status,
            "submitted_at": c.submitted_at.isoformat(), "due_at": c.due_at.isoformat(),
            # What the resident wrote since and the team's replies: never internal notes.
            "entries": [{"kind": e.kind, "text": e.body, "at": e.at.isoformat()}
                        for e in db.session.scalars(
                            select(Entry).where(Entry.case_id == c.id,
                                                Entry.kind.in_(PUBLIC_KINDS))
                            .order_by(Entry.at, Entry.id))],
        } for c in cases],
        "beat_surgery_messages": [{"name": p.author_name, "text": p.body, "state": p.state,
                                   "at": p.at.isoformat()} for p in posts],
    }


@hookimpl
def commonwatch_area_concerns(since: Any) -> list[Concern]:
    """The topics of concerns raised since ``since``, per area, counting each resident
    (or person helped) once per topic and area."""
    from flask_babel import force_locale

    from plugins.surgery.cases import topics

    who = func.coalesce(Case.member_id, -Case.id)
    rows = db.session.execute(
        select(Case.area_id, Case.topic, func.count(func.distinct(who)))
        .where(Case.kind == "concern", Case.submitted_at >= since, Case.merged_into_id.is_(None))
        .group_by(Case.area_id, Case.topic)).all()
    with force_locale("en"):
        labels = {k: str(v) for k, v in topics().items()}
    return [Concern(area_id, labels.get(topic, topic), count, "surgery cases")
            for area_id, topic, count in rows]


@click.group("surgery")
def surgery_group() -> None:
    """The online police surgery."""


@surgery_group.command("escalate")
@with_appcontext
def escalate_command() -> None:
    """Tell supervisors of unanswered cases near or past their due date; run every
    15 minutes or so."""
    from plugins.surgery.cases import escalate

    click.echo(f"escalated {escalate()} cases")


@hookimpl
def commonwatch_cli_commands() -> list[click.Command]:
    return [surgery_group]


@hookimpl
def commonwatch_api_blueprints() -> list[Blueprint]:
    from plugins.surgery.api import bp as api_bp

    return [api_bp]

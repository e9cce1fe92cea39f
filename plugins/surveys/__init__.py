"""Surveys: staff build questionnaires, invite residents exactly as they aim a message
(spread over days, repeated each quarter if wanted), residents answer by their own
signed link without signing in (or by a public link), and staff read the results by
area, demographic group, interest and answer, with small cells suppressed.

docs/surveys.md describes it all for a force.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Blueprint, url_for
from flask.cli import with_appcontext
from sqlalchemy import func, select

from core import hookimpl
from core.api import (
    Concern,
    Member,
    NavItem,
    Permission,
    Staff,
    TargetingRule,
    db,
    has_permission,
)
from core.api import lazy_gettext as _l
from plugins.surveys.models import MODELS, Answer, Question, Response, Round, Survey

MANAGE = "surveys.manage"
RESPONDENTS = "surveys.respondents"
EXPORT = "surveys.export"


@hookimpl
def commonwatch_models() -> list[type]:
    return MODELS


@hookimpl
def commonwatch_migration_locations() -> list[str]:
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def commonwatch_permissions() -> list[Permission]:
    return [
        Permission(MANAGE, _l("Build surveys, invite residents and see the results of their "
                              "areas"), frozenset({"officer", "supervisor", "force_admin"})),
        Permission(RESPONDENTS, _l("See who answered a survey"),
                   frozenset({"supervisor", "force_admin"})),
        Permission(EXPORT, _l("Export survey responses"),
                   frozenset({"supervisor", "force_admin"})),
    ]


@hookimpl
def commonwatch_targeting_rules() -> list[TargetingRule]:
    from plugins.surveys.rounds import INVITED_RULE, InvitedForm, invited_rule

    return [TargetingRule(INVITED_RULE, _l("Invited to a survey round"), InvitedForm,
                          invited_rule)]


@hookimpl
def commonwatch_blueprints() -> list[Blueprint]:
    from plugins.surveys import staff_views  # noqa: F401 - adds the staff pages
    from plugins.surveys.views import bp

    return [bp]


@hookimpl
def commonwatch_navigation(user: Any) -> list[NavItem]:
    if isinstance(user, Staff) and has_permission(user, MANAGE):
        return [NavItem(_l("Surveys"), url_for("surveys.staff_list"), 60)]
    return []


@hookimpl
def commonwatch_message_link(message: Any) -> str | None:
    from plugins.surveys.rounds import round_of_message

    return "surveys.answer" if round_of_message(message.id) is not None else None


@hookimpl
def commonwatch_member_data(member: Member) -> dict[str, Any] | None:
    responses = db.session.scalars(select(Response).where(Response.member_id == member.id)
                                   .order_by(Response.id)).all()
    if not responses:
        return None
    found = []
    for r in responses:
        round_ = db.session.get(Round, r.round_id)
        survey = db.session.get(Survey, round_.survey_id) if round_ else None
        questions = {q.id: q for q in db.session.scalars(
            select(Question).where(Question.survey_id == (survey.id if survey else 0)))}
        found.append({
            "survey": survey.title if survey else None,
            "round": round_.number if round_ else None,
            "state": r.state,
            "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
            "profile_consent": r.profile_consent,
            "answers": [_answer_data(questions.get(a.question_id), a) for a in r.answers],
        })
    return {"survey_responses": found}


def _answer_data(question: Question | None, answer: Answer) -> dict[str, Any]:
    value: Any = answer.text
    if question is not None and answer.value is not None:
        if question.kind == "rating":
            value = answer.value
        elif 0 <= answer.value < len(question.options):
            value = question.options[answer.value]
    return {"question": question.text if question else None, "answer": value,
            "rank": answer.rank}


@hookimpl
def commonwatch_area_concerns(since: Any) -> list[Concern]:
    """Residents' top priorities (the choices of ranking questions) in responses sent
    since ``since``, per area: each respondent counts once per priority."""
    ranking = select(Question.id).where(Question.kind == "rank")
    rows = db.session.execute(
        select(Response.area_id, Answer.question_id, Answer.value,
               func.count(func.distinct(Answer.response_id)))
        .join(Answer, Answer.response_id == Response.id)
        .where(Response.state == "submitted", Response.submitted_at >= since,
               Response.area_id.is_not(None), Answer.question_id.in_(ranking),
               Answer.value.is_not(None))
        .group_by(Response.area_id, Answer.question_id, Answer.value)).all()
    options = {q.id: q.options for q in db.session.scalars(
        select(Question).where(Question.id.in_({r[1] for r in rows})))}
    counts: dict[tuple[int, str], int] = {}
    for area_id, question_id, value, count in rows:
        choices = options.get(question_id) or []
        if 0 <= value < len(choices):
            key = (area_id, choices[value])
            counts[key] = counts.get(key, 0) + count
    return [Concern(area_id, label, count, "survey priorities")
            for (area_id, label), count in sorted(counts.items())]


@click.group("surveys")
def surveys_group() -> None:
    """Surveys."""


@surveys_group.command("run")
@with_appcontext
def run_command() -> None:
    """Send each open round's next daily batch of invitations, and open the next round
    of repeating surveys that are due; run every hour or so."""
    from plugins.surveys.rounds import send_due_batches, start_due_rounds

    opened = start_due_rounds()
    sent = send_due_batches()
    click.echo(f"opened {opened} rounds, sent {sent} batches of invitations")


@hookimpl
def commonwatch_cli_commands() -> list[click.Command]:
    return [surveys_group]


@hookimpl
def commonwatch_api_blueprints() -> list[Blueprint]:
    from plugins.surveys.api import bp as api_bp

    return [api_bp]

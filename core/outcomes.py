"""Closing the loop: how an appeal ended, the follow-up to its recipients, and the
outcome figures per area and per team (docs/messaging.md, "Outcomes and follow-ups").

Every figure is counted by the database with GROUP BY over the messages the staff
member may see (:func:`core.scoping.message_scope`); nothing loops over messages here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.orm import aliased

from core.areas import area_levels
from core.extensions import db
from core.models import MESSAGE_OUTCOMES, Area, Message, Staff, staff_area, utcnow
from core.scoping import message_scope
from core.verification import SENT_STATES

OUTCOME_LABELS = {
    "found": _l("Found"),
    "arrested": _l("Arrested"),
    "resolved": _l("Resolved"),
    "no_further_action": _l("No further action"),
}
assert set(OUTCOME_LABELS) == set(MESSAGE_OUTCOMES)

#: The categories of message that ask the public for help: the report's "appeals".
APPEAL_CATEGORIES = ("witness_appeal", "missing_person", "suspect_description")

#: The longest public note on an outcome.
NOTE_MAX_LENGTH = 1000


def can_have_outcome(message: Message) -> bool:
    """Whether ``message`` has gone out, so that it can be given an outcome and a
    follow-up."""
    return message.status in SENT_STATES


def record_outcome(message: Message, staff: Staff, outcome: str, note: str | None) -> None:
    """Mark ``message`` with ``outcome`` (one of MESSAGE_OUTCOMES) and an optional public
    note, recording who did so and when (not committed). Marking it again replaces it."""
    if outcome not in MESSAGE_OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if not can_have_outcome(message):
        raise ValueError("only a message that was sent can have an outcome")
    message.outcome = outcome
    message.outcome_note = (note or "").strip() or None
    message.outcome_by_id = staff.id
    message.outcome_at = utcnow()


def follow_up_defaults(original: Message) -> dict[str, Any]:
    """What the compose form starts with for a follow-up of ``original``: "Update: ..."
    titles (Welsh too, when it had a Welsh version), community news, the same priority
    and public setting, and the outcome's note as the start of the text."""
    note = original.outcome_note or ""
    defaults: dict[str, Any] = {
        "title": f"Update: {original.title}"[:200],
        "body": note,
        "plain_text": note,
        "category": "community_news",
        "priority": str(original.priority),
        "public": original.public,
    }
    if original.title_cy:
        defaults.update(title_cy=f"Diweddariad: {original.title_cy}"[:200], body_cy=note,
                        plain_text_cy=note)
    return defaults


# -- figures ------------------------------------------------------------------------------


@dataclass
class OutcomeRow:
    """The outcomes of the messages of one area or team."""

    name: str
    sent: int
    by_outcome: dict[str, int] = field(default_factory=dict)

    @property
    def with_outcome(self) -> int:
        return sum(self.by_outcome.values())

    @property
    def share(self) -> float:
        """The share of the messages sent that have an outcome, 0 to 1."""
        return self.with_outcome / self.sent if self.sent else 0.0


@dataclass
class OutcomeFigures:
    """Outcome figures per area (district) and per team, and over everything."""

    by_area: list[OutcomeRow]
    by_team: list[OutcomeRow]
    total: OutcomeRow


def figures_level() -> str:
    """The level teams are grouped at for the "per area" figures: the second level of
    ``AREA_LEVELS`` (the district, by default), or the only level there is."""
    levels = area_levels()
    return levels[1] if len(levels) > 1 else levels[0]


def outcome_figures(staff: Staff, categories: Collection[str] | None = None,
                    no_team: str = "") -> OutcomeFigures:
    """The outcomes of the sent messages ``staff`` may see (of ``categories``, or all),
    counted per area, per team and in all, in three queries.

    A message's **team** is its sender's first area by code (as for reply inboxes);
    its **area** is the area at :func:`figures_level` that contains the team's area, or
    the team's area itself when it lies above that level. Messages whose sender's
    account is gone are counted under ``no_team``."""
    team_code = (
        select(func.min(Area.code))
        .join(staff_area, staff_area.c.area_id == Area.id)
        .where(staff_area.c.staff_id == Message.sender_id)
        .scalar_subquery()
    )
    conditions = [message_scope(staff), Message.status.in_(SENT_STATES)]
    if categories:
        conditions.append(Message.category.in_(list(categories)))
    base = select(Message.id, Message.outcome, team_code.label("team_code")).where(
        *conditions).subquery()
    counts = [func.count(base.c.id)] + [
        func.sum(case((base.c.outcome == outcome, 1), else_=0)).cast(Integer)
        for outcome in MESSAGE_OUTCOMES
    ]

    def row(name: str | None, sent: int, by: list[int | None]) -> OutcomeRow:
        return OutcomeRow(name or no_team, sent or 0,
                          {o: n for o, n in zip(MESSAGE_OUTCOMES, by, strict=True) if n})

    team = aliased(Area)
    district = aliased(Area)
    by_team = [
        row(name, sent, by) for _id, name, sent, *by in db.session.execute(
            select(team.id, team.name, *counts).select_from(base)
            .outerjoin(team, team.code == base.c.team_code)
            .group_by(team.id, team.name).order_by(team.name))
    ]
    area_id = func.coalesce(district.id, team.id)
    area_name = func.coalesce(district.name, team.name)
    by_area = [
        row(name, sent, by) for _id, name, sent, *by in db.session.execute(
            select(area_id, area_name, *counts).select_from(base)
            .outerjoin(team, team.code == base.c.team_code)
            .outerjoin(district, and_(district.level == figures_level(),
                                      team.path.startswith(district.path)))
            .group_by(area_id, area_name).order_by(area_name))
    ]
    sent, *by = db.session.execute(select(*counts).select_from(base)).one()
    return OutcomeFigures(by_area, by_team, row("", sent, by))

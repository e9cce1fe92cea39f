"""A round's results: counts per question and answer under the staff member's scope and
the chosen filters, with small cells suppressed; trends across rounds; response rates
per area; the CSV export.

Every figure counts only *sent* responses from where the staff member works
(:func:`response_scope`): responses of people living in their areas (and, for staff
working force-wide, public responses that gave no postcode). No figure based on fewer
than ``SURVEY_MIN_CELL`` respondents is shown (see :func:`suppress`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, literal, null, or_, select, union_all

from core.api import Area, Member, Staff, db, has_interest, within
from plugins.surveys.models import (
    RANK_COUNT,
    RATING_MAX,
    Answer,
    Invitation,
    Question,
    Response,
    Round,
)


def min_cell() -> int:
    """The fewest respondents a figure may rest on (``SURVEY_MIN_CELL``, default 5)."""
    return max(1, int(current_app.config.get("SURVEY_MIN_CELL", 5)))


@dataclass
class Filters:
    """What the results are narrowed to; empty means everyone in scope."""

    area: Area | None = None
    age_band: str | None = None
    ethnic_group: str | None = None
    interest: str | None = None
    #: Only respondents who gave this answer (question id, choice index).
    question_id: int | None = None
    value: int | None = None

    def args(self) -> dict[str, Any]:
        """The filters as the results page's query arguments."""
        found = {"area": self.area.code if self.area else None, "age_band": self.age_band,
                 "ethnic_group": self.ethnic_group, "interest": self.interest,
                 "q": self.question_id, "a": self.value}
        return {k: v for k, v in found.items() if v not in (None, "")}


def response_scope(staff: Staff) -> ColumnElement[bool]:
    """SQL over responses: those ``staff`` may count — living in their areas, or, for
    staff whose areas include a top-level area, also public responses with no place."""
    inside = within(staff.areas, Response.area_id)
    if any(a.parent_id is None for a in staff.areas):
        return or_(inside, Response.area_id.is_(None))
    return inside


def respondents(round_: Round, staff: Staff, filters: Filters) -> Any:
    """A SELECT of the ids of the sent responses counted under ``filters``."""
    conditions: list[ColumnElement[bool]] = [
        Response.round_id == round_.id, Response.state == "submitted", response_scope(staff)]
    if filters.area is not None:
        conditions.append(within([filters.area], Response.area_id))
    if filters.age_band:
        conditions.append(Response.age_band == filters.age_band)
    if filters.ethnic_group:
        conditions.append(Response.ethnic_group == filters.ethnic_group)
    if filters.interest:
        conditions.append(Response.member_id.in_(select(Member.id).where(
            has_interest(filters.interest))))
    if filters.question_id is not None and filters.value is not None:
        conditions.append(Response.id.in_(select(Answer.response_id).where(
            Answer.question_id == filters.question_id, Answer.value == filters.value)))
    return select(Response.id).where(and_(*conditions))


def aggregate_statement(round_: Round, staff: Staff, filters: Filters) -> Any:
    """One statement giving every count of the results page: (question id, value, rank,
    count) per answer, (question id, NULL, -1, respondents) per question and (NULL,
    NULL, -1, respondents) overall."""
    who = respondents(round_, staff, filters).subquery()
    answered = Answer.response_id.in_(select(who.c.id))
    by_answer = (select(Answer.question_id, Answer.value, func.coalesce(Answer.rank, 0),
                        func.count())
                 .where(answered, Answer.value.is_not(None))
                 .group_by(Answer.question_id, Answer.value, Answer.rank))
    by_question = (select(Answer.question_id, null(), literal(-1),
                          func.count(func.distinct(Answer.response_id)))
                   .where(answered).group_by(Answer.question_id))
    overall = select(null(), null(), literal(-1), func.count()).select_from(who)
    return union_all(by_answer, by_question, overall)


@dataclass
class Bar:
    """One answer's figure: its words, count and share of the question's respondents;
    ``count`` None when suppressed."""

    label: str
    count: int | None
    share: float | None
    #: For ranking questions: how many ranked it first, and its score (3 for first...).
    first: int | None = None
    score: int | None = None


@dataclass
class QuestionResult:
    """A question's results."""

    question: Question
    answered: int | None
    bars: list[Bar] = field(default_factory=list)
    mean: float | None = None
    texts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Results:
    """A round's results under some filters."""

    respondents: int
    #: False when too few respondents to show anything.
    shown: bool
    questions: list[QuestionResult]
    minimum: int


def suppress(count: int, minimum: int) -> int | None:
    """``count``, or None when it is above zero but below ``minimum`` (it could point to
    a person)."""
    return None if 0 < count < minimum else count


def results(round_: Round, staff: Staff, filters: Filters, language: str = "en",
            texts_limit: int = 200) -> Results:
    """The round's results for ``staff`` under ``filters``."""
    minimum = min_cell()
    counts: dict[int, dict[tuple[int, int], int]] = defaultdict(dict)
    answered: dict[int, int] = {}
    total = 0
    for question_id, value, rank, count in db.session.execute(
            aggregate_statement(round_, staff, filters)):
        if question_id is None:
            total = int(count)
        elif rank == -1:
            answered[question_id] = int(count)
        else:
            counts[question_id][(int(value), int(rank))] = int(count)
    questions = list(round_.survey.questions)
    shown = total >= minimum
    found: list[QuestionResult] = []
    for q in questions:
        n = answered.get(q.id, 0)
        result = QuestionResult(q, suppress(n, minimum) if shown else None)
        if shown and n >= minimum:
            _fill(result, q, counts[q.id], n, minimum, language)
        found.append(result)
    if shown:
        _add_texts(found, round_, staff, filters, texts_limit)
    return Results(total, shown, found, minimum)


def _fill(result: QuestionResult, q: Question, counts: dict[tuple[int, int], int], n: int,
          minimum: int, language: str) -> None:
    choices = q.choices(language)
    if q.kind == "rating":
        marks = {value: c for (value, _rank), c in counts.items()}
        total = sum(marks.values())
        result.mean = (sum(v * c for v, c in marks.items()) / total) if total else None
        choices = [str(m) for m in range(1, RATING_MAX + 1)]
        indexes = list(range(1, RATING_MAX + 1))
    else:
        indexes = list(range(len(choices)))
    for index, label in zip(indexes, choices, strict=True):
        if q.kind == "rank":
            chosen = sum(c for (v, _r), c in counts.items() if v == index)
            first = counts.get((index, 1), 0)
            score = sum(c * (RANK_COUNT + 1 - r) for (v, r), c in counts.items() if v == index)
            shown = suppress(chosen, minimum)
            result.bars.append(Bar(label, shown, chosen / n if shown is not None else None,
                                   first=suppress(first, minimum),
                                   score=score if shown is not None else None))
        else:
            count = sum(c for (v, _r), c in counts.items() if v == index)
            shown = suppress(count, minimum)
            result.bars.append(Bar(label, shown, count / n if shown is not None else None))
    if q.kind == "rank":
        result.bars.sort(key=lambda b: -(b.score or 0))


def _add_texts(found: list[QuestionResult], round_: Round, staff: Staff, filters: Filters,
               limit: int) -> None:
    text_questions = {r.question.id: r for r in found
                      if r.question.kind == "text" and r.answered is not None}
    if not text_questions:
        return
    who = respondents(round_, staff, filters).subquery()
    # The newest ``limit`` of each question, numbered within the question; only those
    # are joined to their response's area.
    newest = (select(Answer.question_id, Answer.text, Answer.response_id,
                     func.row_number().over(partition_by=Answer.question_id,
                                            order_by=Answer.id.desc()).label("n"))
              .where(Answer.response_id.in_(select(who.c.id)),
                     Answer.question_id.in_(list(text_questions)), Answer.text.is_not(None))
              .subquery())
    rows = db.session.execute(
        select(newest.c.question_id, newest.c.text, Area.name)
        .join(Response, Response.id == newest.c.response_id)
        .outerjoin(Area, Area.id == Response.area_id)
        .where(newest.c.n <= limit).order_by(newest.c.question_id, newest.c.n))
    for question_id, text, area_name in rows:
        text_questions[question_id].texts.append((text, area_name or ""))


# -- trends, response rates ----------------------------------------------------------------


def trends(rounds: list[Round], staff: Staff, filters: Filters, language: str = "en"
           ) -> list[tuple[Question, list[tuple[Round, QuestionResult]]]]:
    """Each choice, rating or ranking question's results in every round, side by side
    (the rounds share their questions, so the figures compare)."""
    per_round = [(r, results(r, staff, filters, language, texts_limit=0)) for r in rounds]
    found = []
    for q in (rounds[0].survey.questions if rounds else []):
        if q.kind == "text":
            continue
        found.append((q, [(r, next(x for x in res.questions if x.question.id == q.id))
                          for r, res in per_round]))
    return found


@dataclass
class Rate:
    """Invitations and responses in one area."""

    area: Area
    invited: int
    responded: int | None

    @property
    def rate(self) -> float | None:
        """Responses per invitation, or None with no invitation or a suppressed count."""
        if not self.invited or self.responded is None:
            return None
        return self.responded / self.invited


def response_rates(round_: Round, staff: Staff, parent: Area | None) -> list[Rate]:
    """Invited members and their sent responses per area one level below ``parent`` (or
    per area of the staff member when none), inside their scope."""
    if parent is not None:
        areas = list(db.session.scalars(select(Area).where(Area.parent_id == parent.id)
                                        .order_by(Area.name)))
    else:
        areas = sorted(staff.areas, key=lambda a: a.name)
    if not areas:
        return []
    invited = dict(db.session.execute(
        select(Invitation.area_id, func.count()).where(
            Invitation.round_id == round_.id, within(staff.areas, Invitation.area_id))
        .group_by(Invitation.area_id)).all())
    answered = dict(db.session.execute(
        select(Invitation.area_id, func.count())
        .join(Response, and_(Response.round_id == Invitation.round_id,
                             Response.member_id == Invitation.member_id))
        .where(Invitation.round_id == round_.id, Response.state == "submitted",
               within(staff.areas, Invitation.area_id))
        .group_by(Invitation.area_id)).all())
    paths = dict(db.session.execute(select(Area.id, Area.path).where(
        Area.id.in_(set(invited) | set(answered)))).all())
    minimum = min_cell()
    found = []
    for area in areas:
        inside = [i for i, p in paths.items() if p.startswith(area.path)]
        asked = sum(invited.get(i, 0) for i in inside)
        came = sum(answered.get(i, 0) for i in inside)
        found.append(Rate(area, asked, suppress(came, minimum)))
    return found

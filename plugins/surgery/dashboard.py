"""The supervisors' dashboard of the surgery's service level.

For the concerns a supervisor (or force administrator) may see, it shows how many are
open and overdue, how long the first reply takes, the share answered within five working
days overall, per team and per month, the topics each team hears about, and the
unanswered concerns that need attention now. The figures are ``sla.sla_figures`` over
plain rows read in one query; nothing here changes a case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import wtforms
from flask import g, render_template, request
from flask_babel import format_decimal
from flask_wtf import FlaskForm
from sqlalchemy import and_, or_, select
from wtforms.validators import Optional, ValidationError

from core.api import Area, GovTextInput, Staff, db, staff_required, utcnow
from core.api import lazy_gettext as _l
from plugins.surgery import cases, sla
from plugins.surgery.models import OPEN_STATUSES, Case
from plugins.surgery.views import bp

#: How many months the dashboard covers when no period is chosen (this month included).
DEFAULT_MONTHS = 12

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def parse_month(text: str | None) -> date | None:
    """The first day of the month ``text`` names as ``YYYY-MM`` (``2026-03``; surrounding
    spaces and a one-digit month allowed), or None when it is not such a month of the
    years 2000 to 2999."""
    found = _MONTH.match(text or "")
    if not found:
        return None
    year, month = int(found[1]), int(found[2])
    if not (2000 <= year <= 2999 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month``'s (before, if
    negative)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    """The instant ``month`` begins in UK time (midnight on its first day), in UTC."""
    return datetime(month.year, month.month, 1, tzinfo=sla.UK_TIME).astimezone(UTC)


def _check_month(form: wtforms.Form, field: wtforms.Field) -> None:
    if field.data and parse_month(field.data) is None:
        raise ValidationError(_l("Enter a month as a year and month, like 2026-03"))


class PeriodForm(FlaskForm):
    """The months the figures cover, from the query string (``from`` and ``to``)."""

    class Meta:
        csrf = False

    start = wtforms.StringField(
        _l("From (month)"), [Optional(), _check_month], name="from",
        description=_l("For example, 2026-01"), widget=GovTextInput())
    end = wtforms.StringField(
        _l("To (month)"), [Optional(), _check_month], name="to",
        description=_l("For example, 2026-12"), widget=GovTextInput())

    def validate_end(self, field: wtforms.Field) -> None:
        first, last = parse_month(self.start.data), parse_month(field.data)
        if first and last and last < first:
            raise ValidationError(_l("The last month must be the same as or after the "
                                     "first month"))


@dataclass(frozen=True)
class NeedsAttention:
    """An unanswered open concern that is due soon or overdue."""

    case_id: int
    reference: str
    team: str
    topic: str
    submitted_on: date
    due_on: date
    #: ``sla.DUE_SOON`` or ``sla.OVERDUE``.
    state: str


@dataclass(frozen=True)
class Dashboard:
    """What the dashboard shows for one staff member and period."""

    first_month: date
    last_month: date
    figures: sla.SlaFigures
    #: Concerns raised in the period that were closed without any reply (left out of
    #: ``figures``).
    closed_unanswered: int
    #: Every unanswered open concern in scope due soon or overdue, whenever raised,
    #: soonest due first.
    needs_attention: list[NeedsAttention]


def dashboard_figures(staff: Staff, first_month: date, last_month: date,
                      now: datetime | None = None) -> Dashboard:
    """The dashboard of ``staff`` at ``now`` (default: the clock), from one query.

    Covers the concerns (not beat surgery records) in ``staff``'s case scope
    (``cases.case_scope``), leaving out duplicates merged into another case (that case
    stands for them). ``figures`` is ``sla.sla_figures`` on the calendar of ``staff``'s
    organisation over those submitted from the start of ``first_month`` to the end of
    ``last_month`` (UK time), teams by their area's name (with its code when two teams
    share a name) and topics by their label in the current language; concerns of the
    period closed without any reply are only counted in ``closed_unanswered``.
    ``needs_attention`` lists every unanswered open concern in scope, whatever the period,
    that is due soon or overdue by ``sla.status_of`` with the escalation window
    (``SURGERY_ESCALATE_HOURS``), soonest due first."""
    now = now or utcnow()
    start, end = month_start(first_month), month_start(add_months(last_month, 1))
    waiting = and_(Case.first_reply_at.is_(None), Case.status.in_(OPEN_STATUSES))
    rows = db.session.execute(
        select(Case.id, Case.topic, Case.status, Case.submitted_at, Case.first_reply_at,
               Case.due_at, Area.name.label("team_name"), Area.code.label("team_code"))
        .join(Area, Area.id == Case.team_area_id)  # the team's area
        .where(cases.case_scope(staff), Case.kind == "concern",
               Case.merged_into_id.is_(None),
               or_(and_(Case.submitted_at >= start, Case.submitted_at < end), waiting))
        .order_by(Case.due_at, Case.id)
    ).all()

    # Teams go by their area's name, with its code where two teams share a name.
    codes_by_name: dict[str, set[str]] = {}
    for row in rows:
        codes_by_name.setdefault(row.team_name, set()).add(row.team_code)

    def team_label(row: Any) -> str:
        if len(codes_by_name[row.team_name]) > 1:
            return f"{row.team_name} ({row.team_code})"
        return row.team_name

    labels: dict[str, str] = {}
    near = cases.escalate_hours()
    times: list[sla.CaseTimes] = []
    closed_unanswered = 0
    attention: list[NeedsAttention] = []
    for row in rows:
        if row.topic not in labels:
            labels[row.topic] = str(cases.topic_label(row.topic))
        if row.first_reply_at is None and row.status in OPEN_STATUSES:
            state = sla.status_of(row.due_at, now, near)
            if state != sla.ON_TIME:
                attention.append(NeedsAttention(
                    case_id=row.id, reference=Case.reference.fget(row), team=team_label(row),
                    topic=labels[row.topic], submitted_on=sla.uk_date(row.submitted_at),
                    due_on=sla.uk_date(row.due_at), state=state))
        if not start <= row.submitted_at < end:
            continue
        if row.first_reply_at is None and row.status not in OPEN_STATUSES:
            closed_unanswered += 1
            continue
        first_reply = row.first_reply_at
        if first_reply is not None and first_reply < row.submitted_at:
            first_reply = row.submitted_at  # a reply cannot come before the concern
        times.append(sla.CaseTimes(team=team_label(row), topic=labels[row.topic],
                                   submitted=row.submitted_at, first_reply=first_reply,
                                   due=row.due_at))
    figures = sla.sla_figures(times, cases.region_of(staff.organisation), now=now)
    return Dashboard(first_month=first_month, last_month=last_month, figures=figures,
                     closed_unanswered=closed_unanswered, needs_attention=attention)


def share_parts(share: sla.Share) -> dict[str, Any] | None:
    """A share's numbers for "3 of 4 (75%)": ``done``, ``total`` and ``percent`` rounded
    to the nearest whole number (halves up); None when no case was decided."""
    if share.fraction is None:
        return None
    percent = int(share.fraction * 100 + Fraction(1, 2))
    return {"done": share.answered_in_time, "total": share.total, "percent": percent}


def _decimal(value: float) -> str:
    return format_decimal(round(value, 1), format="#,##0.#")


@bp.get("/dashboard")
@staff_required("surgery.dashboard")
def dashboard() -> str:
    """The service level of the concerns the signed-in supervisor or force administrator
    may see, over the months chosen (the last 12 by default)."""
    form = PeriodForm(request.args)
    this_month = sla.uk_date(utcnow()).replace(day=1)
    first, last = add_months(this_month, 1 - DEFAULT_MONTHS), this_month
    if form.validate():
        chosen_first, chosen_last = parse_month(form.start.data), parse_month(form.end.data)
        last = chosen_last or max(this_month, chosen_first or this_month)
        first = chosen_first or add_months(last, 1 - DEFAULT_MONTHS)
        form.start.data, form.end.data = f"{first:%Y-%m}", f"{last:%Y-%m}"
    board = dashboard_figures(g.staff, first, last)
    median = board.figures.median_time_to_first_reply
    median_days = board.figures.median_working_days_to_first_reply
    return render_template(
        "surgery/dashboard.html", form=form, board=board, figures=board.figures,
        share_parts=share_parts,
        month_of=lambda key: date(int(key[:4]), int(key[5:7]), 1),
        median_hours=_decimal(median / timedelta(hours=1)) if median is not None else None,
        median_days=_decimal(median_days) if median_days is not None else None,
        overdue=sla.OVERDUE)

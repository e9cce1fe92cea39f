"""Each area's figures, precomputed: coverage, crime, concerns, demographics and the focus
score, refreshed by ``commonwatch insights refresh`` so that no page counts the members
table; and a coverage snapshot per area and month.

Coverage is *registered households* (distinct addresses with at least one member who
has not opted out) over the area's ``households`` (from the areas file). Crime counts
the last three months of imported crime data (ending with the latest month imported)
against the three before. Concerns come from every enabled plugin that tells them
(``commonwatch_area_concerns``: survey priorities, surgery topics), over the last
``INSIGHTS_CONCERN_DAYS`` days (default 365). Every figure of an area includes the areas
inside it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import defer

from core.api import Area, Member, db, utcnow
from plugins.insights.models import Crime, Figures, Snapshot
from plugins.insights.scoring import score_siblings


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _months_back(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class _Totals:
    households: int = 0
    registered: int = 0
    members: int = 0
    crimes: int = 0
    crimes_before: int = 0

    def __post_init__(self) -> None:
        self.crime_types: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.concerns: dict[str, int] = defaultdict(int)
        self.demographics: dict[str, dict[str, int]] = {"age_band": defaultdict(int),
                                                        "ethnic_group": defaultdict(int)}


def crime_window() -> tuple[date, date, date] | None:
    """(first month of the previous three, first month of the last three, the latest
    month) of the imported crime data; None when there is none."""
    latest = db.session.scalar(select(func.max(Crime.month)))
    if latest is None:
        return None
    if isinstance(latest, datetime):
        latest = latest.date()
    return _months_back(latest, 5), _months_back(latest, 2), latest


def refresh(now: datetime | None = None) -> int:
    """Recompute every area's figures and this month's coverage snapshot, in one
    transaction; returns the number of areas."""
    now = now or utcnow()
    areas = list(db.session.scalars(select(Area).options(defer(Area.boundary))))
    by_id = {a.id: a for a in areas}
    totals = {a.id: _Totals(households=a.households or 0) for a in areas}
    children: dict[int, list[Area]] = defaultdict(list)
    for area in areas:
        if area.parent_id is not None:
            children[area.parent_id].append(area)

    def ancestors(area_id: int) -> list[int]:
        area = by_id.get(area_id)
        if area is None:
            return []
        return [int(i) for i in area.path.strip("/").split("/") if i]

    address = func.lower(func.trim(Member.address_line)) + "|" + Member.postcode
    for area_id, members, households in db.session.execute(
            select(Member.area_id, func.count(), func.count(func.distinct(address)))
            .where(Member.opted_out_at.is_(None)).group_by(Member.area_id)):
        for i in ancestors(area_id):
            totals[i].members += members
            totals[i].registered += households

    for key in ("age_band", "ethnic_group"):
        value = Member.demographics[key].as_string()
        for area_id, answer, count in db.session.execute(
                select(Member.area_id, value, func.count())
                .where(Member.opted_out_at.is_(None), value.is_not(None))
                .group_by(Member.area_id, value)):
            for i in ancestors(area_id):
                totals[i].demographics[key][str(answer)] += count

    window = crime_window()
    if window is not None:
        before_start, last_start, latest = window
        recent = Crime.month >= last_start
        for area_id, crime_type, is_recent, count in db.session.execute(
                select(Crime.area_id, Crime.crime_type, recent, func.count())
                .where(Crime.month >= before_start, Crime.month <= latest)
                .group_by(Crime.area_id, Crime.crime_type, recent)):
            for i in ancestors(area_id):
                if is_recent:
                    totals[i].crimes += count
                    totals[i].crime_types[crime_type][0] += count
                else:
                    totals[i].crimes_before += count
                    totals[i].crime_types[crime_type][1] += count

    days = int(current_app.config.get("INSIGHTS_CONCERN_DAYS", 365))
    plugins = current_app.extensions["commonwatch"].plugins
    for told in plugins.call("commonwatch_area_concerns", since=now - timedelta(days=days)):
        for concern in told or ():
            for i in ancestors(concern.area_id):
                totals[i].concerns[concern.label] += concern.count

    # An area with no households of its own (the areas file gave them only for streets,
    # say) has those of the areas inside it, deepest first.
    for area in sorted(areas, key=lambda a: -a.path.count("/")):
        if not totals[area.id].households:
            totals[area.id].households = sum(
                totals[c.id].households for c in children.get(area.id, ()))
    scores = score_siblings(areas, totals)
    db.session.execute(delete(Figures))
    rows: list[dict[str, Any]] = [{
        "area_id": a.id, "households": t.households, "registered": t.registered,
        "members": t.members, "crimes": t.crimes, "crimes_before": t.crimes_before,
        "crime_types": {k: list(v) for k, v in sorted(t.crime_types.items())},
        "concerns": dict(sorted(t.concerns.items(), key=lambda kv: (-kv[1], kv[0]))),
        "demographics": {k: dict(sorted(v.items())) for k, v in t.demographics.items()},
        "score": scores.get(a.id, 0.0), "refreshed_at": now,
    } for a, t in ((a, totals[a.id]) for a in areas)]
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Figures), rows[start:start + 5000])

    month = _month_start(now.date())
    db.session.execute(delete(Snapshot).where(Snapshot.month == month))
    snapshots = [{"area_id": a.id, "month": month, "households": totals[a.id].households,
                  "registered": totals[a.id].registered} for a in areas]
    for start in range(0, len(snapshots), 5000):
        db.session.execute(insert(Snapshot), snapshots[start:start + 5000])
    db.session.commit()
    return len(areas)

"""Where to focus: each area's score among its siblings, and the reasons and suggested
actions in words.

The score of an area (0 to 100) weighs three parts, each from 0 to 1, with the weights
of ``INSIGHTS_WEIGHTS`` (default coverage 0.4, crime 0.4, concern 0.2):

* **coverage gap**: how far its coverage falls short of its parent area's, as a share of
  the parent's (0 when it is at or above the parent's);
* **crime**: its crimes of the last three months per household, as a share of the
  highest among its siblings;
* **concern**: the concerns its residents raised per household, as a share of the
  highest among its siblings.

docs/insights.md gives the same, for forces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import current_app

#: The parts of the score and their default weights.
DEFAULT_WEIGHTS = {"coverage": 0.4, "crime": 0.4, "concern": 0.2}
#: A crime type counts as rising when it went up by this share or more, from at least
#: MIN_BEFORE crimes in the three months before.
RISE = 0.25
MIN_BEFORE = 3
#: Coverage this far below the parent's (as a share of it) suggests door-knocking.
DOOR_KNOCK_GAP = 0.25


class Counts(Protocol):
    """What the score reads of an area's figures."""

    households: int
    registered: int
    crimes: int
    crimes_before: int
    crime_types: Mapping[str, Any]
    concerns: Mapping[str, int]


def weights() -> dict[str, float]:
    """The score's weights (``INSIGHTS_WEIGHTS``), missing parts at their defaults."""
    configured = current_app.config.get("INSIGHTS_WEIGHTS") or {}
    found = {k: float(configured.get(k, v)) for k, v in DEFAULT_WEIGHTS.items()}
    return found if sum(found.values()) > 0 else dict(DEFAULT_WEIGHTS)


def coverage(counts: Counts) -> float | None:
    """Registered households over households; None when the households are unknown."""
    if not counts.households:
        return None
    return min(1.0, counts.registered / counts.households)


def _per_household(value: float, counts: Counts) -> float:
    return value / counts.households if counts.households else 0.0


def parts(counts: Counts, parent: Counts | None, siblings: Iterable[Counts]
          ) -> dict[str, float]:
    """The three parts of the score of an area with ``counts``, each from 0 to 1."""
    siblings = list(siblings)
    mine, theirs = coverage(counts), coverage(parent) if parent is not None else None
    gap = max(0.0, (theirs - mine) / theirs) if mine is not None and theirs else 0.0
    top_crime = max((_per_household(s.crimes, s) for s in siblings), default=0.0)
    top_concern = max((_per_household(sum(s.concerns.values()), s) for s in siblings),
                      default=0.0)
    return {
        "coverage": gap,
        "crime": _per_household(counts.crimes, counts) / top_crime if top_crime else 0.0,
        "concern": (_per_household(sum(counts.concerns.values()), counts) / top_concern
                    if top_concern else 0.0),
    }


def score(part: Mapping[str, float]) -> float:
    """The weighted score, from 0 to 100, rounded to one decimal place."""
    w = weights()
    return round(100 * sum(w[k] * part[k] for k in w) / sum(w.values()), 1)


def score_siblings(areas: Iterable[Any], counts: Mapping[int, Counts]) -> dict[int, float]:
    """Every area's score among the areas with the same parent."""
    by_parent: dict[int | None, list[Any]] = {}
    for area in areas:
        by_parent.setdefault(area.parent_id, []).append(area)
    found: dict[int, float] = {}
    for parent_id, group in by_parent.items():
        parent = counts.get(parent_id) if parent_id is not None else None
        siblings = [counts[a.id] for a in group]
        for area in group:
            found[area.id] = score(parts(counts[area.id], parent, siblings))
    return found


@dataclass
class Action:
    """Something to do about an area: ``kind`` is "door_knock", "prevention",
    "survey" or "feedback"; ``subject`` the crime type or concern it is about."""

    kind: str
    subject: str = ""


@dataclass
class Reasons:
    """Why an area is where it is in the ranking, in parts a page turns into words."""

    coverage: float | None = None
    parent_coverage: float | None = None
    #: (crime type, change as a share, e.g. 0.6 for up 60%) of the fastest rising.
    rising: tuple[str, float] | None = None
    crime_rate: float | None = None
    parent_crime_rate: float | None = None
    top_concern: str | None = None
    actions: list[Action] = field(default_factory=list)


def reasons(counts: Counts, parent: Counts | None) -> Reasons:
    """What stands out about an area against its parent, and what to do about it."""
    found = Reasons(coverage=coverage(counts),
                    parent_coverage=coverage(parent) if parent is not None else None)
    rises = []
    for crime_type, (recent, before) in sorted(counts.crime_types.items()):
        if before >= MIN_BEFORE and (recent - before) / before >= RISE:
            rises.append((crime_type, (recent - before) / before))
    if rises:
        found.rising = max(rises, key=lambda r: (r[1], r[0]))
    if counts.households:
        found.crime_rate = 1000 * counts.crimes / counts.households
    if parent is not None and parent.households:
        found.parent_crime_rate = 1000 * parent.crimes / parent.households
    if counts.concerns:
        # The most raised; between equals, the first in alphabetical order.
        found.top_concern = min(counts.concerns.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    if (found.coverage is not None and found.parent_coverage
            and (found.parent_coverage - found.coverage) / found.parent_coverage
            >= DOOR_KNOCK_GAP):
        found.actions.append(Action("door_knock"))
    if found.rising:
        found.actions.append(Action("prevention", found.rising[0]))
    if found.top_concern:
        found.actions.append(Action("feedback", found.top_concern))
    else:
        found.actions.append(Action("survey"))
    return found

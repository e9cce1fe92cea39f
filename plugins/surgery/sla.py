"""Working days and the surgery's service level: "we will reply within five working days".

The promise, as a resident reads it:

    A concern is received on the day it is submitted, UK time, if that day is a working
    day; a concern submitted on a weekend or a bank holiday is received on the next
    working day. We reply by the end of the fifth working day after the day we receive
    it.

Here a *working day* is a Monday to Friday that is not a bank holiday in the force's
part of the UK (from the ``holidays`` package), and every day is a calendar day in UK
local time (Europe/London), whatever the season: a day ends at 23:59:59.999999 UK time,
so the same wall-clock moment whether it falls in GMT or BST. The time of day a concern
arrives does not matter: one sent at 11pm on a Thursday is received that Thursday.

Every instant taken and returned is a timezone-aware ``datetime``; results are in UTC.
Naive datetimes are refused with ``ValueError`` rather than guessed at.

Nothing here touches the database: the figures for supervisors are computed from plain
``CaseTimes`` rows, so they can be tested and reused exactly.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

UK_TIME = ZoneInfo("Europe/London")

#: The bank holiday calendars a force may follow. England and Wales share theirs (the
#: ``holidays`` package gives its "ENG" and "WLS" subdivisions the same days; a test
#: keeps that checked), so they are one key.
REGIONS: tuple[str, ...] = ("england-and-wales", "scotland", "northern-ireland")

_SUBDIVISIONS: dict[str, str] = {
    "england-and-wales": "ENG",
    "scotland": "SCT",
    "northern-ireland": "NIR",
}

#: The surgery's promise, in working days.
PROMISED_WORKING_DAYS = 5

# What status_of returns: keys for templates to label, not text to show.
OVERDUE = "overdue"
DUE_SOON = "due-soon"
ON_TIME = "on-time"


def check_region(region: str) -> str:
    """Return ``region`` unchanged if it is one of ``REGIONS``.

    Raises ``ValueError`` naming the accepted keys otherwise.
    """
    if region not in _SUBDIVISIONS:
        raise ValueError(
            f"unknown bank holiday region {region!r}: expected one of {', '.join(REGIONS)}"
        )
    return region


@lru_cache(maxsize=256)
def _bank_holidays(region: str, year: int) -> frozenset[date]:
    calendar = holidays.UK(subdiv=_SUBDIVISIONS[region], years=year)
    return frozenset(calendar)


def is_working_day(day: date, region: str = "england-and-wales") -> bool:
    """Whether ``day`` (a calendar date, UK time) is a working day in ``region``.

    True exactly for a Monday to Friday that is not a bank holiday there. Raises
    ``ValueError`` for a region not in ``REGIONS``.
    """
    check_region(region)
    return day.weekday() < 5 and day not in _bank_holidays(region, day.year)


def _next_working_day(day: date, region: str) -> date:
    day += timedelta(days=1)
    while not is_working_day(day, region):
        day += timedelta(days=1)
    return day


def _aware(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), not naive: {moment!r}")
    return moment


def uk_date(moment: datetime) -> date:
    """The calendar date, in UK local time, of an aware instant.

    Raises ``ValueError`` for a naive datetime.
    """
    return _aware(moment, "moment").astimezone(UK_TIME).date()


def received_on(submitted: datetime, region: str = "england-and-wales") -> date:
    """The working day a concern submitted at ``submitted`` counts as received (day 0).

    The UK date of submission when that is a working day in ``region``; otherwise the
    next working day after it. Raises ``ValueError`` for a naive datetime or a region
    not in ``REGIONS``.
    """
    check_region(region)
    day = uk_date(_aware(submitted, "submitted"))
    return day if is_working_day(day, region) else _next_working_day(day, region)


def end_of_uk_day(day: date) -> datetime:
    """The last instant of ``day`` in UK local time (23:59:59.999999), in UTC.

    22:59:59.999999 UTC in British Summer Time and 23:59:59.999999 UTC in winter.
    """
    return datetime.combine(day, time.max, tzinfo=UK_TIME).astimezone(UTC)


def due_at(
    submitted: datetime,
    region: str = "england-and-wales",
    working_days: int = PROMISED_WORKING_DAYS,
) -> datetime:
    """The last instant at which a reply keeps the promise, in UTC.

    The end (23:59:59.999999 UK time) of the ``working_days``-th working day after the
    day the concern is received (see ``received_on``): a concern submitted at any time on
    a working day counts that day as day 0; one submitted on a weekend or bank holiday
    counts the next working day as day 0. The due day is therefore always a working day,
    and a reply at or before the returned instant is in time. With ``working_days=0``
    the reply is due by the end of the day of receipt.

    ``submitted`` must be timezone-aware (any zone; it is read as an instant). Raises
    ``ValueError`` for a naive datetime, a negative ``working_days`` or a region not in
    ``REGIONS``.
    """
    if working_days < 0:
        raise ValueError(f"working_days must not be negative, got {working_days}")
    day = received_on(submitted, region)
    for _ in range(working_days):
        day = _next_working_day(day, region)
    return end_of_uk_day(day)


def working_days_between(start: datetime, end: datetime, region: str = "england-and-wales") -> int:
    """How many working days have passed from a concern submitted at ``start`` to ``end``.

    Counts the working days in ``region`` after the day of receipt (``received_on``)
    up to and including ``end``'s UK date, 0 when there are none: a reply on the day of
    receipt took 0 working days, one on the next working day 1; days that are not
    working days add nothing. It agrees with ``due_at``:
    ``working_days_between(s, due_at(s, region, n), region) == n``. It is a measure, not
    the test of the promise: a reply on the weekend after the due day still counts ``n``
    but is late; compare the reply with ``due_at`` for that.

    Both must be timezone-aware. Raises ``ValueError`` for a naive datetime, ``end``
    before ``start`` or a region not in ``REGIONS``.
    """
    _aware(end, "end")
    if end < _aware(start, "start"):
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    day = received_on(start, region)
    last = uk_date(end)
    count = 0
    while day < last:
        day = _next_working_day(day, region)
        if day <= last:
            count += 1
    return count


def status_of(due: datetime, now: datetime, near_hours: int = 24) -> str:
    """Where an unanswered concern stands against its due instant at ``now``.

    - ``"overdue"`` when ``now`` is after ``due``;
    - ``"due-soon"`` when ``due - near_hours < now <= due``: with the default 24 hours and
      a ``due`` from ``due_at`` (the end of a working day, UK time), exactly the whole of
      the last working day, from midnight UK time until its end; ``near_hours=0`` turns
      ``"due-soon"`` off;
    - ``"on-time"`` otherwise.

    Both must be timezone-aware. Raises ``ValueError`` for a naive datetime or a
    negative ``near_hours``.
    """
    _aware(due, "due")
    _aware(now, "now")
    if near_hours < 0:
        raise ValueError(f"near_hours must not be negative, got {near_hours}")
    if now > due:
        return OVERDUE
    if now > due - timedelta(hours=near_hours):
        return DUE_SOON
    return ON_TIME


@dataclass(frozen=True)
class CaseTimes:
    """The times of one surgery case that the service-level figures need.

    ``submitted``, ``first_reply`` (None while unanswered) and ``due`` must be
    timezone-aware, and a first reply cannot come before the submission: ``ValueError``
    otherwise.
    """

    team: str
    topic: str
    submitted: datetime
    first_reply: datetime | None
    due: datetime

    def __post_init__(self) -> None:
        _aware(self.submitted, "submitted")
        _aware(self.due, "due")
        if self.first_reply is not None:
            _aware(self.first_reply, "first_reply")
            if self.first_reply < self.submitted:
                raise ValueError("first_reply is before submitted")

    @property
    def answered(self) -> bool:
        """Whether the case has had its first reply."""
        return self.first_reply is not None

    def answered_in_time(self) -> bool:
        """Whether the first reply came at or before ``due``; False while unanswered."""
        return self.first_reply is not None and self.first_reply <= self.due

    def decided(self, now: datetime) -> bool:
        """Whether it is known at ``now`` if the promise was kept.

        True once the case is answered, or while unanswered once ``now`` is after ``due``
        (it can no longer be answered in time).
        """
        return self.first_reply is not None or now > self.due


@dataclass(frozen=True)
class Share:
    """How many of ``total`` cases were answered in time: an exact share.

    ``total`` counts only cases whose outcome is known (see ``sla_figures``).
    """

    answered_in_time: int
    total: int

    @property
    def fraction(self) -> Fraction | None:
        """``answered_in_time / total`` exactly; None when ``total`` is 0."""
        return Fraction(self.answered_in_time, self.total) if self.total else None

    @property
    def percent(self) -> float | None:
        """The share as a percentage (75.0 for 3 of 4); None when ``total`` is 0."""
        fraction = self.fraction
        return None if fraction is None else float(fraction * 100)


@dataclass(frozen=True)
class SlaFigures:
    """Service-level figures for a supervisors' dashboard (see ``sla_figures``)."""

    open_cases: int
    open_overdue: int
    median_time_to_first_reply: timedelta | None
    median_working_days_to_first_reply: float | None
    in_time: Share
    in_time_by_team: Mapping[str, Share]
    in_time_by_month: Mapping[str, Share]
    topics_by_team: Mapping[str, Mapping[str, int]]


def submission_month(case: CaseTimes) -> str:
    """The month of a case's submission in UK time, as ``"YYYY-MM"``."""
    return uk_date(case.submitted).strftime("%Y-%m")


def sla_figures(
    cases: Iterable[CaseTimes],
    region: str = "england-and-wales",
    *,
    now: datetime | None = None,
) -> SlaFigures:
    """Service-level figures over ``cases``, as they stand at ``now`` (default: the clock).

    - ``open_cases``: cases with no first reply; ``open_overdue``: those of them past due
      at ``now``.
    - ``median_time_to_first_reply``: the median of ``first_reply - submitted`` over the
      answered cases (the mean of the middle two for an even count, to the microsecond);
      None when none is answered. ``median_working_days_to_first_reply``: the same in
      working days of ``region`` (``working_days_between``), e.g. 2.5; None likewise.
    - ``in_time``, ``in_time_by_team`` and ``in_time_by_month`` (month of submission, UK
      time, ``"YYYY-MM"``): ``Share(answered_in_time, total)`` where ``total`` counts the
      cases whose outcome is known at ``now`` — answered, or unanswered and past due
      (which count as not in time) — and leaves out unanswered cases not yet due. Every
      team and month with a case has an entry, ``Share(0, 0)`` if none is decided. Keys
      are in ascending order.
    - ``topics_by_team``: for each team, how many of its cases (open or answered) are on
      each topic, most frequent first, then by topic.

    ``now`` must be timezone-aware. Raises ``ValueError`` for a naive ``now`` or a region
    not in ``REGIONS``.
    """
    check_region(region)
    now = datetime.now(UTC) if now is None else _aware(now, "now")
    cases = list(cases)

    open_cases = [case for case in cases if case.first_reply is None]
    replies = [(case.submitted, case.first_reply) for case in cases if case.first_reply]

    waits = sorted(reply - submitted for submitted, reply in replies)
    median_wait: timedelta | None = None
    if waits:
        middle = len(waits) // 2
        median_wait = waits[middle] if len(waits) % 2 else (waits[middle - 1] + waits[middle]) / 2
    working_waits = [working_days_between(submitted, reply, region) for submitted, reply in replies]
    median_working = float(statistics.median(working_waits)) if working_waits else None

    by_team: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    overall = [0, 0]
    topics: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        topics[case.team][case.topic] += 1
        tallies = (by_team[case.team], by_month[submission_month(case)], overall)
        if case.decided(now):
            for tally in tallies:
                tally[1] += 1
                if case.answered_in_time():
                    tally[0] += 1

    return SlaFigures(
        open_cases=len(open_cases),
        open_overdue=sum(1 for case in open_cases if now > case.due),
        median_time_to_first_reply=median_wait,
        median_working_days_to_first_reply=median_working,
        in_time=Share(*overall),
        in_time_by_team={team: Share(*by_team[team]) for team in sorted(by_team)},
        in_time_by_month={month: Share(*by_month[month]) for month in sorted(by_month)},
        topics_by_team={
            team: dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
            for team, counts in sorted(topics.items())
        },
    )

"""The surgery's working days, due times, statuses and service-level figures.

Every expected date here was worked out by hand from the published bank holidays.
"""

from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import holidays
import pytest

from plugins.surgery.sla import (
    REGIONS,
    CaseTimes,
    Share,
    due_at,
    is_working_day,
    received_on,
    sla_figures,
    status_of,
    working_days_between,
)

UK = ZoneInfo("Europe/London")
MICROSECOND = timedelta(microseconds=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def end_of_day_bst(day: date) -> datetime:
    """23:59:59.999999 in British Summer Time, in UTC."""
    return datetime.combine(day, time(22, 59, 59, 999999), tzinfo=UTC)


def end_of_day_gmt(day: date) -> datetime:
    """23:59:59.999999 in Greenwich Mean Time, in UTC."""
    return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=UTC)


# Regions ------------------------------------------------------------------------------


def test_regions_are_the_three_calendars():
    assert REGIONS == ("england-and-wales", "scotland", "northern-ireland")


def test_england_and_wales_share_their_bank_holidays_in_the_package():
    # One key serves both only while the package gives them the same days.
    years = range(1971, 2081)
    england = holidays.UK(subdiv="ENG", years=years)
    wales = holidays.UK(subdiv="WLS", years=years)
    assert sorted(england) == sorted(wales)


@pytest.mark.parametrize(
    "call",
    [
        lambda: due_at(utc(2027, 6, 7, 9), "england"),
        lambda: working_days_between(utc(2027, 6, 7), utc(2027, 6, 8), "Scotland"),
        lambda: is_working_day(date(2027, 6, 7), "wales"),
        lambda: sla_figures([], "uk", now=utc(2027, 6, 7)),
    ],
)
def test_an_unknown_region_is_refused_naming_the_accepted_ones(call):
    with pytest.raises(ValueError) as error:
        call()
    for region in REGIONS:
        assert region in str(error.value)


def test_working_days():
    assert is_working_day(date(2027, 3, 25))  # Thursday
    assert not is_working_day(date(2027, 3, 26))  # Good Friday
    assert not is_working_day(date(2027, 3, 27))  # Saturday
    assert not is_working_day(date(2027, 3, 29))  # Easter Monday
    assert is_working_day(date(2027, 3, 29), "scotland")  # not a holiday in Scotland
    assert not is_working_day(date(2027, 11, 30), "scotland")  # St Andrew's Day
    assert is_working_day(date(2027, 11, 30))
    assert not is_working_day(date(2027, 3, 17), "northern-ireland")  # St Patrick's Day
    assert is_working_day(date(2027, 3, 17))


# Due times ----------------------------------------------------------------------------


def test_thursday_before_easter_skips_good_friday_and_easter_monday():
    # Day 0 Thu 25 March 2027; Fri 26 and Mon 29 are bank holidays; days 1-5 are
    # Tue 30, Wed 31, Thu 1, Fri 2 and Mon 5 April, in British Summer Time by then.
    assert due_at(utc(2027, 3, 25, 10)) == end_of_day_bst(date(2027, 4, 5))
    assert due_at(utc(2027, 3, 25, 10), "northern-ireland") == end_of_day_bst(date(2027, 4, 5))


def test_scotland_has_no_easter_monday():
    # Tue 30, Wed 31, Thu 1, Fri 2 (Good Friday is still skipped), then Mon 29 counted.
    assert due_at(utc(2027, 3, 25, 10), "scotland") == end_of_day_bst(date(2027, 4, 2))


def test_weekends_are_skipped():
    assert due_at(utc(2027, 6, 7, 9)) == end_of_day_bst(date(2027, 6, 14))  # Mon -> Mon
    assert due_at(utc(2027, 6, 9, 9)) == end_of_day_bst(date(2027, 6, 16))  # Wed -> Wed


def test_a_friday_evening_case_counts_friday_as_day_0():
    # 21:30 BST on Friday 11 June 2027: still Friday, so due the next Friday.
    assert due_at(utc(2027, 6, 11, 20, 30)) == end_of_day_bst(date(2027, 6, 18))


def test_the_day_is_the_uk_day_not_the_utc_day():
    # 23:30 UTC on Friday is 00:30 BST on Saturday: received Monday 14, due Monday 21.
    assert received_on(utc(2027, 6, 11, 23, 30)) == date(2027, 6, 14)
    assert due_at(utc(2027, 6, 11, 23, 30)) == end_of_day_bst(date(2027, 6, 21))
    # In winter 23:30 UTC is 23:30 GMT, still Friday: due the next Friday.
    assert due_at(utc(2027, 1, 15, 23, 30)) == end_of_day_gmt(date(2027, 1, 22))


def test_a_weekend_case_is_received_on_monday():
    assert received_on(utc(2027, 6, 12, 10)) == date(2027, 6, 14)
    assert due_at(utc(2027, 6, 12, 10)) == end_of_day_bst(date(2027, 6, 21))
    assert due_at(utc(2027, 6, 13, 22)) == due_at(utc(2027, 6, 14, 8))


def test_a_case_raised_on_a_bank_holiday_is_received_the_next_working_day():
    # Spring Bank Holiday, Monday 31 May 2027: day 0 is Tuesday 1 June.
    assert received_on(utc(2027, 5, 31, 10)) == date(2027, 6, 1)
    assert due_at(utc(2027, 5, 31, 10)) == end_of_day_bst(date(2027, 6, 8))


def test_substitute_days_for_christmas_and_new_year_are_skipped():
    # Christmas 2027 falls on a weekend: Mon 27 and Tue 28 are holidays instead; so is
    # Mon 3 January 2028 for New Year's Day, and in Scotland Tue 4 January as well.
    assert due_at(utc(2027, 12, 24, 10)) == end_of_day_gmt(date(2028, 1, 5))
    assert due_at(utc(2027, 12, 24, 10), "scotland") == end_of_day_gmt(date(2028, 1, 6))


def test_scotland_keeps_the_new_year_holiday():
    # Thu 31 Dec 2026. England: Fri 1 Jan off, days 1-5 are Mon 4 to Fri 8.
    # Scotland: 2 January is a Saturday, so Mon 4 is off too: Tue 5 to Mon 11.
    assert due_at(utc(2026, 12, 31, 10)) == end_of_day_gmt(date(2027, 1, 8))
    assert due_at(utc(2026, 12, 31, 10), "scotland") == end_of_day_gmt(date(2027, 1, 11))


def test_scotland_keeps_st_andrews_day():
    # Monday 29 November 2027; St Andrew's Day is Tuesday 30 November.
    assert due_at(utc(2027, 11, 29, 10)) == end_of_day_gmt(date(2027, 12, 6))
    assert due_at(utc(2027, 11, 29, 10), "scotland") == end_of_day_gmt(date(2027, 12, 7))
    # Raised on St Andrew's Day itself: day 0 there in England, not in Scotland.
    assert due_at(utc(2027, 11, 30, 10)) == end_of_day_gmt(date(2027, 12, 7))
    assert due_at(utc(2027, 11, 30, 10), "scotland") == end_of_day_gmt(date(2027, 12, 8))


def test_northern_ireland_keeps_the_twelfth():
    # Friday 9 July 2027; Monday 12 July is a holiday in Northern Ireland only.
    assert due_at(utc(2027, 7, 9, 10)) == end_of_day_bst(date(2027, 7, 16))
    assert due_at(utc(2027, 7, 9, 10), "northern-ireland") == end_of_day_bst(date(2027, 7, 19))


def test_clocks_going_forward_do_not_shift_the_due_time():
    # Wed 25 March 2026 in GMT; clocks go forward on Sunday 29 March; due Wed 1 April.
    due = due_at(utc(2026, 3, 25, 10))
    assert due == end_of_day_bst(date(2026, 4, 1))
    assert due.astimezone(UK).replace(tzinfo=None) == datetime(2026, 4, 1, 23, 59, 59, 999999)


def test_clocks_going_back_do_not_shift_the_due_time():
    # Wed 21 October 2026 in BST; clocks go back on Sunday 25 October; due Wed 28.
    due = due_at(utc(2026, 10, 21, 12))
    assert due == end_of_day_gmt(date(2026, 10, 28))
    assert due.astimezone(UK).replace(tzinfo=None) == datetime(2026, 10, 28, 23, 59, 59, 999999)
    # 23:30 UTC on that Wednesday is already Thursday in BST.
    assert due_at(utc(2026, 10, 21, 23, 30)) == end_of_day_gmt(date(2026, 10, 29))


@pytest.mark.parametrize("region", REGIONS)
def test_every_due_time_ends_a_working_day_five_working_days_on(region):
    start = utc(2026, 1, 1, 12)
    for offset in range(730):
        submitted = start + timedelta(days=offset)
        due = due_at(submitted, region)
        local = due.astimezone(UK)
        assert due.tzinfo is UTC
        assert local.time() == time.max
        assert is_working_day(local.date(), region)
        assert working_days_between(submitted, due, region) == 5


def test_the_number_of_working_days_can_be_chosen():
    assert due_at(utc(2027, 3, 25, 10), working_days=0) == end_of_day_gmt(date(2027, 3, 25))
    assert due_at(utc(2027, 3, 27, 10), working_days=0) == end_of_day_bst(date(2027, 3, 30))
    assert due_at(utc(2027, 3, 25, 10), working_days=1) == end_of_day_bst(date(2027, 3, 30))
    assert due_at(utc(2027, 6, 7, 9), working_days=10) == end_of_day_bst(date(2027, 6, 21))
    with pytest.raises(ValueError, match="negative"):
        due_at(utc(2027, 6, 7, 9), working_days=-1)


def test_any_aware_time_zone_is_read_as_an_instant_and_utc_is_returned():
    paris = datetime(2027, 3, 25, 11, tzinfo=ZoneInfo("Europe/Paris"))  # 10:00 UTC
    due = due_at(paris)
    assert due == end_of_day_bst(date(2027, 4, 5))
    assert due.tzinfo is UTC


@pytest.mark.parametrize(
    "call",
    [
        lambda: due_at(datetime(2027, 3, 25, 10)),
        lambda: received_on(datetime(2027, 3, 25, 10)),
        lambda: working_days_between(datetime(2027, 3, 25), utc(2027, 3, 30)),
        lambda: working_days_between(utc(2027, 3, 25), datetime(2027, 3, 30)),
        lambda: status_of(datetime(2027, 3, 25), utc(2027, 3, 30)),
        lambda: status_of(utc(2027, 3, 25), datetime(2027, 3, 30)),
        lambda: CaseTimes("a", "t", datetime(2027, 3, 25), None, utc(2027, 4, 5)),
        lambda: CaseTimes("a", "t", utc(2027, 3, 25), datetime(2027, 3, 26), utc(2027, 4, 5)),
        lambda: CaseTimes("a", "t", utc(2027, 3, 25), None, datetime(2027, 4, 5)),
        lambda: sla_figures([], now=datetime(2027, 4, 5)),
    ],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="naive"):
        call()


# Working days between -----------------------------------------------------------------


def test_working_days_between():
    thursday = utc(2027, 3, 25, 10)
    assert working_days_between(thursday, thursday) == 0
    assert working_days_between(thursday, utc(2027, 3, 25, 23)) == 0
    assert working_days_between(thursday, utc(2027, 3, 29, 12)) == 0  # over Easter
    assert working_days_between(thursday, utc(2027, 3, 30, 8)) == 1
    assert working_days_between(thursday, utc(2027, 3, 30, 8), "scotland") == 2
    assert working_days_between(thursday, utc(2027, 4, 5, 22, 59)) == 5
    assert working_days_between(thursday, utc(2027, 4, 5, 23)) == 6  # midnight BST
    # Raised on Saturday, so received on Monday: Sunday and Monday are day 0.
    assert working_days_between(utc(2027, 6, 12, 10), utc(2027, 6, 13, 10)) == 0
    assert working_days_between(utc(2027, 6, 12, 10), utc(2027, 6, 14, 16)) == 0
    assert working_days_between(utc(2027, 6, 12, 10), utc(2027, 6, 15, 9)) == 1
    # A reply on the Saturday after a Friday due day still counts 5, yet it is late.
    friday = utc(2027, 6, 11, 10)
    assert working_days_between(friday, utc(2027, 6, 19, 10)) == 5
    assert utc(2027, 6, 19, 10) > due_at(friday)


def test_working_days_between_refuses_an_end_before_the_start():
    with pytest.raises(ValueError, match="before"):
        working_days_between(utc(2027, 3, 25, 10), utc(2027, 3, 25, 9))


# Status -------------------------------------------------------------------------------

DUE = end_of_day_bst(date(2027, 4, 5))  # Monday 5 April 2027, 23:59:59.999999 BST


def test_status_is_overdue_only_after_the_due_instant():
    assert status_of(DUE, DUE) == "due-soon"
    assert status_of(DUE, DUE + MICROSECOND) == "overdue"
    assert status_of(DUE, DUE + timedelta(days=3)) == "overdue"


def test_due_soon_is_the_whole_last_working_day_uk_time():
    monday_midnight = utc(2027, 4, 4, 23)  # 00:00 BST on Monday 5 April
    assert status_of(DUE, monday_midnight) == "due-soon"
    assert status_of(DUE, monday_midnight - MICROSECOND) == "on-time"
    assert status_of(DUE, utc(2027, 3, 30, 9)) == "on-time"


def test_due_soon_window_can_be_changed_or_turned_off():
    assert status_of(DUE, DUE - timedelta(hours=47)) == "on-time"
    assert status_of(DUE, DUE - timedelta(hours=47), near_hours=48) == "due-soon"
    assert status_of(DUE, DUE - timedelta(hours=48), near_hours=48) == "on-time"
    assert status_of(DUE, DUE, near_hours=0) == "on-time"
    assert status_of(DUE, DUE + MICROSECOND, near_hours=0) == "overdue"
    with pytest.raises(ValueError, match="negative"):
        status_of(DUE, DUE, near_hours=-1)


# Figures ------------------------------------------------------------------------------

NORTH = "ashendry-north"
CHURCH = "church-end"
ASB = "antisocial-behaviour"
SPEEDING = "speeding"
BURGLARY = "burglary"

# Seen at noon UTC on Tuesday 20 April 2027.
NOW = utc(2027, 4, 20, 12)

CASES = [
    # 1. Answered the next morning: 1 day, 1 working day, in time.
    CaseTimes(NORTH, ASB, utc(2027, 3, 1, 9), utc(2027, 3, 2, 9),
              end_of_day_gmt(date(2027, 3, 8))),
    # 2. Answered at the very last instant: in time; 5 working days.
    CaseTimes(NORTH, SPEEDING, utc(2027, 3, 10, 10), end_of_day_gmt(date(2027, 3, 17)),
              end_of_day_gmt(date(2027, 3, 17))),
    # 3. Raised before Easter, answered at midnight BST after the due day: late; 6.
    CaseTimes(NORTH, ASB, utc(2027, 3, 25, 10), utc(2027, 4, 5, 23),
              end_of_day_bst(date(2027, 4, 5))),
    # 4. 23:30 UTC on 31 March is 1 April in the UK (an April case); open and overdue.
    CaseTimes(NORTH, ASB, utc(2027, 3, 31, 23, 30), None,
              end_of_day_bst(date(2027, 4, 8))),
    # 5. Friday evening, answered Monday morning: 2 days 15 hours, 1 working day.
    CaseTimes(CHURCH, BURGLARY, utc(2027, 3, 5, 18), utc(2027, 3, 8, 9),
              end_of_day_gmt(date(2027, 3, 12))),
    # 6. Raised on a Saturday, received Monday 22 March, due Wed 31: answered late; 6.
    CaseTimes(CHURCH, SPEEDING, utc(2027, 3, 20, 11), utc(2027, 4, 1, 8),
              end_of_day_bst(date(2027, 3, 31))),
    # 7. Open and due tonight: not yet decided.
    CaseTimes(CHURCH, BURGLARY, utc(2027, 4, 13, 9), None,
              end_of_day_bst(date(2027, 4, 20))),
    # 8. Answered in 6 days, 4 working days, in time.
    CaseTimes(CHURCH, ASB, utc(2027, 4, 1, 12), utc(2027, 4, 7, 12),
              end_of_day_bst(date(2027, 4, 8))),
    # 9. Answered the same afternoon: 6 hours, 0 working days, in time.
    CaseTimes(CHURCH, SPEEDING, utc(2027, 4, 12, 9), utc(2027, 4, 12, 15),
              end_of_day_bst(date(2027, 4, 19))),
]  # fmt: skip


def test_the_fixture_dues_are_the_promised_ones():
    assert [case.due for case in CASES] == [due_at(case.submitted) for case in CASES]


def test_open_cases():
    figures = sla_figures(CASES, now=NOW)
    assert figures.open_cases == 2
    assert figures.open_overdue == 1
    assert [status_of(case.due, NOW) for case in CASES if case.first_reply is None] == [
        "overdue",
        "due-soon",
    ]


def test_median_time_to_first_reply():
    # Waits: 6h, 1d, 2d 15h, 6d, 7d 13:59:59.999999, 11d 13h, 11d 21h.
    figures = sla_figures(CASES, now=NOW)
    assert figures.median_time_to_first_reply == timedelta(days=6)
    # Working days: 0, 1, 1, 4, 5, 6, 6.
    assert figures.median_working_days_to_first_reply == 4.0


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    cases = [
        CaseTimes(NORTH, ASB, utc(2027, 6, 7, 9), utc(2027, 6, 8, 9), due_at(utc(2027, 6, 7))),
        CaseTimes(NORTH, ASB, utc(2027, 6, 7, 9), utc(2027, 6, 9, 9), due_at(utc(2027, 6, 7))),
    ]
    figures = sla_figures(cases, now=NOW)
    assert figures.median_time_to_first_reply == timedelta(days=1, hours=12)
    assert figures.median_working_days_to_first_reply == 1.5


def test_shares_answered_in_time_per_team_and_month():
    figures = sla_figures(CASES, now=NOW)
    # Decided: every case but 7. In time: 1, 2, 5, 8, 9; late: 3, 6 and the open 4.
    assert figures.in_time == Share(5, 8)
    assert figures.in_time_by_team == {NORTH: Share(2, 4), CHURCH: Share(3, 4)}
    # March (UK time): 1, 2, 3, 5, 6. April: 4 (late), 8, 9; 7 undecided.
    assert figures.in_time_by_month == {"2027-03": Share(3, 5), "2027-04": Share(2, 3)}
    assert list(figures.in_time_by_month) == ["2027-03", "2027-04"]
    assert figures.in_time_by_team[NORTH].fraction == Fraction(1, 2)
    assert figures.in_time_by_month["2027-04"].fraction == Fraction(2, 3)


def test_an_open_case_counts_as_late_once_past_due():
    figures = sla_figures(CASES, now=end_of_day_bst(date(2027, 4, 20)) + MICROSECOND)
    assert figures.open_overdue == 2
    assert figures.in_time_by_team[CHURCH] == Share(3, 5)
    assert figures.in_time_by_month["2027-04"] == Share(2, 4)


def test_a_team_with_nothing_decided_has_an_empty_share():
    figures = sla_figures(CASES[3:4], now=utc(2027, 4, 2, 9))
    assert figures.in_time_by_team == {NORTH: Share(0, 0)}
    assert figures.in_time_by_team[NORTH].fraction is None
    assert figures.in_time_by_team[NORTH].percent is None
    assert figures.median_time_to_first_reply is None
    assert figures.median_working_days_to_first_reply is None


def test_topics_per_team_most_frequent_first():
    figures = sla_figures(CASES, now=NOW)
    assert figures.topics_by_team == {
        NORTH: {ASB: 3, SPEEDING: 1},
        CHURCH: {BURGLARY: 2, SPEEDING: 2, ASB: 1},
    }
    assert list(figures.topics_by_team[CHURCH]) == [BURGLARY, SPEEDING, ASB]


def test_no_cases():
    figures = sla_figures([], now=NOW)
    assert figures.open_cases == 0
    assert figures.in_time == Share(0, 0)
    assert figures.in_time_by_team == {}
    assert figures.topics_by_team == {}


def test_share_as_a_percentage():
    assert Share(3, 4).percent == 75.0
    assert Share(2, 3).fraction == Fraction(2, 3)
    assert Share(0, 5).percent == 0.0


def test_a_reply_before_the_submission_is_refused():
    with pytest.raises(ValueError, match="before"):
        CaseTimes(NORTH, ASB, utc(2027, 3, 25, 10), utc(2027, 3, 25, 9), DUE)

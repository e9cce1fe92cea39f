"""Importing street-level crime files and LSOA links.

The fixtures in ``plugins/insights/fixtures`` are fictional data.police.uk files for
Wealdshire (every row "Wealdshire Police"; points lie well inside street rectangles of
``core/fixtures/areas.csv``; a row with no point has Location "No Location" and an LSOA
code of ``lsoa.csv``):

``lsoa.csv`` links E01900001 -> ST000002 (School Lane), E01900002 -> E05900001 (Ashendry
North), E01900003 -> E05900003 (Church End), E01900004 -> E05900006 (Riverside),
E01900005 -> ST000060 (Station Road), E01900006 -> E05900010 (Millbrook Vale West).

``crimes-2026-09.csv``: 30 crimes, 26 placed by their point and 4 by LSOA. By ward:
E05900001 6, E05900002 3, E05900003 3, E05900005 4, E05900006 3, E05900007 3,
E05900010 2, E05900012 3, E05900013 3. In Ashendry North (E05900001): Burglary 2,
Anti-social behaviour 2, Vehicle crime 1, Criminal damage and arson 1.

``crimes-2026-10.csv``: 31 crimes, 27 by point and 4 by LSOA. By ward: E05900001 10,
E05900002 2, E05900003 3, E05900004 2, E05900005 4, E05900006 2, E05900008 2,
E05900009 2, E05900010 1, E05900011 1, E05900014 2. In Ashendry North: Burglary 6
(burglary up from 2), Anti-social behaviour 2, Vehicle crime 1, Violence and sexual
offences 1.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.api import Area, db
from plugins.insights.crime import CrimeImportError, import_crimes, import_lsoa_links
from plugins.insights.models import Crime, LsoaLink

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
          "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
          "Context"]
#: A good row: a burglary on Mill Lane (ST000001, in Ashendry North).
GOOD = {"Crime ID": "", "Month": "2026-09", "Reported by": "Wealdshire Police",
        "Falls within": "Wealdshire Police", "Longitude": "-0.580000",
        "Latitude": "51.980000", "Location": "On or near Mill Lane", "LSOA code": "E01900002",
        "LSOA name": "Ashendry 001B", "Crime type": "Burglary",
        "Last outcome category": "Under investigation", "Context": ""}


def crime_csv(*rows: dict[str, str], header: list[str] = HEADER) -> str:
    """A crime file of ``rows``, each the good row with some values changed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        values = {**GOOD, **row}
        writer.writerow([values[c] for c in header])
    return out.getvalue()


def import_fixture(name: str):
    with open(FIXTURES / name, encoding="utf-8-sig", newline="") as fh:
        return import_crimes(fh)


def load_links() -> int:
    with open(FIXTURES / "lsoa.csv", encoding="utf-8-sig", newline="") as fh:
        return import_lsoa_links(fh)


def crime_count(month: date | None = None) -> int:
    query = select(func.count()).select_from(Crime)
    if month:
        query = query.where(Crime.month == month)
    return db.session.scalar(query)


def by_ward(month: date) -> Counter[str]:
    """Crimes of ``month`` per ward code (a crime in a street counts for its ward)."""
    wards = {a.path: a.code for a in db.session.scalars(select(Area).where(Area.level == "ward"))}
    counts: Counter[str] = Counter()
    for path in db.session.scalars(
        select(Area.path).join(Crime, Crime.area_id == Area.id).where(Crime.month == month)
    ):
        counts.update(code for ward_path, code in wards.items() if path.startswith(ward_path))
    return counts


def types_in(ward_code: str, month: date) -> Counter[str]:
    ward = db.session.scalar(select(Area).where(Area.code == ward_code))
    return Counter(db.session.scalars(
        select(Crime.crime_type).join(Area, Crime.area_id == Area.id)
        .where(Crime.month == month, Area.path.startswith(ward.path))
    ))


def area_code_of(crime: Crime) -> str:
    return db.session.get(Area, crime.area_id).code


SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)


# -- the fixtures ---------------------------------------------------------------------------


def test_the_fixture_months_are_placed_by_point_and_by_lsoa(app, county):
    with app.app_context():
        assert load_links() == 6
        september = import_fixture("crimes-2026-09.csv")
        october = import_fixture("crimes-2026-10.csv")

        assert (september.rows, september.by_point, september.by_lsoa) == (30, 26, 4)
        assert (october.rows, october.by_point, october.by_lsoa) == (31, 27, 4)
        assert september.months == ["2026-09"] and october.months == ["2026-10"]
        assert crime_count(SEPTEMBER) == 30 and crime_count(OCTOBER) == 31

        assert by_ward(SEPTEMBER) == {
            "E05900001": 6, "E05900002": 3, "E05900003": 3, "E05900005": 4, "E05900006": 3,
            "E05900007": 3, "E05900010": 2, "E05900012": 3, "E05900013": 3,
        }
        assert by_ward(OCTOBER) == {
            "E05900001": 10, "E05900002": 2, "E05900003": 3, "E05900004": 2, "E05900005": 4,
            "E05900006": 2, "E05900008": 2, "E05900009": 2, "E05900010": 1, "E05900011": 1,
            "E05900014": 2,
        }
        assert types_in("E05900001", SEPTEMBER) == {
            "Burglary": 2, "Anti-social behaviour": 2, "Vehicle crime": 1,
            "Criminal damage and arson": 1,
        }
        assert types_in("E05900001", OCTOBER) == {
            "Burglary": 6, "Anti-social behaviour": 2, "Vehicle crime": 1,
            "Violence and sexual offences": 1,
        }
        # Every crime with a point sits in a street, the lowest level.
        levels = Counter(db.session.scalars(
            select(Area.level).join(Crime, Crime.area_id == Area.id)
            .where(Crime.longitude.is_not(None))
        ))
        assert levels == {"street": 53}


def test_a_crime_keeps_what_the_file_says(app, county):
    row = {"Crime ID": "abc123", "Month": "2026-09", "Location": "On or near Mill Lane",
           "Crime type": "Criminal damage and arson",
           "Last outcome category": "Investigation complete; no suspect identified"}
    with app.app_context():
        import_crimes(io.StringIO(crime_csv(row)))
        crime = db.session.scalar(select(Crime))
        assert crime.month == date(2026, 9, 1)
        assert (crime.reported_by, crime.falls_within) == ("Wealdshire Police",) * 2
        assert (crime.longitude, crime.latitude) == (-0.58, 51.98)
        assert (crime.location, crime.lsoa_code, crime.lsoa_name) == (
            "On or near Mill Lane", "E01900002", "Ashendry 001B")
        assert crime.crime_type == "Criminal damage and arson"
        assert crime.last_outcome == "Investigation complete; no suspect identified"


# -- placing --------------------------------------------------------------------------------


def test_a_point_goes_to_the_deepest_area_and_no_point_to_its_lsoa(app, county):
    rows = [
        {"Location": "in Mill Lane"},  # ST000001, inside its ward, district and force
        {"Location": "linked", "Longitude": "", "Latitude": "",
         "LSOA code": "E01900001"},  # linked to School Lane (ST000002)
        {"Location": "an area's code", "Longitude": "", "Latitude": "",
         "LSOA code": "E05900004"},  # the code of Kingsmead ward
        {"Location": "outside", "Longitude": "-1.500000", "Latitude": "53.000000",
         "LSOA code": "E01900003"},  # outside Wealdshire; its LSOA is linked to Church End
        {"Location": "on the edge", "Longitude": "-0.570000",
         "Latitude": "51.962500"},  # between Mill Lane (ST000001) and School Lane
    ]
    with app.app_context():
        load_links()
        result = import_crimes(io.StringIO(crime_csv(*rows)))
        assert (result.rows, result.by_point, result.by_lsoa) == (5, 2, 3)
        placed = {c.location: area_code_of(c) for c in db.session.scalars(select(Crime))}
        assert placed == {"in Mill Lane": "ST000001", "linked": "ST000002",
                          "an area's code": "E05900004", "outside": "E05900003",
                          "on the edge": placed["on the edge"]}
        assert placed["on the edge"] in ("ST000001", "ST000002")


def test_a_crime_type_in_other_case_is_stored_as_data_police_uk_writes_it(app, county):
    with app.app_context():
        import_crimes(io.StringIO(crime_csv({"Crime type": "anti-social BEHAVIOUR"})))
        assert db.session.scalar(select(Crime.crime_type)) == "Anti-social behaviour"


# -- bad files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"Month": "2026-13"}, "Month '2026-13' is not a month like 2026-09"),
        ({"Month": "Sept 2026"}, "Month 'Sept 2026' is not a month"),
        ({"Crime type": "Burglery"}, "Crime type 'Burglery' is not a data.police.uk crime type"),
        ({"Longitude": "west"}, "Longitude 'west' is not a number"),
        ({"Latitude": "95"}, "Latitude 95 is out of range"),
        ({"Longitude": "nan"}, "Longitude nan is out of range"),
        ({"Latitude": ""}, "give both Longitude and Latitude, or neither"),
        ({"Longitude": "-1.500000", "Latitude": "53.000000", "LSOA code": "E01999999"},
         "cannot be placed in an area: its point is inside no area's boundary and LSOA "
         "code 'E01999999' is not linked to an area"),
        ({"Location": "x" * 201}, "Location is 201 characters long, more than 200"),
        ({"Falls within": "y" * 101}, "Falls within is 101 characters long, more than 100"),
    ],
)
def test_a_bad_row_is_reported_by_line_and_nothing_is_imported(app, county, bad, reason):
    with app.app_context():
        load_links()
        import_fixture("crimes-2026-09.csv")
        before = sorted(db.session.scalars(select(Crime.id)))
        # Lines 2-4 are good, line 5 is bad, line 6 is good; all for September.
        text = crime_csv(GOOD, GOOD, GOOD, bad, GOOD)
        with pytest.raises(CrimeImportError) as caught:
            import_crimes(io.StringIO(text))
        assert f"line 5: {reason}" in str(caught.value)
        assert "Nothing was imported" in str(caught.value)
        assert caught.value.problems == [(5, caught.value.problems[0][1])]
        db.session.rollback()
        assert sorted(db.session.scalars(select(Crime.id))) == before
        assert crime_count(SEPTEMBER) == 30


def test_a_crime_with_no_location_at_all_is_left_out_and_counted(app, county):
    # data.police.uk's files have such rows ("No Location", no LSOA): they belong to no
    # area, so they are left out rather than refusing the whole file.
    nowhere = {"Longitude": "", "Latitude": "", "Location": "No Location", "LSOA code": "",
               "LSOA name": ""}
    with app.app_context():
        result = import_crimes(io.StringIO(crime_csv(GOOD, nowhere, GOOD)))
        assert (result.rows, result.no_location) == (2, 1)
        assert result.summary().endswith("; 1 with no location left out")
        assert db.session.scalar(select(func.count()).select_from(Crime)) == 2


def test_an_unknown_crime_type_is_answered_with_the_list_of_types(app, county):
    with app.app_context(), pytest.raises(CrimeImportError) as caught:
        import_crimes(io.StringIO(crime_csv({"Crime type": "Burglery"})))
    assert "The crime types are: Anti-social behaviour, Bicycle theft, Burglary," in str(
        caught.value)


def test_every_bad_row_is_listed_up_to_twenty(app, county):
    rows = [GOOD] + [{"Month": f"2026-{13 + n}"} for n in range(25)] + [GOOD]
    with app.app_context():
        with pytest.raises(CrimeImportError) as caught:
            import_crimes(io.StringIO(crime_csv(*rows)))
        message = str(caught.value)
        assert message.startswith("line 3: Month '2026-13' is not a month like 2026-09; "
                                  "line 4: Month '2026-14'")
        assert "line 22: " in message and "line 23: " not in message
        assert "; and 5 more bad rows. Nothing was imported." in message
        assert [line for line, _ in caught.value.problems] == list(range(3, 28))
        assert crime_count() == 0


def test_a_row_with_several_faults_lists_them_all(app, county):
    with app.app_context(), pytest.raises(CrimeImportError) as caught:
        import_crimes(io.StringIO(crime_csv({"Month": "2026/09", "Crime type": "Arson",
                                             "Longitude": "east"})))
    assert ("line 2: Month '2026/09' is not a month like 2026-09, Crime type 'Arson' is not "
            "a data.police.uk crime type, Longitude 'east' is not a number") in str(caught.value)


def test_a_file_without_a_required_column_is_refused(app, county):
    header = [c for c in HEADER if c not in ("Crime type", "LSOA code")]
    with app.app_context(), pytest.raises(CrimeImportError) as caught:
        import_crimes(io.StringIO(crime_csv(GOOD, header=header)))
    assert str(caught.value).startswith("line 1: missing column(s): LSOA code, Crime type")


def test_crime_id_and_context_may_be_left_out(app, county):
    header = [c for c in HEADER if c not in ("Crime ID", "Context")]
    with app.app_context():
        assert import_crimes(io.StringIO(crime_csv(GOOD, header=header))).rows == 1


def test_a_row_with_more_values_than_the_header_is_bad(app, county):
    text = crime_csv(GOOD, GOOD) + ",".join(GOOD[c] for c in HEADER) + ",extra\n"
    with app.app_context(), pytest.raises(CrimeImportError) as caught:
        import_crimes(io.StringIO(text))
    assert "line 4: has 13 values but the header has 12" in str(caught.value)


# -- replacing ------------------------------------------------------------------------------


def test_importing_a_month_again_replaces_it(app, county):
    with app.app_context():
        load_links()
        import_fixture("crimes-2026-09.csv")
        import_fixture("crimes-2026-10.csv")
        assert crime_count() == 61
        again = import_fixture("crimes-2026-09.csv")
        assert again.replaced == 30
        assert crime_count(SEPTEMBER) == 30 and crime_count() == 61

        # A corrected September: two crimes, both in Riverside; October stays.
        corrected = crime_csv(
            {"Longitude": "-0.260000", "Latitude": "51.990000"},
            {"Longitude": "-0.240000", "Latitude": "51.860000", "Crime type": "Drugs"},
        )
        result = import_crimes(io.StringIO(corrected))
        assert (result.rows, result.replaced) == (2, 30)
        assert crime_count(SEPTEMBER) == 2 and crime_count(OCTOBER) == 31
        assert by_ward(SEPTEMBER) == {"E05900006": 2}
        assert types_in("E05900001", SEPTEMBER) == {}
        assert types_in("E05900001", OCTOBER)["Burglary"] == 6


def test_replacing_keeps_another_forces_crimes_of_the_month(app, county):
    other = {"Reported by": "Transport Police", "Falls within": "Transport Police"}
    with app.app_context():
        import_crimes(io.StringIO(crime_csv(other, other)))
        import_crimes(io.StringIO(crime_csv(GOOD, GOOD, GOOD)))
        result = import_crimes(io.StringIO(crime_csv(GOOD)))
        assert result.replaced == 3
        falls_within = Counter(db.session.scalars(select(Crime.falls_within)))
        assert falls_within == {"Transport Police": 2, "Wealdshire Police": 1}


# -- the command ----------------------------------------------------------------------------


def run_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_the_command_prints_what_it_imported(app, county, tmp_path):
    with app.app_context():
        load_links()
    path = str(FIXTURES / "crimes-2026-09.csv")
    result = run_cli(app, "import-crime", path)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "imported 30 crimes for 2026-09 (26 placed by their point, 4 by LSOA)\n")
    result = run_cli(app, "import-crime", path)
    assert result.output == (
        "imported 30 crimes for 2026-09 (26 placed by their point, 4 by LSOA), "
        "replacing 30\n")

    both = tmp_path / "both.csv"
    both.write_text(crime_csv(GOOD, {"Month": "2026-10"}, {"Month": "2026-08"}),
                    encoding="utf-8")
    result = run_cli(app, "import-crime", str(both))
    assert result.output == (
        "imported 3 crimes for 2026-08, 2026-09 and 2026-10 (3 placed by their point, "
        "0 by LSOA), replacing 30\n")


def test_the_command_refuses_a_bad_file_with_its_line_numbers(app, county, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(crime_csv(GOOD, {"Month": "2026-9"}, GOOD, {"Longitude": "x"}),
                    encoding="utf-8")
    result = run_cli(app, "import-crime", str(path))
    assert result.exit_code != 0
    assert "line 3: Month '2026-9' is not a month like 2026-09" in result.output
    assert "line 5: Longitude 'x' is not a number" in result.output
    assert "Nothing was imported" in result.output
    with app.app_context():
        assert crime_count() == 0


# -- LSOA links -----------------------------------------------------------------------------


def test_lsoa_links_are_imported_and_updated(app, county):
    with app.app_context():
        assert load_links() == 6
        links = {link.lsoa_code: db.session.get(Area, link.area_id).code
                 for link in db.session.scalars(select(LsoaLink))}
        assert links == {"E01900001": "ST000002", "E01900002": "E05900001",
                         "E01900003": "E05900003", "E01900004": "E05900006",
                         "E01900005": "ST000060", "E01900006": "E05900010"}
        moved = "lsoa_code,area_code\nE01900001,ST000003\nE01900099,E05900014\n"
        assert import_lsoa_links(io.StringIO(moved)) == 2
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(LsoaLink)) == 7
        link = db.session.get(LsoaLink, "E01900001")
        assert db.session.get(Area, link.area_id).code == "ST000003"


def test_a_bad_lsoa_file_is_reported_by_line_and_imports_nothing(app, county):
    text = ("lsoa_code,area_code\nE01900001,ST000002\nE01900002,E05999999\n"
            "E01900001,ST000003\n,E05900001\n")
    with app.app_context():
        with pytest.raises(CrimeImportError) as caught:
            import_lsoa_links(io.StringIO(text))
        assert str(caught.value) == (
            "line 3: area_code 'E05999999' is not a known area; "
            "line 4: lsoa_code E01900001 repeats line 2; line 5: lsoa_code is empty. "
            "Nothing was imported.")
        assert db.session.scalar(select(func.count()).select_from(LsoaLink)) == 0

        with pytest.raises(CrimeImportError) as caught:
            import_lsoa_links(io.StringIO("lsoa,area\nE01900001,ST000002\n"))
        assert str(caught.value).startswith("line 1: missing column(s): lsoa_code, area_code")

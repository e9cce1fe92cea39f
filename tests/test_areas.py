"""Loading the area hierarchy and postcodes from CSV."""

import io

import pytest
from sqlalchemy import func, select

from core.areas import DataImportError, import_areas, import_postcodes, normalise_postcode
from core.extensions import db
from core.models import Area, Postcode


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("al1 3ah", "AL1 3AH"), ("AL13AH", "AL1 3AH"), (" sw1a  1aa ", "SW1A 1AA"),
     ("m1 1ae", "M1 1AE"), ("HF1 1FJ", "HF1 1FJ"), ("not a postcode", None), ("AL1", None)],
)
def test_postcodes_are_normalised(raw, expected):
    assert normalise_postcode(raw) == expected


def run_cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_import_fixture_county_builds_the_hierarchy(app, tmp_path):
    from core.demo import FIXTURES

    result = run_cli(app, "import-areas", str(FIXTURES / "areas.csv"))
    assert result.exit_code == 0, result.output
    assert "86 created" in result.output
    result = run_cli(app, "import-postcodes", str(FIXTURES / "postcodes.csv"))
    assert result.exit_code == 0, result.output
    with app.app_context():
        levels = dict(
            db.session.execute(select(Area.level, func.count()).group_by(Area.level)).all()
        )
        assert levels == {"force": 1, "district": 4, "ward": 14, "street": 67}
        street = db.session.get(Postcode, "HF1 1FJ").area
        chain = [db.session.get(Area, int(i)).level for i in street.path.strip("/").split("/")]
        assert chain == ["force", "district", "ward", "street"]


def test_importing_twice_updates_instead_of_duplicating(app):
    from core.demo import FIXTURES

    run_cli(app, "import-areas", str(FIXTURES / "areas.csv"))
    result = run_cli(app, "import-areas", str(FIXTURES / "areas.csv"))
    assert "0 created, 86 updated" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Area)) == 86


GOOD = "code,name,level,parent_code,households\nE1,Shire,force,,\nD1,Town,district,E1,100\n"


@pytest.mark.parametrize(
    ("bad_row", "line", "reason"),
    [
        ("W1,Ward,ward,NOPE,10", 4, "parent_code NOPE"),
        ("W1,Ward,galaxy,D1,10", 4, "level 'galaxy'"),
        ("W1,,ward,D1,10", 4, "name is empty"),
        ("W1,Ward,ward,D1,many", 4, "not a whole number"),
        ("W1,Ward,ward,E1,10", 4, "cannot sit under a force"),
        ("D1,Again,district,E1,10", 4, "repeats line 3"),
    ],
)
def test_a_bad_area_row_reports_its_line_and_imports_nothing(app, tmp_path, bad_row, line,
                                                             reason):
    path = tmp_path / "areas.csv"
    path.write_text(GOOD + bad_row + "\nW2,Fine,ward,D1,5\n")
    result = run_cli(app, "import-areas", str(path))
    assert result.exit_code != 0
    assert f"line {line}" in result.output and reason in result.output
    assert "Nothing was imported" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Area)) == 0


def test_a_bad_postcode_row_reports_its_line_and_imports_nothing(app, tmp_path):
    areas = tmp_path / "areas.csv"
    areas.write_text(GOOD + "W1,Ward,ward,D1,10\nS1,High St,street,W1,10\n")
    assert run_cli(app, "import-areas", str(areas)).exit_code == 0
    postcodes = tmp_path / "postcodes.csv"
    postcodes.write_text(
        "postcode,area_code,latitude,longitude\nhf1 1aa,S1,51.9,-0.3\nHF1 1AB,S1,51.9,-0.3\n"
        "HF1 1AD,S9,51.9,-0.3\n"
    )
    result = run_cli(app, "import-postcodes", str(postcodes))
    assert result.exit_code != 0
    assert "line 4" in result.output and "S9" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Postcode)) == 0
    postcodes.write_text("postcode,area_code\nhf1 1aa,S1\n")
    assert run_cli(app, "import-postcodes", str(postcodes)).exit_code == 0
    with app.app_context():
        assert db.session.get(Postcode, "HF1 1AA").area.code == "S1"


def test_boundaries_must_be_geojson_polygons(app):
    bad = GOOD + 'W1,Ward,ward,D1,10,"{""type"":""Point"",""coordinates"":[0,0]}"\n'
    with app.app_context(), pytest.raises(DataImportError, match="line 4.*Polygon"):
        import_areas(io.StringIO(bad.replace("households\n", "households,boundary\n", 1)))


def test_long_imports_report_progress(app):
    rows = ["code,name,level,parent_code", "E1,Shire,force,"]
    rows += [f"D{i},Town {i},district,E1" for i in range(1200)]
    seen = []
    with app.app_context():
        import_areas(io.StringIO("\n".join(rows) + "\n"), progress=seen.append)
    assert seen == [500, 1000]


def test_postcode_import_resolves_levels_below_configured_hierarchy(make_app, tmp_path):
    app = make_app(AREA_LEVELS="force,district,ward")
    areas = tmp_path / "areas.csv"
    areas.write_text(GOOD + "W1,Ward,ward,D1,10\nS1,High St,street,W1,10\n")
    result = run_cli(app, "import-areas", str(areas))
    assert result.exit_code != 0 and "level 'street'" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Area)) == 0
    with app.app_context(), pytest.raises(DataImportError):
        import_postcodes(io.StringIO("postcode,area_code\nHF1 1AA,S1\n"))

"""Coverage, crime and the ranking of where to focus, on a fixture with known answers;
scope; small cells; "You said, we did"; and the plugin with surveys and surgery off."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core.api import Area, Message, Staff, db
from core.models import MemberAccess
from plugins.insights.figures import refresh
from plugins.insights.models import Crime, Feedback, Figures, Snapshot

ASHENDRY = "E07900001"
NORTH, SOUTH, CHURCH_END, KINGSMEAD = "E05900001", "E05900002", "E05900003", "E05900004"
#: Registered households per ward (households in the areas file: 420, 399, 509, 435).
REGISTERED = {NORTH: 20, SOUTH: 5, CHURCH_END: 51, KINGSMEAD: 10}


def _street(code: str) -> int:
    ward = db.session.scalar(select(Area).where(Area.code == code))
    return db.session.scalar(select(Area.id).where(Area.parent_id == ward.id).order_by(Area.id))


def add_crimes(app, ward: str, month: date, crime_type: str, count: int) -> None:
    with app.app_context():
        street = _street(ward)
        db.session.add_all([Crime(month=month, crime_type=crime_type, area_id=street,
                                  falls_within="Wealdshire Police") for _ in range(count)])
        db.session.commit()


@pytest.fixture
def ashendry(app, make_member, make_staff):
    """Ashendry's four wards with REGISTERED households (North has one more member,
    sharing an address), burglaries in North rising from 5 to 8 over the last three
    months, 2 crimes in Church End; and the district's supervisor."""
    people = {}
    for ward, households in REGISTERED.items():
        people[ward] = [make_member(area=ward, email=f"{ward}.{i}@example.org",
                                    address_line=f"{i} {ward} Road",
                                    demographics={"age_band": "25_44" if i % 4 else "65_74"})
                        for i in range(households)]
    people[NORTH].append(make_member(area=NORTH, email="partner@example.org",
                                     address_line=f"0 {NORTH} Road"))
    add_crimes(app, NORTH, date(2026, 6, 1), "Burglary", 5)       # three months before
    add_crimes(app, NORTH, date(2026, 9, 1), "Burglary", 3)       # the last three months
    add_crimes(app, NORTH, date(2026, 10, 1), "Burglary", 5)
    add_crimes(app, CHURCH_END, date(2026, 10, 1), "Vehicle crime", 2)
    add_crimes(app, CHURCH_END, date(2026, 3, 1), "Vehicle crime", 9)  # too old to count
    with app.app_context():
        refresh()
    return {"people": people,
            "supervisor": make_staff("supervisor", areas=[ASHENDRY], name="Sgt Focus")}


def _figures(app, code):
    with app.app_context():
        area = db.session.scalar(select(Area).where(Area.code == code))
        f = db.session.get(Figures, area.id)
        db.session.expunge(f)
        return f


def test_coverage_and_crime_figures_are_exact(app, ashendry):
    district = _figures(app, ASHENDRY)
    assert (district.households, district.registered, district.members) == (1763, 86, 87)
    assert (district.crimes, district.crimes_before) == (10, 5)
    north = _figures(app, NORTH)
    assert (north.households, north.registered, north.members) == (420, 20, 21)
    assert north.crime_types == {"Burglary": [8, 5]}
    assert _figures(app, CHURCH_END).crime_types == {"Vehicle crime": [2, 0]}
    assert _figures(app, SOUTH).registered == 5
    # Each month's coverage is kept.
    with app.app_context():
        months = db.session.scalars(select(Snapshot.month).distinct()).all()
        assert len(months) == 1 and months[0].day == 1


def test_the_wards_are_ranked_with_reasons_in_words(app, ashendry, login):
    # Scores (weights 0.4 coverage, 0.4 crime, 0.2 concern), by hand: district coverage
    # 86/1763 = 4.88%; North 20/420 = 4.76% (gap 0.024), crimes 8/420 the highest (1.0):
    # 41.0. South 5/399 = 1.25% (gap 0.743): 29.7. Kingsmead 10/435 = 2.30% (gap 0.529):
    # 21.1. Church End 10.0% (no gap), crimes 2/509 = 0.206 of North's: 8.3.
    scores = {code: _figures(app, code).score for code in REGISTERED}
    assert scores == {NORTH: 41.0, SOUTH: 29.7, KINGSMEAD: 21.1, CHURCH_END: 8.3}
    client = login(app.test_client(), staff=ashendry["supervisor"])
    page = client.get(f"/insights/?area={ASHENDRY}").get_data(as_text=True)
    focus = page[page.index('id="focus"'):page.index("</ol>", page.index('id="focus"'))]
    order = [focus.index(name) for name in ("Ashendry North", "Ashendry South", "Kingsmead",
                                            "Church End")]
    assert order == sorted(order)
    north = focus[:focus.index("Ashendry South")]
    assert "coverage 4.8% vs 4.9% in Ashendry" in north
    assert "Burglary up 60% on the three months before" in north
    assert "19 crimes per 1,000 households vs 6" in north
    assert "Send a crime prevention message about Burglary" in north
    south = focus[focus.index("Ashendry South"):focus.index("Kingsmead")]
    assert "coverage 1.3% vs 4.9% in Ashendry" in south
    assert "Knock on doors to sign more residents up" in south
    # Without surveys or surgery there are no concerns: a survey is suggested instead.
    assert "Run a targeted survey" in south
    assert "5% of 1,763 households have someone registered (86)" in page


def test_an_officer_sees_only_their_areas(app, ashendry, make_staff, login):
    officer = make_staff("officer", areas=[NORTH])
    client = login(app.test_client(), staff=officer)
    assert client.get("/insights/").status_code == 200  # their own ward by default
    page = client.get(f"/insights/?area={NORTH}").get_data(as_text=True)
    assert "Ashendry North" in page
    for path in (f"/insights/?area={ASHENDRY}", f"/insights/?area={SOUTH}",
                 "/insights/?area=E10900001", f"/insights/areas.geojson?area={SOUTH}",
                 f"/insights/feedback?area={SOUTH}", "/insights/?area=NOWHERE"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/insights/feedback?area={SOUTH}", data={
        "you_said": "x", "we_did": "y", "submit": "y"}).status_code == 404
    assert client.get(f"/insights/contacts?area={NORTH}").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_demographic_cells_under_the_minimum_are_hidden(app, ashendry, login):
    client = login(app.test_client(), staff=ashendry["supervisor"])
    # North: 15 aged 25-44 and 5 aged 65-74 (every fourth), the partner answered nothing.
    page = client.get(f"/insights/?area={NORTH}").get_data(as_text=True)
    table = page[page.index('id="demographics-age_band"'):]
    table = table[:table.index("</table>")]
    assert ">15<" in table and ">5<" in table
    app.config["INSIGHTS_MIN_CELL"] = 6
    page = client.get(f"/insights/?area={NORTH}").get_data(as_text=True)
    table = page[page.index('id="demographics-age_band"'):]
    table = table[:table.index("</table>")]
    assert ">15<" in table and "fewer than 6" in table and ">5<" not in table


def test_the_map_data_shades_each_ward(app, ashendry, login):
    client = login(app.test_client(), staff=ashendry["supervisor"])
    data = client.get(f"/insights/areas.geojson?area={ASHENDRY}&shade=coverage").get_json()
    shades = {f["properties"]["code"]: (f["properties"]["value"], f["properties"]["class"])
              for f in data["features"]}
    # Classes split the range 1.3 to 10.0 into fifths: 4.8 is in the third.
    assert shades == {NORTH: (4.8, 2), SOUTH: (1.3, 0), CHURCH_END: (10.0, 4),
                      KINGSMEAD: (2.3, 0)}
    assert all(f["geometry"]["type"] == "Polygon" for f in data["features"])


def test_key_contacts_are_shown_only_to_supervisors_and_logged(app, ashendry, make_member,
                                                                login):
    contact = make_member(area=NORTH, name="Carys Contact", email="carys@example.org",
                          fields={"insights.community_contact": "yes"})
    make_member(area=NORTH, name="Not Asked", email="no@example.org")
    client = login(app.test_client(), staff=ashendry["supervisor"])
    page = client.get(f"/insights/contacts?area={ASHENDRY}").get_data(as_text=True)
    assert "Carys Contact" in page and "Not Asked" not in page
    with app.app_context():
        assert db.session.scalars(select(MemberAccess.member_id)).all() == [contact]


def test_you_said_we_did_goes_through_messaging_and_not_too_often(app, ashendry, login):
    client = login(app.test_client(), staff=ashendry["supervisor"])
    form = client.get(f"/insights/feedback?area={NORTH}&concern=Burglary").get_data(
        as_text=True)
    assert "Burglary" in form
    page = client.post(f"/insights/feedback?area={NORTH}", data={"you_said": " ",
                                                                "we_did": "", "submit": "y"})
    assert "Say what residents told you" in page.get_data(as_text=True)
    response = client.post(f"/insights/feedback?area={NORTH}", data={
        "you_said": "Burglaries on your street worry you",
        "we_did": "We patrolled every evening and marked 40 bikes", "submit": "y"})
    assert response.status_code == 302 and "/check" in response.location
    with app.app_context():
        message = db.session.scalar(select(Message))
        assert message.title == "You said, we did: Ashendry North"
        assert message.target["areas"] == [NORTH] and message.status == "draft"
        assert "We patrolled every evening" in message.body
        # Welsh readers get the message's own words in Welsh.
        assert message.title_cy == "Dywedoch chi, gwnaethom ni: Ashendry North"
        assert "**Gwnaethom ni:** We patrolled" in message.body_cy
    # A second update to the same ward within 14 days is refused, saying when.
    again = client.post(f"/insights/feedback?area={NORTH}", data={
        "you_said": "More", "we_did": "More", "submit": "y"}).get_data(as_text=True)
    assert "had an update on" in again and "wait until" in again
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Feedback)) == 1
    # The dashboard counts it against the ward.
    page = client.get(f"/insights/?area={ASHENDRY}").get_data(as_text=True)
    table = page[page.index('id="areas"'):]
    row = table[table.index("Ashendry North"):table.index("</tr>", table.index("Ashendry North"))]
    assert row.rstrip().endswith('numeric">1</td>')


@pytest.mark.parametrize("commonwatch_plugins", ["insights,surveys,surgery"])
def test_concerns_from_surveys_and_surgery_feed_the_ranking(app, ashendry, make_staff,
                                                           login):
    from datetime import timedelta

    from core.api import utcnow
    from plugins.surgery.models import Case
    from plugins.surveys.tests.helpers import make_survey, open_round, question_ids, respond

    supervisor = ashendry["supervisor"]
    survey_id = make_survey(app, supervisor)
    round_id = open_round(app, survey_id, supervisor, [], send=False)
    q = question_ids(app, survey_id)
    for i, member in enumerate(ashendry["people"][SOUTH]):  # everyone ranks Speeding
        respond(app, round_id, member, {q[3]: [2, 0, 1] if i < 3 else [2, 3]})
    with app.app_context():
        ward = db.session.scalar(select(Area).where(Area.code == KINGSMEAD))
        org = db.session.get(Staff, supervisor).organisation_id
        now = utcnow()
        db.session.add(Case(kind="concern", organisation_id=org, team_area_id=ward.id,
                            area_id=ward.id, topic="drugs", description="Dealing",
                            due_at=now + timedelta(days=7), submitted_at=now))
        db.session.commit()
        refresh()
    south, kingsmead = _figures(app, SOUTH), _figures(app, KINGSMEAD)
    assert south.concerns == {"Speeding": 5, "Anti-social behaviour": 3, "Burglary": 3,
                              "Drugs": 2}
    assert kingsmead.concerns == {"Drugs": 1}
    client = login(app.test_client(), staff=supervisor)
    page = client.get(f"/insights/?area={ASHENDRY}").get_data(as_text=True)
    assert "top concern: Speeding" in page and "top concern: Drugs" in page


def test_the_shipped_crime_files_import_and_show_burglary_rising(app, ashendry, login):
    from pathlib import Path

    fixtures = Path(__file__).parent.parent / "fixtures"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["insights", "import-lsoa", str(fixtures / "lsoa.csv")])
    assert result.exit_code == 0 and "linked 6 LSOAs" in result.output
    for month in ("2026-09", "2026-10"):
        result = runner.invoke(args=["import-crime", str(fixtures / f"crimes-{month}.csv")])
        assert result.exit_code == 0, result.output
    result = runner.invoke(args=["insights", "refresh"])
    assert result.exit_code == 0 and "refreshed the figures of" in result.output
    # The files replace the fixture's own September and October crimes (same force):
    # North's burglaries are now the files' 2 and 6, against June's 5.
    north = _figures(app, NORTH)
    assert north.crime_types["Burglary"] == [8, 5]
    client = login(app.test_client(), staff=ashendry["supervisor"])
    page = client.get(f"/insights/?area={ASHENDRY}").get_data(as_text=True)
    assert "Burglary up 60% on the three months before" in page
    # Church End holds the files' 3 and 3; its own 2 October vehicle crimes are gone.
    church_end = _figures(app, CHURCH_END)
    assert church_end.crimes == 6 and "Vehicle crime" not in church_end.crime_types


def test_indicators_are_imported_all_or_nothing(app, ashendry, login, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("area_code,name,value\nE05900001,imd_decile,3\nE07900001,imd_decile,5\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("area_code,name,value\nE05900002,imd_decile,4\nNOWHERE,imd_decile,2\n"
                   "E05900003,IMD Decile,x\n")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["insights", "import-indicators", str(bad)])
    assert result.exit_code != 0
    assert "line 3: no area has the code 'NOWHERE'" in result.output
    assert "line 4: the name must be lower-case" in result.output
    result = runner.invoke(args=["insights", "import-indicators", str(good)])
    assert result.exit_code == 0 and "imported 2 indicators" in result.output
    from plugins.insights.models import Indicator

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Indicator)) == 2
    client = login(app.test_client(), staff=ashendry["supervisor"])
    page = client.get(f"/insights/?area={NORTH}").get_data(as_text=True)
    assert "imd_decile" in page


def test_an_area_without_households_of_its_own_adds_up_those_inside_it(app, ashendry):
    with app.app_context():
        district = db.session.scalar(select(Area).where(Area.code == ASHENDRY))
        district.households = 0
        db.session.commit()
        refresh()
    # 420 + 399 + 509 + 435, from its wards.
    assert _figures(app, ASHENDRY).households == 1763

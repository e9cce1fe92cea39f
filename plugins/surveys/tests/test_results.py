"""Results: exact counts under area, demographic, interest and answer filters, small
cells suppressed, the CSV export, and each officer seeing only their areas."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from core.api import Area, Staff, db
from core.models import MemberAccess
from plugins.surveys.models import Round
from plugins.surveys.results import Filters, response_rates, results
from plugins.surveys.tests.helpers import make_survey, open_round, question_ids, respond

ASHENDRY, BRACKENFORD, MILLBROOK = "E07900001", "E07900002", "E07900003"
#: (ward, age band, feels safe: 0 yes / 1 no, worries, mark, ranking, words)
PEOPLE = [
    ("E05900001", "25_44", 0, [0], 5, [1, 2, 0], "More patrols"),
    ("E05900001", "25_44", 0, [0, 1], 4, [1, 0, 2], None),
    ("E05900002", "25_44", 1, [2], 2, [2, 1, 0], "Street lights are out"),
    ("E05900002", "65_74", 0, [0], 4, [1, 2, 3], None),
    ("E05900003", "65_74", 0, [1], 3, [0, 1, 2], None),
    ("E05900004", "65_74", 1, [0, 2], 1, [3, 2, 1], None),
    ("E05900005", "25_44", 0, [1], 5, [2, 1, 0], None),
    ("E05900005", "25_44", 0, [1], 5, [2, 0, 1], None),
    ("E05900006", "65_74", 0, [1, 2], 4, [2, 1, 3], None),
    ("E05900007", "65_74", 0, [1], 4, [1, 2, 0], "Cars race down Mill Lane"),
    ("E05900008", "75_plus", 0, [], 3, [2, 1, 0], None),
    ("E05900009", "25_44", 1, [2], 1, [3, 0, 1], None),
    ("E05900010", "75_plus", 0, [0], 2, [0, 3, 1], None),
]


@pytest.fixture
def survey(app, make_staff, make_member):
    """A round answered by PEOPLE across three districts; the force-wide supervisor."""
    supervisor = make_staff("supervisor", areas=["E10900001"])
    survey_id = make_survey(app, supervisor)
    round_id = open_round(app, survey_id, supervisor, [], send=False)
    q = question_ids(app, survey_id)
    members = []
    for i, (ward, age, safe, worries, mark, ranking, words) in enumerate(PEOPLE):
        member = make_member(area=ward, demographics={"age_band": age},
                             email=f"person{i}@example.org")
        members.append(member)
        answers = {q[0]: safe, q[1]: worries, q[2]: mark, q[3]: ranking}
        if words:
            answers[q[4]] = words
        respond(app, round_id, member, answers)
    # A draft counts nowhere.
    respond(app, round_id, make_member(area="E05900001"), {q[0]: 1}, state="draft")
    return {"survey_id": survey_id, "round_id": round_id, "q": q, "supervisor": supervisor,
            "members": members}


def _results(app, survey, staff_id=None, **filters):
    with app.app_context():
        round_ = db.session.get(Round, survey["round_id"])
        staff = db.session.get(Staff, staff_id or survey["supervisor"])
        if "area" in filters:
            filters["area"] = db.session.scalar(select(Area).where(Area.code == filters["area"]))
        found = results(round_, staff, Filters(**filters))
        return found.respondents, found.shown, {
            r.question.text: (r.answered, [(b.label, b.count) for b in r.bars], r.mean,
                              [t for t, _area in r.texts])
            for r in found.questions}


def test_counts_for_everyone_with_small_cells_hidden(app, survey):
    total, shown, by_question = _results(app, survey)
    assert (total, shown) == (13, True)
    # 10 feel safe; the 3 who do not are fewer than 5, so that figure is hidden.
    assert by_question["Do you feel safe after dark?"][:2] == (13, [("Yes", 10), ("No", None)])
    assert by_question["What worries you?"][:2] == (
        12, [("Burglary", 5), ("Speeding", 6), ("Drugs", None)])
    # Marks 1, 2 and 3 were given twice each, 4 four times, 5 three times: all hidden.
    answered, marks, mean, _texts = by_question["How well do we keep you informed?"]
    assert marks == [("1", None), ("2", None), ("3", None), ("4", None), ("5", None)]
    assert mean == pytest.approx(43 / 13)
    answered, ranked, _mean, _texts = by_question["Rank your top 3 local priorities"]
    # How many put each in their top 3, ordered by score (3 for first, 2 for second, 1
    # for third: Burglary 26, Speeding 25, Anti-social behaviour 17, Drugs 10).
    assert ranked == [("Burglary", 13), ("Speeding", 11), ("Anti-social behaviour", 10),
                      ("Drugs", 5)]
    assert sorted(by_question["Anything else?"][3]) == []  # only 3 wrote: fewer than 5


def test_a_district_filter_gives_exact_counts(app, survey):
    app.config["SURVEY_MIN_CELL"] = 1
    total, shown, by_question = _results(app, survey, area=ASHENDRY)
    assert total == 6
    assert by_question["Do you feel safe after dark?"][:2] == (6, [("Yes", 4), ("No", 2)])
    assert by_question["What worries you?"][1] == [("Burglary", 4), ("Speeding", 2),
                                                   ("Drugs", 2)]
    assert sorted(by_question["Anything else?"][3]) == ["More patrols", "Street lights are out"]
    total, _shown, by_question = _results(app, survey, area=BRACKENFORD)
    assert total == 5
    assert by_question["Do you feel safe after dark?"][1] == [("Yes", 5), ("No", 0)]
    # A ward inside the district.
    assert _results(app, survey, area="E05900005")[0] == 2


def test_demographic_interest_and_answer_filters(app, survey):
    app.config["SURVEY_MIN_CELL"] = 1
    total, _shown, by_question = _results(app, survey, age_band="65_74")
    assert total == 5
    assert by_question["Do you feel safe after dark?"][1] == [("Yes", 4), ("No", 1)]
    # Cross-filter: those who do not feel safe, and what worries them.
    q = survey["q"]
    total, _shown, by_question = _results(app, survey, question_id=q[0], value=1)
    assert total == 3
    assert by_question["What worries you?"][1] == [("Burglary", 1), ("Speeding", 0),
                                                   ("Drugs", 3)]
    assert _results(app, survey, age_band="65_74", area=BRACKENFORD)[0] == 2
    # Nobody has an interest here (no watch type is enabled): nobody is counted.
    assert _results(app, survey, interest="rural_watch.horse")[:2] == (0, False)


def test_too_few_respondents_show_nothing_on_the_page(app, survey, login):
    client = login(app.test_client(), staff=survey["supervisor"])
    base = f"/surveys/staff/{survey['survey_id']}/results"
    page = client.get(f"{base}?area={MILLBROOK}").get_data(as_text=True)
    assert "Fewer than 5 people answered" in page and "survey-chart" not in page
    assert "results are shown only where at least 5 people answered" in page
    page = client.get(f"{base}?area={ASHENDRY}").get_data(as_text=True)
    assert "6 people answered" in page
    # 4 yes and 2 no in Ashendry: both below 5, so neither number is shown.
    section = page.split("<section")[1]
    assert section.count("fewer than 5") == 2 and ">4</td>" not in section
    # Two people aged 25 to 44 do not feel safe (choice 2).
    page = client.get(f"{base}?age_band=25_44&q={survey['q'][0]}&a=2").get_data(as_text=True)
    assert "Fewer than 5 people answered" in page


def test_an_officer_sees_results_only_from_their_areas(app, survey, make_staff, login):
    officer = make_staff("officer", areas=[ASHENDRY])
    app.config["SURVEY_MIN_CELL"] = 1
    assert _results(app, survey, staff_id=officer)[0] == 6
    client = login(app.test_client(), staff=officer)
    base = f"/surveys/staff/{survey['survey_id']}"
    page = client.get(f"{base}/results").get_data(as_text=True)
    assert "6 people answered" in page and "Cars race down Mill Lane" not in page
    # Another district's code is refused by the field, and counts nothing more.
    page = client.get(f"{base}/results?area={BRACKENFORD}").get_data(as_text=True)
    assert "Enter the code of one of your areas" in page and "6 people answered" in page
    # Officers may not export or list respondents; another organisation sees no survey.
    assert client.get(f"{base}/results.csv").status_code == 403
    assert client.get(f"{base}/respondents").status_code == 403
    council = make_staff("supervisor", areas=["E10900001"], organisation="ashendry-council")
    other = login(app.test_client(), staff=council)
    for path in ("", "/results", "/trends", "/results.csv", "/respondents", "/invite",
                 "/settings", "/questions/new"):
        assert other.get(f"{base}{path}").status_code == 404, path
    assert other.post(f"{base}/sections", data={"title": "x", "add_section": "y"}
                      ).status_code == 404


def test_the_csv_export_has_a_row_per_response_and_is_logged(app, survey, login):
    client = login(app.test_client(), staff=survey["supervisor"])
    response = client.get(f"/surveys/staff/{survey['survey_id']}/results.csv?area={ASHENDRY}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:10] == ["response", "round", "submitted_at", "area_code", "area",
                            "age_band", "ethnic_group", "member_id", "name", "email"]
    assert rows[0][10:] == ["Q1. Do you feel safe after dark?", "Q2. What worries you?",
                            "Q3. How well do we keep you informed?",
                            "Q4. Rank your top 3 local priorities", "Q5. Anything else?"]
    assert len(rows) == 7
    first = rows[1]
    assert first[1:8] == ["1", first[2], "E05900001" if first[3] == "E05900001" else first[3],
                          first[4], "25_44", "", str(survey["members"][0])]
    assert first[8:] == ["Resident 1", "person0@example.org", "Yes", "Burglary", "5",
                         "Burglary; Speeding; Anti-social behaviour", "More patrols"]
    assert {r[9] for r in rows[1:]} == {f"person{i}@example.org" for i in range(6)}
    with app.app_context():
        logged = db.session.scalars(select(MemberAccess.member_id).where(
            MemberAccess.action == "export")).all()
        assert sorted(logged) == sorted(survey["members"][:6])


def test_response_rates_per_area(app, make_staff, make_member):
    app.config["SURVEY_MIN_CELL"] = 1
    officer = make_staff("supervisor", areas=[ASHENDRY])
    people = [make_member(area=w, email=f"r{i}@example.org") for i, w in enumerate(
        ["E05900001", "E05900001", "E05900001", "E05900002", "E05900002"])]
    survey_id = make_survey(app, officer)
    round_id = open_round(app, survey_id, officer, [ASHENDRY], send=False)
    q = question_ids(app, survey_id)
    respond(app, round_id, people[0], {q[0]: 0})
    respond(app, round_id, people[3], {q[0]: 1})
    with app.app_context():
        staff = db.session.get(Staff, officer)
        district = db.session.scalar(select(Area).where(Area.code == ASHENDRY))
        rates = {r.area.code: (r.invited, r.responded, r.rate)
                 for r in response_rates(db.session.get(Round, round_id), staff, district)}
    assert rates["E05900001"] == (3, 1, pytest.approx(1 / 3))
    assert rates["E05900002"] == (2, 1, 0.5)
    assert rates["E05900003"] == (0, 0, None)


def test_each_question_lists_its_own_newest_words(app, make_staff, make_member):
    app.config["SURVEY_MIN_CELL"] = 1
    officer = make_staff("supervisor", areas=[ASHENDRY])
    survey_id = make_survey(app, officer, questions=[
        {"kind": "text", "text": "What works?"}, {"kind": "text", "text": "What does not?"}])
    round_id = open_round(app, survey_id, officer, [], send=False)
    q = question_ids(app, survey_id)
    for i in range(3):
        answers = {q[0]: f"works {i}"}
        if i < 2:
            answers[q[1]] = f"fails {i}"
        respond(app, round_id, make_member(area="E05900001", email=f"t{i}@example.org"),
                answers)
    with app.app_context():
        found = results(db.session.get(Round, round_id), db.session.get(Staff, officer),
                        Filters(), texts_limit=2)
        texts = {r.question.text: [t for t, _area in r.texts] for r in found.questions}
    assert texts == {"What works?": ["works 2", "works 1"],
                     "What does not?": ["fails 1", "fails 0"]}


def test_trends_compare_rounds_and_respondents_are_listed_to_supervisors_only(
        app, make_staff, make_member, login):
    app.config["SURVEY_MIN_CELL"] = 1
    supervisor = make_staff("supervisor", areas=[ASHENDRY])
    survey_id = make_survey(app, supervisor)
    q = question_ids(app, survey_id)
    people = [make_member(area="E05900001", name=f"Neighbour {i}", email=f"n{i}@example.org")
              for i in range(4)]
    first = open_round(app, survey_id, supervisor, [], send=False)
    for member, safe in zip(people, (0, 0, 0, 1), strict=True):  # 75% feel safe
        respond(app, first, member, {q[0]: safe, q[2]: 2})
    second = open_round(app, survey_id, supervisor, [], send=False)
    for member, safe in zip(people, (0, 1, 1, 1), strict=True):  # then 25%
        respond(app, second, member, {q[0]: safe, q[2]: 4})
    client = login(app.test_client(), staff=supervisor)
    page = client.get(f"/surveys/staff/{survey_id}/trends").get_data(as_text=True)
    table = page[page.index("Do you feel safe after dark?</caption>"):]
    table = table[:table.index("</table>")]
    assert "Round 1" in table and "Round 2" in table
    yes_row = table[table.index(">Yes<"):table.index(">No<")]
    assert yes_row.index("75%") < yes_row.index("25%")
    assert "2.0" in page and "4.0" in page  # the average mark, round by round
    # Response rates per area of the supervisor: all 4 invited to round 2 answered.
    rates = page[page.index('id="rates"'):]
    rates = rates[:rates.index("</table>")]
    assert "Ashendry" in rates and "100%" in rates
    page = client.get(f"/surveys/staff/{survey_id}/respondents?round=2").get_data(as_text=True)
    assert all(f"Neighbour {i}" in page for i in range(4))
    with app.app_context():
        viewed = db.session.scalars(select(MemberAccess.member_id).where(
            MemberAccess.action == "view")).all()
        assert sorted(viewed) == sorted(people)


def test_top_priorities_are_told_as_area_concerns(app, survey):
    from datetime import timedelta

    from core.api import utcnow

    with app.app_context():
        plugins = app.extensions["commonwatch"].plugins
        (concerns,) = plugins.call("commonwatch_area_concerns",
                                   since=utcnow() - timedelta(days=1))
        totals: dict[str, int] = {}
        for c in concerns:
            assert c.source == "survey priorities"
            totals[c.label] = totals.get(c.label, 0) + c.count
        assert totals == {"Burglary": 13, "Speeding": 11, "Anti-social behaviour": 10,
                          "Drugs": 5}
        # Each respondent's area: the two in ward E05900005's streets ranked Speeding.
        assert not plugins.call("commonwatch_area_concerns",
                                since=utcnow() + timedelta(minutes=1))[0]

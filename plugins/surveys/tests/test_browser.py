"""A member answers a survey on a phone by the link in their invitation, without signing
in, and the officer sees the results' chart change (headless Chromium; axe-core checks
each page)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.api import Staff, db
from core.testing.browser import sign_in_staff
from plugins.surveys.tests.helpers import make_survey, open_round, question_ids

pytestmark = pytest.mark.browser

WARD = "E05900001"
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}


def test_a_member_answers_on_a_phone_and_the_officer_sees_the_chart_change(
        app, live_server, make_member, make_staff, browser_page, make_browser_page, outbox):
    app.config["BASE_URL"] = live_server
    # One answer is enough to show figures here (the default hides fewer than 5).
    app.config["SURVEY_MIN_CELL"] = 1
    officer_id = make_staff("officer", areas=[WARD], name="PC Rhian Evans",
                            email="rhian@police.example.org")
    make_member(area=WARD, name="Gwen Hughes", email="gwen@example.org")
    survey_id = make_survey(app, officer_id)
    open_round(app, survey_id, officer_id, [WARD])
    (mail,) = outbox.wait_for(1)
    assert mail["To"] == "gwen@example.org"
    # The link points at the live server (helpers.personal_path expects the default
    # BASE_URL), so it is taken from the email's links.
    link = next(u for u in outbox.links(mail) if "/surveys/answer/" in u)
    first = question_ids(app, survey_id)[0]
    results_url = f"{live_server}/surveys/staff/{survey_id}/results"

    # The officer looks at the results before anyone answered: no figures, no chart.
    with app.app_context():
        secret = db.session.scalar(select(Staff.totp_secret).where(Staff.id == officer_id))
    officer = browser_page
    sign_in_staff(officer, live_server, "rhian@police.example.org", secret)
    officer.goto(results_url)
    expect(officer.get_by_role("heading", level=1)).to_have_text("Results of round 1")
    expect(officer.locator("#respondents")).to_contain_text("No one has answered yet")
    expect(officer.locator("svg.survey-chart")).to_have_count(0)
    expect(officer.get_by_role("heading", name="1. Do you feel safe after dark?")
           ).to_have_count(0)

    # The member answers on a phone, by their own link, without signing in.
    member = make_browser_page(**PHONE)
    member.goto(link)
    expect(member.get_by_role("heading", level=1)).to_have_text("Community priorities")
    # Laid out at the phone's width (the page has a viewport meta tag), and no part of
    # the form needs scrolling sideways.
    assert member.evaluate("window.innerWidth") == 375
    assert member.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    member.get_by_role("group", name="1. Do you feel safe after dark?").get_by_role(
        "radio", name="Yes", exact=True).check()
    worries = member.get_by_role("group", name="2. What worries you? (optional)")
    worries.get_by_role("checkbox", name="Burglary", exact=True).check()
    worries.get_by_role("checkbox", name="Speeding", exact=True).check()
    member.get_by_role("group", name="3. How well do we keep you informed?").get_by_role(
        "radio", name="4", exact=True).check()
    ranking = member.get_by_role("group", name="4. Rank your top 3 local priorities (optional)")
    ranking.get_by_label("Most important", exact=True).select_option(label="Speeding")
    ranking.get_by_label("Second", exact=True).select_option(label="Anti-social behaviour")
    ranking.get_by_label("Third", exact=True).select_option(label="Drugs")
    member.get_by_label("5. Anything else? (optional)", exact=True).fill(
        "More patrols on Mill Lane at night, please.")
    member.get_by_role("button", name="Send your answers").click()
    expect(member.get_by_text("Thank you: your answers are sent.")).to_be_visible()
    expect(member.get_by_text("You have answered this survey.")).to_be_visible()
    expect(member.get_by_role("button", name="Update your answers")).to_be_visible()
    assert member.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The officer reloads the results: one person, and every "Yes" makes a full bar.
    officer.reload()
    expect(officer.locator("#respondents")).to_have_text("1 person answered")
    question = officer.locator("section", has=officer.get_by_role(
        "heading", name="1. Do you feel safe after dark?", exact=True))
    expect(question.get_by_text("1 person answered", exact=True)).to_be_visible()
    chart = question.locator(f"svg[aria-labelledby='chart-{first}-title']")
    expect(chart).to_have_count(1)
    bars = chart.locator("rect[fill='#1d70b8']")
    expect(bars).to_have_count(2)
    assert [float(w) for w in (bars.nth(0).get_attribute("width"),
                               bars.nth(1).get_attribute("width"))] == [300.0, 0.0]
    rows = question.get_by_role("table").get_by_role("row")
    yes = rows.filter(has=officer.get_by_role("rowheader", name="Yes", exact=True))
    no = rows.filter(has=officer.get_by_role("rowheader", name="No", exact=True))
    expect(yes.get_by_role("cell")).to_have_text(["1", "100%"])
    expect(no.get_by_role("cell")).to_have_text(["0", "0%"])
    expect(officer.get_by_text("More patrols on Mill Lane at night, please.")).to_be_visible()
    # axe-core checked both people's pages (the officer's last one is checked at teardown).
    assert any("/surveys/answer/" in url for url in member.checked_urls)
    assert any(url == results_url for url in officer.checked_urls)

"""A horse owner signs up with the yard where her horses are kept; an officer aims an
alert at horse owners in that yard's ward and she gets it (headless Chromium; axe-core
checks each page)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.api import Staff, db
from core.testing.browser import sign_in_staff
from core.testing.pytest_plugin import DEFAULT_PASSWORD, postcode_in

pytestmark = pytest.mark.browser

HOME_WARD, YARD_WARD = "E05900001", "E05900002"


def test_an_officer_reaches_a_horse_owner_by_where_her_horses_are_kept(
        app, county, live_server, make_member, make_staff, browser_page, make_browser_page,
        outbox):
    app.config["BASE_URL"] = live_server
    with app.app_context():
        home, yard = postcode_in(HOME_WARD), postcode_in(YARD_WARD)
    # Someone in the yard's ward without horses, and a horse owner who keeps hers at home
    # in the other ward: neither should get it.
    make_member(area=YARD_WARD, email="no.horses@example.org")
    make_member(area=HOME_WARD, email="home.horses@example.org",
                interests=["rural_watch.horse"])
    make_staff("officer", areas=["E07900001"], name="PC Rhian Evans",
               email="rhian@police.example.org")

    page = browser_page
    page.goto(f"{live_server}/register")
    page.get_by_label("Full name", exact=True).fill("Holly Rider")
    page.get_by_label("Email address", exact=True).fill("holly@example.org")
    page.get_by_label("Create a password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_label("Type the password again", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_label("First line of address", exact=True).fill("3 Mill Lane")
    page.get_by_label("Postcode", exact=True).fill(home)
    page.get_by_label("Horse Watch", exact=True).check()
    horses = page.get_by_role("group", name="Horse Watch")
    horses.get_by_label("How many horses do you keep?").fill("2")
    horses.get_by_label("Postcode of the yard or stable").fill(yard.lower())
    page.get_by_label("Wealdshire Police", exact=True).check()
    page.get_by_label("I have read the privacy notice").check()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are registered")
    (confirm,) = outbox.wait_for(1)
    page.goto(next(u for u in outbox.links(confirm) if "/verify-email/" in u))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Your email address is confirmed.")).to_be_visible()
    outbox.clear()

    with app.app_context():
        secret = db.session.scalar(
            select(Staff.totp_secret).where(Staff.email == "rhian@police.example.org"))
    officer = make_browser_page()
    sign_in_staff(officer, live_server, "rhian@police.example.org", secret)
    officer.goto(f"{live_server}/staff/messages/new")
    officer.get_by_label("Title", exact=True).fill("Tack stolen from yards")
    officer.get_by_label("Message", exact=True).fill("Saddles were taken from two yards.")
    officer.get_by_label("Text for SMS and voice calls", exact=True).fill(
        "Saddles were taken from two yards last night. Call 101 with information.")
    rule = officer.get_by_role("group", name="Horse owners by where the horses are kept")
    rule.get_by_label("Use this rule").select_option("must")
    rule.get_by_label("Area where the horses are kept").fill(YARD_WARD)
    officer.get_by_role("button", name="Check who it reaches").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Check who it reaches")
    expect(officer.get_by_text("horse owners with horses kept in Ashendry South")
           ).to_be_visible()
    officer.get_by_role("button", name="Send now").click()
    expect(officer.get_by_text("Sent to 1 person")).to_be_visible()

    (alert,) = outbox.wait_for(1)
    assert alert["To"] == "holly@example.org"
    assert "Tack stolen from yards" in alert["Subject"]

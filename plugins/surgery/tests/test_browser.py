"""A resident raises a concern online, the local officer replies from the queue, and the
resident reads the reply (headless Chromium; axe-core checks each page)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.api import Staff, db
from core.testing.browser import sign_in_staff
from core.testing.pytest_plugin import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

WARD = "E05900001"


def test_a_resident_raises_a_concern_and_reads_the_officers_reply(
        app, county, live_server, make_member, make_staff, browser_page, make_browser_page,
        outbox):
    app.config["BASE_URL"] = live_server
    make_member(area=WARD, name="Gwen Hughes", email="gwen@example.org")
    make_staff("officer", areas=[WARD], name="PC Rhian Evans", email="rhian@police.example.org")

    resident = browser_page
    resident.goto(f"{live_server}/sign-in")
    resident.get_by_label("Email address", exact=True).fill("gwen@example.org")
    resident.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    resident.get_by_role("button", name="Sign in").click()
    resident.get_by_role("link", name="Contact your local policing team").first.click()
    expect(resident.get_by_text("This is not for emergencies")).to_be_visible()
    resident.get_by_label("Speeding and road safety", exact=True).check()
    resident.get_by_label("Tell us about it", exact=True).fill(
        "Cars race along Mill Lane after 10pm.\nA child was nearly hit on Tuesday.")
    resident.get_by_label("Where is it happening? (optional)").fill("Mill Lane")
    resident.get_by_label("Email", exact=True).check()
    resident.get_by_role("button", name="Send to your local policing team").click()
    expect(resident.get_by_role("heading", level=1)).to_contain_text("Your concern SUR-")
    reference = resident.get_by_role("heading", level=1).inner_text().split()[-1]
    expect(resident.get_by_text("A child was nearly hit on Tuesday.")).to_be_visible()

    with app.app_context():
        secret = db.session.scalar(
            select(Staff.totp_secret).where(Staff.email == "rhian@police.example.org"))
    officer = make_browser_page()
    sign_in_staff(officer, live_server, "rhian@police.example.org", secret)
    officer.get_by_role("link", name="Surgery cases").first.click()
    officer.get_by_role("link", name=reference).click()
    expect(officer.get_by_text("Cars race along Mill Lane after 10pm.")).to_be_visible()
    officer.get_by_label("Internal note", exact=True).fill("Ask traffic unit for a speed van.")
    officer.get_by_role("button", name="Add the note").click()
    expect(officer.get_by_text("Note added. Only staff can see it.")).to_be_visible()
    officer.get_by_label("Reply to the resident", exact=True).fill(
        "Thank you. We will run speed checks on Mill Lane this week.")
    officer.get_by_role("button", name="Send the reply").click()
    expect(officer.get_by_text("Reply sent. The resident is told by email.")).to_be_visible()

    (mail,) = outbox.wait_for(1)
    assert mail["To"] == "gwen@example.org"
    link = next(u for u in outbox.links(mail) if "/surgery/cases/" in u)
    resident.goto(link)
    expect(resident.get_by_text("Thank you. We will run speed checks on Mill Lane this week.")
           ).to_be_visible()
    expect(resident.get_by_text("Answered", exact=True)).to_be_visible()
    expect(resident.get_by_text("speed van")).to_have_count(0)

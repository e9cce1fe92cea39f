"""A police officer sends an alert, clicking through the pages in headless Chromium
(axe-core checks each page on the way)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.extensions import db
from core.models import Staff
from core.testing.browser import sign_in_staff

pytestmark = pytest.mark.browser


def test_an_officer_sends_an_alert_to_their_ward(app, county, live_server, make_member,
                                                 make_staff, browser_page, outbox):
    for n in range(2):
        make_member(area="E05900001", email=f"neighbour{n}@example.org")
    make_staff("officer", areas=["E05900001"], name="PC Sam Patel",
               email="sam@police.example.org")
    with app.app_context():
        secret = db.session.scalar(
            select(Staff.totp_secret).where(Staff.email == "sam@police.example.org"))
    page = browser_page
    sign_in_staff(page, live_server, "sam@police.example.org", secret)
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff home")

    page.get_by_role("link", name="Messages").first.click()
    page.get_by_role("link", name="Write a message").click()
    page.get_by_label("Title", exact=True).fill("Shed break-ins on Mill Lane")
    page.get_by_label("Message", exact=True).fill("Two sheds were **broken into** last night.")
    page.get_by_label("Text for SMS and voice calls", exact=True).fill(
        "Two sheds were broken into on Mill Lane last night. Call 101 with information.")
    page.get_by_label("Areas", exact=True).fill("E05900001")
    page.get_by_role("button", name="Check who it reaches").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check who it reaches")
    expect(page.get_by_role("cell", name="Ashendry North")).to_be_visible()
    page.get_by_role("button", name="Send now").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Shed break-ins on Mill Lane")
    expect(page.get_by_text("Sent to 2 people")).to_be_visible()
    assert sorted(m["To"] for m in outbox.wait_for(2)) == ["neighbour0@example.org",
                                                           "neighbour1@example.org"]

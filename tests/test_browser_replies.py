"""A resident replies from the link in a real alert email, without signing in; the
officer finds the reply in the team inbox, adds an internal note and answers; the
resident gets the answer by email, and never the note. In headless Chromium, with
axe-core checking every page on the way."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.extensions import db
from core.messaging import Target, create_message, send
from core.models import Staff
from core.testing.browser import sign_in_staff

pytestmark = pytest.mark.browser

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BASE = "https://commonwatch.example.org"


def test_a_resident_replies_from_an_email_and_the_officer_answers(
        app, county, live_server, make_member, make_staff, make_browser_page, outbox):
    make_member(area="E05900001", email="rita@example.org", name="Rita Resident")
    officer_id = make_staff("officer", areas=["E05900001"], name="PC Sam Patel",
                            email="sam@police.example.org")
    with app.app_context():
        officer = db.session.get(Staff, officer_id)
        message = create_message(officer, title="Shed break-ins on Mill Lane",
                                 body="Two sheds were broken into last night.",
                                 plain_text="Two sheds were broken into on Mill Lane.",
                                 category="witness_appeal", priority=2,
                                 target=Target(areas=["E05900001"]).to_json())
        db.session.add(message)
        db.session.commit()
        send(message, officer, at=NOON)
        secret = db.session.scalar(select(Staff.totp_secret).where(Staff.id == officer_id))
    (alert,) = outbox.wait_for(1)
    text = alert.get_body(("plain",)).get_content()
    link = re.search(rf"{re.escape(BASE)}/reply/\S+", text).group(0).rstrip()
    link = link.split("/useful")[0]

    # The resident, never signed in, follows the link in the email.
    resident = make_browser_page()
    resident.goto(live_server + link.removeprefix(BASE))
    expect(resident.get_by_role("heading", level=1)).to_have_text("Shed break-ins on Mill Lane")
    resident.get_by_label("Your reply", exact=True).fill(
        "I saw two people with a torch behind number 4 at about 2am.")
    resident.get_by_label("You may contact me about this").check()
    resident.get_by_role("button", name="Send reply").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Your reply has been sent")
    # The "Useful" link asks before it counts (mail scanners open links too).
    resident.goto(live_server + link.removeprefix(BASE) + "/useful")
    resident.get_by_role("button", name="Yes, it was useful").click()
    expect(resident.get_by_text("You said this alert was useful.")).to_be_visible()

    # The officer signs in and finds it in the team inbox.
    page = make_browser_page()
    sign_in_staff(page, live_server, "sam@police.example.org", secret)
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Replies").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Replies")
    page.get_by_role("link", name=re.compile("two people with a torch")).click()
    expect(page.get_by_text("Rita Resident")).to_be_visible()

    page.get_by_label("Internal note", exact=True).fill(
        "Matches the suspects from crime ref 47/1234 - do not share.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added. Only staff can see it.")).to_be_visible()
    page.get_by_label("Answer to the resident", exact=True).fill(
        "Thank you, Rita. An officer will call you today.")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_text("Answer sent to the resident")).to_be_visible()
    expect(page.get_by_text("Sent by: email")).to_be_visible()

    # The resident's answer arrives by email, without the internal note.
    answer = outbox.wait_for(2)[1]
    assert answer["To"] == "rita@example.org"
    body = answer.get_body(("plain",)).get_content()
    assert "Thank you, Rita. An officer will call you today." in body
    assert "47/1234" not in answer.as_string() and "do not share" not in answer.as_string()
    assert len(outbox) == 2

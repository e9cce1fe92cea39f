"""In headless Chromium, with axe-core checking every page: a resident starts a scheme,
police verify it, a neighbour finds it by postcode and joins, the coordinator accepts
them and writes to the scheme, and the neighbour receives the message."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.api import Staff, db
from core.testing.browser import sign_in_staff
from core.testing.pytest_plugin import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def sign_in_member(page, live_server, email):
    page.goto(f"{live_server}/sign-in")
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_coordinator_starts_a_scheme_police_verify_it_and_a_neighbour_gets_its_message(
        app, live_server, make_member, make_staff, make_browser_page, outbox):
    make_member(area="ST000001", name="Cora Coordinator", email="cora@example.org",
                postcode="HF1 1FJ", organisations=["wealdshire-nhw"])
    make_member(area="ST000001", name="Rita Resident", email="rita@example.org",
                postcode="HF1 3GL", organisations=["wealdshire-police"])
    officer_id = make_staff("officer", areas=["E05900001"], name="PC Olu Officer",
                            email="olu@police.example.org")
    with app.app_context():
        secret = db.session.scalar(select(Staff.totp_secret).where(Staff.id == officer_id))

    # The coordinator applies to start a scheme for her street.
    cora = make_browser_page()
    sign_in_member(cora, live_server, "cora@example.org")
    cora.goto(f"{live_server}/schemes/new")
    cora.get_by_label("Scheme name", exact=True).fill("Mill Lane Watch")
    cora.get_by_label("Description for the public").fill("Neighbours looking out for Mill Lane.")
    cora.get_by_label("Who will look after it").select_option(
        label="Wealdshire Neighbourhood Watch Association")
    cora.get_by_label("Mill Lane", exact=True).check()
    cora.get_by_role("button", name="Start the scheme").click()
    expect(cora.get_by_role("heading", level=1)).to_have_text("Coordinate Mill Lane Watch")
    expect(cora.get_by_text("Self-declared").first).to_be_visible()

    # Police verify it.
    police = make_browser_page()
    sign_in_staff(police, live_server, "olu@police.example.org", secret)
    police.get_by_role("navigation", name="Menu").get_by_role(
        "link", name="Watch schemes").click()
    police.get_by_role("link", name="Mill Lane Watch").click()
    police.get_by_role("button", name="Verify: Verified by police").click()
    expect(police.get_by_text("Verified by PC Olu Officer, Wealdshire Police")).to_be_visible()

    # A neighbour finds it by postcode and asks to join.
    rita = make_browser_page()
    sign_in_member(rita, live_server, "rita@example.org")
    rita.goto(f"{live_server}/schemes")
    rita.get_by_label("Your postcode").fill("hf1 3gl")
    rita.get_by_role("button", name="Find schemes").click()
    expect(rita.get_by_text("Verified by police").first).to_be_visible()
    rita.get_by_role("button", name="Ask to join").click()
    expect(rita.get_by_text("Agree to share your details to join").first).to_be_visible()
    rita.get_by_label("I agree that its coordinators").check()
    rita.get_by_role("button", name="Ask to join").click()
    expect(rita.get_by_text("Your request to join Mill Lane Watch was sent")).to_be_visible()

    # The coordinator accepts her and writes to the scheme.
    cora.reload()
    cora.get_by_role("button", name="Accept Rita Resident").click()
    expect(cora.get_by_text("Rita Resident is now a member.")).to_be_visible()
    cora.get_by_role("link", name="Write to the members").click()
    cora.get_by_label("Title", exact=True).fill("Van seen on Mill Lane")
    cora.get_by_label("Message", exact=True).fill("A white van was seen trying doors at 3am.")
    cora.get_by_label("Text message version", exact=True).fill("White van trying doors, 3am.")
    cora.get_by_role("button", name="Send to the scheme's members").click()
    expect(cora.get_by_text("Sent to 2 people.")).to_be_visible()

    received = {m["To"]: m for m in outbox.wait_for(2)}
    assert set(received) == {"cora@example.org", "rita@example.org"}
    email = received["rita@example.org"]
    assert email["Subject"] == "Van seen on Mill Lane"
    assert "A white van was seen trying doors at 3am." in email.get_body(
        ("html",)).get_content()
    body = email.get_body(("plain",)).get_content()
    assert "Cora Coordinator, Scheme coordinator" in body and "Mill Lane Watch" in body

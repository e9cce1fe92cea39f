"""A live beat surgery in headless Chromium: an officer schedules and opens a moderated
session; two residents join under pseudonyms in two browser contexts and each sees the
other's approved messages appear without reloading; a third resident, with JavaScript
off, takes part through the plain form and the Refresh link. axe-core checks every page
on the way. Run over Redis pub/sub when COMMONWATCH_TEST_REDIS_URL is set, else by
polling the database (test_live.py checks the stream both ways)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.api import Staff, db
from core.testing.browser import sign_in_staff
from core.testing.pytest_plugin import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

WARD = "E05900001"
LIVE = 15_000  # ms: long enough for a reconnection and a poll


@pytest.fixture
def app(request, make_app):
    """The app with Redis (pub/sub) when tests have one, else without (streams poll the
    database); streams end after a few seconds, so the pages also reconnect during the
    test."""
    if os.environ.get("COMMONWATCH_TEST_REDIS_URL"):
        return make_app(REDIS_URL=request.getfixturevalue("redis_url"),
                        SURGERY_BEAT_STREAM_SECONDS=5)
    return make_app(SURGERY_BEAT_STREAM_SECONDS=5)


def sign_in_resident(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/sign-in")
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def join_as(page, base_url: str, title: str, pseudonym: str | None) -> None:
    page.goto(f"{base_url}/surgery/beats")
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    if pseudonym:
        page.get_by_label("Under a name you choose").check()
        page.get_by_label("The name to show, if you choose one").fill(pseudonym)
    else:
        page.get_by_label("Under your name").check()
    page.get_by_role("button", name="Join the beat surgery").click()


def say(page, text: str) -> None:
    page.get_by_label("Your message", exact=True).fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def messages(page):
    return page.locator("[data-beat-posts]")


def test_residents_see_each_others_approved_messages_appear_live(
        app, county, live_server, make_member, make_staff, make_browser_page):
    make_staff("officer", areas=[WARD], name="PC Sam Patel", email="sam@police.example.org")
    for name, email in (("Alice Realname", "alice@example.org"),
                        ("Bob Ownname", "bob@example.org"),
                        ("Carol Plain", "carol@example.org")):
        make_member(area=WARD, name=name, email=email)
    with app.app_context():
        secret = db.session.scalar(
            select(Staff.totp_secret).where(Staff.email == "sam@police.example.org"))
    title = "Mill Lane beat surgery"

    # The officer schedules a moderated session, is taken to the invitation, then opens it.
    officer = make_browser_page()
    sign_in_staff(officer, live_server, "sam@police.example.org", secret)
    officer.get_by_role("navigation", name="Menu").get_by_role(
        "link", name="Beat surgeries").click()
    officer.get_by_role("button", name="Schedule a beat surgery").click()
    starts = (datetime.now(UTC) + timedelta(hours=1)).astimezone(ZoneInfo("Europe/London"))
    officer.get_by_label("Title", exact=True).fill(title)
    officer.get_by_label("Area code", exact=True).fill(WARD)
    officer.get_by_label("Starts", exact=True).fill(starts.strftime("%Y-%m-%d %H:%M"))
    officer.get_by_label("Ends", exact=True).fill(
        (starts + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"))
    expect(officer.get_by_label("Hold residents' messages for my approval")).to_be_checked()
    officer.get_by_role("button", name="Schedule it and write the invitation").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Check who it reaches")
    expect(officer.get_by_text(f"Online beat surgery: {title}").first).to_be_visible()
    officer.goto(f"{live_server}/surgery/staff/beats")
    officer.get_by_role("link", name=title).click()
    officer.get_by_role("button", name="Open the session").click()
    expect(officer.get_by_text("The session is open: residents can post.")).to_be_visible()

    # Two residents with JavaScript, under pseudonyms, and one without, under her name.
    alice = make_browser_page()
    sign_in_resident(alice, live_server, "alice@example.org")
    join_as(alice, live_server, title, "Night Owl")
    expect(alice.get_by_text("You are taking part as Night Owl.")).to_be_visible()
    bob = make_browser_page()
    sign_in_resident(bob, live_server, "bob@example.org")
    join_as(bob, live_server, title, "Bramble")
    carol = make_browser_page(java_script_enabled=False)
    sign_in_resident(carol, live_server, "carol@example.org")
    join_as(carol, live_server, title, None)
    expect(carol.get_by_text("You are taking part as Carol Plain.")).to_be_visible()
    # A mark in each live page's memory: a reload would wipe it.
    for page in (alice, bob):
        page.evaluate("window.stillTheSamePage = true")

    # Alice asks; she sees it waiting, Bob does not, the officer's page gets it live.
    say(alice, "Is the footpath light on Mill Lane fixed?")
    mine = messages(alice).get_by_role("listitem").filter(has_text="footpath light")
    expect(mine).to_contain_text("Waiting for approval")
    expect(alice.get_by_label("Your message", exact=True)).to_have_value("")
    officer.get_by_role("button", name="Approve the message from Night Owl").click(
        timeout=LIVE)
    expect(messages(bob)).to_contain_text("Is the footpath light on Mill Lane fixed?",
                                          timeout=LIVE)
    expect(messages(bob)).to_contain_text("Night Owl")
    expect(mine).not_to_contain_text("Waiting for approval", timeout=LIVE)

    # Bob asks; once approved, Alice sees it appear.
    say(bob, "And the broken bench by the pond?")
    officer.get_by_role("button", name="Approve the message from Bramble").click(
        timeout=LIVE)
    expect(messages(alice)).to_contain_text("And the broken bench by the pond?",
                                            timeout=LIVE)
    expect(messages(alice)).to_contain_text("Bramble")

    # The officer answers, published at once, without leaving the page.
    say(officer, "Both are being fixed this week.")
    for page in (alice, bob):
        expect(messages(page)).to_contain_text("Both are being fixed this week.",
                                               timeout=LIVE)
        expect(messages(page)).to_contain_text("PC Sam Patel")

    # Without JavaScript: the form posts and comes back; Refresh shows what is new.
    say(carol, "Thank you both.")
    expect(carol.get_by_text("Your message is waiting for the officer's approval.")
           ).to_be_visible()
    expect(messages(carol).get_by_role("listitem").filter(has_text="Thank you both.")
           ).to_contain_text("Waiting for approval")
    officer.get_by_role("button", name="Approve the message from Carol Plain").click(
        timeout=LIVE)
    expect(officer.get_by_text("Approved: everyone taking part sees it.")).to_be_visible()
    carol.get_by_role("link", name="Refresh the messages").click()
    for text in ("Is the footpath light on Mill Lane fixed?", "And the broken bench",
                 "Both are being fixed this week.", "Thank you both."):
        expect(messages(carol)).to_contain_text(text)
    expect(messages(carol)).not_to_contain_text("Waiting for approval")
    for page in (alice, bob):
        expect(messages(page)).to_contain_text("Thank you both.", timeout=LIVE)
        expect(messages(page)).to_contain_text("Carol Plain")

    # Pseudonyms only: nobody else's page shows Alice's or Bob's real name.
    for page, hidden in ((bob, "Alice Realname"), (carol, "Alice Realname"),
                         (alice, "Bob Ownname"), (carol, "Bob Ownname"),
                         (officer, "Alice Realname")):
        expect(page.locator("body")).not_to_contain_text(hidden)

    # Everything above reached Alice and Bob without a reload.
    for page in (alice, bob):
        assert page.evaluate("window.stillTheSamePage") is True

    # The officer closes the session; the residents' pages say so as it happens.
    officer.get_by_role("button", name="Close the session").click()
    expect(officer.get_by_text("The session is closed.")).to_be_visible()
    for page in (alice, bob):
        expect(page.get_by_text("The session has ended. Thank you for taking part.")
               ).to_be_visible(timeout=LIVE)
        expect(page.get_by_label("Your message", exact=True)).to_be_hidden()

"""What a person sees in a real browser: headless Chromium on the live app.

axe-core checks every page these tests visit against WCAG 2.2 AA (see
core/testing/browser.py); a violation anywhere fails the test that visited the page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from core.testing.browser import AccessibilityViolations, axe_checked_page
from core.testing.pytest_plugin import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

pytest_plugins = ["pytester"]

WELSH_PO = Path(__file__).parents[1] / "core/translations/cy/LC_MESSAGES/messages.po"
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def site(app, live_server):
    """The live app, with the links in its emails pointing at it."""
    app.config["BASE_URL"] = live_server
    return live_server


def welsh(msgid: str) -> str:
    """The Welsh catalogue's translation of ``msgid``, as it is now ("" when it has none
    the app would use: missing, empty or fuzzy)."""
    with WELSH_PO.open("rb") as fh:
        message = read_po(fh).get(msgid)
    return message.string if message and not message.fuzzy else ""


def fill_registration(page, *, name="Ann Example", email="ann@example.org",
                      password=DEFAULT_PASSWORD, postcode="HF1 1FJ") -> None:
    page.get_by_label("Full name", exact=True).fill(name)
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Create a password", exact=True).fill(password)
    page.get_by_label("Type the password again", exact=True).fill(password)
    page.get_by_label("First line of address", exact=True).fill("1 Mill Lane")
    page.get_by_label("Postcode", exact=True).fill(postcode)
    page.get_by_label("Wealdshire Police", exact=True).check()
    page.get_by_label("I have read the privacy notice").check()


# -- the accessibility check itself ----------------------------------------------------------


def test_axe_reports_a_violation_on_a_page_under_our_csp(app, live_server, chromium):
    from flask import render_template_string

    from core.access import public

    @public
    def broken() -> str:
        return render_template_string(
            '{% extends "base.html" %}{% block title %}Broken{% endblock %}'
            '{% block page %}<h1 class="govuk-heading-xl">Broken</h1>'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="30" height="30">'
            "{% endblock %}"
        )

    app.add_url_rule("/test-only/broken", view_func=broken)
    with pytest.raises(AccessibilityViolations) as caught:  # noqa: SIM117 - the order matters
        with axe_checked_page(chromium) as page:
            response = page.goto(f"{live_server}/test-only/broken")
            assert "nonce-" in response.headers["content-security-policy"]
            page.get_by_role("link", name="Privacy notice", exact=True).click()
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            assert page.checked_urls == [f"{live_server}/test-only/broken",
                                         f"{live_server}/privacy"]
    problems = str(caught.value).splitlines()[1:]
    assert problems == [
        f"{live_server}/test-only/broken: image-alt (Images must have alternative text) at img"
    ]


def test_browser_page_fails_the_test_that_visited_a_bad_page(pytester):
    pytester.makepyfile(
        """
        BAD = ("<!doctype html><html lang='en'><title>Bad</title><main><h1>Bad</h1>"
               "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='></main></html>")
        GOOD = "<!doctype html><html lang='en'><title>Good</title><main><h1>Good</h1></main>"

        def test_visits_a_bad_page_then_a_good_one(browser_page):
            browser_page.set_content(BAD)
            browser_page.set_content(GOOD)

        def test_visits_only_good_pages(browser_page):
            browser_page.set_content(GOOD)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_visits_a_bad_page_then_a_good_one*",
        "*AccessibilityViolations*",
        "*image-alt (Images must have alternative text) at img*",
    ])


def test_every_page_visited_is_checked(site, county, browser_page):
    page = browser_page
    page.goto(f"{site}/register")
    page.get_by_role("link", name="Staff sign in", exact=True).click()
    page.get_by_role("button", name="Sign in").click()  # empty: the page comes back
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    page.get_by_role("link", name="Privacy notice", exact=True).click()
    page.check_accessibility()
    assert page.checked_urls == [
        f"{site}/register",
        f"{site}/staff/sign-in",
        f"{site}/staff/sign-in",
        f"{site}/privacy",
    ]


# -- what people do --------------------------------------------------------------------------


def test_demo_registration_page_in_english_and_welsh(app, live_server, browser_page):
    result = app.test_cli_runner().invoke(args=["demo", "--members", "50"])
    assert result.exit_code == 0, result.output
    assert "residents: 50 created" in result.output

    page = browser_page
    page.goto(f"{live_server}/register")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Register for alerts")

    heading = welsh("Register for alerts")
    assert heading, f"{WELSH_PO} has no Welsh for 'Register for alerts'"
    assert heading != "Register for alerts"
    page.get_by_role("link", name="Cymraeg").click()
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page).to_have_title(re.compile("^" + re.escape(heading)))
    # The way back is offered in English.
    expect(page.get_by_role("link", name="English")).to_have_attribute("lang", "en")


def test_resident_registers_and_confirms_their_email(site, county, browser_page, outbox):
    page = browser_page
    page.goto(f"{site}/register")
    fill_registration(page, email="ann@example.org")
    page.get_by_role("button", name="Register").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("You are registered")
    assert urlsplit(page.url).path == "/register/done"
    (message,) = outbox.wait_for(1)
    assert message["To"] == "ann@example.org"
    assert message["Subject"].startswith("Confirm your email address")
    (link,) = [u for u in outbox.links(message) if "/verify-email/" in u]

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your email address")
    expect(page.get_by_text("Confirm that ann@example.org is your email address.")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Your email address is confirmed. You will now get alerts.")
           ).to_be_visible()


def test_mistakes_are_explained_and_answers_kept(site, county, browser_page):
    page = browser_page
    page.goto(f"{site}/register")
    fill_registration(page, email="bob@example.org", password="short", postcode="ZZ1 1ZZ")
    page.get_by_role("button", name="Register").click()

    expect(page).to_have_title(re.compile("^Error: Register for alerts"))
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    postcode_error = "We do not cover this postcode yet. Check it, or contact your local police."
    password_error = "Password must be between 12 and 128 characters"
    expect(summary.get_by_role("link", name=postcode_error)).to_have_attribute("href", "#postcode")
    expect(summary.get_by_role("link", name=password_error)).to_have_attribute("href", "#password")
    # GOV.UK Frontend moves focus to the summary, so a screen reader announces it.
    expect(summary).to_be_focused()
    # Each message also sits by its field, and the field is described by it.
    expect(page.locator("#postcode-error")).to_contain_text(postcode_error)
    expect(page.locator("#password-error")).to_contain_text(password_error)
    expect(page.get_by_label("Postcode", exact=True)).to_have_attribute(
        "aria-describedby", re.compile(r"\bpostcode-error\b"))

    # What the person typed is still there (apart from the passwords).
    expect(page.get_by_label("Full name", exact=True)).to_have_value("Ann Example")
    expect(page.get_by_label("Email address", exact=True)).to_have_value("bob@example.org")
    expect(page.get_by_label("First line of address", exact=True)).to_have_value("1 Mill Lane")
    expect(page.get_by_label("Postcode", exact=True)).to_have_value("ZZ1 1ZZ")
    expect(page.get_by_label("Wealdshire Police", exact=True)).to_be_checked()
    expect(page.get_by_label("I have read the privacy notice")).to_be_checked()
    expect(page.get_by_label("Create a password", exact=True)).to_have_value("")

    # Following a message in the summary lands on its field.
    summary.get_by_role("link", name=postcode_error).click()
    expect(page.get_by_label("Postcode", exact=True)).to_be_focused()


def test_staff_sets_up_two_factor_at_first_sign_in(site, make_staff, browser_page):
    make_staff(two_factor=False, name="Pat Officer", email="pat@police.example.org")
    page = browser_page
    page.goto(f"{site}/staff/sign-in")
    page.get_by_label("Email address", exact=True).fill("pat@police.example.org")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("code.cw-codes").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    codes = page.locator("ul.cw-codes li")
    expect(codes.first).to_have_text(re.compile(r"^[0-9a-f]{6}-[0-9a-f]{6}$"))
    assert codes.count() >= 8
    page.get_by_role("link", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Staff home")
    expect(page.get_by_text("Signed in as Pat Officer")).to_be_visible()
    assert urlsplit(page.url).path == "/staff/"


def test_registration_works_without_javascript(site, county, make_browser_page, outbox):
    page = make_browser_page(java_script_enabled=False)
    page.goto(f"{site}/register")
    # GOV.UK Frontend's script did not run.
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bjs-enabled\b"))
    fill_registration(page, email="cai@example.org")
    page.get_by_role("button", name="Register").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("You are registered")
    assert outbox.wait_for(1)[0]["To"] == "cai@example.org"


@pytest.mark.parametrize("path", ["/register", "/register?lang=cy", "/sign-in", "/staff/sign-in",
                                  "/"])
def test_pages_fit_a_phone_screen(site, county, make_browser_page, path):
    page = make_browser_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(site + path)
    if path == "/register":
        # With the error summary and messages too.
        page.get_by_role("button", name="Register").click()
        expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} scrolls sideways at phone width ({width}px)"

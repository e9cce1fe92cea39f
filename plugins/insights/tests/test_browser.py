"""A district supervisor opens their insights: the "Where to focus" list ranks the wards
with reasons in words, the map draws the wards shaded by score, clicking one opens its
page, and a screenshot of the district page is kept (headless Chromium; axe-core checks
each page)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.api import Staff, db
from core.testing.browser import sign_in_staff
from plugins.insights.tests import test_insights

pytestmark = pytest.mark.browser

ASHENDRY = test_insights.ASHENDRY
#: The wards' names from the highest score to the lowest (41, 29.7, 21.1, 8.3).
RANKED = ["Ashendry North", "Ashendry South", "Kingsmead", "Church End"]
#: The map's fill colours of the highest class and of the lowest (insights-map.js).
HIGHEST, LOWEST = "#08519c", "#deebf7"
#: A copy of the screenshot, to look at after the run (a fixed, well-known place).
KEPT = Path("/tmp/insights-dashboard.png")  # noqa: S108

# The same district as the plugin's other tests: four wards, members, crimes, refresh().
ashendry = test_insights.ashendry


def test_the_supervisor_sees_where_to_focus_on_a_map_and_drills_down(
        app, ashendry, live_server, browser_page, tmp_path):
    app.config["BASE_URL"] = live_server
    with app.app_context():
        staff = db.session.get(Staff, ashendry["supervisor"])
        email, secret = staff.email, staff.totp_secret
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_staff(page, live_server, email, secret)
    district_url = f"{live_server}/insights/?area={ASHENDRY}"
    page.goto(district_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Ashendry")

    # Where to focus: the wards in score order, each with its reasons in words.
    focus = page.locator("ol#focus")
    expect(focus.locator(":scope > li > a")).to_have_text(RANKED)
    wards = focus.locator(":scope > li")
    north, south = wards.nth(0), wards.nth(1)
    expect(north).to_contain_text("Burglary up 60% on the three months before")
    expect(north.get_by_role("link", name="Send a crime prevention message about Burglary")
           ).to_be_visible()
    expect(south).to_contain_text("coverage 1.3% vs 4.9% in Ashendry")
    expect(south.get_by_text("Knock on doors to sign more residents up")).to_be_visible()
    expect(wards.nth(3)).to_contain_text("Church End")

    # The map shows once its script runs, with each ward drawn and shaded by its class.
    the_map = page.get_by_role("region", name="Map of the areas, shaded by Focus score; the "
                                              "same numbers are in the table")
    expect(the_map).to_be_visible()
    expect(page.locator("#insights-map.insights-map--ready")).to_have_count(1)
    shapes = the_map.locator("path.leaflet-interactive")
    expect(shapes).to_have_count(4)
    fills = [shapes.nth(i).get_attribute("fill") for i in range(4)]
    assert HIGHEST in fills and LOWEST in fills, fills
    assert len(set(fills)) >= 3, fills
    box = the_map.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    # The table with the map has the same wards, in alphabetical order.
    expect(page.locator("#areas tbody th")).to_have_text(
        ["Ashendry North", "Ashendry South", "Church End", "Kingsmead"])

    # A full-page screenshot of the district with the map drawn.
    shot = tmp_path / "insights-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, KEPT)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000, len(data)

    # Pointing at North's shape names it; clicking it opens North's page.
    north_shape = the_map.locator(f"path.leaflet-interactive[fill='{HIGHEST}']")
    expect(north_shape).to_have_count(1)
    north_shape.hover()
    expect(page.locator(".leaflet-tooltip")).to_have_text("Ashendry North: 41")
    north_shape.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ashendry North")
    assert f"area={test_insights.NORTH}" in page.url
    breadcrumbs = page.get_by_role("navigation", name="Areas above")
    expect(breadcrumbs.get_by_role("link")).to_have_text(["Ashendry"])

    # The breadcrumb leads back; the table's link for Church End opens it too.
    breadcrumbs.get_by_role("link", name="Ashendry", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ashendry")
    page.locator("#areas").get_by_role("link", name="Church End", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Church End")
    expect(page.get_by_role("navigation", name="Areas above").get_by_role("link")
           ).to_have_text(["Ashendry"])
    assert errors == []
    # axe-core checked the district page (and checks the last one at teardown).
    assert district_url in page.checked_urls


def test_the_areas_table_scrolls_within_a_phone_screen(app, ashendry, live_server,
                                                        make_browser_page):
    """WCAG 1.4.10: on a 375 px screen the page itself never scrolls sideways."""
    from plugins.insights.tests.test_insights import ASHENDRY

    app.config["BASE_URL"] = live_server
    with app.app_context():
        secret = db.session.scalar(select(Staff.totp_secret).where(
            Staff.id == ashendry["supervisor"]))
        email = db.session.get(Staff, ashendry["supervisor"]).email
    phone = make_browser_page(viewport={"width": 375, "height": 740})
    sign_in_staff(phone, live_server, email, secret)
    phone.goto(f"{live_server}/insights/?area={ASHENDRY}")
    expect(phone.locator("#areas")).to_be_attached()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

"""An officer draws the target shape on the compose page's map, in headless Chromium
(axe-core checks each page on the way): an area clicked corner by corner, a circle, a
shape kept when the form comes back with an error, map tiles when a force configures
them, and the form without JavaScript."""

from __future__ import annotations

import json
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.extensions import db
from core.models import Staff
from core.testing.pytest_plugin import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

WARD = "E05900001"
#: Postcodes of the ward (fixtures/postcodes.csv) and their points (lat, lon).
MILL_LANE = {"HF1 1FJ": (51.966677, -0.587439), "HF1 3GL": (51.981075, -0.585040)}
STATION_ROAD = ("HF1 5DY", (51.953368, -0.563063))
#: An area around Mill Lane's two postcodes, leaving Station Road's outside.
AREA = [(51.99, -0.597), (51.99, -0.575), (51.96, -0.575), (51.96, -0.597)]


@pytest.fixture
def officer(app, make_staff):
    """An officer of the ward; returns (email, TOTP secret)."""
    make_staff("officer", areas=[WARD], name="PC Rae Lin", email="rae@police.example.org")
    with app.app_context():
        secret = db.session.scalar(
            select(Staff.totp_secret).where(Staff.email == "rae@police.example.org"))
    return "rae@police.example.org", secret


@pytest.fixture
def neighbours(make_member):
    """Two residents on Mill Lane, one on Station Road, and one in the next ward (outside
    the officer's areas, but close to the map's edge)."""
    for n, postcode in enumerate(MILL_LANE):
        make_member(area=WARD, postcode=postcode, email=f"mill{n}@example.org")
    make_member(area=WARD, postcode=STATION_ROAD[0], email="station@example.org")
    make_member(area="E05900002", email="next-ward@example.org")


def sign_in(page, live_server: str, officer: tuple[str, str]) -> None:
    email, secret = officer
    page.goto(f"{live_server}/staff/sign-in")
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff home")


def console_errors(page) -> list[str]:
    """The errors the page logs from now on (a Content-Security-Policy refusal among
    them)."""
    errors: list[str] = []

    def noted(message) -> None:
        # The browser asks for /favicon.ico by itself; the site has none.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", noted)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def write_message(page, title: str = "Shed break-ins on Mill Lane") -> None:
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Message", exact=True).fill("Two sheds were broken into last night.")
    page.get_by_label("Text for SMS and voice calls", exact=True).fill(
        "Two sheds were broken into last night. Call 101 with information.")


def the_map(page):
    """The map, once the postcode dots are on it."""
    expect(page.locator("#target-map[data-points-loaded]")).to_have_count(1)
    return page.get_by_role("region", name="Map of your areas, to draw the shape on")


def click_at(page, lat: float, lon: float) -> None:
    """Click the map where the point (lat, lon) is shown."""
    point = page.locator("[data-map]").evaluate(
        "(el, [lat, lon]) => el.targetMap.latLngToContainerPoint([lat, lon])", [lat, lon])
    page.locator("[data-map]").click(position={"x": point["x"], "y": point["y"]})


def shape_box(page):
    return page.get_by_label("Shape on a map (optional)", exact=True)


def people(page) -> str:
    return page.locator("dt", has_text=re.compile("^People$")).locator(
        "xpath=following-sibling::dd[1]").inner_text().strip()


def test_an_officer_draws_an_area_and_reaches_only_the_people_inside(
        app, county, live_server, officer, neighbours, browser_page, outbox):
    page = browser_page
    errors = console_errors(page)
    sign_in(page, live_server, officer)
    page.get_by_role("link", name="Messages").first.click()
    page.get_by_role("link", name="Write a message").click()
    write_message(page)

    the_map(page)
    # Each postcode of the officer's ward is a dot; none of the next ward's.
    expect(page.locator("path.cw-postcode-point")).to_have_count(10)
    page.get_by_role("button", name="Draw area").click()
    expect(page.get_by_role("button", name="Draw area")).to_have_attribute(
        "aria-pressed", "true")
    expect(page.get_by_role("status")).to_contain_text("Click on the map to add the corners")
    for lat, lon in AREA:
        click_at(page, lat, lon)
    click_at(page, *AREA[0])  # the first corner again closes the area
    expect(page.get_by_role("status")).to_have_text(
        "Area drawn, with 4 corners. It is in the Shape box below.")
    expect(page.locator("path.cw-target-shape")).to_be_visible()
    shape = json.loads(shape_box(page).input_value())
    assert shape["type"] == "Polygon" and len(shape["coordinates"][0]) == 5
    assert shape["coordinates"][0][0] == shape["coordinates"][0][-1]
    for (lat, lon), (x, y) in zip(AREA, shape["coordinates"][0], strict=False):
        assert abs(x - lon) < 0.0005 and abs(y - lat) < 0.0005

    page.get_by_role("button", name="Check who it reaches").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check who it reaches")
    assert people(page) == "2"
    expect(page.get_by_text("shape drawn (2 postcodes)")).to_be_visible()
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("Sent to 2 people")).to_be_visible()
    assert sorted(m["To"] for m in outbox.wait_for(2)) == ["mill0@example.org",
                                                           "mill1@example.org"]
    assert errors == []


def test_an_officer_draws_circles_by_clicking_and_by_typing_the_radius(
        app, county, live_server, officer, neighbours, browser_page):
    page = browser_page
    errors = console_errors(page)
    sign_in(page, live_server, officer)
    page.goto(f"{live_server}/staff/messages/new")
    write_message(page, title="Cold callers on Station Road")
    the_map(page)
    lat, lon = STATION_ROAD[1]

    # Centre on Station Road, edge about 700 m east: Mill Lane is over 1.7 km away.
    page.get_by_role("button", name="Draw circle").click()
    click_at(page, lat, lon)
    expect(page.get_by_role("status")).to_contain_text("Now click the edge of the circle")
    click_at(page, lat, lon + 0.01)
    expect(page.get_by_role("status")).to_contain_text("Circle drawn, with a radius of")
    circle = json.loads(shape_box(page).input_value())
    assert circle["type"] == "Circle"
    assert abs(circle["center"][0] - lon) < 0.0005 and abs(circle["center"][1] - lat) < 0.0005
    assert 600 <= circle["radius_m"] <= 800
    expect(page.locator("path.cw-target-shape")).to_be_visible()

    # Again, typing the radius; Enter in the radius box uses it instead of sending the form.
    page.get_by_role("button", name="Draw circle").click()
    click_at(page, lat, lon)
    radius = page.get_by_label("Radius in metres", exact=True)
    radius.fill("99999")
    radius.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "Enter the radius in metres, as a whole number from 1 to 50000.")
    radius.fill("450")
    radius.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "Circle drawn, with a radius of 450 metres. It is in the Shape box below.")
    assert json.loads(shape_box(page).input_value())["radius_m"] == 450
    expect(page.get_by_role("heading", level=1)).to_have_text("Write a message")

    page.get_by_role("button", name="Check who it reaches").click()
    assert people(page) == "1"
    expect(page.get_by_text("shape drawn (1 postcode)")).to_be_visible()
    assert errors == []


def test_a_keyboard_user_draws_with_the_middle_of_the_map(app, county, live_server, officer,
                                                          neighbours, browser_page):
    page = browser_page
    errors = console_errors(page)
    sign_in(page, live_server, officer)
    page.goto(f"{live_server}/staff/messages/new")
    region = the_map(page)
    middle = page.get_by_role("button", name="Use the middle of the map")
    expect(middle).to_be_hidden()

    page.get_by_role("button", name="Draw area").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-map].leaflet-crosshair")).to_have_count(1)  # the cross shows
    for key in ("ArrowUp", "ArrowLeft", None):  # a corner, then move the map
        middle.focus()
        page.keyboard.press("Enter")
        if key:
            region.focus()
            for _ in range(3):
                page.keyboard.press(key)
            page.wait_for_timeout(400)  # the map glides
    page.get_by_role("button", name="Finish").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "Area drawn, with 3 corners. It is in the Shape box below.")
    expect(page.get_by_role("button", name="Draw area")).to_be_focused()
    ring = json.loads(shape_box(page).input_value())["coordinates"][0]
    assert len(ring) == 4 and len({tuple(c) for c in ring[:3]}) == 3

    page.get_by_role("button", name="Draw circle").focus()
    page.keyboard.press("Enter")
    middle.focus()
    page.keyboard.press("Enter")
    radius = page.get_by_label("Radius in metres", exact=True)
    expect(radius).to_be_focused()
    page.keyboard.type("800")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "Circle drawn, with a radius of 800 metres. It is in the Shape box below.")
    centre = region.evaluate("el => el.targetMap.getCenter()")
    circle = json.loads(shape_box(page).input_value())
    assert circle["radius_m"] == 800
    assert abs(circle["center"][0] - centre["lng"]) < 1e-5
    assert abs(circle["center"][1] - centre["lat"]) < 1e-5
    assert errors == []


def test_a_shape_stays_on_the_map_when_the_form_comes_back_and_can_be_cleared(
        app, county, live_server, officer, neighbours, browser_page):
    page = browser_page
    errors = console_errors(page)
    sign_in(page, live_server, officer)
    page.goto(f"{live_server}/staff/messages/new")
    the_map(page)
    page.get_by_role("button", name="Draw area").click()
    for lat, lon in AREA[:3]:
        click_at(page, lat, lon)
    page.get_by_role("button", name="Finish").click()
    drawn = shape_box(page).input_value()
    assert json.loads(drawn)["type"] == "Polygon"

    page.get_by_role("button", name="Check who it reaches").click()  # no title yet
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(shape_box(page)).to_have_value(drawn)
    expect(page.get_by_role("status")).to_have_text(
        "The shape in the Shape box is shown on the map.")
    expect(page.locator("path.cw-target-shape")).to_be_visible()

    page.get_by_role("button", name="Clear").click()
    expect(shape_box(page)).to_have_value("")
    expect(page.locator("path.cw-target-shape")).to_have_count(0)
    # A shape typed into the box is drawn as it is typed.
    shape_box(page).fill(json.dumps(
        {"type": "Circle", "center": [STATION_ROAD[1][1], STATION_ROAD[1][0]],
         "radius_m": 300}))
    expect(page.locator("path.cw-target-shape")).to_be_visible()
    assert errors == []


def test_the_map_speaks_welsh(app, county, live_server, officer, neighbours, browser_page):
    page = browser_page
    sign_in(page, live_server, officer)
    page.goto(f"{live_server}/staff/messages/new?lang=cy")
    the_map(page)
    page.get_by_role("button", name="Lluniadu cylch").click()
    expect(page.get_by_role("status")).to_have_text(
        "Cliciwch ar ganol y cylch ar y map, neu symudwch y map a phwyso Defnyddio canol y "
        "map.")
    page.get_by_role("button", name="Defnyddio canol y map").click()
    page.get_by_label("Radiws mewn metrau", exact=True).fill("250")
    page.get_by_role("button", name="Defnyddio'r radiws hwn").click()
    expect(page.get_by_role("status")).to_have_text(
        "Cylch wedi'i luniadu, gyda radiws o 250 metr. Mae'r cylch yn y blwch Siâp isod.")


def test_without_javascript_the_shape_is_typed(app, county, live_server, officer, neighbours,
                                               make_browser_page):
    page = make_browser_page(java_script_enabled=False)
    sign_in(page, live_server, officer)
    page.goto(f"{live_server}/staff/messages/new")
    expect(page.get_by_role("button", name="Draw area")).to_be_hidden()
    write_message(page)
    lat, lon = STATION_ROAD[1]
    shape_box(page).fill(json.dumps({"type": "Circle", "center": [lon, lat], "radius_m": 300}))
    page.get_by_role("button", name="Check who it reaches").click()
    assert people(page) == "1"


# -- map tiles ----------------------------------------------------------------------------


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour, made here (nothing is downloaded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A tile server on loopback (another origin than the app); yields its URL template
    and the paths it was asked for."""
    tile = png(256, 256, (200, 230, 200))
    asked: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/tiles/{{z}}/{{x}}/{{y}}.png", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_force_s_map_tiles_are_shown_under_the_shape(app, county, live_server, officer,
                                                       neighbours, tile_server,
                                                       browser_page):
    url, asked = tile_server
    app.config.update(MAP_TILE_URL=url,
                      MAP_TILE_ATTRIBUTION="© Wealdshire Mapping <and partners>")
    page = browser_page
    errors = console_errors(page)
    sign_in(page, live_server, officer)
    page.goto(f"{live_server}/staff/messages/new")
    the_map(page)
    expect(page.locator("img.leaflet-tile-loaded").first).to_be_visible()
    assert asked and all(re.fullmatch(r"/tiles/\d+/\d+/\d+\.png", p) for p in asked)
    expect(page.locator(".leaflet-control-attribution")).to_have_text(
        "© Wealdshire Mapping <and partners>")
    expect(page.locator("path.cw-postcode-point")).to_have_count(10)
    assert errors == []

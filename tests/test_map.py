"""The compose page's map, without a browser: the postcode points it draws (scoped to the
sender's areas, staff only, bounded), Leaflet served from its Python package, and the
map tiles a force configures (shown, and allowed by the Content-Security-Policy).
tests/test_browser_map.py draws on the map in Chromium."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from core.app import tile_source
from core.areas import within
from core.extensions import db
from core.models import Area, Postcode, Staff
from core.views import messages as message_views

WARD_A = "E05900001"  # Ashendry North: 10 postcodes
WARD_B = "E05900012"  # Thornwick Cross Town
DISTRICT_A = "E07900001"


def postcodes_of(app, area_code: str) -> set[str]:
    """Every postcode with a point in ``area_code`` or below, read straight from the
    table."""
    with app.app_context():
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        return set(db.session.scalars(
            select(Postcode.postcode).where(within([area], Postcode.area_id),
                                            Postcode.latitude.is_not(None))))


def points(client) -> dict:
    response = client.get("/staff/messages/postcode-points.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_an_officer_gets_the_points_of_their_own_areas_only(app, county, make_staff, login):
    officer_a = login(app.test_client(), staff=make_staff("officer", areas=[WARD_A]))
    officer_b = login(app.test_client(), staff=make_staff(
        "officer", areas=[WARD_B], organisation="ashendry-council"))
    supervisor = login(app.test_client(), staff=make_staff("supervisor", areas=[DISTRICT_A]))

    mine = points(officer_a)
    assert mine["type"] == "FeatureCollection" and mine["grouped"] is False
    codes = {f["properties"]["postcode"] for f in mine["features"]}
    assert codes == postcodes_of(app, WARD_A) and len(codes) == 10
    assert not codes & postcodes_of(app, WARD_B)
    first = next(f for f in mine["features"] if f["properties"]["postcode"] == "HF1 1FJ")
    assert first["geometry"] == {"type": "Point", "coordinates": [-0.587439, 51.966677]}

    theirs = {f["properties"]["postcode"] for f in points(officer_b)["features"]}
    assert theirs == postcodes_of(app, WARD_B) and not theirs & codes
    district = {f["properties"]["postcode"] for f in points(supervisor)["features"]}
    assert district == postcodes_of(app, DISTRICT_A) and codes < district


def test_the_points_are_for_staff_who_send_messages(app, county, make_member, make_staff,
                                                    login):
    url = "/staff/messages/postcode-points.json"
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/staff/sign-in" in anonymous.location
    resident = login(app.test_client(), member=make_member(area=WARD_A))
    assert resident.get(url).status_code == 403
    coordinator = login(app.test_client(), staff=make_staff("coordinator", areas=[WARD_A]))
    assert coordinator.get(url).status_code == 403  # coordinators send no messages
    response = login(app.test_client(), staff=make_staff("officer", areas=[WARD_A])).get(url)
    assert response.headers["Cache-Control"] == "no-store"


def test_many_points_are_grouped_in_a_few_queries(app, county, make_staff, login,
                                                  monkeypatch):
    staff_id = make_staff("supervisor", areas=[DISTRICT_A])
    everything = postcodes_of(app, DISTRICT_A)
    limit = 9
    assert len(everything) > limit
    with app.app_context():
        staff = db.session.get(Staff, staff_id)
        areas = list(staff.areas)  # loaded before counting
        statements: list[str] = []
        listen = (db.engine, "before_cursor_execute")

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(*listen, count)
        try:
            grouped = message_views.postcode_points_geojson(staff, limit=limit)
            single = message_views.postcode_points_geojson(staff, limit=len(everything))
        finally:
            event.remove(*listen, count)
        assert len(statements) == 3 + 1  # grouped: 3 queries; one by one: 1
        lons = [p.longitude for p in db.session.scalars(
            select(Postcode).where(within(areas, Postcode.area_id)))]

    assert grouped["grouped"] is True
    cells = grouped["features"]
    # Every postcode is counted in exactly one cell, and there are about `limit` cells.
    assert sum(c["properties"]["postcodes"] for c in cells) == len(everything)
    assert 1 < len(cells) <= (int(limit ** 0.5) + 2) ** 2
    assert all(min(lons) <= c["geometry"]["coordinates"][0] <= max(lons) for c in cells)
    assert single["grouped"] is False and len(single["features"]) == len(everything)

    # The endpoint uses the module's limit.
    monkeypatch.setattr(message_views, "MAP_POINTS_LIMIT", limit)
    client = login(app.test_client(), staff=staff_id)
    assert points(client) == grouped


def test_leaflet_is_served_from_its_package_like_our_static_files(app, county, make_staff,
                                                                  login):
    from xstatic.pkg import leaflet

    client = app.test_client()
    ours = client.get("/static/commonwatch.css")
    response = client.get("/static/vendor/leaflet/leaflet.js")
    assert response.status_code == 200 and response.mimetype in (
        "text/javascript", "application/javascript")
    with open(f"{leaflet.BASE_DIR}/leaflet.js", "rb") as fh:
        assert response.data == fh.read()
    assert client.get("/static/vendor/leaflet/leaflet.css").mimetype == "text/css"
    for header in ("Cache-Control", "X-Content-Type-Options", "Referrer-Policy",
                   "Strict-Transport-Security"):
        assert response.headers.get(header) == ours.headers.get(header), header
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    again = client.get("/static/vendor/leaflet/leaflet.js",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/static/vendor/leaflet/../__init__.py").status_code == 404
    assert client.get("/static/vendor/leaflet/nothing.js").status_code == 404

    officer = login(app.test_client(), staff=make_staff("officer", areas=[WARD_A]))
    assert officer.get("/static/vendor/leaflet/leaflet.js").headers["Cache-Control"] == \
        "no-store"
    page = officer.get("/staff/messages/new").get_data(as_text=True)
    assert 'src="/static/vendor/leaflet/leaflet.js"' in page
    assert 'src="/static/js/target-map.js"' in page


def img_src(response) -> str:
    csp = response.headers["Content-Security-Policy"]
    return next(d.strip() for d in csp.split(";") if d.strip().startswith("img-src"))


def test_without_tiles_the_map_is_plain_and_the_policy_unchanged(app, county, make_staff,
                                                                login):
    officer = login(app.test_client(), staff=make_staff("officer", areas=[WARD_A]))
    response = officer.get("/staff/messages/new")
    page = response.get_data(as_text=True)
    assert 'data-tile-url=""' in page
    assert 'data-points-url="/staff/messages/postcode-points.json"' in page
    assert img_src(response) == "img-src 'self' data: https:"


def test_a_force_s_tiles_are_used_and_allowed(app, county, make_staff, login):
    app.config.update(MAP_TILE_URL="http://tiles.wealdshire.example:8080/{z}/{x}/{y}.png",
                      MAP_TILE_ATTRIBUTION='© Wealdshire "Maps" <b>')
    officer = login(app.test_client(), staff=make_staff("officer", areas=[WARD_A]))
    response = officer.get("/staff/messages/new")
    page = response.get_data(as_text=True)
    assert 'data-tile-url="http://tiles.wealdshire.example:8080/{z}/{x}/{y}.png"' in page
    assert 'data-tile-attribution="© Wealdshire &#34;Maps&#34; &lt;b&gt;"' in page
    assert img_src(response) == "img-src 'self' data: https: http://tiles.wealdshire.example:8080"
    # Every page carries the same policy, the points too.
    assert "http://tiles.wealdshire.example:8080" in img_src(officer.get("/"))


@pytest.mark.parametrize(("url", "source"), [
    (None, ""),
    ("", ""),
    ("https://{s}.tile.example.org/{z}/{x}/{y}.png", " https://*.tile.example.org"),
    ("https://tiles.example.org/{z}/{x}/{y}.png?key=abc", " https://tiles.example.org"),
    ("http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png", " http://127.0.0.1:8081"),
    ("javascript:alert(1)", ""),
    ("https://tiles.example.org; script-src *", ""),
    ("https://{z}.example.org/{x}/{y}.png", ""),
    ("https://user@tiles.example.org/{z}/{x}/{y}.png", ""),
])
def test_the_tile_origin_in_the_policy(url, source):
    assert tile_source(url) == source
    assert not re.search(r"[;,'\s]", source.strip())

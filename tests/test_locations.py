"""Alerts to people currently in an area: positions shared by choice, coarsened and
kept only for a while; the rule picks exactly those inside the area and not expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import Member, MemberLocation, utcnow

WARD, OTHER_WARD, ELSEWHERE = "E05900001", "E05900002", "E05900012"
#: Points inside the fixture's wards (areas.csv): Ashendry North and South.
IN_WARD, IN_OTHER_WARD = (51.93, -0.57), (51.93, -0.51)


def share(app, member_id: int, point: tuple[float, float] | None, minutes_ago: int = 0,
          enabled: bool = True) -> None:
    from core.locations import record

    with app.app_context():
        member = db.session.get(Member, member_id)
        member.location_alerts = enabled
        if point is not None:
            record(member, *point, at=utcnow() - timedelta(minutes=minutes_ago))
        db.session.commit()


def present(reached, staff_id: int, code: str = WARD, mode: str = "must") -> set[int]:
    return reached(staff_id, rules=[{"name": "core.present", "mode": mode,
                                     "params": {"codes": code}}])


def test_the_rule_picks_exactly_those_inside_the_area_and_not_expired(
        app, make_member, make_staff, reached):
    officer = make_staff("officer", areas=["E07900001"])  # Ashendry district
    inside = make_member(area=OTHER_WARD, email="inside@example.org")
    expired = make_member(area=WARD, email="expired@example.org")
    next_door = make_member(area=WARD, email="next-door@example.org")
    stopped = make_member(area=WARD, email="stopped@example.org")
    visitor = make_member(area=ELSEWHERE, email="visitor@example.org")
    council_only = make_member(area=ELSEWHERE, email="council@example.org",
                               organisations=["ashendry-council"])
    share(app, inside, IN_WARD)
    share(app, expired, IN_WARD, minutes_ago=121)           # kept 120 minutes
    share(app, next_door, IN_OTHER_WARD)
    share(app, stopped, IN_WARD)
    share(app, visitor, IN_WARD)                             # lives in another district
    share(app, council_only, IN_WARD)                        # never consented to police
    with app.app_context():
        from core.locations import stop_sharing

        stop_sharing(db.session.get(Member, stopped))
        db.session.commit()
    # Those in the ward now: whoever lives where, but only the police's own members.
    assert present(reached, officer) == {inside, visitor}
    # "As well as residents": the ward's residents, or anyone in it now.
    everyone = reached(officer, rules=[
        {"name": "core.area", "mode": "include", "params": {"codes": WARD}},
        {"name": "core.present", "mode": "include", "params": {"codes": WARD}}])
    assert everyone == {inside, visitor, expired, next_door, stopped}
    # Without the rule, a visitor is beyond the officer's reach as before.
    assert visitor not in reached(officer)


def test_positions_are_coarsened_and_forgotten_when_they_expire(app, make_member):
    member = make_member(area=WARD)
    share(app, member, (51.931234, -0.571987))
    with app.app_context():
        kept = db.session.get(MemberLocation, member)
        assert (kept.latitude, kept.longitude) == (51.93, -0.57)
        assert kept.expires_at - kept.reported_at == timedelta(minutes=120)
        from core.delivery import sweep

        sweep()
        assert db.session.get(MemberLocation, member) is not None
        kept.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        sweep()
        assert db.session.scalar(select(func.count()).select_from(MemberLocation)) == 0


def test_nothing_is_kept_without_the_member_choosing_to_share(app, make_member):
    from core.locations import LocationRefused, record

    member = make_member(area=WARD)
    with app.app_context(), pytest.raises(LocationRefused):
        record(db.session.get(Member, member), *IN_WARD)


def test_the_app_shares_through_the_api(app, make_member, make_staff, reached):
    from core.rest import create_token

    member = make_member(area=ELSEWHERE)
    officer = make_staff("officer", areas=[WARD])
    with app.app_context():
        _made, token = create_token(db.session.get(Member, member), "App", ["read", "profile"])
        db.session.commit()

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    api = app.test_client()
    refused = api.put("/api/v1/me/location", json={"latitude": IN_WARD[0],
                                                   "longitude": IN_WARD[1]},
                      headers=bearer(token))
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "location_sharing_off"
    assert api.put("/api/v1/me/location-sharing", json={"enabled": True},
                   headers=bearer(token)).get_json()["location_alerts"] is True
    kept = api.put("/api/v1/me/location", json={"latitude": 51.93456, "longitude": -0.57321},
                   headers=bearer(token))
    assert kept.status_code == 200
    assert (kept.get_json()["latitude"], kept.get_json()["longitude"]) == (51.93, -0.57)
    assert present(reached, officer) == {member}
    assert api.put("/api/v1/me/location-sharing", json={"enabled": False},
                   headers=bearer(token)).status_code == 200
    assert present(reached, officer) == set()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MemberLocation)) == 0


def test_a_shared_position_is_in_the_members_download(app, make_member, login):
    member = make_member(area=WARD)
    share(app, member, IN_WARD)
    data = login(app.test_client(), member=member).get("/account/my-data.json").get_json()
    assert data["location_sharing"]["enabled"] is True
    assert data["location_sharing"]["last_position"]["latitude"] == 51.93


def test_a_resident_turns_sharing_on_and_off_on_the_preferences_page(app, make_member, login):
    member = make_member(area=ELSEWHERE)
    client = login(app.test_client(), member=member)
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "Share where I am" in page and "data-location-control" not in page
    # Reporting before choosing to share keeps nothing.
    refused = client.post("/account/location", json={"latitude": IN_WARD[0],
                                                     "longitude": IN_WARD[1]})
    assert refused.status_code == 409
    # A bare POST changes nothing; the button does.
    assert client.post("/account/location-sharing").status_code == 302
    with app.app_context():
        assert db.session.get(Member, member).location_alerts is False
    client.post("/account/location-sharing", data={"sharing": "on"})
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "Stop sharing where I am" in page and "data-location-control" in page
    kept = client.post("/account/location", json={"latitude": 51.93456,
                                                  "longitude": -0.57321})
    assert kept.status_code == 200 and kept.get_json()["latitude"] == 51.93
    assert client.post("/account/location", json={"latitude": "north"}).status_code == 400
    client.post("/account/location-sharing", data={"sharing": "off"})
    with app.app_context():
        assert db.session.get(Member, member).location_alerts is False
        assert db.session.get(MemberLocation, member) is None


@pytest.mark.browser
def test_the_web_app_reports_where_the_device_is(app, live_server, make_member, make_staff,
                                                 make_browser_page, reached):
    from core.testing.pytest_plugin import DEFAULT_PASSWORD

    app.config["BASE_URL"] = live_server
    member = make_member(area=ELSEWHERE, email="walker@example.org")
    officer = make_staff("officer", areas=[WARD])
    page = make_browser_page(geolocation={"latitude": IN_WARD[0], "longitude": IN_WARD[1]},
                             permissions=["geolocation"])
    page.goto(f"{live_server}/sign-in")
    page.get_by_label("Email address", exact=True).fill("walker@example.org")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/account/preferences")
    page.get_by_role("button", name="Share where I am").click()
    page.goto(f"{live_server}/account/preferences")
    from playwright.sync_api import expect

    expect(page.get_by_text("This device has told us where it is.")).to_be_visible()
    assert present(reached, officer) == {member}

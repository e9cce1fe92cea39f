"""Sessions kept server-side: ending, timing out, fresh logins, notices and the denial log."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.extensions import db
from core.models import Member, SecurityEvent, Staff, UserSession, utcnow
from core.testing.pytest_plugin import DEFAULT_PASSWORD, totp_now


def session_cookie(client):
    return client.get_cookie("session").value


def replay(app, cookie):
    other = app.test_client()
    other.set_cookie("session", cookie, domain="localhost")
    return other


def test_a_cookie_replayed_after_sign_out_is_refused(app, county, make_member, login):
    client = login(app.test_client(), member=make_member())
    cookie = session_cookie(client)
    assert replay(app, cookie).get("/account").status_code == 200
    client.post("/sign-out")
    response = replay(app, cookie).get("/account")
    assert response.status_code == 302 and "/sign-in" in response.location


def test_a_cookie_replayed_after_a_password_change_is_refused(app, county, make_member, login):
    client = login(app.test_client(), member=make_member())
    old_cookie = session_cookie(client)
    client.post("/account/password", data={
        "current_password": DEFAULT_PASSWORD, "password": "a brand new password",
        "password_confirm": "a brand new password"})
    assert client.get("/account").status_code == 200
    assert replay(app, old_cookie).get("/account").status_code == 302


def test_signing_in_starts_a_new_session(app, county, make_staff):
    staff_id = make_staff("officer")
    client = app.test_client()
    with client.session_transaction() as planted:
        planted["mfa"] = True  # as if an attacker fixed a session that skips 2FA
        planted["sid"] = "attacker-chosen"
    client.post("/staff/sign-in", data={"email": "staff1@police.example.org",
                                        "password": DEFAULT_PASSWORD})
    with client.session_transaction() as session:
        assert session["mfa"] is False and session["sid"] != "attacker-chosen"
    assert "/two-factor" in client.get("/staff/").location
    with app.app_context():
        rows = db.session.scalars(select(UserSession).where(UserSession.staff_id == staff_id))
        assert len(rows.all()) == 1


def age_sessions(app, staff_id, **deltas):
    with app.app_context():
        db.session.execute(
            update(UserSession).where(UserSession.staff_id == staff_id)
            .values({k: utcnow() - v for k, v in deltas.items()})
        )
        db.session.commit()


@pytest.mark.parametrize(("idle", "signed_in"), [(timedelta(minutes=29), True),
                                                 (timedelta(minutes=31), False)])
def test_staff_sessions_end_after_30_idle_minutes(app, county, make_staff, login, idle,
                                                  signed_in):
    staff_id = make_staff("officer")
    client = login(app.test_client(), staff=staff_id)
    age_sessions(app, staff_id, last_seen_at=idle)
    assert (client.get("/staff/").status_code == 200) == signed_in


@pytest.mark.parametrize(("age", "signed_in"), [(timedelta(hours=11, minutes=59), True),
                                                (timedelta(hours=12, minutes=1), False)])
def test_staff_sessions_end_after_12_hours_however_active(app, county, make_staff, login,
                                                          age, signed_in):
    staff_id = make_staff("officer")
    client = login(app.test_client(), staff=staff_id)
    age_sessions(app, staff_id, created_at=age)
    assert (client.get("/staff/").status_code == 200) == signed_in


def test_resident_sessions_survive_an_idle_hour(app, county, make_member, login):
    member_id = make_member()
    client = login(app.test_client(), member=member_id)
    with app.app_context():
        db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    assert client.get("/account").status_code == 200


def test_managing_staff_needs_a_fresh_password(app, county, make_staff, login):
    admin = make_staff("force_admin", areas=["E10900001"])
    client = login(app.test_client(), staff=admin)
    assert client.get("/staff/accounts/new").status_code == 200  # just signed in
    age_sessions(app, admin, fresh_at=timedelta(minutes=11))
    response = client.get("/staff/accounts/new")
    assert response.status_code == 302 and "/confirm-password" in response.location
    page = client.post(response.location, data={"password": "not the password"})
    assert "Your password is not right" in page.get_data(as_text=True)
    response = client.post(response.location, data={"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response.location.rstrip("?").endswith("/staff/accounts/new")
    assert client.get("/staff/accounts/new").status_code == 200


def test_replacing_two_factor_needs_a_fresh_password(app, county, make_staff, login):
    staff_id = make_staff("officer")
    client = login(app.test_client(), staff=staff_id)
    age_sessions(app, staff_id, fresh_at=timedelta(minutes=30))
    response = client.get("/two-factor/setup")
    assert "/confirm-password" in response.location


def test_password_change_and_two_factor_are_notified(app, county, make_member, make_staff,
                                                     login, outbox):
    member_id = make_member(email="notify@example.org")
    client = login(app.test_client(), member=member_id)
    client.post("/account/password", data={
        "current_password": DEFAULT_PASSWORD, "password": "a brand new password",
        "password_confirm": "a brand new password"})
    message = outbox.wait_for(1)[0]
    assert message["To"] == "notify@example.org"
    assert "Your password was changed" in message["Subject"]
    assert "/password/forgot" in message.get_body(("plain",)).get_content()

    staff_id = make_staff("officer", two_factor=False, email="newstaff@police.example.org")
    staff = app.test_client()
    staff.post("/staff/sign-in", data={"email": "newstaff@police.example.org",
                                       "password": DEFAULT_PASSWORD})
    staff.get("/two-factor/setup")
    with staff.session_transaction() as session:
        secret = session["pending_totp"]
    staff.post("/two-factor/setup", data={"code": totp_now(secret)})
    assert outbox.wait_for(2)[-1]["Subject"].startswith("Two-factor authentication was turned on")
    with app.app_context():
        kinds = set(db.session.scalars(select(SecurityEvent.kind)))
        assert kinds == {"password_changed", "two_factor_enabled"}
        assert db.session.get(Staff, staff_id).totp_secret == secret
        assert db.session.get(Member, member_id) is not None


def test_denied_attempts_are_logged_without_personal_data(app, county, make_member,
                                                          make_staff, login, caplog):
    resident = make_member(name="Priyanka Secretname", email="priyanka@example.org",
                           area="E05900002")
    officer = make_staff("officer", areas=["E05900001"])
    client = login(app.test_client(), staff=officer)
    caplog.set_level(logging.WARNING, logger="commonwatch.security")
    assert client.get(f"/staff/members/{resident}").status_code == 404
    assert client.get("/staff/accounts").status_code == 403
    assert app.test_client().get("/account").status_code == 302
    records = [r.getMessage() for r in caplog.records if r.name == "commonwatch.security"]
    assert any(f"who=staff:{officer}" in r and "route=/staff/members/<int:member_id>" in r
               and "not in scope" in r for r in records)
    assert any(f"who=staff:{officer}" in r and "lacks core.staff.manage" in r for r in records)
    assert any("who=anonymous" in r and "route=/account" in r for r in records)
    for record in records:
        assert "Secretname" not in record and "@" not in record
        assert f"/staff/members/{resident}" not in record  # the pattern, not the URL


def test_a_view_without_a_policy_is_refused_at_run_time(make_app, caplog):
    app = make_app()

    @app.get("/forgotten")
    def forgotten():
        return "secret"

    caplog.set_level(logging.WARNING, logger="commonwatch.security")
    response = app.test_client().get("/forgotten")
    assert response.status_code == 403 and "secret" not in response.get_data(as_text=True)
    assert any("declares no access policy" in r.getMessage() for r in caplog.records)


def test_a_common_password_is_refused_when_changing_it(app, county, make_member, login):
    client = login(app.test_client(), member=make_member())
    page = client.post("/account/password", data={
        "current_password": DEFAULT_PASSWORD, "password": "q1w2e3r4t5y6",
        "password_confirm": "q1w2e3r4t5y6"}).get_data(as_text=True)
    assert "one of the most common passwords" in page
    assert replay(app, session_cookie(client)).get("/account").status_code == 200


def test_sign_in_throttling_fails_closed_when_redis_is_down(make_app, county, make_member):
    app = make_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    make_member(email="closed@example.org")
    client = app.test_client()
    assert client.get("/sign-in").status_code == 200
    response = client.post("/sign-in", data={"email": "closed@example.org",
                                             "password": DEFAULT_PASSWORD})
    assert response.status_code == 503
    assert "the service is unavailable" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302  # not signed in

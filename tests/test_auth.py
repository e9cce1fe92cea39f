"""Signing in and out, two-factor authentication, password resets and sessions.

Every test drives the app the way a person would (through HTTP) and checks what they
would notice: where they end up, what the page says, which emails arrive.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy import select

import core.security
from core.extensions import db
from core.models import Member, Organisation, RecoveryCode, Staff
from core.security import (
    TOTP_STEP,
    check_totp,
    hash_password,
    new_recovery_codes,
    verify_second_factor,
)
from core.testing.pytest_plugin import DEFAULT_PASSWORD, Outbox, postcode_in, totp_now

NEW_PASSWORD = "a brand new pass phrase"
SIGN_IN_ERROR = "Enter the email address and password of your account"
CODE_ERROR = "The code is not right"
EXPIRED = "This link has expired"
#: The middle of a TOTP time step, so codes of neighbouring steps are unambiguous.
NOW = 1_800_000_000 + 15
ARGON2_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"


# -- helpers --------------------------------------------------------------------------------


def user_id_in_session(client: FlaskClient) -> str | None:
    """The flask-login id stored in the client's session, if any."""
    with client.session_transaction() as sess:
        return sess.get("_user_id")


def location_path(response: Any) -> str:
    """The path of a redirect's Location (without its query string)."""
    return urlsplit(response.headers["Location"]).path


def error_messages(response: Any) -> list[str]:
    """The texts of the GOV.UK error messages shown next to fields."""
    found = re.findall(
        r'<p[^>]*class="govuk-error-message"[^>]*>(.*?)</p>',
        response.get_data(as_text=True),
        re.S,
    )
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split()) for text in found
    ]


def without_nonces(body: str) -> str:
    """A page's HTML with the per-request CSP nonces removed."""
    return re.sub(r'nonce="[^"]*"', 'nonce=""', body)


def email_of(app: Flask, model: type[Member] | type[Staff], user_id: int) -> str:
    with app.app_context():
        return db.session.get(model, user_id).email


def secret_of(app: Flask, staff_id: int) -> str:
    with app.app_context():
        return db.session.get(Staff, staff_id).totp_secret


def code_at(secret: str, when: float) -> str:
    """The TOTP code ``secret`` shows at Unix time ``when``."""
    return pyotp.TOTP(secret).at(when)


def sign_in(client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD,
            staff: bool = False, **kwargs: Any) -> Any:
    return client.post("/staff/sign-in" if staff else "/sign-in",
                       data={"email": email, "password": password}, **kwargs)


def assert_stays_on_site(location: str) -> None:
    """``location`` is a path on this site, never another host."""
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/"), location
    # Not protocol-relative, even once a proxy or browser decodes it ("/%5C" is "/\\").
    for form in (location, unquote(location)):
        assert not form.startswith(("//", "/\\")), location


@pytest.fixture
def frozen_totp_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """Make the server's TOTP checks see the time ``NOW``."""
    monkeypatch.setattr(core.security, "time", SimpleNamespace(time=lambda: NOW))
    return NOW


def staff_pages(app: Flask) -> Iterator[tuple[str, str]]:
    """(method, URL) of every page under /staff/ except signing in, with made-up ids."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff/") or rule.endpoint == "auth.staff_sign_in":
            continue
        values = {name: 1 for name in rule.arguments}
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS"})[0]
        yield method, adapter.build(rule.endpoint, values, method=method)


# -- residents signing in -------------------------------------------------------------------


def test_resident_signs_in_with_email_in_any_case(app, client, make_member):
    make_member(email="Jo.Bloggs@Example.org")

    response = sign_in(client, "  JO.BLOGGS@example.ORG ")

    assert response.status_code == 302
    assert location_path(response) == "/account"
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("email", ["jo@example.org", "nobody@example.org"])
def test_wrong_password_or_unknown_email_show_the_same_error(client, make_member, email):
    make_member(email="jo@example.org")

    response = sign_in(client, email, "not the right password")

    assert response.status_code == 200
    assert error_messages(response) == [f"Error: {SIGN_IN_ERROR}"]
    assert user_id_in_session(client) is None
    assert client.get("/account").status_code == 302


def test_wrong_password_and_unknown_email_pages_are_identical(client, make_member):
    make_member(email="jo@example.org")

    wrong = sign_in(client, "jo@example.org", "not the right password")
    unknown = sign_in(client, "al@example.org", "not the right password")

    assert wrong.status_code == unknown.status_code == 200
    assert without_nonces(wrong.get_data(as_text=True)).replace("jo@", "al@") == without_nonces(
        unknown.get_data(as_text=True)
    )


# -- staff two-factor -----------------------------------------------------------------------


def test_staff_pages_redirect_to_two_factor_until_a_code_is_given(
    app, client, make_staff, frozen_totp_clock
):
    staff_id = make_staff()
    secret = secret_of(app, staff_id)

    response = sign_in(client, email_of(app, Staff, staff_id), staff=True)
    assert response.status_code == 302
    assert location_path(response) == "/two-factor"

    pages = list(staff_pages(app))
    assert ("GET", "/staff/") in pages
    for method, url in pages:
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert location_path(response) == "/two-factor", (method, url)

    response = client.post("/two-factor", data={"code": code_at(secret, NOW + 3 * TOTP_STEP)})
    assert response.status_code == 200
    assert location_path(client.get("/staff/")) == "/two-factor"

    response = client.post("/two-factor", data={"code": code_at(secret, NOW)})
    assert response.status_code == 302
    assert location_path(response) == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_resident_cannot_reach_staff_pages(app, client, make_member, login):
    login(client, member=make_member())

    for url in ("/staff/", "/staff/members"):
        assert client.get(url).status_code == 403


def test_staff_without_two_factor_enrol_and_see_recovery_codes_once(
    app, client, make_staff, frozen_totp_clock
):
    staff_id = make_staff(two_factor=False)

    response = sign_in(client, email_of(app, Staff, staff_id), staff=True)
    assert location_path(response) == "/two-factor/setup"
    for method, url in staff_pages(app):
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert location_path(response) == "/two-factor/setup", (method, url)
    assert location_path(client.get("/two-factor")) == "/two-factor/setup"

    page = client.get("/two-factor/setup")
    assert page.status_code == 200
    with client.session_transaction() as sess:
        secret = sess["pending_totp"]
    assert secret in page.get_data(as_text=True)

    wrong = client.post("/two-factor/setup", data={"code": code_at(secret, NOW + 3 * TOTP_STEP)})
    assert wrong.status_code == 200
    assert CODE_ERROR in wrong.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302

    done = client.post("/two-factor/setup", data={"code": code_at(secret, NOW)})
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    listed = re.search(r'<ul class="govuk-list cw-codes">(.*?)</ul>', body, re.S)
    codes = re.findall(r"<li>(.*?)</li>", listed.group(1))
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{6}-[0-9a-f]{6}", code) for code in codes)

    with client.session_transaction() as sess:
        assert "pending_totp" not in sess
    with app.app_context():
        assert db.session.get(Staff, staff_id).totp_secret == secret

    # The code used to enrol cannot sign in again.
    again = app.test_client()
    sign_in(again, email_of(app, Staff, staff_id), staff=True)
    assert again.post("/two-factor", data={"code": code_at(secret, NOW)}).status_code == 200
    assert location_path(again.get("/staff/")) == "/two-factor"

    # Shown once: no later page repeats them.
    for url in ("/staff/", "/two-factor/setup", "/two-factor"):
        later = client.get(url)
        assert later.status_code == 200, url
        assert not any(code in later.get_data(as_text=True) for code in codes), url


# -- TOTP rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_check_totp_accepts_the_current_step_and_one_either_side(offset):
    secret = pyotp.random_base32()
    code = code_at(secret, NOW + offset * TOTP_STEP)

    assert check_totp(secret, code, None, at=NOW) == NOW // TOTP_STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_check_totp_refuses_codes_two_steps_away(offset):
    secret = pyotp.random_base32()
    code = code_at(secret, NOW + offset * TOTP_STEP)
    # Make sure the refusal is about time, not a coincidence of digits.
    assert code not in {code_at(secret, NOW + o * TOTP_STEP) for o in (-1, 0, 1)}

    assert check_totp(secret, code, None, at=NOW) is None


def test_check_totp_never_accepts_a_step_twice_or_an_earlier_one():
    secret = pyotp.random_base32()
    step = NOW // TOTP_STEP
    current = code_at(secret, NOW)
    earlier = code_at(secret, NOW - TOTP_STEP)
    later = code_at(secret, NOW + TOTP_STEP)

    assert check_totp(secret, current, None, at=NOW) == step
    assert check_totp(secret, current, step, at=NOW) is None
    assert check_totp(secret, earlier, step, at=NOW) is None
    assert check_totp(secret, current, step + 1, at=NOW) is None
    assert check_totp(secret, later, step, at=NOW) == step + 1
    assert check_totp(secret, current, step - 1, at=NOW) == step


def test_check_totp_refuses_malformed_codes():
    secret = pyotp.random_base32()
    code = code_at(secret, NOW)

    assert check_totp(secret, f"{code[:3]} {code[3:]}", None, at=NOW) == NOW // TOTP_STEP
    for bad in ("", "12345", "1234567", "abcdef", code + "0", code[:5]):
        assert check_totp(secret, bad, None, at=NOW) is None


@pytest.mark.parametrize("code", ["²²²²²²", "١٢٣٤٥٦", "１２３４５６", "12345６"])
def test_check_totp_refuses_non_ascii_digits(code):
    assert check_totp(pyotp.random_base32(), code, None, at=NOW) is None


@pytest.mark.parametrize("code", ["²²²²²²", "١٢٣٤٥٦", "１２３４５６"])
def test_two_factor_pages_refuse_non_ascii_digits_politely(app, client, make_staff, code):
    staff_id = make_staff()
    sign_in(client, email_of(app, Staff, staff_id), staff=True)

    response = client.post("/two-factor", data={"code": code})

    assert response.status_code == 200
    assert CODE_ERROR in response.get_data(as_text=True)
    assert location_path(client.get("/staff/")) == "/two-factor"

    setup = app.test_client()
    sign_in(setup, email_of(app, Staff, make_staff(two_factor=False)), staff=True)
    response = setup.post("/two-factor/setup", data={"code": code})
    assert response.status_code == 200
    assert CODE_ERROR in response.get_data(as_text=True)


def test_eleventh_code_attempt_is_refused(app, client, make_staff, frozen_totp_clock):
    staff_id = make_staff()
    secret = secret_of(app, staff_id)
    wrong = next(c for c in ("000000", "111111", "222222")
                 if c not in {code_at(secret, NOW + o * TOTP_STEP) for o in (-1, 0, 1)})
    sign_in(client, email_of(app, Staff, staff_id), staff=True)
    for n in range(10):
        assert client.post("/two-factor", data={"code": wrong}).status_code == 200, n

    assert client.post("/two-factor", data={"code": code_at(secret, NOW)}).status_code == 429
    # A new session of the same account gets no fresh attempts.
    other = app.test_client()
    sign_in(other, email_of(app, Staff, staff_id), staff=True)
    assert other.post("/two-factor", data={"code": code_at(secret, NOW)}).status_code == 429
    assert location_path(other.get("/staff/")) == "/two-factor"


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True),
                                                  (1, True), (2, False)])
def test_two_factor_page_accepts_codes_within_one_step(
    app, client, make_staff, frozen_totp_clock, offset, accepted
):
    staff_id = make_staff()
    secret = secret_of(app, staff_id)
    code = code_at(secret, NOW + offset * TOTP_STEP)
    if not accepted:
        assert code not in {code_at(secret, NOW + o * TOTP_STEP) for o in (-1, 0, 1)}
    sign_in(client, email_of(app, Staff, staff_id), staff=True)

    response = client.post("/two-factor", data={"code": code})

    if accepted:
        assert response.status_code == 302
        assert client.get("/staff/").status_code == 200
    else:
        assert response.status_code == 200
        assert CODE_ERROR in response.get_data(as_text=True)
        assert location_path(client.get("/staff/")) == "/two-factor"


def test_a_code_is_never_accepted_twice(app, make_staff, frozen_totp_clock):
    staff_id = make_staff()
    secret = secret_of(app, staff_id)
    email = email_of(app, Staff, staff_id)
    first = app.test_client()
    sign_in(first, email, staff=True)
    assert first.post("/two-factor", data={"code": code_at(secret, NOW)}).status_code == 302
    assert first.get("/staff/").status_code == 200

    second = app.test_client()
    sign_in(second, email, staff=True)
    for when in (NOW, NOW - TOTP_STEP):  # the same code, then one of an earlier step
        response = second.post("/two-factor", data={"code": code_at(secret, when)})
        assert response.status_code == 200
        assert CODE_ERROR in response.get_data(as_text=True)
        assert location_path(second.get("/staff/")) == "/two-factor"

    # The next step's code still works.
    response = second.post("/two-factor", data={"code": code_at(secret, NOW + TOTP_STEP)})
    assert response.status_code == 302
    assert second.get("/staff/").status_code == 200


# -- recovery codes -------------------------------------------------------------------------


def enrol(app: Flask, client: FlaskClient, staff_id: int) -> list[str]:
    """Enrol a signed-in staff member in two-factor; returns the recovery codes shown."""
    sign_in(client, email_of(app, Staff, staff_id), staff=True)
    client.get("/two-factor/setup")
    with client.session_transaction() as sess:
        secret = sess["pending_totp"]
    body = client.post("/two-factor/setup", data={"code": code_at(secret, NOW)}).get_data(
        as_text=True
    )
    return re.findall(r"<li>([0-9a-f]{6}-[0-9a-f]{6})</li>", body)


def test_recovery_codes_are_stored_hashed(app, client, make_staff, frozen_totp_clock):
    staff_id = make_staff(two_factor=False)
    codes = enrol(app, client, staff_id)
    assert len(codes) == 10

    with app.app_context():
        rows = db.session.scalars(select(RecoveryCode).where(RecoveryCode.staff_id == staff_id))
        stored = [
            str(getattr(row, column.key))
            for row in rows
            for column in RecoveryCode.__table__.columns
        ]
    assert len(stored) == 10 * len(RecoveryCode.__table__.columns)
    assert sum(value.startswith("$argon2id$") for value in stored) == 10
    for code in codes:
        assert not any(code in value or code.replace("-", "") in value for value in stored)


def test_each_recovery_code_works_once(app, make_staff, frozen_totp_clock):
    staff_id = make_staff(two_factor=False)
    codes = enrol(app, app.test_client(), staff_id)
    email = email_of(app, Staff, staff_id)

    client = app.test_client()
    sign_in(client, email, staff=True)
    response = client.post("/two-factor", data={"code": codes[0]})
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200

    again = app.test_client()
    sign_in(again, email, staff=True)
    response = again.post("/two-factor", data={"code": codes[0]})
    assert response.status_code == 200
    assert CODE_ERROR in response.get_data(as_text=True)
    assert location_path(again.get("/staff/")) == "/two-factor"

    response = again.post("/two-factor", data={"code": f" {codes[1].upper()} "})
    assert response.status_code == 302
    assert again.get("/staff/").status_code == 200


# -- two requests racing with the same code ------------------------------------------------


def test_a_code_sent_by_two_requests_at_once_is_accepted_once(app, make_staff,
                                                              frozen_totp_clock):
    """A request loads the account when it starts and checks the code later; a second
    request with the same code, finishing in between, must not let both in."""
    staff_id = make_staff()
    code = code_at(secret_of(app, staff_id), NOW)

    with app.app_context():
        slow = db.session.get(Staff, staff_id)  # request 1 starts
        with app.app_context():  # request 2 runs from start to finish
            fast = verify_second_factor(db.session.get(Staff, staff_id), code)
            db.session.commit()
        slow_accepted = verify_second_factor(slow, code)
        db.session.commit()

    assert fast is True
    assert slow_accepted is False


def test_a_recovery_code_sent_by_two_requests_at_once_is_accepted_once(
    app, make_staff, monkeypatch
):
    staff_id = make_staff()
    with app.app_context():
        codes = new_recovery_codes(db.session.get(Staff, staff_id))
        db.session.commit()
    real_check = core.security.check_password
    other: list[bool] = []

    def check_while_another_request_runs(password_hash: str | None, password: str) -> bool:
        matched = real_check(password_hash, password)
        if matched and not other:
            other.append(False)
            with app.app_context():  # request 2 runs from start to finish
                other[0] = verify_second_factor(db.session.get(Staff, staff_id), codes[0])
                db.session.commit()
        return matched

    monkeypatch.setattr(core.security, "check_password", check_while_another_request_runs)
    with app.app_context():  # request 1
        first = verify_second_factor(db.session.get(Staff, staff_id), codes[0])
        db.session.commit()

    assert [first, *other].count(True) == 1
    with app.app_context():
        used = db.session.scalars(
            select(RecoveryCode).where(RecoveryCode.staff_id == staff_id,
                                       RecoveryCode.used_at.is_not(None))
        ).all()
    assert len(used) == 1


# -- password reset -------------------------------------------------------------------------


def forgot(client: FlaskClient, email: str, **kwargs: Any) -> Any:
    return client.post("/password/forgot", data={"email": email}, **kwargs)


def reset_link(outbox: Outbox, email: str) -> str:
    outbox.wait_for(1)
    messages = outbox.to(email)
    assert len(messages) == 1
    links = Outbox.links(messages[0])
    assert len(links) == 1
    return links[0]


def new_password(client: FlaskClient, path: str, password: str = NEW_PASSWORD) -> Any:
    return client.post(path, data={"password": password, "password_confirm": password})


def test_forgot_password_page_is_the_same_for_known_and_unknown_addresses(
    app, client, make_member, outbox
):
    email = email_of(app, Member, make_member(email="jo@example.org"))

    known = forgot(client, email)
    unknown = forgot(client, "al@example.org")

    assert known.status_code == unknown.status_code == 200
    assert without_nonces(known.get_data(as_text=True)) == without_nonces(
        unknown.get_data(as_text=True)
    )
    outbox.wait_for(1)
    time.sleep(0.2)
    assert [m["To"] for m in outbox] == [email]


def test_reset_link_is_built_from_base_url_and_sets_a_new_password(
    app, client, make_member, outbox
):
    email = email_of(app, Member, make_member())

    response = forgot(client, email, headers={"Host": "evil.example"})
    assert response.status_code == 200

    link = reset_link(outbox, email)
    assert link.startswith("https://commonwatch.example.org/password/reset/")
    assert "evil.example" not in outbox[0].get_body(("plain",)).get_content()

    path = urlsplit(link).path
    assert client.get(path).status_code == 200
    response = new_password(client, path)
    assert response.status_code == 302
    assert location_path(response) == "/sign-in"

    assert sign_in(client, email).status_code == 200
    assert user_id_in_session(client) is None
    assert sign_in(client, email, NEW_PASSWORD).status_code == 302
    assert client.get("/account").status_code == 200


def test_reset_link_works_once(app, client, make_member, outbox):
    email = email_of(app, Member, make_member())
    forgot(client, email)
    path = urlsplit(reset_link(outbox, email)).path
    assert new_password(client, path).status_code == 302

    for response in (client.get(path), new_password(client, path, "yet another pass phrase")):
        assert response.status_code == 400
        assert EXPIRED in response.get_data(as_text=True)
    assert sign_in(client, email, "yet another pass phrase").status_code == 200
    assert sign_in(client, email, NEW_PASSWORD).status_code == 302


def test_staff_can_reset_their_password(app, client, make_staff, outbox):
    email = email_of(app, Staff, make_staff())
    forgot(client, email)
    path = urlsplit(reset_link(outbox, email)).path

    response = new_password(client, path)

    assert location_path(response) == "/staff/sign-in"
    assert location_path(sign_in(client, email, NEW_PASSWORD, staff=True)) == "/two-factor"


def test_tampered_reset_links_are_refused(app, client, make_member, outbox):
    email = email_of(app, Member, make_member())
    forgot(client, email)
    token = urlsplit(reset_link(outbox, email)).path.rsplit("/", 1)[1]
    payload, stamp, signature = token.rsplit(".", 2)
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")

    for bad in (f"{payload}.{stamp}.{flipped}", f"{payload}x.{stamp}.{signature}",
                token[:-1], "nonsense", f"{payload}.{stamp}", "..", "é.é.é"):
        response = new_password(client, f"/password/reset/{bad}")
        assert response.status_code == 400, bad
        assert EXPIRED in response.get_data(as_text=True)
    assert sign_in(client, email, NEW_PASSWORD).status_code == 200
    assert sign_in(client, email).status_code == 302


def test_a_link_for_another_purpose_is_not_a_reset_link(app, client, make_member):
    member_id = make_member()
    with app.app_context():
        member = db.session.get(Member, member_id)
        data = {"k": "m", "u": member_id, "f": core.security.password_fingerprint(member)}
        genuine = core.security.make_token("reset", data)
        others = [core.security.make_token(p, data) for p in ("verify-email", "doorstep")]

    assert client.get(f"/password/reset/{genuine}").status_code == 200
    for bad in others:
        response = new_password(client, f"/password/reset/{bad}")
        assert response.status_code == 400


@pytest.mark.parametrize(("age", "works"), [(3600 - 600, True), (3600 + 60, False)])
def test_reset_links_expire_after_an_hour(app, client, make_member, outbox, monkeypatch,
                                           age, works):
    email = email_of(app, Member, make_member())
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - age)
        forgot(client, email)
        path = urlsplit(reset_link(outbox, email)).path

    response = new_password(client, path)

    if works:
        assert response.status_code == 302
        assert sign_in(client, email, NEW_PASSWORD).status_code == 302
    else:
        assert response.status_code == 400
        assert EXPIRED in response.get_data(as_text=True)
        assert sign_in(client, email).status_code == 302


# -- sessions end when the password changes -------------------------------------------------


def test_changing_password_signs_out_other_sessions(app, make_member, login):
    member_id = make_member()
    here, elsewhere = app.test_client(), app.test_client()
    login(here, member=member_id)
    login(elsewhere, member=member_id)
    assert elsewhere.get("/account").status_code == 200

    response = here.post("/account/password", data={
        "current_password": DEFAULT_PASSWORD,
        "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
    })
    assert response.status_code == 302

    assert here.get("/account").status_code == 200
    response = elsewhere.get("/account")
    assert response.status_code == 302
    assert location_path(response) == "/sign-in"


def test_resetting_password_ends_every_session(app, make_member, login, outbox):
    member_id = make_member()
    email = email_of(app, Member, member_id)
    first, second = app.test_client(), app.test_client()
    login(first, member=member_id)
    login(second, member=member_id)

    forgot(second, email)
    path = urlsplit(reset_link(outbox, email)).path
    assert new_password(second, path).status_code == 302

    for client in (first, second):
        response = client.get("/account")
        assert response.status_code == 302
        assert location_path(response) == "/sign-in"


def test_disabling_staff_ends_their_session(app, client, make_staff, login):
    staff_id = make_staff()
    login(client, staff=staff_id)
    assert client.get("/staff/").status_code == 200

    with app.app_context():
        db.session.get(Staff, staff_id).active = False
        db.session.commit()

    response = client.get("/staff/")
    assert response.status_code == 302
    assert location_path(response) == "/staff/sign-in"
    response = sign_in(client, email_of(app, Staff, staff_id), staff=True)
    assert response.status_code == 200
    assert SIGN_IN_ERROR in response.get_data(as_text=True)


# -- safe redirects after signing in --------------------------------------------------------

HOSTILE_NEXT = [
    "https://evil.example",
    "//evil.example",
    "\\\\\\evil.example",
    "/\\evil.example",
    "/%09/evil.example",
    "javascript:alert(1)",
    "https:evil.example",
    "/\t/evil.example",
    " //evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
@pytest.mark.parametrize("encoded", [True, False], ids=["encoded", "raw"])
def test_resident_sign_in_never_redirects_off_site(app, client, make_member, target, encoded):
    email = email_of(app, Member, make_member())
    if encoded:
        response = sign_in(client, email, query_string={"next": target})
    else:
        response = client.post(f"/sign-in?next={target}",
                               data={"email": email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert_stays_on_site(response.headers["Location"])


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_staff_sign_in_never_redirects_off_site(app, client, make_staff, target):
    staff_id = make_staff()
    response = sign_in(client, email_of(app, Staff, staff_id), staff=True,
                       query_string={"next": target})
    assert_stays_on_site(response.headers["Location"])

    response = client.post(response.headers["Location"],
                           data={"code": totp_now(secret_of(app, staff_id))})
    assert response.status_code == 302
    assert_stays_on_site(response.headers["Location"])

    # Even a hostile next given straight to the two-factor page.
    with app.app_context():
        db.session.get(Staff, staff_id).totp_last_step = None
        db.session.commit()
    other = app.test_client()
    sign_in(other, email_of(app, Staff, staff_id), staff=True)
    response = other.post("/two-factor", query_string={"next": target},
                          data={"code": totp_now(secret_of(app, staff_id))})
    assert response.status_code == 302
    assert_stays_on_site(response.headers["Location"])


def test_a_next_page_on_this_site_is_honoured(app, client, make_member, make_staff):
    email = email_of(app, Member, make_member())
    response = sign_in(client, email, query_string={"next": "/account/profile"})
    assert response.headers["Location"] == "/account/profile"
    assert client.get("/account/profile").status_code == 200

    staff_id = make_staff()
    staff_client = app.test_client()
    response = sign_in(staff_client, email_of(app, Staff, staff_id), staff=True,
                       query_string={"next": "/staff/members"})
    response = staff_client.post(response.headers["Location"],
                                 data={"code": totp_now(secret_of(app, staff_id))})
    assert response.headers["Location"] == "/staff/members"


def test_the_page_a_signed_out_resident_asked_for_is_shown_after_sign_in(
    app, client, make_member
):
    email = email_of(app, Member, make_member())
    response = client.get("/account/profile")
    assert location_path(response) == "/sign-in"
    sign_in_url = response.headers["Location"]
    assert parse_qs(urlsplit(sign_in_url).query)["next"] == ["/account/profile"]

    response = client.post(sign_in_url, data={"email": email, "password": DEFAULT_PASSWORD})
    assert location_path(response) == "/account/profile"


# -- rate limiting --------------------------------------------------------------------------


def test_eleventh_attempt_on_an_account_is_refused_from_any_address(
    app, client, make_member
):
    target = email_of(app, Member, make_member())
    other = email_of(app, Member, make_member())

    for n in range(10):
        response = sign_in(client, target if n % 2 else target.upper(), "wrong password!",
                           environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
        assert response.status_code == 200, n

    response = sign_in(app.test_client(), target,
                       environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 429

    fresh = app.test_client()
    assert sign_in(fresh, target, environ_base={"REMOTE_ADDR": "198.51.100.8"}
                   ).status_code == 429
    assert user_id_in_session(fresh) is None

    same_address = {"REMOTE_ADDR": "203.0.113.1"}
    response = sign_in(fresh, other, environ_base=same_address)
    assert response.status_code == 302
    assert fresh.get("/account", environ_base=same_address).status_code == 200


def test_ten_attempts_are_allowed(app, client, make_member):
    target = email_of(app, Member, make_member())
    for n in range(9):
        assert sign_in(client, target, "wrong password!").status_code == 200, n

    assert sign_in(client, target).status_code == 302


# -- signing out ----------------------------------------------------------------------------


def test_sign_out_is_post_only_and_ends_the_session(app, client, make_member, login):
    login(client, member=make_member())

    assert client.get("/sign-out").status_code == 405
    assert client.get("/account").status_code == 200

    response = client.post("/sign-out")
    assert response.status_code == 302
    assert user_id_in_session(client) is None
    response = client.get("/account")
    assert response.status_code == 302
    assert location_path(response) == "/sign-in"


def test_staff_sign_out_ends_the_session(app, client, make_staff, login):
    login(client, staff=make_staff())
    assert client.get("/staff/").status_code == 200

    client.post("/sign-out")

    assert location_path(client.get("/staff/")) == "/staff/sign-in"


# -- CSRF -----------------------------------------------------------------------------------


def test_sign_in_without_csrf_token_is_refused(make_app, make_member):
    email_address = "jo@example.org"
    make_member(email=email_address)
    client = make_app(WTF_CSRF_ENABLED=True).test_client()

    response = client.post("/sign-in", data={"email": email_address,
                                             "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert user_id_in_session(client) is None
    assert client.get("/account").status_code == 302

    # With the form's token the same sign-in works.
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/sign-in", data={"email": email_address,
                                             "password": DEFAULT_PASSWORD,
                                             "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/account").status_code == 200


# -- passwords ------------------------------------------------------------------------------


def registration(app: Flask, email: str, password: str) -> dict[str, Any]:
    with app.app_context():
        org = db.session.scalar(select(Organisation.id).order_by(Organisation.id))
        postcode = postcode_in("E05900001")
    return {
        "name": "Jo Bloggs",
        "email": email,
        "address_line": "1 Mill Lane",
        "postcode": postcode,
        "channels": ["email"],
        "organisations": [str(org)],
        "language": "en",
        "privacy": "y",
        "password": password,
        "password_confirm": password,
    }


def member_hash(app: Flask, email: str) -> str | None:
    with app.app_context():
        return db.session.scalar(select(Member.password_hash).where(Member.email == email))


@pytest.mark.parametrize(("length", "accepted"), [(11, False), (12, True), (128, True),
                                                  (129, False)])
def test_registration_password_length(app, client, county, outbox, length, accepted):
    password = ("correct horse battery staple " * 5)[:length]
    assert len(password) == length

    response = client.post("/register", data=registration(app, "jo@example.org", password))

    if accepted:
        assert response.status_code == 302, error_messages(response)
        assert member_hash(app, "jo@example.org") is not None
    else:
        assert response.status_code == 200
        assert "Password must be between 12 and 128 characters" in " ".join(
            error_messages(response)
        )
        assert member_hash(app, "jo@example.org") is None


def test_passwords_are_hashed_with_argon2id_owasp_parameters(app, client, county, outbox):
    response = client.post("/register", data=registration(app, "jo@example.org", NEW_PASSWORD))
    assert response.status_code == 302

    stored = member_hash(app, "jo@example.org")
    assert stored.startswith(ARGON2_PREFIX)
    assert NEW_PASSWORD not in stored
    assert hash_password(NEW_PASSWORD).startswith(ARGON2_PREFIX)
    assert hash_password(NEW_PASSWORD) != hash_password(NEW_PASSWORD)  # salted

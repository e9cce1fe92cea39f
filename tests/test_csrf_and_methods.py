"""Forged cross-site requests are refused, GET never changes anything, and request bodies
are capped. The tests walk ``app.url_map`` (core/testing/matrix.py fills route arguments),
so routes added later by the core or a plugin are covered without editing them."""

import io
import logging

import pytest

from core.testing.matrix import csrf_token, database_changes, each_actor

#: Walks every route of the app: run once, on PostgreSQL in CI (see the Makefile).
pytestmark = pytest.mark.walk

#: Views that accept a POST without a CSRF token, each with its reason (docs/security.md).
EXPECTED_EXEMPT_VIEWS: dict[str, str] = {
    "core.views.account.unsubscribe": "RFC 8058 one-click unsubscribe: mail clients POST "
    "without a form; the signed link in the URL is the authorisation",
    "core.views.callbacks.notify": "GOV.UK Notify delivery receipts: JSON posted by Notify "
    "with our bearer token, checked in constant time",
    "core.views.replies.inbound_email": "residents' emailed replies, posted raw by the mail "
    "system with our bearer token (INBOUND_EMAIL_TOKEN), checked in constant time",
}
EXPECTED_EXEMPT_BLUEPRINTS: dict[str, str] = {
    "api_v1": "the JSON API: every operation authenticates a bearer token from the "
    "Authorization header and never the session cookie, so a forged cross-site request "
    "carries no credentials (tests/test_api.py proves a signed-in browser gets 401)",
    "surgery_api": "the surgery plugin's part of the JSON API, as api_v1",
    "surveys_api": "the surveys plugin's part of the JSON API, as api_v1",
}

#: What a GET may change, with the reason: a table (None: any of its columns) or the
#: named columns of a table.
GET_MAY_CHANGE: dict[str, frozenset[str] | None] = {
    # Staff views and exports of a member are recorded for the member to see; recording
    # them is the point of the table.
    "member_access": None,
    # Each opening of a group document is recorded (who, when): the point of the table.
    "neighbourhood_watch_document_access": None,
    # Every request of a session moves its idle timeout on (written at most once a minute).
    "user_session": frozenset({"last_seen_at"}),
}

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MAX_BODY = 2 * 1024 * 1024


@pytest.fixture
def app(make_app):
    return make_app(WTF_CSRF_ENABLED=True)


@pytest.fixture
def csrf_log(caplog, monkeypatch):
    """Flask-WTF's log of refused tokens: one record per refusal."""
    # Alembic's logging set-up (run by the migrations) disables loggers created earlier.
    monkeypatch.setattr(logging.getLogger("flask_wtf.csrf"), "disabled", False)
    caplog.set_level(logging.INFO, logger="flask_wtf.csrf")
    return caplog


def csrf_refusals(caplog):
    return [r for r in caplog.records if r.name == "flask_wtf.csrf"]


def test_every_unsafe_route_refuses_a_missing_or_wrong_csrf_token(access_matrix, csrf_log):
    matrix = access_matrix
    routes = matrix.routes(UNSAFE_METHODS)
    assert len(routes) >= 10, "the matrix found too few routes that change things"
    problems = []
    for rule, method in routes:
        view = matrix.app.view_functions[rule.endpoint]
        if (f"{view.__module__}.{view.__name__}" in EXPECTED_EXEMPT_VIEWS
                or rule.endpoint.split(".")[0] in EXPECTED_EXEMPT_BLUEPRINTS):
            continue
        actor = matrix.actor_for(matrix.policy(rule))
        client = matrix.client(actor)
        path = matrix.path(rule, "a")
        where = f"{actor or 'anonymous'} {method} {path}"
        for label, token in (("no token", None), ("wrong token", "forged-token-value")):
            data = dict(matrix.sides["a"].form)
            if token:
                data["csrf_token"] = token
            before = matrix.database()
            refused_before = len(csrf_refusals(csrf_log))
            response = client.open(path, method=method, data=data)
            if response.status_code != 400:
                problems.append(f"{where} with {label}: {response.status_code}, not 400")
            if len(csrf_refusals(csrf_log)) == refused_before:
                problems.append(f"{where} with {label}: not refused by the CSRF check")
            if changes := database_changes(before, matrix.database()):
                problems.append(f"{where} with {label}: changed {changes}")
        # A real token gets past the check, so the refusals above were about the token.
        good = csrf_token(client.get("/sign-in").get_data(as_text=True))
        refused_before = len(csrf_refusals(csrf_log))
        client.open(path, method=method, data={"csrf_token": good})
        if len(csrf_refusals(csrf_log)) != refused_before:
            problems.append(f"{where}: a valid token was refused too")
    assert not problems, "\n".join(problems)


def test_sign_in_needs_the_csrf_token_of_its_form(app, client, make_member):
    make_member(email="token@example.org")
    data = {"email": "token@example.org", "password": "correct horse battery staple"}
    assert client.post("/sign-in", data=data).status_code == 400
    assert client.get("/account").status_code == 302  # still signed out
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    assert client.post("/sign-in", data={**data, "csrf_token": token}).status_code == 302
    assert client.get("/account").status_code == 200


def test_only_the_documented_views_are_exempt_from_csrf(app):
    csrf = app.extensions["csrf"]
    assert set(csrf._exempt_views) == set(EXPECTED_EXEMPT_VIEWS)
    assert {getattr(b, "name", b) for b in csrf._exempt_blueprints} == set(
        EXPECTED_EXEMPT_BLUEPRINTS)
    assert {"POST", "PUT", "PATCH", "DELETE"} <= set(app.config["WTF_CSRF_METHODS"])
    assert app.config.get("WTF_CSRF_CHECK_DEFAULT", True)


def test_csrf_protection_is_on_unless_a_deployment_turns_it_off(base_config, _schema):
    from core import create_app

    config = {k: v for k, v in base_config.items() if k != "WTF_CSRF_ENABLED"}
    assert create_app(config).config.get("WTF_CSRF_ENABLED", True) is True


def test_no_get_changes_the_database(access_matrix):
    matrix = access_matrix
    rules = [rule for rule, _ in matrix.routes(["GET"]) if not matrix.takes_token(rule)]
    problems = []
    for actor in each_actor(matrix):
        client = matrix.client(actor)
        side = actor.side if actor else "a"
        for rule in rules:
            path = matrix.path(rule, side)
            before = matrix.database(GET_MAY_CHANGE)
            response = client.get(path)
            if changes := database_changes(before, matrix.database(GET_MAY_CHANGE)):
                problems.append(f"{actor or 'anonymous'} GET {path} ({response.status_code}) "
                                f"changed {changes}")
    assert not problems, "\n".join(problems)


def test_the_get_check_would_see_a_change(access_matrix):
    """Viewing a member is recorded (a documented exception); the comparison sees it."""
    matrix = access_matrix
    supervisor = matrix.client(matrix.actor("supervisor_a"))
    before = matrix.database()
    assert supervisor.get(f"/staff/members/{matrix.sides['a'].residents[1]}"
                                         ).status_code == 200
    assert set(database_changes(before, matrix.database())) == {"member_access"}


def test_routes_refuse_methods_they_do_not_declare(access_matrix):
    matrix = access_matrix
    problems = []
    for rule in matrix.rules():
        if "GET" in rule.methods or matrix.takes_token(rule):
            continue
        client = matrix.client(matrix.actor_for(matrix.policy(rule)))
        path = matrix.path(rule, "a")
        before = matrix.database()
        status = client.get(path).status_code
        if status != 405:
            problems.append(f"GET {path}: {status}, not 405")
        if changes := database_changes(before, matrix.database()):
            problems.append(f"GET {path}: changed {changes}")
    assert not problems, "\n".join(problems)


# -- request size ---------------------------------------------------------------------------


def registration(app, client, email):
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Organisation

    with app.app_context():
        police = db.session.scalar(
            select(Organisation.id).where(Organisation.slug == "wealdshire-police"))
    token = csrf_token(client.get("/register").get_data(as_text=True))
    return {
        "csrf_token": token, "name": "Big Body", "email": email,
        "address_line": "1 Mill Lane", "postcode": "HF1 1FJ", "channels": "email",
        "organisations": str(police), "language": "en", "privacy": "y",
        "password": "a long enough password", "password_confirm": "a long enough password",
    }


def members_named(app, name):
    from sqlalchemy import func, select

    from core.extensions import db
    from core.models import Member

    with app.app_context():
        return db.session.scalar(select(func.count()).where(Member.name == name))


def test_a_request_body_over_the_limit_is_refused(app, county):
    small = app.test_client()
    form = registration(app, small, "small@example.org")
    assert small.post("/register", data=form).status_code == 302  # the form is valid
    assert members_named(app, "Big Body") == 1

    big = app.test_client()
    form = registration(app, big, "big@example.org")
    # An extra field the form ignores: without a cap, this registration would succeed.
    response = big.post("/register", data={**form, "padding": "x" * (MAX_BODY + 1024)})
    assert response.status_code == 413
    upload = app.test_client()
    form = registration(app, upload, "upload@example.org")
    response = upload.post("/register", content_type="multipart/form-data",
                           data={**form, "attachment": (io.BytesIO(b"x" * (MAX_BODY + 1024)),
                                                          "big.bin")})
    assert response.status_code == 413
    assert members_named(app, "Big Body") == 1

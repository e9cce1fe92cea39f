"""The JSON API: personal access tokens (made, hashed, scoped, revoked), what each kind
of token may do, errors of one shape, pagination, the rate limit per token, and
schemathesis run against the OpenAPI document over every operation."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import ApiToken, Delivery, Message, Reply

WARD, OTHER_WARD = "E05900001", "E05900012"


def make_token(app, client, path: str, scopes: list[str], name: str = "My app") -> str:
    page = client.post(path, data={"name": name, "scopes": scopes, "submit": "y"})
    assert page.status_code == 200
    found = re.search(r'<code id="new-token">(cw_[A-Za-z0-9_-]+)</code>', page.get_data(
        as_text=True))
    assert found, page.get_data(as_text=True)[:3000]
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def people(app, make_member, make_staff, login):
    resident = make_member(area=WARD, name="Rhian Api", email="rhian@example.org")
    officer = make_staff("officer", areas=[WARD], name="PC Api")
    return {"resident": resident, "officer": officer,
            "resident_client": login(app.test_client(), member=resident),
            "officer_client": login(app.test_client(), staff=officer)}


def test_a_token_is_shown_once_kept_only_as_a_hash_and_revoked(app, people):
    client = people["resident_client"]
    token = make_token(app, client, "/account/api-tokens", ["read"])
    page = client.get("/account/api-tokens").get_data(as_text=True)
    assert "My app" in page and token[:10] in page and token not in page
    with app.app_context():
        stored = db.session.scalar(select(ApiToken))
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (stored.token_hash, stored.prefix, stored.name)
    api = app.test_client()
    me = api.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.get_json()["name"] == "Rhian Api"
    with app.app_context():
        assert db.session.scalar(select(ApiToken.last_used_at)) is not None
    # Someone else cannot revoke it, even knowing its id.
    other = app.test_client()
    from core.testing.pytest_plugin import DEFAULT_PASSWORD  # noqa: F401
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    assert people["officer_client"].post(f"/staff/api-tokens/{token_id}/revoke",
                                         data={"revoke": "1"}).status_code == 404
    assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.post(f"/account/api-tokens/{token_id}/revoke",
                       data={"revoke": "1"}).status_code == 302
    refused = api.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.get_json() == {"error": {"status": 401, "code": "invalid_token",
                                            "message": "The token is unknown or was revoked"}}
    assert other.get("/api/v1/me", headers=bearer(token + "x")).status_code == 401


def test_a_signed_in_browser_gets_nothing_from_the_api_without_a_token(app, people):
    response = people["resident_client"].get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_scopes_limit_what_a_token_may_do(app, people, make_staff):
    resident_client = people["resident_client"]
    reader = make_token(app, resident_client, "/account/api-tokens", ["read"])
    replier = make_token(app, resident_client, "/account/api-tokens", ["reply"], "Replies")
    with app.app_context():
        from core.messaging import Target, create_message, send
        from core.models import Staff

        officer = db.session.get(Staff, people["officer"])
        message = create_message(officer, title="Van seen", body="A white van.",
                                 plain_text="A white van.", category="crime_alert",
                                 priority=3, target=Target(areas=[WARD]).to_json())
        db.session.add(message)
        db.session.commit()
        send(message, officer)
        message_id = message.id
    api = app.test_client()
    path = f"/api/v1/me/messages/{message_id}/replies"
    refused = api.post(path, json={"text": "It's gone now"}, headers=bearer(reader))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "insufficient_scope"
    made = api.post(path, json={"text": "It's gone now"}, headers=bearer(replier))
    assert made.status_code == 201 and made.get_json()["message_id"] == message_id
    with app.app_context():
        assert db.session.scalar(select(Reply.body)) == "It's gone now"
    # A resident's token is not a staff member's, whatever its scopes.
    assert api.get(f"/api/v1/messages/{message_id}/stats",
                   headers=bearer(reader)).get_json()["error"]["code"] == "staff_only"
    # A resident reads only messages sent to them.
    listed = api.get("/api/v1/me/messages?per_page=1", headers=bearer(reader)).get_json()
    assert [m["title"] for m in listed["items"]] == ["Van seen"]
    assert listed["page"] == {"page": 1, "per_page": 1, "total": 1, "pages": 1}
    assert api.get(f"/api/v1/me/messages/{message_id + 1}",
                   headers=bearer(reader)).status_code == 404


def test_an_officer_token_sends_inside_its_scope_only(app, people, make_member):
    make_member(area=WARD, email="second@example.org")
    make_member(area=OTHER_WARD, email="elsewhere@example.org")
    token = make_token(app, people["officer_client"], "/staff/api-tokens", ["read", "send"])
    api = app.test_client()
    body = {"title": "Burglary on Mill Lane", "body": "Lock your sheds.",
            "plain_text": "Lock your sheds.", "category": "crime_alert", "priority": 3,
            "target": {"areas": [OTHER_WARD]}}
    refused = api.post("/api/v1/messages", json=body, headers=bearer(token))
    assert refused.status_code == 400
    assert refused.get_json()["error"] == {
        "status": 400, "code": "invalid_target",
        "message": "The target is not one you may send to",
        "details": {"target.areas": [f"outside your areas: {OTHER_WARD}"]}}
    assert api.post("/api/v1/messages/preview", json=body,
                    headers=bearer(token)).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    body["target"] = {"areas": [WARD]}
    counted = api.post("/api/v1/messages/preview", json=body, headers=bearer(token))
    assert counted.status_code == 200 and counted.get_json()["people"] == 2
    sent = api.post("/api/v1/messages", json=body, headers=bearer(token))
    assert sent.status_code == 201
    assert sent.get_json()["recipient_count"] == 2
    stats = api.get(f"/api/v1/messages/{sent.get_json()['id']}/stats", headers=bearer(token))
    assert sum(d["count"] for d in stats.get_json()["deliveries"]) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 2
    # A read-only staff token cannot send.
    reader = make_token(app, people["officer_client"], "/staff/api-tokens", ["read"], "Dash")
    assert api.post("/api/v1/messages", json=body, headers=bearer(reader)).status_code == 403


def test_bad_input_gets_a_json_reason_never_a_500(app, people):
    token = make_token(app, people["resident_client"], "/account/api-tokens",
                       ["read", "profile"])
    api = app.test_client()
    bad = api.put("/api/v1/me/preferences", json={"channels": ["pigeon"], "interests": []},
                  headers=bearer(token))
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"] == {"channels": {"0": ["Must be one of: email, "
                                                                   "sms, voice, push."]}}
    assert api.put("/api/v1/me/preferences", data="not json", headers=bearer(token)
                   ).get_json()["error"]["code"] == "invalid_body"
    assert api.get("/api/v1/areas?per_page=1000", headers=bearer(token)).status_code == 400
    assert api.get("/api/v1/nowhere", headers=bearer(token)).get_json()["error"]["code"] == \
        "not_found"
    wrong = api.delete("/api/v1/me", headers=bearer(token))
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == \
        "method_not_allowed"
    ok = api.put("/api/v1/me/preferences", json={"channels": ["email"], "interests": []},
                 headers=bearer(token))
    assert ok.status_code == 200 and ok.get_json()["channels"] == ["email"]


def test_each_token_has_its_own_rate_limit(app, people):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    first = make_token(app, people["resident_client"], "/account/api-tokens", ["read"])
    second = make_token(app, people["resident_client"], "/account/api-tokens", ["read"], "B")
    api = app.test_client()
    assert [api.get("/api/v1/me", headers=bearer(first)).status_code
            for _ in range(4)] == [200, 200, 200, 429]
    assert api.get("/api/v1/me", headers=bearer(first)).get_json()["error"]["code"] == \
        "rate_limited"
    assert api.get("/api/v1/me", headers=bearer(second)).status_code == 200


def test_the_openapi_document_is_made_from_the_operations(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    operations = {(path, method) for path, item in document["paths"].items()
                  for method in item}
    assert {("/api/v1/me", "get"), ("/api/v1/me/messages/{message_id}/replies", "post"),
            ("/api/v1/messages", "post"), ("/api/v1/messages/preview", "post"),
            ("/api/v1/messages/{message_id}/stats", "get")} <= operations
    # Every route under /api/v1 is in it, and nothing else is.
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule), m.lower())
              for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    assert operations == routes
    reply = document["paths"]["/api/v1/me/messages/{message_id}/replies"]["post"]
    assert reply["security"] == [{"token": []}] and "`reply` scope" in reply["description"]


@pytest.mark.slow
@pytest.mark.walk
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(
        app, people, make_member):
    """Generated requests (at least 100 per operation, as each staff member and resident
    would send them, with a token holding every scope they may have) against the whole
    API: no 5xx, and every answer matches the document."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    app.config["API_RATE_LIMIT"] = "100000 per minute"
    app.config["QUIET_HOURS_START"] = app.config["QUIET_HOURS_END"] = 0
    make_member(area=WARD, email="neighbour@example.org")
    tokens = [make_token(app, people["resident_client"], "/account/api-tokens",
                         ["read", "profile", "reply"]),
              make_token(app, people["officer_client"], "/staff/api-tokens", ["read", "send"])]
    with app.app_context():  # so that reported positions are kept, not refused
        from core.models import Member

        db.session.get(Member, people["resident"]).location_alerts = True
        db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = (not_a_server_error, response_schema_conformance)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    seen: dict[str, list[int]] = {}

    def run(operation, token):
        @given(case=operation.as_strategy())
        @settings(max_examples=100, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def generated(case):
            response = case.call(headers=bearer(token))
            seen.setdefault(operation.label, []).append(response.status_code)
            case.validate_response(response, checks=checks)

        generated()

    for operation in operations:
        for token in tokens:
            run(operation, token)
    for operation in operations:
        statuses = seen[operation.label]
        # Each operation was reached past authentication, and those taking input had
        # at least 100 generated cases.
        assert any(s < 300 for s in statuses) or operation.label.endswith(
            "{message_id}") or "{message_id}" in operation.label, (operation.label, statuses)
        if operation.body or operation.query or operation.path_parameters:
            assert len(statuses) >= 100, (operation.label, len(statuses))


def test_plugins_add_their_operations_and_lose_them_when_disabled(make_app, make_member,
                                                                  login):
    """Through commonwatch_api_blueprints: the surgery's and the surveys' operations."""
    on = make_app(PLUGINS="surgery,surveys")
    off = make_app(PLUGINS="none")
    paths = set(on.test_client().get("/api/v1/openapi.json").get_json()["paths"])
    assert {"/api/v1/surgery/cases", "/api/v1/surveys/invitations"} <= paths
    assert not {p for p in off.test_client().get("/api/v1/openapi.json").get_json()["paths"]
                if p.startswith(("/api/v1/surgery", "/api/v1/surveys"))}
    resident = make_member(area=WARD)
    token = make_token(on, login(on.test_client(), member=resident), "/account/api-tokens",
                       ["read"])
    cases = on.test_client().get("/api/v1/surgery/cases", headers=bearer(token))
    assert cases.status_code == 200 and cases.get_json()["items"] == []
    assert off.test_client().get("/api/v1/surgery/cases", headers=bearer(token)
                                 ).get_json()["error"]["code"] == "not_found"


def test_text_with_a_nul_character_is_refused_not_stored(app, people):
    """PostgreSQL cannot store NUL: the API refuses it by field rather than failing."""
    token = make_token(app, people["resident_client"], "/account/api-tokens", ["read"])
    response = app.test_client().get("/api/v1/areas?parent=E05%00", headers=bearer(token))
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "Text may not contain NUL characters"

"""Security headers: the checker every test runs under (core.testing.responses), and the
headers of the kinds of response the site sends.

The checker is proved three ways: called directly on bad headers; wired into test
clients and the live-server middleware in this process (a test-only route that strips
headers, inside ``collecting()`` so the test can look at what was found); and in a
pytester sub-run with the plugin loaded, where such a response fails the test at
teardown unless the opt-out marker allows it. Nothing here needs the plugin loaded.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from typing import Any

import pytest
from flask import Flask, Response
from werkzeug.test import EnvironBuilder

from core.testing.responses import (
    HSTS_MIN_AGE,
    RULES,
    HeaderProblems,
    check_response,
    collecting,
)

pytest_plugins = ["pytester"]

WARD_A = "E05900001"

CSP = ("default-src 'self'; script-src 'self' 'nonce-abc'; style-src 'self' 'nonce-abc'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
GOOD = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", CSP),
    ("Strict-Transport-Security", f"max-age={HSTS_MIN_AGE}; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Set-Cookie", "lang=cy; Secure; HttpOnly; Path=/; SameSite=Lax"),
]


class ConfigOnly:
    """An app as far as the checker needs one when nobody is signed in."""

    def __init__(self, base_url: str = "https://commonwatch.example.org", **config: Any):
        self.config = {"BASE_URL": base_url, **config}


def environ(path: str = "/", method: str = "GET", cookie: str | None = None) -> dict:
    headers = {"Cookie": cookie} if cookie else {}
    return EnvironBuilder(path=path, method=method, headers=headers).get_environ()


def problems_of(headers: list[tuple[str, str]], app: Any = None, **request: Any
                ) -> list[str]:
    found = check_response(app or ConfigOnly(), environ(**request), "200 OK", headers)
    return [p.text for p in found]


def replaced(name: str, value: str | None) -> list[tuple[str, str]]:
    """GOOD with header ``name`` set to ``value`` (or removed when None)."""
    headers = [(k, v) for k, v in GOOD if k != name]
    return headers + ([(name, value)] if value is not None else [])


def session_cookie(app: Flask, data: dict) -> str:
    """A session cookie of ``app`` holding ``data``, signed with its key."""
    value = app.session_interface.get_signing_serializer(app).dumps(data)
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


# -- the checker, called directly -------------------------------------------------------------


def test_good_headers_have_no_problems():
    assert problems_of(GOOD) == []
    assert problems_of(GOOD, path="/a?b=c", method="POST") == []


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("Strict-Transport-Security", None, "Strict-Transport-Security: missing"),
    ("Strict-Transport-Security", "max-age=86400", "has no max-age of 31536000 or more"),
    ("Strict-Transport-Security", "includeSubDomains", "has no max-age"),
    ("X-Content-Type-Options", None, "X-Content-Type-Options: missing"),
    ("X-Content-Type-Options", "sniff", "X-Content-Type-Options: 'sniff', not nosniff"),
    ("Referrer-Policy", None, "Referrer-Policy: missing"),
    ("Referrer-Policy", "unsafe-url", "leaks full URLs"),
    ("Referrer-Policy", "same-origin, no-referrer-when-downgrade", "leaks full URLs"),
    ("Content-Security-Policy", None, "Content-Security-Policy: missing on a text/html"),
    ("Content-Security-Policy", CSP.replace("object-src 'none'; ", ""), "no object-src 'none'"),
    ("Content-Security-Policy", CSP.replace("base-uri 'none'", "base-uri 'self'"),
     "no base-uri 'none'"),
    ("Content-Security-Policy", CSP.replace("frame-ancestors 'none'; ", ""),
     "no frame-ancestors directive"),
    ("Content-Security-Policy", CSP.replace("'nonce-abc';", "'unsafe-inline';", 1),
     "script-src allows 'unsafe-inline'"),
    ("Content-Security-Policy",
     "default-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
     "frame-ancestors 'none'", "script-src allows 'unsafe-inline'"),
    ("Content-Security-Policy", "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
     "neither script-src nor default-src restricts scripts"),
    ("Set-Cookie", "lang=cy; HttpOnly; Path=/; SameSite=Lax", "Set-Cookie lang: no Secure"),
    ("Set-Cookie", "lang=cy; Secure; Path=/; SameSite=Lax", "Set-Cookie lang: no HttpOnly"),
    ("Set-Cookie", "lang=cy; Secure; HttpOnly; Path=/",
     "Set-Cookie lang: SameSite is missing, not Lax or Strict"),
    ("Set-Cookie", "lang=cy; Secure; HttpOnly; Path=/; SameSite=None",
     "Set-Cookie lang: SameSite is none, not Lax or Strict"),
])
def test_each_rule_catches_a_bad_header(name, value, problem):
    found = problems_of(replaced(name, value), path="/privacy?x=1", method="POST")
    assert len(found) == 1, found
    assert found[0].startswith("POST /privacy?x=1 (200): ")
    assert problem in found[0]


def test_the_policy_is_only_required_of_documents():
    for content_type in ("text/css", "application/json", "text/csv"):
        headers = replaced("Content-Type", content_type)
        assert problems_of([h for h in headers if h[0] != "Content-Security-Policy"]) == []
    svg = [h for h in replaced("Content-Type", "image/svg+xml")
           if h[0] != "Content-Security-Policy"]
    assert problems_of(svg) == ["GET / (200): Content-Security-Policy: missing on a "
                                "image/svg+xml response"]


def test_cookies_need_secure_only_on_an_https_site():
    insecure = replaced("Set-Cookie", "lang=cy; HttpOnly; Path=/; SameSite=Lax")
    assert problems_of(insecure, ConfigOnly("http://localhost:5000")) == []
    assert problems_of(insecure, ConfigOnly("http://localhost:5000",
                                            SESSION_COOKIE_SECURE=True)) != []
    assert problems_of(insecure, ConfigOnly("https://commonwatch.example.org")) != []


def test_signed_in_means_a_session_cookie_holding_a_user(app):
    member = session_cookie(app, {"_user_id": "m:1:1", "lang": "en"})
    visitor = session_cookie(app, {"lang": "cy"})
    forged = member[:-3] + "xyz"
    for cookie in (None, visitor, forged):
        assert problems_of(GOOD, app, cookie=cookie) == []
    assert problems_of(GOOD, app, cookie=member, path="/account") == [
        "GET /account (200): Cache-Control: missing (not no-store) on a response to a "
        "signed-in user"
    ]
    assert problems_of(GOOD + [("Cache-Control", "private, no-store")], app, cookie=member) == []
    # The response that signs someone in counts too.
    signs_in = GOOD + [("Set-Cookie", member + "; Secure; HttpOnly; Path=/; SameSite=Lax")]
    assert "no-store" in problems_of(signs_in, app, path="/sign-in", method="POST")[0]


# -- the checker, wired in ---------------------------------------------------------------------


STRIPPED = ("Content-Security-Policy", "Strict-Transport-Security", "X-Content-Type-Options",
            "Referrer-Policy")


def add_bad_route(app: Flask) -> None:
    """/test-only/bad: a page stripped of its security headers (after the app added
    them), with a loose cookie."""

    @app.get("/test-only/bad")
    def bad() -> Response:
        response = Response("<p>bad</p>", mimetype="text/html")
        response.set_cookie("loose", "1")
        return response

    bad.commonwatch_access = "public"
    wsgi_app = app.wsgi_app

    def stripping(environ: dict, start_response: Any) -> Any:
        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            if environ["PATH_INFO"] == "/test-only/bad":
                headers = [(k, v) for k, v in headers if k not in STRIPPED]
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    app.wsgi_app = stripping


def test_every_test_client_response_is_checked(app):
    add_bad_route(app)
    with collecting() as found:
        assert app.test_client().get("/privacy").status_code == 200
        assert found.lines() == []
        app.test_client().get("/test-only/bad", query_string={"a": "1"})
    assert found.lines() == [
        "GET /test-only/bad?a=1 (200): Set-Cookie loose: no Secure attribute",
        "GET /test-only/bad?a=1 (200): Set-Cookie loose: no HttpOnly attribute",
        "GET /test-only/bad?a=1 (200): Set-Cookie loose: SameSite is missing, "
        "not Lax or Strict",
        "GET /test-only/bad?a=1 (200): Content-Security-Policy: missing on a text/html "
        "response",
        "GET /test-only/bad?a=1 (200): Strict-Transport-Security: missing",
        "GET /test-only/bad?a=1 (200): X-Content-Type-Options: missing",
        "GET /test-only/bad?a=1 (200): Referrer-Policy: missing",
    ]
    assert found.responses == 2
    # Once the block ends, nothing more is noted in it.
    app.test_client().get("/privacy")
    assert found.responses == 2


def test_each_hop_of_a_followed_redirect_is_checked(app):
    @app.get("/test-only/hop")
    def hop() -> Response:
        response = Response(status=302, headers={"Location": "/privacy"})
        response.headers["Strict-Transport-Security"] = "max-age=60"
        return response

    hop.commonwatch_access = "public"
    with collecting() as found:
        assert app.test_client().get("/test-only/hop", follow_redirects=True).status_code == 200
    assert found.responses == 2
    assert found.lines() == [
        "GET /test-only/hop (302): Strict-Transport-Security: 'max-age=60' has no max-age "
        "of 31536000 or more"
    ]


def test_the_live_server_middleware_checks_responses(app, live_server):
    add_bad_route(app)
    with collecting() as found:
        with urllib.request.urlopen(f"{live_server}/privacy") as response:
            assert response.status == 200
        assert found.lines() == []
        with urllib.request.urlopen(f"{live_server}/test-only/bad") as response:
            assert response.read() == b"<p>bad</p>"
    assert "GET /test-only/bad (200): Strict-Transport-Security: missing" in found
    assert len(found.lines()) == 7


SUB_RUN = """
    import pytest
    from flask import Flask

    def make():
        app = Flask(__name__)
        app.config["BASE_URL"] = "https://example.org"

        @app.get("/")
        def index():
            return "<p>no headers at all</p>"

        return app

    def test_bad_response():
        assert make().test_client().get("/").status_code == 200

    @pytest.mark.allow_bad_headers
    def test_bad_response_allowed(header_problems):
        make().test_client().get("/")
        assert "GET / (200): Referrer-Policy: missing" in header_problems

    @pytest.mark.allow_bad_headers("csp", "hsts", "nosniff")
    def test_bad_response_partly_allowed():
        make().test_client().get("/")

    def test_no_response():
        pass
"""


def test_a_bad_response_fails_the_test_at_teardown(pytester):
    pytester.makepyfile(SUB_RUN)
    result = pytester.runpytest("-p", "core.testing.responses", "-p", "no:cacheprovider",
                                "-p", "no:xdist")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_bad_response *",
        "*4 security-header problem(s) in responses of this test*",
        "*GET / (200): Content-Security-Policy: missing on a text/html response",
        "*GET / (200): Strict-Transport-Security: missing",
        "*GET / (200): X-Content-Type-Options: missing",
        "*GET / (200): Referrer-Policy: missing",
        "*ERROR at teardown of test_bad_response_partly_allowed*",
        "*1 security-header problem(s)*",
        "*GET / (200): Referrer-Policy: missing",
    ])


def test_an_unknown_rule_in_the_marker_is_an_error(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.allow_bad_headers("csp", "cors")
        def test_it():
            pass
    """)
    result = pytester.runpytest("-p", "core.testing.responses", "-p", "no:cacheprovider",
                                "-p", "no:xdist")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*allow_bad_headers: unknown rules ?'cors'?; rules are*"])


def test_the_rules_are_documented():
    import core.testing.responses as module

    for rule in RULES:
        assert f"``{rule}``" in module.__doc__
    assert "allow_bad_headers" in module.__doc__
    assert isinstance(HeaderProblems(), HeaderProblems)


# -- the site's responses ------------------------------------------------------------------------


def assert_secure_basics(app: Flask, response: Any) -> None:
    headers = response.headers
    max_age = headers["Strict-Transport-Security"].split("max-age=")[1].split(";")[0]
    assert int(max_age) >= HSTS_MIN_AGE
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    found = check_response(app, response.request.environ, response.status, headers)
    assert [p.text for p in found] == []


def assert_strict_policy(response: Any) -> None:
    csp = response.headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "'unsafe-inline'" not in csp
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'nonce-" in script_src


@pytest.fixture
def site(app: Flask, county: Any) -> Flask:
    return app


def test_a_public_page(site):
    response = site.test_client().get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert_secure_basics(site, response)
    assert_strict_policy(response)
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_a_signed_in_page_is_never_stored(site, make_member, login):
    client = login(site.test_client(), member=make_member())
    response = client.get("/account")
    assert response.status_code == 200
    assert_secure_basics(site, response)
    assert_strict_policy(response)
    assert response.headers["Cache-Control"] == "no-store"
    # So is every other response while signed in, even a static file or an error.
    for path in ("/", "/static/commonwatch.css", "/no-such-page"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_a_static_file(site):
    response = site.test_client().get("/static/commonwatch.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert_secure_basics(site, response)


def test_an_error_page(site):
    response = site.test_client().get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert_secure_basics(site, response)
    assert_strict_policy(response)


def test_the_json_download(site, make_member, login):
    client = login(site.test_client(), member=make_member(name="Jess Download"))
    response = client.get("/account/my-data.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    assert_secure_basics(site, response)
    assert "Jess Download" in json.dumps(response.get_json())


def test_the_csv_export(site, make_member, make_staff, login):
    make_member(area=WARD_A, name="Cara Export")
    client = login(site.test_client(), staff=make_staff("supervisor", areas=[WARD_A]))
    response = client.get("/staff/members/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    assert_secure_basics(site, response)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["name"] for r in rows] == ["Cara Export"]


def test_the_session_cookie_is_secure_and_same_site(app, county):
    # Flask's own default_config has SESSION_COOKIE_SECURE (False) and
    # SESSION_COOKIE_SAMESITE (None): core/config.py must override them, not setdefault.
    assert app.config["BASE_URL"].startswith("https://")
    response = app.test_client().get("/register?lang=cy")  # keeps the language in the session
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(app.config["SESSION_COOKIE_NAME"] + "=")
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie
    found = check_response(app, response.request.environ, response.status, response.headers)
    assert found == []

"""Security headers checked on every response the test suite sees (a pytest plugin).

Load it with ``-p core.testing.responses``, or list it in the ``pytest_plugins`` of
core/testing/pytest_plugin.py so every suite (plugins' included) runs under it. While a
test runs, every response a Werkzeug/Flask test client receives (``app.test_client()``,
the ``client`` fixture, each hop of ``follow_redirects``) is checked, and so is every
response of a server whose app is wrapped in :class:`HeaderCheckMiddleware` (the
``live_server`` fixture). The test fails at teardown listing each problem once, as
``METHOD /path (status): Header: what is wrong``.

The rules (each has a name, used by the opt-out marker):

``cookie``
    Every ``Set-Cookie`` has ``HttpOnly`` and ``SameSite=Lax`` or ``Strict``, and
    ``Secure`` when the app's ``BASE_URL`` is https (or ``SESSION_COOKIE_SECURE`` is on).
``csp``
    Every HTML (or XHTML, or SVG) response has a ``Content-Security-Policy`` with
    ``object-src 'none'``, ``base-uri 'none'`` and a ``frame-ancestors`` directive, and
    whose ``script-src`` (or ``default-src`` in its absence) has no ``'unsafe-inline'``.
``hsts``
    Every response has ``Strict-Transport-Security`` with ``max-age`` of a year or more.
``nosniff``
    Every response has ``X-Content-Type-Options: nosniff``.
``referrer``
    Every response has a ``Referrer-Policy``, and not ``unsafe-url`` or
    ``no-referrer-when-downgrade``.
``no-store``
    Every response to a signed-in user has ``Cache-Control: no-store``. Signed in means
    the request carried a session cookie whose session (decoded with the app's own
    session interface) has Flask-Login's ``_user_id``, or the response sets one that does
    (the response to a successful sign-in).

Opting out, for a test that produces a bad response on purpose::

    @pytest.mark.allow_bad_headers                   # every rule
    @pytest.mark.allow_bad_headers("hsts", "csp")    # only these rules

Problems are still recorded: the autouse fixture ``header_problems`` (a
:class:`HeaderProblems`) lists them, so such a test can assert what was found. Or,
without the marker, make the bad responses inside ``with collecting() as found:``: they
go to ``found`` only.

A checker that breaks on a response reports that as a problem too (rule ``checker``,
which no marker allows). :func:`check_response` is the checker itself, for a response of
your own making.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.datastructures import Headers
from werkzeug.http import parse_cookie

RULES = ("cookie", "csp", "hsts", "nosniff", "referrer", "no-store")

#: A year, the least max-age HSTS preload lists accept.
HSTS_MIN_AGE = 31_536_000

#: Content types a browser runs as a document (and so where scripts could run).
DOCUMENT_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml")

#: Referrer policies that leak the full URL to other sites.
LEAKY_REFERRER_POLICIES = {"unsafe-url", "no-referrer-when-downgrade"}


@dataclass(frozen=True)
class Problem:
    """One rule broken by one response."""

    rule: str
    text: str


@dataclass
class HeaderProblems:
    """What the checker found during one test, in order, each distinct problem once."""

    found: dict[Problem, int] = field(default_factory=dict)
    responses: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, problems: Iterable[Problem]) -> None:
        with self._lock:
            self.responses += 1
            for problem in problems:
                self.found[problem] = self.found.get(problem, 0) + 1

    def lines(self, rules: Iterable[str] = RULES) -> list[str]:
        """The problems of ``rules``, one line each (``(N times)`` when repeated)."""
        wanted = set(rules)
        with self._lock:
            return [
                p.text + (f" ({n} times)" if n > 1 else "")
                for p, n in self.found.items()
                if p.rule in wanted
            ]

    def __contains__(self, text: str) -> bool:
        """Whether some problem's line contains ``text``."""
        return any(text in line for line in self.lines())


# -- the checker ----------------------------------------------------------------------------


def _attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    """(name, {attribute in lower case: value}) of a Set-Cookie header."""
    first, *rest = set_cookie.split(";")
    name = first.split("=", 1)[0].strip()
    attributes = {}
    for part in rest:
        key, _, value = part.strip().partition("=")
        attributes[key.strip().lower()] = value.strip()
    return name, attributes


def _cookie_value(set_cookie: str) -> tuple[str, str]:
    first = set_cookie.split(";", 1)[0]
    parsed = parse_cookie(first)
    name = first.split("=", 1)[0].strip()
    return name, parsed.get(name, "")


def _csp_directives(policy: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens:
            # A repeated directive is ignored by browsers: the first one counts.
            directives.setdefault(tokens[0].lower(), [t.lower() for t in tokens[1:]])
    return directives


def _config(app: Any) -> Mapping[str, Any]:
    return getattr(app, "config", None) or {}


def _cookies_must_be_secure(app: Any) -> bool:
    config = _config(app)
    if not config:  # not a Flask app: hold it to the strictest rule
        return True
    return str(config.get("BASE_URL") or "").startswith("https://") or bool(
        config.get("SESSION_COOKIE_SECURE")
    )


def _session_has_user(app: Any, value: str) -> bool:
    """Whether the session cookie ``value`` decodes (with ``app``'s session interface) to
    a session of a signed-in user."""
    if not value or app is None:
        return False
    interface = app.session_interface
    serializer = getattr(interface, "get_signing_serializer", None)
    if serializer is not None:
        signer = serializer(app)
        if signer is None:
            return False
        try:
            data = signer.loads(value)
        except Exception:  # a forged or stale cookie is no session
            return False
    else:  # another session interface: ask it, as Flask would
        from werkzeug.test import EnvironBuilder

        name = interface.get_cookie_name(app)
        environ = EnvironBuilder(headers={"Cookie": f"{name}={value}"}).get_environ()
        with app.app_context():
            data = interface.open_session(app, app.request_class(environ))
    return bool(data) and bool(data.get("_user_id"))


def signed_in(app: Any, environ: Mapping[str, Any], headers: Headers) -> bool:
    """Whether the request of ``environ`` came from a signed-in user, or its response
    (``headers``) signs one in."""
    if app is None or not hasattr(app, "session_interface"):
        return False
    name = app.session_interface.get_cookie_name(app)
    cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(name)
    if cookie and _session_has_user(app, cookie):
        return True
    for set_cookie in headers.getlist("Set-Cookie"):
        cookie_name, value = _cookie_value(set_cookie)
        if cookie_name == name and _session_has_user(app, value):
            return True
    return False


def check_response(app: Any, environ: Mapping[str, Any], status: str | int,
                   headers: Headers | Iterable[tuple[str, str]]) -> list[Problem]:
    """The security-header problems of one response.

    ``app`` is the Flask app that answered (its config says whether cookies must be
    Secure, and its session interface whether the user was signed in); ``environ`` the
    request's WSGI environ; ``status`` and ``headers`` the response's."""
    if not isinstance(headers, Headers):
        headers = Headers(list(headers))
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    code = str(status).split(" ", 1)[0]
    where = f"{method} {path} ({code})"
    problems: list[Problem] = []

    def problem(rule: str, header: str, what: str) -> None:
        problems.append(Problem(rule, f"{where}: {header}: {what}"))

    # cookie
    secure = _cookies_must_be_secure(app)
    for set_cookie in headers.getlist("Set-Cookie"):
        name, attributes = _attributes(set_cookie)
        header = f"Set-Cookie {name}"
        if secure and "secure" not in attributes:
            problem("cookie", header, "no Secure attribute")
        if "httponly" not in attributes:
            problem("cookie", header, "no HttpOnly attribute")
        samesite = attributes.get("samesite", "").lower()
        if samesite not in ("lax", "strict"):
            problem("cookie", header, f"SameSite is {samesite or 'missing'}, not Lax or Strict")

    # csp
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type in DOCUMENT_TYPES:
        policies = [_csp_directives(p) for p in headers.getlist("Content-Security-Policy")]
        header = "Content-Security-Policy"
        if not policies:
            problem("csp", header, f"missing on a {content_type} response")
        else:
            for directive in ("object-src", "base-uri"):
                if not any(p.get(directive) == ["'none'"] for p in policies):
                    problem("csp", header, f"no {directive} 'none'")
            if not any("frame-ancestors" in p for p in policies):
                problem("csp", header, "no frame-ancestors directive")
            scripts = [p.get("script-src", p.get("default-src")) for p in policies]
            if all(s is None for s in scripts):
                problem("csp", header, "neither script-src nor default-src restricts scripts")
            if any(s and "'unsafe-inline'" in s for s in scripts):
                problem("csp", header, "script-src allows 'unsafe-inline'")

    # hsts
    hsts = headers.get("Strict-Transport-Security")
    if hsts is None:
        problem("hsts", "Strict-Transport-Security", "missing")
    else:
        match = re.search(r"max-age\s*=\s*\"?(\d+)", hsts, re.IGNORECASE)
        if not match or int(match.group(1)) < HSTS_MIN_AGE:
            problem("hsts", "Strict-Transport-Security",
                    f"{hsts!r} has no max-age of {HSTS_MIN_AGE} or more")

    # nosniff
    nosniff = headers.get("X-Content-Type-Options")
    if (nosniff or "").strip().lower() != "nosniff":
        problem("nosniff", "X-Content-Type-Options",
                "missing" if nosniff is None else f"{nosniff!r}, not nosniff")

    # referrer
    referrer = headers.get("Referrer-Policy")
    # Browsers use the last policy of a list that they understand.
    chosen = [t.strip().lower() for t in (referrer or "").split(",") if t.strip()]
    if not chosen:
        problem("referrer", "Referrer-Policy", "missing")
    elif chosen[-1] in LEAKY_REFERRER_POLICIES:
        problem("referrer", "Referrer-Policy", f"{referrer!r} leaks full URLs")

    # no-store
    if signed_in(app, environ, headers):
        cache = headers.get("Cache-Control") or ""
        directives = {d.strip().split("=")[0].lower() for d in cache.split(",")}
        if "no-store" not in directives:
            problem("no-store", "Cache-Control",
                    f"{cache or 'missing'} (not no-store) on a response to a signed-in user")
    return problems


# -- where responses are checked ------------------------------------------------------------

#: The collectors of the tests running now (the innermost last: a pytester sub-run
#: inside a test records only into its own).
_STACK: list[HeaderProblems] = []
_STACK_LOCK = threading.Lock()
_ORIGINAL_RUN_WSGI_APP: Any = None


def record(app: Any, environ: Mapping[str, Any], status: str | int,
           headers: Headers | Iterable[tuple[str, str]]) -> None:
    """Check a response and note its problems for the running test (if any)."""
    with _STACK_LOCK:
        collector = _STACK[-1] if _STACK else None
    if collector is None:
        return
    try:
        problems = check_response(app, environ, status, headers)
    except Exception as exc:  # a checker that breaks must not pass silently
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        problems = [Problem("checker", f"{method} {path}: the checker failed: {exc!r}")]
    collector.add(problems)


def _install(on: bool) -> None:
    """Check the responses of every Werkzeug test client (Flask's included)."""
    global _ORIGINAL_RUN_WSGI_APP
    from werkzeug.test import Client

    if on and _ORIGINAL_RUN_WSGI_APP is None:
        original = Client.run_wsgi_app

        def run_wsgi_app(self: Client, environ: dict[str, Any], buffered: bool = False
                         ) -> Any:
            app_iter, status, headers = original(self, environ, buffered=buffered)
            record(self.application, environ, status, headers)
            return app_iter, status, headers

        _ORIGINAL_RUN_WSGI_APP = original
        Client.run_wsgi_app = run_wsgi_app  # type: ignore[method-assign]
    elif not on and _ORIGINAL_RUN_WSGI_APP is not None:
        Client.run_wsgi_app = _ORIGINAL_RUN_WSGI_APP  # type: ignore[method-assign]
        _ORIGINAL_RUN_WSGI_APP = None


@contextmanager
def collecting() -> Iterator[HeaderProblems]:
    """Check every response (test clients, :class:`HeaderCheckMiddleware`) while the block
    runs, noting the problems in a collector of its own; yields it. Blocks nest and the
    innermost one gets the responses: a test can look at the problems of responses it
    makes on purpose without failing, with or without this plugin loaded."""
    problems = HeaderProblems()
    with _STACK_LOCK:
        _STACK.append(problems)
        _install(on=True)
    try:
        yield problems
    finally:
        with _STACK_LOCK:
            _STACK.remove(problems)
            if not _STACK:
                _install(on=False)


class HeaderCheckMiddleware:
    """WSGI middleware checking every response of ``app`` (a Flask app) for the running
    test: ``make_server(host, port, HeaderCheckMiddleware(app))``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def checking_start_response(status: str, headers: list[tuple[str, str]],
                                    exc_info: Any = None) -> Any:
            record(self.app, environ, status, headers)
            return start_response(status, headers, exc_info)

        return self.app(environ, checking_start_response)


# -- the pytest side ---------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_bad_headers(*rules): the test produces responses that break these "
        f"security-header rules on purpose (all when none are named; rules: {', '.join(RULES)})",
    )


def _allowed(item: pytest.Item) -> set[str]:
    marker = item.get_closest_marker("allow_bad_headers")
    if marker is None:
        return set()
    unknown = set(marker.args) - set(RULES)
    if unknown:
        pytest.fail(f"allow_bad_headers: unknown rules {sorted(unknown)}; rules are {RULES}",
                    pytrace=False)
    return set(marker.args or RULES)


@pytest.fixture(autouse=True)
def header_problems(request: pytest.FixtureRequest) -> Iterator[HeaderProblems]:
    """Checks the security headers of every response during the test (see the module);
    yields what it found, and fails the test at teardown if anything was not allowed."""
    allowed = _allowed(request.node)
    with collecting() as problems:
        yield problems
    rules = [r for r in (*RULES, "checker") if r not in allowed]
    lines = problems.lines(rules)
    if lines:
        pytest.fail(
            f"{len(lines)} security-header problem(s) in responses of this test "
            "(core.testing.responses):\n  " + "\n  ".join(lines),
            pytrace=False,
        )

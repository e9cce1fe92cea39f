"""Browser fixtures: the app on a live loopback server, and Debian's Chromium driven by
Playwright, with axe-core checking every page a test visits against WCAG 2.2 AA.

How every page gets checked. A test drives the browser only through Playwright calls,
and every sync call goes through one method (``SyncBase._sync``). While a watched
context is open, a hook there first checks each page whose document changed since its
last check (noted by ``framenavigated`` and ``load`` listeners), after waiting for the
document's ``load`` event. So the ``click`` that submits a form finds the page with the
form checked already, the next call checks the page the click led to, and teardown
checks the pages still open. A document that loaded and was replaced within a single
call (a meta refresh, a script's redirect) is reported as not checked, never skipped
silently; so is one replaced while axe-core was running on it.

Two simpler designs do not work. Running axe from a ``page.on("load")`` listener: under
the sync API a listener runs in a greenlet of its own, concurrently with the test, so its
calls land on whatever document is there by then (often the next one), or never finish.
Checking the old document from a route handler while its navigation request waits:
Playwright stalls every evaluation in a frame with a navigation pending, so it hangs.

axe-core is injected with ``page.evaluate``, which the DevTools protocol runs outside
the page's Content-Security-Policy: our strict nonce-based policy needs no
``bypass_csp``. It works with JavaScript disabled in the context, too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

# -- a live server and a real browser --------------------------------------------------------


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """``app`` served over HTTP on loopback; yields its base URL.

    The server stops before ``app``'s own teardown empties the test database."""
    from werkzeug.serving import make_server

    from core.testing.responses import HeaderCheckMiddleware

    server = make_server("127.0.0.1", 0, HeaderCheckMiddleware(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live_server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

#: axe-core rule tags for WCAG 2.2 level AA (and the levels it includes).
WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

#: Options for ``axe.run``: only the WCAG 2.2 AA rules, and only violations reported.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": WCAG_AA_TAGS},
    "resultTypes": ["violations"],
}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("COMMONWATCH_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"Chromium not found at {executable}: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# -- axe-core on every page ------------------------------------------------------------------


class AccessibilityViolations(AssertionError):
    """axe-core found WCAG 2.2 AA problems on a page (or a page could not be checked)."""


#: The watches of the contexts open now; see :func:`_check_before_calls`.
_ACTIVE: list[AxeWatch] = []
_ORIGINAL_SYNC: Any = None


def _check_before_calls(install: bool) -> None:
    """Put a hook in front of every call of Playwright's sync API (or take it out).

    Every sync call (``goto``, ``click``, ``fill``, ``expect(...)``, ``close``...) goes
    through ``SyncBase._sync``. Before it runs, each active :class:`AxeWatch` checks the
    pages whose document changed since their last check. The call that might replace a
    document therefore always finds it checked already."""
    global _ORIGINAL_SYNC
    from playwright._impl._sync_base import SyncBase

    if install and _ORIGINAL_SYNC is None:
        original = SyncBase._sync

        def _sync(self: Any, awaitable: Any) -> Any:
            __tracebackhide__ = True
            for watch in list(_ACTIVE):
                watch.before_call()
            return original(self, awaitable)

        _ORIGINAL_SYNC = original
        SyncBase._sync = _sync
    elif not install and _ORIGINAL_SYNC is not None and not _ACTIVE:
        SyncBase._sync = _ORIGINAL_SYNC
        _ORIGINAL_SYNC = None


class AxeWatch:
    """Runs axe-core (the WCAG 2.2 AA rules) on every document the pages of ``context``
    show: before the test's next Playwright call after the document changed, and at
    :meth:`finish` for the documents still open.

    ``checked`` lists the URL of each document checked, in order; ``problems`` has one
    line per violation (URL, rule, targets) or per document that could not be checked.
    """

    def __init__(self, context: Any, javascript_enabled: bool = True) -> None:
        import greenlet
        from axe_playwright_python.sync_playwright import Axe

        self.context = context
        self.javascript_enabled = javascript_enabled
        self.axe = Axe()
        self.checked: list[str] = []
        self.problems: dict[str, None] = {}  # an ordered set
        self._pages: list[Any] = []
        self._pending: list[Any] = []
        self._loads: dict[int, list[str]] = {}
        self._navigations: dict[int, int] = {}
        # Checks run only between the test's own calls, never inside event listeners,
        # which run in greenlets of their own, concurrently with the test.
        self._greenlet = greenlet.getcurrent()
        self._busy = False
        context.on("page", self.watch)
        _ACTIVE.append(self)
        _check_before_calls(install=True)

    def watch(self, page: Any) -> Any:
        """Check ``page``'s documents (pages the context opens are watched already)."""
        if any(p is page for p in self._pages):
            return page
        self._pages.append(page)
        self._loads[id(page)] = []
        self._navigations[id(page)] = 0
        page.checked_urls = self.checked
        page.check_accessibility = lambda: self.check(page)
        # Listeners only take note: a Playwright call from a listener would run
        # concurrently with the test, on whatever document is there by then.
        page.on("framenavigated",
                lambda frame: frame.parent_frame is None and self._navigated(page))
        page.on("load", lambda _page: self._loaded(page))
        if page.url != "about:blank":  # a popup may have its first document already
            self._changed(page)
        return page

    def _navigated(self, page: Any) -> None:
        self._navigations[id(page)] += 1
        self._changed(page)

    def _changed(self, page: Any) -> None:
        if not any(p is page for p in self._pending):
            self._pending.append(page)

    def _loaded(self, page: Any) -> None:
        self._loads[id(page)].append(page.url)
        self._changed(page)

    def before_call(self) -> None:
        """Check the pages whose document changed (the test is about to make a call)."""
        import greenlet

        if self._pending and not self._busy and greenlet.getcurrent() is self._greenlet:
            for page in list(self._pending):
                self.check(page)

    def check(self, page: Any) -> None:
        """Run axe-core on ``page``'s current document now."""
        if self._busy:
            return
        self._busy = True
        try:
            self._check(page)
        finally:
            self._busy = False

    def _problem(self, line: str) -> None:
        self.problems[line] = None

    def _check(self, page: Any) -> None:
        if page.is_closed():
            self._pending = [p for p in self._pending if p is not page]
            for url in self._loads.pop(id(page), []):
                self._problem(f"{url}: the page closed before it could be checked")
            return
        url = page.url
        try:
            page.wait_for_load_state("load")
            # Only now: the document's load event has arrived and been noted.
            self._pending = [p for p in self._pending if p is not page]
            loads, self._loads[id(page)] = self._loads[id(page)], []
            for missed in loads[:-1]:
                self._problem(f"{missed}: replaced before it could be checked")
            url = page.url
            navigations = self._navigations[id(page)]
            state = page.evaluate(_STATE)
            if state == "skip":
                return
            if state == "inject":
                page.evaluate(self.axe.axe_script)
            violations = page.evaluate(
                _RUN_AXE, [AXE_OPTIONS, AXE_TIMEOUT_MS, self.javascript_enabled]
            )
        except Exception as exc:  # reported as a problem, never lost
            self._problem(f"{url}: could not run axe-core: {str(exc).splitlines()[0]}")
            return
        if self._navigations[id(page)] != navigations:
            # Playwright would have run the script in whichever document came next.
            self._problem(f"{url}: replaced while it was being checked")
            return
        self.checked.append(url)
        for violation in violations:
            targets = ", ".join(" ".join(map(str, t)) for t in violation["targets"])
            self._problem(f"{url}: {violation['id']} ({violation['help']}) at {targets}")

    def close(self) -> None:
        """Stop watching and close the context, without checking anything more."""
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        _check_before_calls(install=False)
        self.context.close()

    def finish(self) -> None:
        """Check the documents still open, close the context and raise
        :class:`AccessibilityViolations` if axe-core found problems."""
        try:
            for page in list(self._pending):
                self.check(page)
        finally:
            self.close()
        if self.problems:
            raise AccessibilityViolations(
                "axe-core found WCAG 2.2 AA problems:\n" + "\n".join(self.problems)
            )


#: "skip" for a page's initial empty document and for what is not HTML (an image, JSON
#: shown by the browser...); "inject" when axe-core is not in the document yet.
_STATE = """() => {
    const blank = location.href === 'about:blank'
        && (!document.body || document.body.childNodes.length === 0);
    if (blank || !/^(text\\/html|application\\/xhtml\\+xml)$/.test(document.contentType))
        return 'skip';
    return typeof window.axe === 'object' ? 'ready' : 'inject';
}"""

#: Longest a check may take before it counts as a problem (JavaScript enabled only).
AXE_TIMEOUT_MS = 30_000

#: Runs axe-core (already injected) on the document; returns the violations, slimmed.
#: With JavaScript disabled in the context no timer ever fires, and axe-core yields with
#: ``setTimeout(..., 0)``: for the run, zero-delay timers become microtasks (which do
#: run) and longer ones (axe-core's guards against stuck frames) never fire. No script
#: of the page can be running then, so none sees the stand-in.
_RUN_AXE = """async ([options, timeoutMs, javascriptEnabled]) => {
    const saved = {setTimeout: window.setTimeout, clearTimeout: window.clearTimeout};
    if (!javascriptEnabled) {
        const cancelled = new Set();
        let last = 0;
        window.setTimeout = (callback, delay, ...args) => {
            const id = ++last;
            if (!delay) Promise.resolve().then(() => cancelled.has(id) || callback(...args));
            return id;
        };
        window.clearTimeout = (id) => { cancelled.add(id); };
    }
    try {
        const run = axe.run(document, options);
        const results = !javascriptEnabled ? await run : await Promise.race([
            run,
            new Promise((_, reject) => saved.setTimeout.call(window,
                () => reject(new Error(`axe-core took over ${timeoutMs} ms`)), timeoutMs)),
        ]);
        return results.violations.map((v) => ({
            id: v.id, help: v.help, targets: v.nodes.map((n) => n.target),
        }));
    } finally {
        Object.assign(window, saved);
    }
}"""


@contextmanager
def axe_checked_page(browser: Any, **context_options: Any) -> Iterator[Any]:
    """A page in a new context of ``browser``: axe-core checks every document its pages
    show, and leaving the block raises :class:`AccessibilityViolations` if one had a
    problem. ``context_options`` go to ``browser.new_context`` (default locale en-GB).
    When the block itself raises, the context closes without further checks."""
    context = browser.new_context(**{"locale": "en-GB", **context_options})
    watch = AxeWatch(context, context_options.get("java_script_enabled", True))
    try:
        page = watch.watch(context.new_page())
        page.axe_watch = watch
        yield page
    except BaseException:
        watch.close()
        raise
    watch.finish()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A new page, in a context of its own, of the shared Chromium. axe-core checks
    every page it shows against WCAG 2.2 AA, and the test fails at teardown if one had
    a violation. ``page.checked_urls`` lists the pages checked so far (the current one
    is checked at the test's next Playwright call, or at teardown);
    ``page.check_accessibility()`` checks the current one now."""
    with axe_checked_page(chromium) as page:
        yield page


@pytest.fixture
def make_browser_page(chromium: Any) -> Iterator[Callable[..., Any]]:
    """Like ``browser_page``, with options for the context:
    ``make_browser_page(java_script_enabled=False)``,
    ``make_browser_page(viewport={"width": 375, "height": 812})``."""
    with ExitStack() as stack:
        yield lambda **options: stack.enter_context(axe_checked_page(chromium, **options))


def sign_in_staff(page: Any, base_url: str, email: str, totp_secret: str,
                  password: str | None = None) -> None:
    """Sign ``page`` in as the staff account ``email`` through the sign-in and
    two-factor pages, as a person would (the account's TOTP secret gives the code)."""
    import pyotp

    from core.testing.pytest_plugin import DEFAULT_PASSWORD

    page.goto(f"{base_url}/staff/sign-in")
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password or DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(totp_secret).now())
    page.get_by_role("button", name="Continue").click()

"""Browser fixtures: the app on a live loopback server, and Debian's Chromium driven by
Playwright, with axe-core checking every page a test visits against WCAG 2.2 AA."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

# -- a live server and a real browser --------------------------------------------------------


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """``app`` served over HTTP on loopback; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
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


class AccessibilityViolations(AssertionError):
    """axe-core found WCAG 2.2 AA problems on a page."""


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh browser page; axe-core checks every page it loads against WCAG 2.2 AA, and
    the test fails if any page had a violation."""
    from axe_playwright_python.sync_playwright import Axe

    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    axe = Axe()
    problems: list[str] = []
    checked: list[str] = []

    def check(loaded: Any) -> None:
        results = axe.run(loaded, options={"runOnly": {"type": "tag", "values": WCAG_AA_TAGS}})
        checked.append(loaded.url)
        for violation in results.response["violations"]:
            targets = [n["target"] for n in violation["nodes"]][:3]
            problems.append(f"{loaded.url}: {violation['id']} ({violation['help']}) at {targets}")

    page.on("load", check)
    page.checked_urls = checked
    yield page
    context.close()
    if problems:
        raise AccessibilityViolations("\n".join(problems))

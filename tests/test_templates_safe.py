"""Templates always escape, and every way around escaping is on a reviewed list.

HTML templates (the core's and plugins') are autoescaped by name. Each ``|safe``, each
``{% autoescape false %}`` in our templates, and each ``Markup(``,
``render_template_string(`` or ``autoescape=False`` in our Python code must be on
``REVIEWED`` below, with the exact expression and why it is safe: a new one anywhere
fails the test until someone reviews it and adds it. An entry that no longer matches
anything fails too, so the list stays true.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Blueprint, Flask, render_template

ROOT = Path(__file__).resolve().parent.parent

#: Where our templates live (the example third-party plugin is ours too).
TEMPLATE_ROOTS = [
    ROOT / "core" / "templates",
    *sorted(ROOT.glob("plugins/*/templates")),
    *sorted(ROOT.glob("tests/example_plugin/*/templates")),
]
#: Our Python code (not third-party packages, not the example plugin's build output).
PYTHON_ROOTS = [ROOT / "core", ROOT / "plugins",
                *sorted(p for p in ROOT.glob("tests/example_plugin/*") if p.name != "build")]

#: Ways around autoescaping, in templates and in Python.
TEMPLATE_BYPASSES = [
    re.compile(r"\{\{[^}]*\|\s*safe\b[^}]*\}\}"),  # {{ value|safe }}
    re.compile(r"\{%[^%]*\|\s*safe\b[^%]*%\}"),  # {% set x = value|safe %}
    re.compile(r"\{%-?\s*autoescape\s+false\s*-?%\}", re.IGNORECASE),
    re.compile(r"\{%-?\s*filter\s+safe\b[^%]*%\}"),
]
PYTHON_BYPASSES = [
    re.compile(r"\bMarkup\s*\("),
    re.compile(r"\brender_template_string\s*\("),
    re.compile(r"\bautoescape\s*=\s*False\b"),
]

#: (file relative to the repository, exact expression) -> why it is safe.
REVIEWED: dict[tuple[str, str], str] = {
    ("core/templates/auth/two_factor_setup.html", "{{ qr|safe }}"): (
        "qr is core.security.qr_svg(uri): SVG markup that segno generates from the "
        "otpauth URI. segno draws the code as path geometry and writes none of the URI's "
        "text into the SVG (test_the_qr_code_svg_carries_no_text_of_its_data checks this "
        "with a hostile email address)."
    ),
    ("core/templates/emails/alert.html", "{{ html|safe }}"): (
        "html is Message.body_html (or body_html_cy), which is only ever set to "
        "core.messaging.render_markdown(body): markdown-it with raw HTML off, then nh3 "
        "keeping a few formatting tags, <a href> and http(s)/mailto/tel links only "
        "(test_message_bodies_are_sanitised_before_they_are_marked_safe checks both)."
    ),
    ("core/templates/account/message.html", "{{ html|safe }}"): (
        "html is the received Message's body_html or body_html_cy, only ever set to "
        "core.messaging.render_markdown(body), sanitised as for emails/alert.html (see the "
        "test named there); tests/test_xss.py visits this page as the resident."
    ),
    ("core/templates/archive/area.html", "{{ alert.shown.body_html|safe }}"): (
        "alert.shown.body_html is a public message's body_html or body_html_cy "
        "(core.archive.in_language), only ever set to core.messaging.render_markdown(body), "
        "sanitised as for emails/alert.html (see the test named there); "
        "tests/test_archive.py publishes a message with hostile Markdown and checks the page."
    ),
    ("plugins/neighbourhood_watch/templates/neighbourhood_watch/print.html",
     "{{ message.body_html|safe }}"): (
        "message is a scheme's sent Message; body_html is only ever set to "
        "core.messaging.render_markdown(body), sanitised as for emails/alert.html (see the "
        "test named there); the plugin's tests print a message written with hostile "
        "Markdown and check the page."
    ),
    ("core/templates/messages/show.html", "{{ message.body_html|safe }}"): (
        "Message.body_html is only ever set to core.messaging.render_markdown(body), "
        "sanitised as for emails/alert.html (see the test named there); tests/test_xss.py "
        "writes messages with the payload corpus and checks this page."
    ),
}


def template_files() -> list[Path]:
    return sorted(p for root in TEMPLATE_ROOTS if root.is_dir()
                  for p in root.rglob("*") if p.is_file())


def python_files() -> list[Path]:
    files = []
    for root in PYTHON_ROOTS:
        if root.is_file() and root.suffix == ".py":
            files.append(root)
        elif root.is_dir():
            files.extend(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def bypasses() -> dict[tuple[str, str], int]:
    """Every way around escaping in our code: (file, expression) -> how many times."""
    found: dict[tuple[str, str], int] = {}
    scans = [(path, TEMPLATE_BYPASSES) for path in template_files()]
    scans += [(path, PYTHON_BYPASSES) for path in python_files()]
    for path, patterns in scans:
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            for match in pattern.finditer(text):
                if pattern in PYTHON_BYPASSES:
                    # The whole line, so the entry says what is marked safe.
                    start = text.rfind("\n", 0, match.start()) + 1
                    end = text.find("\n", match.end())
                    expression = text[start:end if end != -1 else None].strip()
                else:
                    expression = match.group(0)
                key = (path.relative_to(ROOT).as_posix(), expression)
                found[key] = found.get(key, 0) + 1
    return found


def test_the_scan_sees_our_files():
    templates = {p.relative_to(ROOT).as_posix() for p in template_files()}
    assert "core/templates/base.html" in templates
    assert "core/templates/emails/verify_email.txt" in templates
    assert "tests/example_plugin/commonwatch_allotment/templates/allotment_watch/index.html" \
        in templates
    sources = {p.relative_to(ROOT).as_posix() for p in python_files()}
    assert {"core/app.py", "core/views/staff.py", "plugins/surgery/__init__.py"} <= sources
    assert not any("/build/" in s or "site-packages" in s for s in sources)


def test_the_scan_catches_every_kind_of_bypass(tmp_path, monkeypatch):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.html").write_text(
        "{{ a | safe }}\n{% set b = c|safe %}\n{% autoescape false %}{{ d }}{% endautoescape %}"
        "\n{% filter safe %}{{ e }}{% endfilter %}\n{{ f|safer_than_safe }}"
    )
    (tmp_path / "code.py").write_text(
        "from markupsafe import Markup\nx = Markup (y)\nrender_template_string(s)\n"
        "env = Environment(autoescape = False)\nMarkup.escape(z)\n"
    )
    monkeypatch.setitem(globals(), "TEMPLATE_ROOTS", [tmp_path / "templates"])
    monkeypatch.setitem(globals(), "PYTHON_ROOTS", [tmp_path / "code.py"])
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert sorted(e for _f, e in bypasses()) == sorted([
        "{{ a | safe }}",
        "{% set b = c|safe %}",
        "{% autoescape false %}",
        "{% filter safe %}",
        "x = Markup (y)",
        "render_template_string(s)",
        "env = Environment(autoescape = False)",
    ])


def test_every_way_around_escaping_is_reviewed():
    found = bypasses()
    unreviewed = [f"{file}: {expression}" for file, expression in found
                  if (file, expression) not in REVIEWED]
    assert not unreviewed, (
        "Not reviewed: each way around escaping must be added to REVIEWED in "
        "tests/test_templates_safe.py, with why it is safe:\n  " + "\n  ".join(unreviewed)
    )
    stale = [f"{file}: {expression}" for file, expression in REVIEWED
             if (file, expression) not in found]
    assert not stale, "REVIEWED entries that match nothing any more:\n  " + "\n  ".join(stale)
    assert all(len(why) > 40 for why in REVIEWED.values())


# -- autoescaping ------------------------------------------------------------------------------


def our_template_names(app: Flask) -> dict[str, str]:
    """Every template the app can load from our code: name -> file."""
    names = {}
    roots = [str(root) for root in TEMPLATE_ROOTS]
    for name in app.jinja_env.list_templates():
        _source, filename, _uptodate = app.jinja_env.loader.get_source(app.jinja_env, name)
        if filename and any(filename.startswith(root) for root in roots):
            names[name] = filename
    return names


def test_html_templates_are_autoescaped(app):
    names = our_template_names(app)
    html_names = [n for n in names if n.endswith(".html")]
    assert "base.html" in html_names and "staff/member.html" in html_names
    # Every HTML template of ours is on disk, and every one on disk is loadable.
    on_disk = {p for p in template_files() if p.suffix == ".html"
               and "example_plugin" not in p.parts}
    assert on_disk <= {Path(f) for n, f in names.items() if n.endswith(".html")}
    for name in html_names:
        assert app.jinja_env.autoescape(name) is True, name
        assert app.jinja_env.get_template(name).environment.autoescape(name), name
    # Plain-text emails are not HTML: escaping would show "&lt;" to the reader (their
    # HTML twins, like emails/alert.html, are escaped with the rest).
    for name in names:
        if name.startswith("emails/") and name.endswith(".txt"):
            assert app.jinja_env.autoescape(name) is False


def test_a_plugin_blueprints_templates_are_autoescaped(make_app, tmp_path):
    folder = tmp_path / "templates" / "probe_plugin"
    folder.mkdir(parents=True)
    (folder / "probe.html").write_text("<p>{{ value }}</p><p>{{ _('%(v)s!', v=value) }}</p>")
    app = make_app()
    app.register_blueprint(Blueprint("probe_plugin", __name__,
                                     template_folder=str(tmp_path / "templates")))
    with app.test_request_context("/"):
        page = render_template("probe_plugin/probe.html", value="<script>x</script>")
    assert page == ("<p>&lt;script&gt;x&lt;/script&gt;</p>"
                    "<p>&lt;script&gt;x&lt;/script&gt;!</p>")


def test_the_core_templates_escape_what_they_are_given(app):
    with app.test_request_context("/"):
        page = render_template("errors/error.html", heading="<b>heading</b>",
                               lines=['"><svg onload=alert(1)>'])
    assert "<b>heading</b>" not in page and "&lt;b&gt;heading&lt;/b&gt;" in page
    assert "<svg onload" not in page and "&#34;&gt;&lt;svg onload=alert(1)&gt;" in page


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.extend(f"{k}={v}" for k, v in attrs)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data)


@pytest.mark.parametrize("email", ['"><script>alert(1)</script>@example.org',
                                   "a'><svg onload=alert(1)>@example.org"])
def test_the_qr_code_svg_carries_no_text_of_its_data(app, email):
    from types import SimpleNamespace

    from core.security import new_totp_secret, qr_svg, totp_uri

    with app.app_context():
        uri = totp_uri(SimpleNamespace(email=email), new_totp_secret())
    svg = qr_svg(uri)
    parser = _Elements()
    parser.feed(svg)
    assert parser.tags <= {"svg", "g", "path"}
    assert parser.text == []
    assert not any(a.split("=", 1)[0].startswith("on") for a in parser.attributes)
    assert "script" not in svg and "alert" not in svg and "example.org" not in svg


HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    '![i](x" onerror="alert(1))',
    "<iframe src=//evil.example></iframe>",
    "</textarea><script>x</script>",
    '[ok](https://example.org "t") **b** <b onclick="x()">b</b>',
]


def test_message_bodies_are_sanitised_before_they_are_marked_safe():
    from core.messaging import ALLOWED_TAGS, render_markdown

    for source in HOSTILE_MARKDOWN:
        html = render_markdown(source)
        parser = _Elements()
        parser.feed(html)
        assert parser.tags <= ALLOWED_TAGS, (source, html)
        for attribute in parser.attributes:
            name, _, value = attribute.partition("=")
            assert not name.startswith("on"), (source, html)
            if name == "href":
                assert value.split(":")[0].lower() in ("https", "http", "mailto", "tel"), html
    # Nothing else writes the rendering the email template trusts.
    assignments = [
        (path.relative_to(ROOT).as_posix(), line.strip())
        for path in python_files() for line in path.read_text(encoding="utf-8").splitlines()
        if re.search(r"\.body_html(_cy)?\s*=[^=]", line)
    ]
    assert assignments, "where did Message.body_html go? Review emails/alert.html again"
    for path, line in assignments:
        assert re.search(r"\.body_html(_cy)?\s*=\s*render_markdown\(", line), (path, line)

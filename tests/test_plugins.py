"""The plugin system: discovery, enabling, failures, and a third-party watch type."""

import ast
import importlib
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from core import hookdocs, hookspecs
from core.extensions import db
from core.models import Member
from core.plugins import PluginError, installed_plugins
from core.schema import upgrade_database
from core.targeting import RuleError, apply_rule, members_matching
from core.testing.pytest_plugin import fresh_database_url

ROOT = Path(__file__).parent.parent
IN_REPO = ["business_watch", "insights", "neighbourhood_watch", "rural_watch", "senior_watch",
           "surgery", "surveys"]
WATCH_TYPES = {
    "neighbourhood_watch": ["neighbourhood_watch.neighbourhood"],
    "business_watch": ["business_watch.business"],
    "senior_watch": ["senior_watch.senior"],
    "rural_watch": ["rural_watch.horse", "rural_watch.dog", "rural_watch.canal",
                    "rural_watch.farm"],
    "surgery": [],
}


def add_plugin(tmp_path, monkeypatch, name, source, version="0.1"):
    """Install a one-module plugin the way pip would: module + dist-info entry point."""
    site = tmp_path / f"site_{name}"
    site.mkdir()
    (site / f"cw_test_{name}.py").write_text(textwrap.dedent(source))
    info = site / f"cw_test_{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: cw-test-{name}\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(f"[commonwatch.plugins]\n{name} = cw_test_{name}\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()


def test_in_repo_plugins_are_found_through_their_entry_points():
    found = installed_plugins()
    for name in IN_REPO:
        assert found[name].module == f"plugins.{name}"
        assert found[name].distribution == "commonwatch"


def test_each_plugin_contributes_exactly_its_watch_types(make_app):
    app = make_app(PLUGINS="all")
    registry = app.extensions["commonwatch"].registry
    for plugin, names in WATCH_TYPES.items():
        owned = [n for n, owner in registry.owners.items()
                 if owner == plugin and n in registry.watch_types]
        assert owned == names


@pytest.mark.parametrize("disabled", IN_REPO)
def test_the_app_starts_with_any_one_plugin_disabled(make_app, county, disabled):
    enabled = [p for p in IN_REPO if p != disabled]
    app = make_app(PLUGINS=",".join(enabled))
    assert app.extensions["commonwatch"].plugins.enabled == enabled
    page = app.test_client().get("/register").get_data(as_text=True)
    registry = app.extensions["commonwatch"].registry
    for plugin, names in WATCH_TYPES.items():
        for name in names:
            assert (name in registry.watch_types) == (plugin != disabled)
            assert (f'value="{name}"' in page) == (plugin != disabled)


def test_plugins_command_lists_installed_plugins_with_version_and_state(make_app):
    app = make_app(PLUGINS="rural_watch,surgery")
    output = app.test_cli_runner().invoke(args=["plugins"]).output
    lines = {line.split()[0]: line.split() for line in output.splitlines()}
    assert lines["rural_watch"][1:3] == ["0.1.0", "enabled"]
    assert lines["surgery"][2] == "enabled"
    assert lines["business_watch"][2] == "disabled"


def test_none_disables_every_plugin(make_app):
    app = make_app(PLUGINS="none")
    registry = app.extensions["commonwatch"].registry
    assert registry.watch_types == {}
    assert set(registry.targeting_rules) == {"core.area", "core.interest", "core.present"}


def test_an_unknown_plugin_name_is_refused_naming_it(make_app):
    with pytest.raises(PluginError, match="not installed: rurall_watch"):
        make_app(PLUGINS="neighbourhood_watch,rurall_watch")


def test_a_plugin_that_fails_to_import_is_named(make_app, tmp_path, monkeypatch):
    add_plugin(tmp_path, monkeypatch, "broken", "import no_such_module_here\n")
    add_plugin(tmp_path, monkeypatch, "broken2", "raise RuntimeError('bad config')\n")
    with pytest.raises(PluginError) as caught:
        make_app(PLUGINS="broken,broken2,rural_watch")
    message = str(caught.value)
    assert "broken: ModuleNotFoundError" in message
    assert "broken2: RuntimeError: bad config" in message


def test_a_plugin_that_raises_in_a_hook_is_named(make_app, tmp_path, monkeypatch):
    add_plugin(tmp_path, monkeypatch, "explodes", """
        from core import hookimpl

        @hookimpl
        def commonwatch_watch_types():
            raise ValueError("boom")
    """)
    with pytest.raises(PluginError, match="plugin 'explodes' failed in commonwatch_watch_types"):
        make_app(PLUGINS="explodes")


def test_a_plugin_that_raises_in_an_event_hook_is_named(make_app, make_member, tmp_path,
                                                         monkeypatch):
    add_plugin(tmp_path, monkeypatch, "grumpy", """
        from core import hookimpl

        @hookimpl
        def commonwatch_member_registered(member, method):
            raise KeyError("nope")
    """)
    app = make_app(PLUGINS="grumpy,rural_watch")
    with app.app_context():
        caller = app.extensions["commonwatch"].plugins
        with pytest.raises(PluginError, match="plugin 'grumpy' failed in commonwatch_member"):
            caller.call("commonwatch_member_registered", member=None, method="self")


def test_a_misspelt_hook_is_refused_at_start(make_app, tmp_path, monkeypatch):
    add_plugin(tmp_path, monkeypatch, "typo", """
        from core import hookimpl

        @hookimpl
        def commonwatch_watch_typez():
            return []
    """)
    with pytest.raises(PluginError, match="typo"):
        make_app(PLUGINS="typo")


def test_duplicate_names_are_refused_naming_both_plugins(make_app, tmp_path, monkeypatch):
    add_plugin(tmp_path, monkeypatch, "copycat", """
        from core import hookimpl
        from core.api import WatchType

        @hookimpl
        def commonwatch_watch_types():
            return [WatchType("rural_watch.horse", "Horses again")]
    """)
    with pytest.raises(Exception, match="copycat") as caught:
        make_app(PLUGINS="rural_watch,copycat")
    assert "must start with 'copycat.'" in str(caught.value)


def test_plugin_tables_and_blueprints_must_carry_the_plugin_name(make_app, tmp_path, monkeypatch):
    add_plugin(tmp_path, monkeypatch, "badbp", """
        from flask import Blueprint
        from core import hookimpl

        @hookimpl
        def commonwatch_blueprints():
            return [Blueprint("somebody_else", __name__)]
    """)
    with pytest.raises(PluginError, match="blueprint 'somebody_else' must be named after it"):
        make_app(PLUGINS="badbp")


def test_the_core_never_imports_a_plugin():
    for path in (ROOT / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "plugins" or n.startswith("plugins.") for n in names), path


def test_every_hook_is_documented_with_its_arguments():
    doc = (ROOT / "docs" / "plugin_hooks.md").read_text()
    # The reference is in step with the hookspec docstrings (make hook-docs)...
    rendered = hookdocs.render(doc, hookdocs.hook_docstrings())
    assert not rendered.missing, f"hooks without a section: {rendered.missing}"
    assert not rendered.removed, f"blocks of hooks that no longer exist: {rendered.removed}"
    assert doc == rendered.text, "docs/plugin_hooks.md is out of step: run make hook-docs"
    # ... and, besides the docstring copied in, each section names every argument.
    sections = {}
    for chunk in hookdocs.BLOCK.sub("", doc).split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        sections[title.strip()] = body
    for name, spec in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("commonwatch_"):
            continue
        assert name in sections, f"{name} is not documented in docs/plugin_hooks.md"
        for arg in inspect.signature(spec).parameters:
            assert f"`{arg}`" in sections[name], f"{name}: argument {arg} is not documented"
        assert spec.__doc__ and spec.__doc__.strip(), f"{name} has no docstring"


def test_every_hook_is_exercised_by_a_test():
    sources = "\n".join(
        p.read_text() for p in [*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/*.py")]
    )
    example = (ROOT / "tests/example_plugin/commonwatch_allotment/__init__.py").read_text()
    for name, _spec in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("commonwatch_"):
            assert name in sources + example, f"no test exercises {name}"


# -- a third-party watch type, installed as a package ----------------------------------------


@pytest.fixture(scope="session")
def allotment_site(tmp_path_factory):
    """tests/example_plugin installed by pip into its own directory."""
    target = tmp_path_factory.mktemp("allotment_site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT / "tests" / "example_plugin")],
        check=True,
    )
    return target


@pytest.fixture
def allotments(allotment_site, monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(allotment_site))
    importlib.invalidate_caches()
    return fresh_database_url(os.environ.get("COMMONWATCH_TEST_DATABASE_URL"), "allotments",
                              tmp_path)


def test_a_third_party_watch_type_needs_no_change_to_the_core(make_app, allotments, outbox):
    assert installed_plugins()["allotment_watch"].distribution == "commonwatch-allotment-watch"
    app = make_app(DATABASE_URL=allotments, PLUGINS="all")
    with app.app_context():
        upgrade_database()
        assert "allotment_watch_site" in sa_inspect(db.engine).get_table_names()
        from core.demo import seed_demo

        list(seed_demo(0))
    client = app.test_client()
    # Its own Welsh catalogue is used.
    assert "Gwarchod Rhandiroedd" in client.get("/register?lang=cy").get_data(as_text=True)
    page = client.get("/register?lang=en").get_data(as_text=True)
    assert "Allotment Watch" in page
    assert "Which allotment site is your plot on?" in page
    added = app.test_cli_runner().invoke(args=["allotment-watch", "add-site", "Church Lane"])
    assert added.output == "added Church Lane\n"  # its commonwatch_cli_commands group
    sites_page = client.get("/allotments/").get_data(as_text=True)
    assert "Church Lane allotments" in sites_page  # via its commonwatch_app_ready filter
    assert 'href="/allotments/"' in sites_page  # its commonwatch_navigation item

    def register(email, interests, site):
        data = {
            "name": "Pat Plot", "email": email, "password": "a long enough password",
            "password_confirm": "a long enough password", "address_line": "1 Mill Lane",
            "postcode": "HF1 1FJ", "channels": "email", "organisations": "1",
            "language": "en", "privacy": "y", "interests": interests,
            "field__allotment_watch__site": site,
        }
        response = app.test_client().post("/register", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    register("plot@example.org", ["allotment_watch.allotments"], "Church Lane")
    register("other-site@example.org", ["allotment_watch.allotments"], "Mill Road")
    register("no-interest@example.org", ["rural_watch.dog"], "Church Lane")
    with app.app_context():
        rule = apply_rule("allotment_watch.site", {"site": "Church Lane"})
        assert rule.description == "allotment holders at Church Lane"
        found = db.session.scalars(members_matching([rule])).all()
        assert [m.email for m in found] == ["plot@example.org"]
        with pytest.raises(RuleError) as caught:
            apply_rule("allotment_watch.site", {"site": ""})
        assert "site" in caught.value.errors
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    # Disabled later, its applied migrations do not stop the next upgrade.
    later = make_app(DATABASE_URL=allotments, PLUGINS="rural_watch")
    result = later.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with later.app_context():
        db.engine.dispose()


def test_a_disabled_third_party_plugin_leaves_no_trace(make_app, allotments):
    app = make_app(DATABASE_URL=allotments, PLUGINS="rural_watch")
    with app.app_context():
        upgrade_database()
        # Its migrations are not applied while it is disabled.
        assert "allotment_watch_site" not in sa_inspect(db.engine).get_table_names()
        from core.demo import seed_demo

        list(seed_demo(0))
    client = app.test_client()
    assert client.get("/allotments/").status_code == 404
    page = client.get("/register").get_data(as_text=True)
    assert "Allotment" not in page
    with app.app_context():
        registry = app.extensions["commonwatch"].registry
        assert "allotment_watch.allotments" not in registry.watch_types
        assert "allotment_watch.site" not in registry.member_fields
        assert "allotment_watch.sites.manage" not in registry.permissions
        with pytest.raises(RuleError, match="unknown targeting rule"):
            apply_rule("allotment_watch.site", {"site": "Church Lane"})
        assert db.session.scalar(select(Member.id)) is None
        db.session.remove()
        db.engine.dispose()

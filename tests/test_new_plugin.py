"""`commonwatch new-plugin`: the package it writes installs, migrates, is targetable and
passes its own tests. And core.hookdocs, which keeps docs/plugin_hooks.md in step with
the hookspec docstrings."""

import ast
import gettext
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from core import create_app, hookdocs
from core.cli import new_plugin_command
from core.extensions import db
from core.models import Delivery, Member, Message
from core.plugins import installed_plugins
from core.schema import upgrade_database
from core.skeleton import MAX_NAME_LENGTH, generate_plugin
from core.testing.pytest_plugin import fresh_database_url

ROOT = Path(__file__).parent.parent
NAME = "bee_watch"
WATCH = "bee_watch.members"
DETAIL = "bee_watch.detail"
WARD, OTHER_DISTRICT_WARD = "E05900001", "E05900012"


def core_head_from_the_files() -> str:
    """The core's head revision, worked out here from the revision files themselves."""
    revisions, parents = set(), set()
    for path in (ROOT / "core" / "migrations" / "versions").glob("*.py"):
        values = {
            node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("revision", "down_revision")
        }
        revisions.add(values["revision"])
        down = values["down_revision"]
        parents.update(down if isinstance(down, tuple) else [down])
    (head,) = revisions - parents
    return head


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without Commonwatch's or pytest's settings, plus
    ``settings``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COMMONWATCH_", "PYTEST_"))}
    env.update(settings)
    return env


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Bee_Watch", "bee-watch", "2bees", "bee__watch", "bee_",
                                  "_bee", "bee watch", "bée", "", "class", "core",
                                  "b" * (MAX_NAME_LENGTH + 1)])
def test_new_plugin_refuses_a_name_that_is_not_a_lower_snake_case_identifier(tmp_path, name):
    result = CliRunner().invoke(new_plugin_command, [name, "--directory", str(tmp_path)])
    assert result.exit_code == 1
    assert f"Error: {name!r} is not a valid plugin name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_new_plugin_refuses_a_directory_that_exists(tmp_path):
    existing = tmp_path / "commonwatch-bee-watch"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(new_plugin_command, [NAME, "--directory", str(tmp_path)])
    assert result.exit_code == 1
    assert f"Error: {existing} already exists: choose another name or directory" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["commonwatch-bee-watch"]
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]
    assert (existing / "mine.txt").read_text() == "keep me"


def test_new_plugin_is_among_the_core_commands(make_app, tmp_path):
    result = make_app().test_cli_runner().invoke(
        args=["new-plugin", "pond_watch", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "commonwatch-pond-watch" / "commonwatch_pond_watch").is_dir()


# -- the package it writes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def skeleton(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """`commonwatch new-plugin bee_watch`, run as its own process with settings that no app
    could start with, then the package installed by pip into a directory of its own."""
    parent = tmp_path_factory.mktemp("new_plugin")
    made = subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", "new-plugin", NAME,
         "--directory", str(parent)],
        env=clean_environment(COMMONWATCH_PLUGINS="no_such_plugin",
                              COMMONWATCH_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"),
        capture_output=True, text=True, timeout=120,
    )
    assert made.returncode == 0, made.stderr
    project = parent / "commonwatch-bee-watch"
    assert f"created {project}" in made.stdout
    site = tmp_path_factory.mktemp("bee_watch_site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(project)],
        check=True, timeout=300,
    )
    return SimpleNamespace(project=project, site=site)


@pytest.mark.slow
def test_the_package_has_every_part(skeleton):
    project, package = skeleton.project, skeleton.project / "commonwatch_bee_watch"
    for part in ["pyproject.toml", "README.md", "babel.cfg", "tests/conftest.py",
                 "tests/test_bee_watch.py", "commonwatch_bee_watch/__init__.py",
                 "commonwatch_bee_watch/templates/bee_watch/index.html",
                 "commonwatch_bee_watch/translations/cy/LC_MESSAGES/messages.po"]:
        assert (project / part).is_file(), part
    assert not list(project.rglob("*.tmpl"))
    assert not [p for p in project.rglob("*") if p.is_file() and "@@" in p.read_text("latin-1")]
    pyproject = (project / "pyproject.toml").read_text()
    assert '[project.entry-points."commonwatch.plugins"]\nbee_watch = "commonwatch_bee_watch"' \
        in pyproject
    assert "commonwatch_bee_watch = [" in pyproject and "translations/**/*" in pyproject
    readme = (project / "README.md").read_text()
    for step in ["pip install -e .", "COMMONWATCH_PLUGINS", "commonwatch db upgrade", "pytest"]:
        assert step in readme
    # The plugin's code reaches the core only through hookimpl and core.api.
    tree = ast.parse((package / "__init__.py").read_text())
    core_imports = {(node.module, alias.name) for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module.startswith("core")
                    for alias in node.names}
    assert {module for module, _ in core_imports} == {"core", "core.api"}
    assert ("core", "hookimpl") in core_imports
    # Its first migration starts its own branch, on the core's head of today.
    (migration,) = (package / "migrations" / "versions").glob("*.py")
    values = {node.targets[0].id: ast.literal_eval(node.value)
              for node in ast.parse(migration.read_text()).body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    assert values["down_revision"] is None
    assert values["branch_labels"] == (NAME,)
    assert values["depends_on"] == core_head_from_the_files()
    # Its Welsh catalogue is compiled.
    with (package / "translations/cy/LC_MESSAGES/messages.mo").open("rb") as fh:
        welsh = gettext.GNUTranslations(fh)
    assert welsh.gettext("Group or place") == "Grŵp neu le"


@pytest.mark.slow
def test_the_generated_code_passes_the_projects_ruff_checks(skeleton, tmp_path):
    longest = generate_plugin("a" * (MAX_NAME_LENGTH - 10) + "_bcdefghi", tmp_path)
    for project in (skeleton.project, longest):
        # From the project's root, so that `core` counts as first-party as it does here.
        result = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
             str(ROOT / "pyproject.toml"), str(project)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        # And with the settings it carries itself.
        result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                                cwd=project, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


# -- installed, enabled and migrated ----------------------------------------------------------


@pytest.fixture(scope="module")
def bee_database(skeleton: SimpleNamespace, _schema: None, base_config: dict[str, Any],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own, upgraded with the skeleton installed and every plugin
    enabled; the skeleton stays installed (on sys.path) for the rest of this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(skeleton.site))
        importlib.invalidate_caches()
        url = fresh_database_url(os.environ.get("COMMONWATCH_TEST_DATABASE_URL"), "bee_watch",
                                 tmp_path_factory.mktemp("bee_watch_db"))
        app = create_app({**base_config, "DATABASE_URL": url, "PLUGINS": "all"})
        with app.app_context():
            upgrade_database()
            db.session.remove()
            db.engine.dispose()
        yield url
    importlib.invalidate_caches()


@pytest.fixture
def app(make_app: Callable[..., Flask], bee_database: str) -> Flask:
    """The fixtures' app (county, make_member, make_staff, login...) on that database."""
    return make_app(DATABASE_URL=bee_database, PLUGINS="all")


@pytest.mark.slow
def test_the_installed_skeleton_is_found_and_contributes_its_parts(app, client, county):
    assert installed_plugins()[NAME].distribution == "commonwatch-bee-watch"
    assert NAME in app.extensions["commonwatch"].plugins.enabled
    registry = app.extensions["commonwatch"].registry
    assert WATCH in registry.watch_types
    assert DETAIL in registry.member_fields and DETAIL in registry.targeting_rules
    assert "bee_watch.members.view" in registry.permissions
    assert {registry.owners[n] for n in (WATCH, DETAIL, "bee_watch.members.view")} == {NAME}
    with app.app_context():
        # Its migration was applied: its table and its branch's revision are there.
        assert "bee_watch_note" in sa_inspect(db.engine).get_table_names()
        versions = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    (migration,) = (skeleton_site_package(app) / "migrations" / "versions").glob("*.py")
    assert migration.name.split("_")[0] in versions
    page = client.get("/bee-watch/")
    assert page.status_code == 200
    assert "There are no notes yet." in page.get_data(as_text=True)
    register = client.get("/register?lang=en").get_data(as_text=True)
    assert f'value="{WATCH}"' in register
    assert "Which group or place are you part of?" in register
    assert 'href="/bee-watch/"' in register  # its navigation item
    welsh = client.get("/register?lang=cy").get_data(as_text=True)
    assert "Pa grŵp neu le ydych chi" in welsh


def skeleton_site_package(app: Flask) -> Path:
    """The directory of the enabled skeleton's installed package."""
    module = app.extensions["commonwatch"].plugins.plugin_module(NAME)
    return Path(module.__file__).parent


@pytest.mark.slow
def test_a_staff_message_aimed_with_its_rule_reaches_exactly_the_matching_member(
        app, county, make_member, make_staff, login, outbox):
    matching = make_member(area=WARD, email="hive7@example.org", interests=[WATCH],
                           fields={DETAIL: "Hive 7"})
    make_member(area=WARD, email="hive8@example.org", interests=[WATCH],
                fields={DETAIL: "Hive 8"})
    make_member(area=WARD, email="no-interest@example.org", interests=["rural_watch.dog"],
                fields={DETAIL: "Hive 7"})
    make_member(area=WARD, email="plain@example.org")
    make_member(area=OTHER_DISTRICT_WARD, email="hive7-far@example.org", interests=[WATCH],
                fields={DETAIL: "Hive 7"})
    officer = login(app.test_client(), staff=make_staff("officer", areas=[WARD]))
    response = officer.post("/staff/messages/new", data={
        "title": "Swarm on Mill Lane", "body": "A swarm has settled by **hive 7**.",
        "plain_text": "A swarm has settled by hive 7.", "category": "crime_alert",
        "priority": "2", "areas": "",
        "rule__bee_watch__detail-mode": "must", "rule__bee_watch__detail-detail": "Hive 7",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert "/check" in response.location
    preview = officer.get(response.location).get_data(as_text=True)
    assert re.search(r"People</dt>\s*<dd[^>]*>\s*1\s*</dd>", preview), preview
    assert "Bee Watch members whose group or place is Hive 7" in preview
    with app.app_context():
        message_id = db.session.scalar(select(Message.id))
    assert officer.post(f"/staff/messages/{message_id}/send").status_code == 302
    with app.app_context():
        reached = db.session.scalars(
            select(Delivery.member_id).where(Delivery.message_id == message_id).distinct()
        ).all()
        assert reached == [matching]
        assert db.session.get(Member, matching).email == "hive7@example.org"
    assert [m["To"] for m in outbox.wait_for(1)] == ["hive7@example.org"]


@pytest.mark.slow
def test_the_skeletons_own_tests_pass_against_the_installed_package(skeleton, tmp_path):
    # -P: the project's directory is not put on sys.path, so its tests import the package
    # pip installed. The database is a fresh SQLite file under --basetemp.
    result = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "basetemp"), "tests"],
        cwd=skeleton.project, capture_output=True, text=True, timeout=600,
        env=clean_environment(PYTHONPATH=str(skeleton.site), COMMONWATCH_TEST_DATABASE_URL="",
                              COMMONWATCH_TEST_REDIS_URL=""),
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b5 passed\b", result.stdout), result.stdout[-2000:]


# -- the hook reference ---------------------------------------------------------------------


DOC = """# Hooks

## commonwatch_first

Written by hand.

## commonwatch_second
Also by hand.

## Something else
"""


def test_hookdocs_puts_each_docstring_after_its_title_and_changes_nothing_else():
    docstrings = {"commonwatch_first": "Do the first thing.\n\n    Indented, kept.",
                  "commonwatch_second": "Do the second.", "commonwatch_third": "Nowhere."}
    rendered = hookdocs.render(DOC, docstrings)
    assert rendered.missing == ["commonwatch_third"]
    assert "## commonwatch_first\n\n<!-- hookspec:commonwatch_first -->\n" \
           "**What the core promises** (its docstring in `core/hookspecs.py`):\n\n" \
           "> Do the first thing.\n>\n>     Indented, kept.\n<!-- /hookspec -->\n\n" \
           "Written by hand.\n" in rendered.text
    assert "<!-- /hookspec -->\n\nAlso by hand.\n" in rendered.text
    assert hookdocs.BLOCK.sub("", rendered.text).replace(
        "## commonwatch_second\n\n", "## commonwatch_second\n") == DOC
    # Rendering again changes nothing; a changed docstring replaces its block.
    assert hookdocs.render(rendered.text, docstrings).text == rendered.text
    changed = hookdocs.render(rendered.text, {**docstrings, "commonwatch_second": "New."})
    assert "> New.\n" in changed.text and "Do the second." not in changed.text
    # The block of a hook that no longer exists is removed and reported.
    gone = hookdocs.render(rendered.text, {"commonwatch_first": "Do the first thing."})
    assert gone.removed == ["commonwatch_second"]
    assert "hookspec:commonwatch_second" not in gone.text


def test_hookdocs_orders_hooks_as_defined_with_their_dedented_docstrings():
    from core import hookspecs

    found = hookdocs.hook_docstrings()
    names = [n for n in vars(hookspecs) if n.startswith("commonwatch_")]
    assert list(found) == names
    assert found["commonwatch_watch_types"] == \
        hookdocs.inspect.cleandoc(hookspecs.commonwatch_watch_types.__doc__)


def test_hookdocs_command_rewrites_the_file_or_checks_it(tmp_path, capsys):
    path = tmp_path / "plugin_hooks.md"
    partial = "# Hooks\n\n## commonwatch_watch_types\n\nBy hand.\n"
    path.write_text(partial)
    assert hookdocs.main(["--file", str(path), "--check"]) == 1
    assert path.read_text() == partial
    assert hookdocs.main(["--file", str(path)]) == 1  # the other hooks have no section
    errors = capsys.readouterr().err
    assert "no section '## commonwatch_member_fields'" in errors
    assert "commonwatch_watch_types'" not in errors
    assert f"rewrote {path}" in errors
    assert "> Return the watch types (interests) this plugin contributes.\n" in path.read_text()
    real = (ROOT / "docs" / "plugin_hooks.md").read_text()
    path.write_text(real)
    assert hookdocs.main(["--file", str(path), "--check"]) == 0
    assert path.read_text() == real

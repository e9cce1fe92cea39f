"""Upgrading the database: the core's migrations and those of enabled plugins.

Each plugin's revisions are an Alembic branch labelled with the plugin's name. Alembic
is shown the revisions of every installed plugin, so that one which was enabled once and
is disabled now does not break upgrades, but only the core's and the enabled plugins'
branches are upgraded.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import flask_migrate
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Flask, current_app

from core.plugins import installed_plugins

CORE_VERSIONS = Path(__file__).parent / "migrations" / "versions"


def migration_locations(app: Flask) -> list[str]:
    """Directories of Alembic revisions: the core's and every installed plugin's."""
    state = app.extensions["commonwatch"]
    locations = [str(CORE_VERSIONS), *state.migration_locations]
    for name, plugin in installed_plugins().items():
        if name in state.plugins.enabled:
            continue
        try:
            module = importlib.import_module(plugin.module)
        except Exception:  # noqa: BLE001 - a broken disabled plugin must not stop upgrades
            app.logger.warning("cannot read migrations of disabled plugin %s", name)
            continue
        hook = getattr(module, "commonwatch_migration_locations", None)
        if hook is not None:
            locations.extend(str(p) for p in hook())
    return locations


def upgrade_targets() -> list[str]:
    """``core@head`` and ``<plugin>@head`` for each enabled plugin with migrations."""
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    targets = ["core@head"]
    for name in current_app.extensions["commonwatch"].plugins.enabled:
        try:
            script.get_revisions(f"{name}@head")
        except CommandError:
            continue  # this plugin ships no migrations
        targets.append(f"{name}@head")
    return targets


def upgrade_database(sql: bool = False) -> None:
    """Bring the schema of the current app's database up to date."""
    for target in upgrade_targets():
        flask_migrate.upgrade(revision=target, sql=sql)

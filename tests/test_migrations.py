"""The schema comes from the migrations, and the migrations match the models."""

import os

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.extensions import db
from core.schema import upgrade_database
from core.testing.pytest_plugin import fresh_database_url


def test_upgrade_from_empty_to_head_and_back(make_app, tmp_path):
    url = fresh_database_url(os.environ.get("COMMONWATCH_TEST_DATABASE_URL"), "migrations",
                             tmp_path)
    app = make_app(DATABASE_URL=url, PLUGINS="all")
    with app.app_context():
        upgrade_database()
        tables = set(inspect(db.engine).get_table_names())
        assert {"member", "area", "postcode", "staff", "member_consent"} <= tables
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        # Tables of plugins not installed here may be in the metadata; the core's must match.
        diff = [d for d in diff if not (d[0] == "add_table" and "_watch_" in d[1].name)]
        assert diff == [], f"models and migrations differ: {diff}"
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade_database()
        assert "member" in inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()


def test_db_upgrade_command_applies_every_head(make_app, tmp_path):
    url = fresh_database_url(os.environ.get("COMMONWATCH_TEST_DATABASE_URL"), "cli_upgrade",
                             tmp_path)
    app = make_app(DATABASE_URL=url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert "member" in inspect(db.engine).get_table_names()
        db.engine.dispose()

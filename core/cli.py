"""The ``commonwatch`` command line: Flask's, plus the core's and plugins' commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

import click
import flask_migrate
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate.cli import db as migrate_db_group
from sqlalchemy import select

from core.areas import DataImportError, import_areas, import_postcodes
from core.extensions import db
from core.members import MemberImportError, export_members, import_members
from core.models import ORGANISATION_KINDS, ROLES, Area, Organisation, Staff
from core.plugins import installed_plugins
from core.schema import upgrade_database


def _progress(label: str) -> Callable[[int], None]:
    def report(n: int) -> None:
        click.echo(f"{label}: {n} rows read", err=True)

    return report


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.command("import-areas")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def import_areas_command(file: IO[str]) -> None:
    """Load or update the area hierarchy from a CSV file (docs/data-formats.md)."""
    try:
        result = import_areas(file, progress=_progress("areas"))
    except DataImportError as exc:
        db.session.rollback()
        _fail(f"{file.name}: {exc}. Nothing was imported.")
    click.echo(f"areas: {result.created} created, {result.updated} updated")


@click.command("import-postcodes")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def import_postcodes_command(file: IO[str]) -> None:
    """Load or update the postcode table from a CSV file (docs/data-formats.md)."""
    try:
        result = import_postcodes(file, progress=_progress("postcodes"))
    except DataImportError as exc:
        db.session.rollback()
        _fail(f"{file.name}: {exc}. Nothing was imported.")
    click.echo(f"postcodes: {result.created} created, {result.updated} updated")


@click.command("export-members")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
@with_appcontext
def export_members_command(file: IO[str]) -> None:
    """Write every member, with consents, as JSON Lines (default: standard output)."""
    count = export_members(file)
    click.echo(f"exported {count} members", err=True)


@click.command("import-members")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def import_members_command(file: IO[str]) -> None:
    """Import members from a JSON Lines file made by export-members; all or nothing."""
    try:
        count = import_members(file)
    except MemberImportError as exc:
        db.session.rollback()
        _fail(f"{file.name}: {exc}. Nothing was imported.")
    click.echo(f"imported {count} members")


@click.command("plugins")
@with_appcontext
def plugins_command() -> None:
    """List installed plugins, their version and whether they are enabled."""
    enabled = set(current_app.extensions["commonwatch"].plugins.enabled)
    installed = installed_plugins()
    width = max((len(n) for n in installed), default=4)
    for name, plugin in installed.items():
        state = "enabled" if name in enabled else "disabled"
        click.echo(f"{name:<{width}}  {plugin.version:<10}  {state:<8}  {plugin.distribution}")


@click.command("create-organisation")
@click.argument("slug")
@click.argument("name")
@click.option("--kind", type=click.Choice(ORGANISATION_KINDS), default="police")
@with_appcontext
def create_organisation_command(slug: str, name: str, kind: str) -> None:
    """Add an organisation (police force, council, watch association...)."""
    if db.session.scalar(select(Organisation).where(Organisation.slug == slug)):
        _fail(f"organisation {slug} already exists")
    db.session.add(Organisation(slug=slug, name=name, kind=kind))
    db.session.commit()
    click.echo(f"created organisation {slug}")


@click.command("create-staff")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--organisation", "org_slug", required=True, help="Organisation slug.")
@click.option("--area", "area_codes", multiple=True, required=True, help="Area code; repeat.")
@click.password_option(help="At least 12 characters.")
@with_appcontext
def create_staff_command(
    email: str, name: str, role: str, org_slug: str, area_codes: tuple[str, ...], password: str
) -> None:
    """Create a staff account (e.g. the first force administrator)."""
    from core.security import MIN_PASSWORD_LENGTH, hash_password

    org = db.session.scalar(select(Organisation).where(Organisation.slug == org_slug))
    if org is None:
        _fail(f"no organisation {org_slug}")
    areas = list(db.session.scalars(select(Area).where(Area.code.in_(area_codes))))
    missing = set(area_codes) - {a.code for a in areas}
    if missing:
        _fail(f"unknown area codes: {', '.join(sorted(missing))}")
    if len(password) < MIN_PASSWORD_LENGTH:
        _fail(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.scalar(select(Staff).where(Staff.email == email.lower())):
        _fail(f"a staff account already uses {email}")
    db.session.add(Staff(email=email.lower(), name=name, role=role, organisation=org,
                         areas=areas, password_hash=hash_password(password)))
    db.session.commit()
    click.echo(f"created {role} {email}; two-factor set-up is asked at first sign-in")


@click.command("demo")
@click.option("--members", default=3000, show_default=True, help="Residents to create.")
@with_appcontext
def demo_command(members: int) -> None:
    """Create the schema, the fictional county of Wealdshire, demo staff and residents."""
    from core.demo import seed_demo

    upgrade_database()
    for line in seed_demo(members):
        click.echo(line)


@click.command("worker")
@click.option("--queue", "queues", multiple=True, help="Queue to serve; repeat. Default: all.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@with_appcontext
def worker_command(queues: tuple[str, ...], burst: bool) -> None:
    """Run an RQ worker (with its scheduler) for this app; start as many as needed."""
    from core.jobs import queue_names, run_worker

    app: Flask = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        _fail("COMMONWATCH_REDIS_URL is not set: jobs run in-process, no worker is needed")
    run_worker(app, list(queues) or queue_names(app), burst=burst)


@click.command("sweep-deliveries")
@click.option("--stuck-after", type=int, default=None,
              help="Seconds after which a claimed delivery counts as stuck.")
@with_appcontext
def sweep_command(stuck_after: int | None) -> None:
    """Re-queue deliveries left behind by a worker that died, send scheduled messages
    that are due and recount the reach of areas whose members changed; run every
    minute or few."""
    from core.delivery import sweep
    from core.reach import refresh

    click.echo(f"put back {sweep(stuck_after)} deliveries")
    click.echo(f"recounted reach after {refresh()} member changes")


@click.command("refresh-reach")
@click.option("--full", is_flag=True, help="Recount every area, not only those that changed.")
@with_appcontext
def refresh_reach_command(full: bool) -> None:
    """Recount the pre-counted reach that message previews use (sweep-deliveries does
    this for changed areas; --full after loading members with plain SQL)."""
    from core.reach import refresh

    click.echo(f"recounted reach after {refresh(full=full)} member changes")


@click.command("fetch-replies")
@with_appcontext
def fetch_replies_command() -> None:
    """Take in residents' emailed replies: read the unseen emails of the IMAP mailbox
    (IMAP_HOST, IMAP_USER, IMAP_PASSWORD, IMAP_FOLDER) and mark them seen; run every
    few minutes."""
    from core.replies import ImapError, fetch_replies

    try:
        result = fetch_replies()
    except ImapError as exc:
        _fail(str(exc))
    click.echo(f"took {result.taken} replies; refused {result.refused} emails; "
               f"{result.duplicates} already taken; {result.failed} left for the next run")


@click.command("send-digests")
@with_appcontext
def digests_command() -> None:
    """Send the daily digest of held-back messages; run once a day."""
    from core.delivery import send_digests

    click.echo(f"sent {send_digests()} digests")


@click.command("vapid-keys")
def vapid_keys_command() -> None:
    """Print a new VAPID key pair for web push, as the two settings to give every
    process (keep the private key secret)."""
    from core.push import generate_vapid_keys

    private, public = generate_vapid_keys()
    click.echo(f"COMMONWATCH_VAPID_PRIVATE_KEY={private}")
    click.echo(f"COMMONWATCH_VAPID_PUBLIC_KEY={public}")


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(exists=True, file_okay=False, writable=True, path_type=Path),
    default=".",
    show_default=True,
    help="Where to create the plugin's directory.",
)
def new_plugin_command(name: str, directory: Path) -> None:
    """Create commonwatch-NAME/ (NAME in lower_snake_case, e.g. bee_watch): a complete
    plugin package to start from. Needs no database or app."""
    from core.skeleton import SkeletonError, generate_plugin

    try:
        created = generate_plugin(name, directory)
    except SkeletonError as exc:
        _fail(str(exc))
    click.echo(f"created {created}")
    click.echo("next: pip install -e . in it, add it to COMMONWATCH_PLUGINS if you list them, "
               "run commonwatch db upgrade, then pytest (see its README.md)")


@click.command("upgrade")
@click.argument("revision", required=False)
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@with_appcontext
def upgrade_command(revision: str | None, sql: bool) -> None:
    """Upgrade the database: by default the core and every enabled plugin to their latest
    revision; or to REVISION."""
    if revision:
        flask_migrate.upgrade(revision=revision, sql=sql)
    else:
        upgrade_database(sql=sql)


def _db_group() -> click.Group:
    # Flask-Migrate's group, with an `upgrade` that by default upgrades the core and the
    # enabled plugins, each plugin's migrations being a branch of their own.
    group = click.Group(
        "db",
        help=migrate_db_group.help,
        callback=migrate_db_group.callback,
        params=list(migrate_db_group.params),
    )
    for name, command in migrate_db_group.commands.items():
        group.add_command(command, name)
    group.add_command(upgrade_command, "upgrade")
    return group


CORE_COMMANDS = [
    import_areas_command,
    import_postcodes_command,
    export_members_command,
    import_members_command,
    plugins_command,
    create_organisation_command,
    create_staff_command,
    demo_command,
    worker_command,
    sweep_command,
    refresh_reach_command,
    digests_command,
    vapid_keys_command,
    fetch_replies_command,
    new_plugin_command,
]


def register_commands(app: Flask) -> None:
    """Add the core's commands to ``app.cli`` (plugins' are added by create_app)."""
    for command in CORE_COMMANDS:
        app.cli.add_command(command)
    app.cli.add_command(_db_group(), "db")


def _create_app() -> Flask:
    from core.app import create_app

    return create_app()


def main() -> None:
    """Entry point of the ``commonwatch`` console script."""
    cli = FlaskGroup(create_app=_create_app, help="Commonwatch: community alerts.")
    # Found without building the app: it only writes files.
    cli.add_command(new_plugin_command)
    cli.main(args=sys.argv[1:], prog_name="commonwatch")


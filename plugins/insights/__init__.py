"""Community insights and mapping: where officers should focus, and telling residents
what was done.

Links membership, survey answers, surgery cases and crime data by area (each from
whatever is enabled), keeps each area's figures fresh with a job, shades a map by
coverage, crime, concern or a combined score, ranks the streets and wards to focus on
with the reasons in words, lists the community contacts who agreed to be, and sends
"You said, we did" updates through messaging. docs/insights.md describes it for a force.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import wtforms
from flask import Blueprint, url_for
from flask.cli import with_appcontext

from core import hookimpl
from core.api import NavItem, Permission, ProfileField, Staff, has_permission
from core.api import lazy_gettext as _l
from plugins.insights.models import MODELS

VIEW = "insights.view"
CONTACTS = "insights.contacts"
CONTACT_FIELD = "insights.community_contact"


@hookimpl
def commonwatch_models() -> list[type]:
    return MODELS


@hookimpl
def commonwatch_migration_locations() -> list[str]:
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def commonwatch_permissions() -> list[Permission]:
    return [
        Permission(VIEW, _l("See community insights of their areas and send updates"),
                   frozenset({"officer", "supervisor", "force_admin"})),
        Permission(CONTACTS, _l("See the community contacts of their areas"),
                   frozenset({"supervisor", "force_admin"})),
    ]


def _contact_field() -> wtforms.Field:
    return wtforms.SelectField(
        _l("Would you be a community contact?"),
        choices=[("", _l("No")), ("yes", _l("Yes"))], default="",
        description=_l("Your local policing team may ask you to join an advisory group "
                       "or to pass on news to your neighbours. Only supervisors and force "
                       "administrators see this."))


@hookimpl
def commonwatch_member_fields() -> list[ProfileField]:
    return [ProfileField(CONTACT_FIELD, _contact_field)]


@hookimpl
def commonwatch_blueprints() -> list[Blueprint]:
    from plugins.insights.views import bp

    return [bp]


@hookimpl
def commonwatch_navigation(user: Any) -> list[NavItem]:
    if isinstance(user, Staff) and has_permission(user, VIEW):
        return [NavItem(_l("Insights"), url_for("insights.dashboard"), 65)]
    return []


@hookimpl
def commonwatch_demo_data() -> list[str]:
    """The made-up crime files of Wealdshire, and the figures worked out."""
    from sqlalchemy import func, select

    from core.api import db
    from plugins.insights.crime import import_crimes, import_lsoa_links
    from plugins.insights.figures import refresh
    from plugins.insights.models import Crime

    lines = []
    if not db.session.scalar(select(func.count()).select_from(Crime)):
        fixtures = Path(__file__).parent / "fixtures"
        with open(fixtures / "lsoa.csv", encoding="utf-8") as fh:
            import_lsoa_links(fh)
        for name in ("crimes-2026-09.csv", "crimes-2026-10.csv"):
            with open(fixtures / name, encoding="utf-8") as fh:
                lines.append("insights: " + import_crimes(fh).summary())
    refresh()
    lines.append("insights: the figures of every area worked out")
    return lines


@click.command("import-crime")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_crime_command(path: str) -> None:
    """Import a street-level crime CSV of data.police.uk; a month already imported is
    replaced. Nothing of a file with a bad row is imported."""
    from plugins.insights.crime import CrimeImportError, import_crimes

    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            result = import_crimes(fh)
        except CrimeImportError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(result.summary())


@click.group("insights")
def insights_group() -> None:
    """Community insights."""


@insights_group.command("refresh")
@with_appcontext
def refresh_command() -> None:
    """Recompute every area's figures and this month's coverage snapshot; run daily
    (and after importing crimes)."""
    from plugins.insights.figures import refresh

    click.echo(f"refreshed the figures of {refresh()} areas")


def _import(path: str, load: Any, error: type[Exception], done: str) -> None:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            count = load(fh)
        except error as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(done.format(count))


@insights_group.command("import-lsoa")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_lsoa_command(path: str) -> None:
    """Link LSOA codes to areas (CSV: lsoa_code,area_code), for crimes without a point."""
    from plugins.insights.crime import CrimeImportError, import_lsoa_links

    _import(path, import_lsoa_links, CrimeImportError, "linked {} LSOAs")


@insights_group.command("import-indicators")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_indicators_command(path: str) -> None:
    """Set per-area indicators (CSV: area_code,name,value), e.g. imd_decile."""
    from plugins.insights.indicators import IndicatorImportError, import_indicators

    _import(path, import_indicators, IndicatorImportError, "imported {} indicators")


@hookimpl
def commonwatch_cli_commands() -> list[click.Command]:
    return [import_crime_command, insights_group]

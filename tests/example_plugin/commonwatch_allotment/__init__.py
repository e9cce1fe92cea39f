"""Allotment Watch: shed break-ins and tool theft alerts for allotment holders.

A third-party plugin: it reaches the core only through ``core.hookimpl`` and ``core.api``.
"""

from pathlib import Path

import click
import wtforms
from flask import Blueprint, render_template
from flask.cli import with_appcontext
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core import hookimpl
from core.api import (
    NavItem,
    Permission,
    ProfileField,
    RuleFilter,
    TargetingRule,
    WatchType,
    db,
    has_interest,
    member_field_value,
    public,
)
from core.api import (
    lazy_gettext as _l,
)


class AllotmentSite(db.Model):
    """An allotment site the force knows about."""

    __tablename__ = "allotment_watch_site"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))


class SiteRuleForm(wtforms.Form):
    site = wtforms.StringField("Allotment site", [wtforms.validators.InputRequired()])


def site_rule(params: dict) -> RuleFilter:
    site = params["site"].strip()
    return RuleFilter(
        has_interest("allotment_watch.allotments")
        & (member_field_value("allotment_watch.site") == site),
        f"allotment holders at {site}",
    )


bp = Blueprint("allotment_watch", __name__, template_folder="templates",
               url_prefix="/allotments")


@bp.get("/")
@public
def index() -> str:
    sites = db.session.scalars(db.select(AllotmentSite).order_by(AllotmentSite.name)).all()
    return render_template("allotment_watch/index.html", sites=sites)


@hookimpl
def commonwatch_watch_types():
    return [WatchType("allotment_watch.allotments", _l("Allotment Watch"),
                      _l("Shed break-ins and tool theft"))]


@hookimpl
def commonwatch_member_fields():
    return [
        ProfileField(
            "allotment_watch.site",
            lambda: wtforms.StringField("Which allotment site is your plot on?",
                                        [wtforms.validators.Optional()]),
            watch_type="allotment_watch.allotments",
        )
    ]


@hookimpl
def commonwatch_targeting_rules():
    return [TargetingRule("allotment_watch.site", "Allotment site", SiteRuleForm, site_rule)]


@hookimpl
def commonwatch_permissions():
    return [Permission("allotment_watch.sites.manage", "Manage allotment sites",
                       frozenset({"force_admin"}))]


@hookimpl
def commonwatch_blueprints():
    return [bp]


@hookimpl
def commonwatch_models():
    return [AllotmentSite]


@hookimpl
def commonwatch_migration_locations():
    return [str(Path(__file__).parent / "migrations" / "versions")]


@click.group("allotment-watch")
def cli():
    """Allotment Watch commands."""


@cli.command("add-site")
@click.argument("name")
@with_appcontext
def add_site(name):
    """Add an allotment site."""
    db.session.add(AllotmentSite(name=name))
    db.session.commit()
    click.echo(f"added {name}")


@hookimpl
def commonwatch_cli_commands():
    return [cli]


@hookimpl
def commonwatch_app_ready(app):
    app.add_template_filter(lambda name: f"{name} allotments", "allotment_name")


@hookimpl
def commonwatch_navigation(user):
    return [NavItem("Allotments", "/allotments/", 50)]

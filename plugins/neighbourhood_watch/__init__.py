"""Neighbourhood Watch: the street-level watch type, watch schemes with their
coordinators and verification, and private group spaces (community groups and ward
panels) with their documents.

A plugin only: it reaches the core through ``core.hookimpl`` and ``core.api``.
docs/neighbourhood_watch.md describes it for a deploying force.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import wtforms
from flask import Blueprint, url_for
from sqlalchemy import false

from core import hookimpl
from core.api import (
    Member,
    NavItem,
    Permission,
    RuleFilter,
    Staff,
    TargetingRule,
    WatchType,
    db,
    has_permission,
)
from core.api import lazy_gettext as _l
from plugins.neighbourhood_watch.groups import in_group
from plugins.neighbourhood_watch.models import MODELS, Group, Scheme
from plugins.neighbourhood_watch.schemes import in_scheme


@hookimpl
def commonwatch_watch_types() -> list[WatchType]:
    return [
        WatchType(
            "neighbourhood_watch.neighbourhood",
            _l("Neighbourhood Watch"),
            _l("Crime and safety news for your street and neighbourhood"),
        )
    ]


@hookimpl
def commonwatch_models() -> list[type]:
    return MODELS


@hookimpl
def commonwatch_migration_locations() -> list[str]:
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def commonwatch_blueprints() -> list[Blueprint]:
    from plugins.neighbourhood_watch.views import bp

    return [bp]


@hookimpl
def commonwatch_permissions() -> list[Permission]:
    return [
        Permission("neighbourhood_watch.schemes.administer",
                   _l("Verify watch schemes and decide who coordinates them"),
                   frozenset({"force_admin", "supervisor", "officer", "coordinator"})),
        Permission("neighbourhood_watch.groups.administer",
                   _l("See group memberships and run ward panels"),
                   frozenset({"force_admin", "supervisor", "officer"})),
    ]


# -- targeting rules --------------------------------------------------------------------------


class SchemeRuleForm(wtforms.Form):
    scheme = wtforms.IntegerField(_l("Scheme number"),
                                  [wtforms.validators.InputRequired()])


class GroupRuleForm(wtforms.Form):
    group = wtforms.IntegerField(_l("Group number"), [wtforms.validators.InputRequired()])


def scheme_rule(params: Mapping[str, Any]) -> RuleFilter:
    """Active members of one scheme."""
    scheme = db.session.get(Scheme, params["scheme"])
    if scheme is None:
        return RuleFilter(false(), f"members of scheme {params['scheme']} (no such scheme)")
    return RuleFilter(in_scheme(scheme.id), f"members of {scheme.name}")


def group_rule(params: Mapping[str, Any]) -> RuleFilter:
    """Active members of one group (its mailing list)."""
    group = db.session.get(Group, params["group"])
    if group is None:
        return RuleFilter(false(), f"members of group {params['group']} (no such group)")
    return RuleFilter(in_group(group.id), f"members of {group.name}")


@hookimpl
def commonwatch_targeting_rules() -> list[TargetingRule]:
    return [
        TargetingRule("neighbourhood_watch.scheme", _l("Members of a watch scheme"),
                      SchemeRuleForm, scheme_rule),
        TargetingRule("neighbourhood_watch.group", _l("Members of a group"),
                      GroupRuleForm, group_rule),
    ]


# -- navigation -------------------------------------------------------------------------------


@hookimpl
def commonwatch_navigation(user: Member | Staff | None) -> list[NavItem]:
    if isinstance(user, Staff):
        items = []
        if has_permission(user, "neighbourhood_watch.schemes.administer"):
            items.append(NavItem(_l("Watch schemes"),
                                 url_for("neighbourhood_watch.staff_schemes"), 40))
        if has_permission(user, "neighbourhood_watch.groups.administer"):
            items.append(NavItem(_l("Groups"), url_for("neighbourhood_watch.staff_groups"), 41))
        return items
    if isinstance(user, Member):
        return [NavItem(_l("Watch schemes"), url_for("neighbourhood_watch.my_schemes"), 40),
                NavItem(_l("Groups"), url_for("neighbourhood_watch.my_groups"), 41)]
    return [NavItem(_l("Watch schemes"), url_for("neighbourhood_watch.find_schemes"), 40),
            NavItem(_l("Groups"), url_for("neighbourhood_watch.find_groups"), 41)]

"""The core's own hook implementations, registered as the plugin ``core``.

They are ``trylast`` so that plugins' implementations come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import wtforms
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_, select

from core.areas import within
from core.extensions import db
from core.models import Area, Member, Staff
from core.plugins import hookimpl
from core.registry import NavItem, Permission, RuleFilter, TargetingRule
from core.targeting import has_interest

ALL_STAFF = frozenset({"force_admin", "supervisor", "officer", "coordinator"})


@hookimpl(trylast=True)
def commonwatch_permissions() -> Sequence[Permission]:
    return [
        Permission(
            "core.members.view",
            _l("See members' details"),
            frozenset({"force_admin", "supervisor", "officer"}),
        ),
        Permission(
            "core.members.export", _l("Export members"), frozenset({"force_admin", "supervisor"})
        ),
        Permission("core.members.register", _l("Register residents on the doorstep"), ALL_STAFF),
        Permission("core.staff.manage", _l("Manage staff accounts"), frozenset({"force_admin"})),
        Permission(
            "core.messages.approve",
            _l("Approve other people's messages"),
            frozenset({"force_admin", "supervisor"}),
        ),
        Permission(
            "core.messages.send",
            _l("Write and send messages"),
            frozenset({"force_admin", "supervisor", "officer"}),
        ),
    ]


class _AreaRuleForm(wtforms.Form):
    codes = wtforms.StringField(
        _l("Area codes"),
        description=_l("One or more area codes, separated by commas"),
        validators=[wtforms.validators.InputRequired()],
    )


def _area_rule(params: dict[str, Any]) -> RuleFilter:
    codes = [c.strip() for c in str(params.get("codes", "")).split(",") if c.strip()]
    areas = list(db.session.scalars(select(Area).where(Area.code.in_(codes))))
    names = ", ".join(a.name for a in areas) or "no known area"
    return RuleFilter(within(areas, Member.area_id), f"living in {names}")


class _InterestRuleForm(wtforms.Form):
    watch_types = wtforms.StringField(
        _l("Watch types"),
        description=_l("Watch type names, separated by commas"),
        validators=[wtforms.validators.InputRequired()],
    )


def _interest_rule(params: dict[str, Any]) -> RuleFilter:
    names = [n.strip() for n in str(params.get("watch_types", "")).split(",") if n.strip()]
    clause = or_(*(has_interest(n) for n in names)) if names else has_interest("")
    return RuleFilter(clause, f"interested in {', '.join(names)}")


@hookimpl(trylast=True)
def commonwatch_targeting_rules() -> Sequence[TargetingRule]:
    return [
        TargetingRule("core.area", _l("Area"), _AreaRuleForm, _area_rule),
        TargetingRule("core.interest", _l("Watch type"), _InterestRuleForm, _interest_rule),
        TargetingRule("core.present", _l("People currently in an area (who share their "
                                         "location)"), _AreaRuleForm, _present_rule),
    ]


def _present_rule(params: dict[str, Any]) -> RuleFilter:
    from core.locations import present_in

    codes = [c.strip() for c in str(params.get("codes", "")).split(",") if c.strip()]
    areas = list(db.session.scalars(select(Area).where(Area.code.in_(codes))))
    names = ", ".join(a.name for a in areas) or "no known area"
    ids = present_in(areas)
    return RuleFilter(Member.id.in_(ids) if ids else false(), f"currently in {names}")


@hookimpl(trylast=True)
def commonwatch_navigation(user: Member | Staff | None) -> Sequence[NavItem]:
    from core.access import has_permission

    if user is None:
        return [
            NavItem(_l("Register"), url_for("account.register"), 10),
            NavItem(_l("Alerts"), url_for("archive.index"), 20),
            NavItem(_l("Check an alert"), url_for("verify.index"), 30),
            NavItem(_l("Sign in"), url_for("auth.sign_in"), 90),
        ]
    if isinstance(user, Staff):
        items = [NavItem(_l("Staff home"), url_for("staff.index"), 10)]
        if has_permission(user, "core.members.view"):
            items.append(NavItem(_l("Members"), url_for("staff.members"), 20))
        if has_permission(user, "core.members.register"):
            items.append(NavItem(_l("Register a resident"), url_for("staff.register_member"), 30))
        if has_permission(user, "core.messages.send"):
            items.append(NavItem(_l("Messages"), url_for("messages.index"), 15))
            items.append(NavItem(_l("Replies"), url_for("replies.inbox"), 16))
            items.append(NavItem(_l("Outcomes"), url_for("outcomes.report"), 17))
        if has_permission(user, "core.staff.manage"):
            items.append(NavItem(_l("Staff accounts"), url_for("staff.accounts"), 40))
        items.append(NavItem(_l("Sign out"), url_for("auth.sign_out"), 99))
        return items
    return [
        NavItem(_l("Your account"), url_for("account.index"), 10),
        NavItem(_l("Alerts"), url_for("archive.index"), 20),
        NavItem(_l("Check an alert"), url_for("verify.index"), 30),
        NavItem(_l("Sign out"), url_for("auth.sign_out"), 99),
    ]

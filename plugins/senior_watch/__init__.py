"""Senior Watch: for older residents and the people who care for or support them.

Members say in which roles they take part (older resident, family carer, care worker,
care home, befriending volunteer); staff aim messages at roles. Scam and fraud warnings
are routed here: one aimed at other watch types also reaches Senior Watch members in the
same areas. docs/senior_watch.md describes it for a force.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import wtforms
from sqlalchemy import false, or_

from core import hookimpl
from core.api import (
    Member,
    ProfileField,
    RuleFilter,
    TargetingRule,
    WatchType,
    area_code_field,
    has_interest,
    in_area_code,
    member_field_contains,
)
from core.api import lazy_gettext as _l

WATCH_TYPE = "senior_watch.senior"
ROLES = [
    ("older_resident", _l("I am an older resident")),
    ("family_carer", _l("I care for an older relative or friend")),
    ("care_worker", _l("I am a care worker")),
    ("care_home", _l("I run or work at a care home")),
    ("befriender", _l("I am a befriending volunteer")),
]


@hookimpl
def commonwatch_watch_types() -> list[WatchType]:
    return [
        WatchType(
            WATCH_TYPE,
            _l("Senior Watch"),
            _l("Scam and fraud warnings and alerts for older people and those who care "
               "for them"),
            categories=("scam_warning",),
        )
    ]


@hookimpl
def commonwatch_member_fields() -> list[ProfileField]:
    return [
        ProfileField(
            "senior_watch.roles",
            lambda: wtforms.SelectMultipleField(
                _l("How are you involved?"), choices=ROLES,
                validators=[wtforms.validators.Optional()],
                description=_l("Choose all that apply")),
            WATCH_TYPE,
        ),
        ProfileField(
            "senior_watch.care_home",
            lambda: wtforms.StringField(
                _l("Name of the care home (optional)"),
                [wtforms.validators.Optional(), wtforms.validators.Length(max=200)]),
            WATCH_TYPE,
        ),
    ]


class RoleRuleForm(wtforms.Form):
    roles = wtforms.SelectMultipleField(
        _l("Roles"), choices=ROLES,
        validators=[wtforms.validators.InputRequired(message=_l("Choose at least one role"))])
    area = area_code_field(_l("Area where they live (optional)"))


#: How the roles read in a rule's description, for staff.
ROLE_NAMES = {
    "older_resident": "older residents",
    "family_carer": "family carers",
    "care_worker": "care workers",
    "care_home": "care homes",
    "befriender": "befriending volunteers",
}


def role_rule(params: Mapping[str, Any]) -> RuleFilter:
    """Senior Watch members who gave any of the chosen roles, optionally in one area."""
    roles = [r for r in params.get("roles") or [] if r in ROLE_NAMES]
    clause = has_interest(WATCH_TYPE) & or_(
        false(), *(member_field_contains("senior_watch.roles", r) for r in roles))
    words = " and ".join(ROLE_NAMES[r] for r in roles) or "nobody (no role chosen)"
    code = params.get("area")
    if code:
        inside = in_area_code(code, Member.area_id)
        clause = clause & inside.clause
        words += f" living {inside.description}"
    return RuleFilter(clause, f"Senior Watch {words}")


@hookimpl
def commonwatch_targeting_rules() -> list[TargetingRule]:
    return [TargetingRule("senior_watch.roles", _l("Senior Watch members by role"),
                          RoleRuleForm, role_rule)]

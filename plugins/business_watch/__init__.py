"""Business Watch: alerts for shops, pubs and other local businesses.

Members register the businesses they run or work at (sector, premises and their area,
opening hours, staff); staff aim messages by sector and by where the premises are, such
as "all licensed premises in district X". docs/business_watch.md describes it for a force.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import wtforms
from flask import Blueprint, url_for
from sqlalchemy import exists, select

from core import hookimpl
from core.api import (
    Member,
    NavItem,
    RuleFilter,
    TargetingRule,
    WatchType,
    area_code_field,
    db,
    has_interest,
    in_area_code,
)
from core.api import lazy_gettext as _l
from plugins.business_watch.models import MODELS, SECTORS, Business

WATCH_TYPE = "business_watch.business"

SECTOR_LABELS = {
    "retail": _l("Retail (shops)"),
    "licensed": _l("Licensed premises (pubs, bars, clubs, off-licences)"),
    "food": _l("Food (cafés, restaurants, takeaways)"),
    "finance": _l("Finance (banks, post offices, pawnbrokers, bureaux de change)"),
    "transport": _l("Transport (taxis, buses, haulage, fuel stations)"),
    "motor": _l("Motor trade (garages, dealers, repairs)"),
    "health": _l("Health (pharmacies, surgeries, opticians)"),
    "hospitality": _l("Hospitality (hotels, guest houses, venues)"),
    "construction": _l("Construction (builders, merchants, sites)"),
    "office": _l("Offices and professional services"),
    "agriculture": _l("Agriculture (farm shops, suppliers)"),
    "charity": _l("Charities and community organisations"),
    "other": _l("Other"),
}
assert set(SECTOR_LABELS) == set(SECTORS)

#: How sectors read in a rule's description, for staff.
SECTOR_NAMES = {
    "retail": "shops", "licensed": "licensed premises", "food": "food businesses",
    "finance": "financial businesses", "transport": "transport businesses",
    "motor": "motor trade businesses", "health": "health businesses",
    "hospitality": "hospitality businesses", "construction": "construction businesses",
    "office": "offices", "agriculture": "agricultural businesses",
    "charity": "charities", "other": "other businesses",
}


@hookimpl
def commonwatch_watch_types() -> list[WatchType]:
    return [
        WatchType(
            WATCH_TYPE,
            _l("Business Watch"),
            _l("Alerts for people who run or work in a local business; register your "
               "premises after signing up"),
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
    from plugins.business_watch.views import bp

    return [bp]


@hookimpl
def commonwatch_navigation(user: Any) -> list[NavItem]:
    if isinstance(user, Member):
        return [NavItem(_l("Your businesses"), url_for("business_watch.mine"), 40)]
    return []


@hookimpl
def commonwatch_member_data(member: Member) -> dict[str, Any] | None:
    businesses = db.session.scalars(select(Business).where(Business.member_id == member.id)
                                    .order_by(Business.id)).all()
    if not businesses:
        return None
    return {"businesses": [
        {"name": b.name, "sector": b.sector, "address_line": b.address_line,
         "postcode": b.postcode, "opening_hours": b.opening_hours,
         "staff_count": b.staff_count, "registered_at": b.created_at.isoformat()}
        for b in businesses]}


# -- targeting --------------------------------------------------------------------------------


class BusinessRuleForm(wtforms.Form):
    sectors = wtforms.SelectMultipleField(
        _l("Sectors"), choices=list(SECTOR_LABELS.items()),
        validators=[wtforms.validators.Optional()],
        description=_l("Leave all unticked for every sector"))
    area = area_code_field(_l("Area of the premises (optional)"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if ok and not (self.sectors.data or self.area.data):
            self.sectors.errors = [_l("Choose a sector, give an area, or both")]
            return False
        return ok


def business_rule(params: Mapping[str, Any]) -> RuleFilter:
    """Business Watch members with a registered business in any of the sectors whose
    premises lie in the area (each part left empty does not narrow)."""
    sectors = [s for s in params.get("sectors") or [] if s in SECTOR_LABELS]
    premises = select(Business.id).where(Business.member_id == Member.id)
    what = " and ".join(SECTOR_NAMES[s] for s in sectors) or "businesses"
    where = ""
    if sectors:
        premises = premises.where(Business.sector.in_(sectors))
    code = params.get("area")
    if code:
        inside = in_area_code(code, Business.area_id)
        premises = premises.where(inside.clause)
        where = " " + inside.description
    return RuleFilter(has_interest(WATCH_TYPE) & exists(premises),
                      f"people with {what}{where} (by premises)")


@hookimpl
def commonwatch_targeting_rules() -> list[TargetingRule]:
    return [TargetingRule("business_watch.premises", _l("Businesses by sector and premises"),
                          BusinessRuleForm, business_rule)]

"""Rural watches: Horse, Dog, Canal and Farm Watch, each its own watch type.

Each watch type asks its members a few questions of its own (profile fields, kept only
while the member has that interest) and offers targeting rules over the answers. Rules
about a place use where the horses, boat or farm are when the member gave that
postcode, and their home otherwise. docs/rural_watch.md describes them for a force.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import wtforms
from sqlalchemy import ColumnElement, and_, func, or_, true

from core import hookimpl
from core.api import (
    Member,
    ProfileField,
    RuleFilter,
    TargetingRule,
    WatchType,
    area_code_field,
    area_of_postcode,
    has_interest,
    in_area_code,
    known_postcode,
    member_field_contains,
    member_field_value,
)
from core.api import lazy_gettext as _l

HORSE, DOG, CANAL, FARM = (f"rural_watch.{w}" for w in ("horse", "dog", "canal", "farm"))

FARM_TYPES = [
    ("arable", _l("Arable")),
    ("dairy", _l("Dairy")),
    ("beef", _l("Beef")),
    ("sheep", _l("Sheep")),
    ("pigs", _l("Pigs")),
    ("poultry", _l("Poultry")),
    ("mixed", _l("Mixed")),
    ("horticulture", _l("Horticulture")),
    ("equestrian", _l("Equestrian")),
    ("other", _l("Other")),
]
LIVESTOCK = [
    ("cattle", _l("Cattle")),
    ("sheep", _l("Sheep")),
    ("pigs", _l("Pigs")),
    ("poultry", _l("Poultry")),
    ("horses", _l("Horses")),
    ("goats", _l("Goats")),
    ("deer", _l("Deer")),
]
MACHINERY = [
    ("tractors", _l("Tractors")),
    ("quad_bikes", _l("Quad bikes and utility vehicles")),
    ("trailers", _l("Trailers")),
    ("gps", _l("GPS units")),
    ("fuel", _l("Fuel tanks (red diesel, heating oil)")),
    ("tools", _l("Power tools and workshop equipment")),
]

#: The postcode field giving where each watch type's animals, boat or farm are.
LOCATION_FIELDS = {
    HORSE: "rural_watch.horse_postcode",
    CANAL: "rural_watch.mooring_postcode",
    FARM: "rural_watch.farm_postcode",
}


@hookimpl
def commonwatch_watch_types() -> list[WatchType]:
    return [
        WatchType(HORSE, _l("Horse Watch"),
                  _l("Tack theft, livestock worrying and alerts for horse owners")),
        WatchType(DOG, _l("Dog Watch"),
                  _l("Dog theft and alerts for dog owners and walkers")),
        WatchType(CANAL, _l("Canal Watch"),
                  _l("Alerts for boaters and people who live or work by the canal")),
        WatchType(FARM, _l("Farm Watch"),
                  _l("Machinery and fuel theft, hare coursing and alerts for farms")),
    ]


# -- profile fields ---------------------------------------------------------------------------


def _count(label: Any) -> wtforms.IntegerField:
    return wtforms.IntegerField(label, [
        wtforms.validators.Optional(),
        wtforms.validators.NumberRange(min=1, max=1000,
                                       message=_l("Enter a number from 1 to 1000"))])


def _text(label: Any, description: Any = "", max_length: int = 200) -> wtforms.StringField:
    return wtforms.StringField(label, [
        wtforms.validators.Optional(),
        wtforms.validators.Length(max=max_length,
                                  message=_l("Keep it to %(max)d characters", max=max_length))],
        description=description, filters=[lambda v: v.strip() if isinstance(v, str) else v])


def _postcode(label: Any, description: Any) -> wtforms.StringField:
    return wtforms.StringField(label, [wtforms.validators.Optional(), known_postcode],
                               description=description)


def _choices(label: Any, choices: list[tuple[str, Any]]) -> wtforms.SelectMultipleField:
    return wtforms.SelectMultipleField(label, choices=choices,
                                       validators=[wtforms.validators.Optional()])


@hookimpl
def commonwatch_member_fields() -> list[ProfileField]:
    return [
        ProfileField("rural_watch.horses_kept",
                     lambda: _count(_l("How many horses do you keep?")), HORSE),
        ProfileField("rural_watch.horse_yard",
                     lambda: _text(_l("Name of the yard or stable (optional)")), HORSE),
        ProfileField("rural_watch.horse_postcode", lambda: _postcode(
            _l("Postcode of the yard or stable"),
            _l("Where your horses are kept, if that is not your home. Alerts about "
               "horses go by this postcode.")), HORSE),
        ProfileField("rural_watch.dogs_kept",
                     lambda: _count(_l("How many dogs do you keep?")), DOG),
        ProfileField("rural_watch.dog_breeds", lambda: _text(
            _l("Breeds (optional)"),
            _l("Thieves often go for particular breeds; this lets us warn the right "
               "owners.")), DOG),
        ProfileField("rural_watch.boat_name", lambda: _text(_l("Boat name")), CANAL),
        ProfileField("rural_watch.boat_licence",
                     lambda: _text(_l("Boat licence number"), max_length=40), CANAL),
        ProfileField("rural_watch.mooring", lambda: _text(
            _l("Mooring or marina"),
            _l("For example, Cowroast Marina, or a stretch of towpath")), CANAL),
        ProfileField("rural_watch.mooring_postcode", lambda: _postcode(
            _l("Postcode of the mooring or marina"),
            _l("Alerts about boats go by this postcode when you give one.")), CANAL),
        ProfileField("rural_watch.farm_type", lambda: wtforms.SelectField(
            _l("Type of farm"), choices=[("", _l("Choose a type")), *FARM_TYPES],
            validators=[wtforms.validators.Optional()]), FARM),
        ProfileField("rural_watch.livestock",
                     lambda: _choices(_l("Livestock kept"), LIVESTOCK), FARM),
        ProfileField("rural_watch.machinery",
                     lambda: _choices(_l("Machinery and equipment kept"), MACHINERY), FARM),
        ProfileField("rural_watch.farm_postcode", lambda: _postcode(
            _l("Postcode of the farm"),
            _l("If the farm is not at your home. Alerts about farms go by this "
               "postcode.")), FARM),
    ]


# -- targeting rules --------------------------------------------------------------------------


def location_area(watch_type: str) -> ColumnElement[int]:
    """SQL: the area where a member keeps what ``watch_type`` is about: the area of its
    location postcode when they gave a known one, otherwise their home's area."""
    postcode_field = LOCATION_FIELDS.get(watch_type)
    if postcode_field is None:
        return Member.area_id
    return func.coalesce(area_of_postcode(member_field_value(postcode_field)), Member.area_id)


def _in_area(watch_type: str, code: str | None) -> tuple[ColumnElement[bool], str]:
    if not code:
        return true(), ""
    inside = in_area_code(code, location_area(watch_type))
    return inside.clause, " " + inside.description


def _any_of(field_name: str, wanted: list[str]) -> ColumnElement[bool]:
    return or_(*(member_field_contains(field_name, w) for w in wanted)) if wanted else true()


def _labels(choices: list[tuple[str, Any]], wanted: list[str]) -> str:
    names = dict(choices)
    return ", ".join(str(names.get(w, w)).lower() for w in wanted)


class HorseRuleForm(wtforms.Form):
    area = area_code_field(_l("Area where the horses are kept"), required=True)


def horse_rule(params: Mapping[str, Any]) -> RuleFilter:
    """Horse owners whose horses are kept in an area (their yard's, else their home's)."""
    where, words = _in_area(HORSE, params.get("area"))
    return RuleFilter(has_interest(HORSE) & where,
                      f"horse owners with horses kept{words} (yard, else home)")


class DogRuleForm(wtforms.Form):
    area = area_code_field(_l("Area where the owners live"))
    breed = wtforms.StringField(
        _l("Breed (optional)"), [wtforms.validators.Optional(), wtforms.validators.Length(max=60)],
        description=_l("Owners who named this breed, in any case"))


def dog_rule(params: Mapping[str, Any]) -> RuleFilter:
    """Dog owners living in an area, optionally only those who named a breed."""
    where, words = _in_area(DOG, params.get("area"))
    clause = has_interest(DOG) & where
    breed = (params.get("breed") or "").strip()
    if breed:
        clause = clause & func.lower(member_field_value("rural_watch.dog_breeds")).contains(
            breed.lower(), autoescape=True)
        words += f" who keep {breed}"
    return RuleFilter(clause, f"dog owners{words}")


class CanalRuleForm(wtforms.Form):
    area = area_code_field(_l("Area of the mooring or marina"))
    mooring = wtforms.StringField(
        _l("Mooring or marina (optional)"),
        [wtforms.validators.Optional(), wtforms.validators.Length(max=200)],
        description=_l("Boaters who gave this mooring or marina, in any case"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if ok and not (self.area.data or (self.mooring.data or "").strip()):
            self.area.errors = [_l("Give an area, a mooring or both")]
            return False
        return ok


def canal_rule(params: Mapping[str, Any]) -> RuleFilter:
    """Boaters moored in an area (their mooring's, else their home's) or at a named
    mooring or marina."""
    where, words = _in_area(CANAL, params.get("area"))
    clause = has_interest(CANAL) & where
    mooring = (params.get("mooring") or "").strip()
    if mooring:
        clause = clause & (func.lower(member_field_value("rural_watch.mooring"))
                           == mooring.lower())
        words += f" at {mooring}"
    return RuleFilter(clause, f"boaters moored{words} (mooring, else home)")


class FarmRuleForm(wtforms.Form):
    area = area_code_field(_l("Area where the farms are"))
    farm_types = wtforms.SelectMultipleField(_l("Types of farm"), choices=FARM_TYPES,
                                             validators=[wtforms.validators.Optional()])
    livestock = wtforms.SelectMultipleField(_l("Keeping any of this livestock"),
                                            choices=LIVESTOCK,
                                            validators=[wtforms.validators.Optional()])
    machinery = wtforms.SelectMultipleField(_l("Keeping any of this machinery"),
                                            choices=MACHINERY,
                                            validators=[wtforms.validators.Optional()])


def farm_rule(params: Mapping[str, Any]) -> RuleFilter:
    """Farm Watch members by the farm's area (farm postcode, else home), type of farm,
    livestock and machinery; each part left empty does not narrow."""
    where, words = _in_area(FARM, params.get("area"))
    types = list(params.get("farm_types") or [])
    livestock = list(params.get("livestock") or [])
    machinery = list(params.get("machinery") or [])
    clause = and_(
        has_interest(FARM), where,
        member_field_value("rural_watch.farm_type").in_(types) if types else true(),
        _any_of("rural_watch.livestock", livestock),
        _any_of("rural_watch.machinery", machinery),
    )
    parts = [f"farms{words} (farm, else home)"]
    if types:
        parts.append(f"of type {_labels(FARM_TYPES, types)}")
    if livestock:
        parts.append(f"keeping {_labels(LIVESTOCK, livestock)}")
    if machinery:
        parts.append(f"with {_labels(MACHINERY, machinery)}")
    return RuleFilter(clause, " ".join(parts))


@hookimpl
def commonwatch_targeting_rules() -> list[TargetingRule]:
    return [
        TargetingRule("rural_watch.horses", _l("Horse owners by where the horses are kept"),
                      HorseRuleForm, horse_rule),
        TargetingRule("rural_watch.dogs", _l("Dog owners by area and breed"),
                      DogRuleForm, dog_rule),
        TargetingRule("rural_watch.boats", _l("Boaters by mooring"), CanalRuleForm,
                      canal_rule),
        TargetingRule("rural_watch.farms", _l("Farms by area, type, livestock and machinery"),
                      FarmRuleForm, farm_rule),
    ]

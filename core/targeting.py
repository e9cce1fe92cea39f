"""Helpers for targeting rules, and applying a rule by name.

Rules return SQL over :class:`core.models.Member`; these helpers build the common parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, false, literal, select
from werkzeug.datastructures import MultiDict

from core.areas import within
from core.extensions import db
from core.models import Area, Member, MemberFieldValue, MemberInterest, Postcode
from core.registry import RuleFilter


class RuleError(ValueError):
    """A targeting rule name is unknown or its parameters are invalid."""

    def __init__(self, message: str, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


def has_interest(watch_type: str) -> ColumnElement[bool]:
    """SQL: the member chose ``watch_type``."""
    return Member.id.in_(
        select(MemberInterest.member_id).where(MemberInterest.watch_type == watch_type)
    )


def member_field_value(name: str) -> ScalarSelect[str]:
    """SQL: the member's value (text) of the profile field ``name``, or NULL."""
    return (
        select(MemberFieldValue.value)
        .where(MemberFieldValue.member_id == Member.id, MemberFieldValue.name == name)
        # The member is the enclosing query's, however deeply this is nested.
        .correlate_except(MemberFieldValue)
        .scalar_subquery()
    )


def member_field_contains(name: str, choice: str) -> ColumnElement[bool]:
    """SQL: ``choice`` is among the member's answers to the several-choice field ``name``
    (a ``SelectMultipleField``, stored comma-separated)."""
    value = member_field_value(name)
    return (literal(",") + value + literal(",")).contains(f",{choice},", autoescape=True)


def area_of_postcode(postcode: ColumnElement[str] | ScalarSelect[str]) -> ScalarSelect[int]:
    """SQL: the id of the area holding ``postcode`` (text in the standard form, such as a
    profile field holding a stable's postcode), or NULL when it is not a known postcode."""
    return select(Postcode.area_id).where(Postcode.postcode == postcode).scalar_subquery()


def in_area_code(code: str, area_id: ColumnElement[int]) -> RuleFilter:
    """SQL: ``area_id`` is the area whose code is ``code`` or an area inside it (nobody
    when no area has that code), with words for people ("in Ashendry")."""
    area = db.session.scalar(select(Area).where(Area.code == code))
    if area is None:
        return RuleFilter(false(), f"in area {code} (no longer known)")
    return RuleFilter(within([area], area_id), f"in {area.name}")


def apply_rule(name: str, params: Mapping[str, Any]) -> RuleFilter:
    """Validate ``params`` with the rule's form and build its filter.

    Raises :class:`RuleError` for an unknown rule (including one whose plugin is
    disabled) or invalid parameters.
    """
    registry = current_app.extensions["commonwatch"].registry
    rule = registry.targeting_rules.get(name)
    if rule is None:
        raise RuleError(f"unknown targeting rule {name!r}")
    formdata = MultiDict(
        [(k, str(v)) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
    )
    form = rule.form(formdata)
    if not form.validate():
        reasons = "; ".join(f"{field}: {' '.join(str(e) for e in errors)}"
                            for field, errors in form.errors.items())
        raise RuleError(f"invalid parameters for {name!r} ({reasons})", form.errors)
    return rule.build(form.data)


def members_matching(filters: Iterable[RuleFilter]) -> Select[tuple[Member]]:
    """A SELECT of members matching every filter."""
    return select(Member).where(and_(*(f.clause for f in filters)))

"""The core's public API for plugins: import from here, not from core internals.

Everything named in ``__all__`` is kept stable between minor versions.
"""

from flask_babel import gettext, lazy_gettext

from core.access import has_permission, member_required, public, staff_required
from core.areas import lookup_postcode, normalise_postcode, within
from core.extensions import db
from core.jobs import enqueue
from core.messaging import (
    GroupSender,
    Target,
    TargetError,
    create_message,
    delivery_states,
    sms_segments,
)
from core.messaging import preview as preview_message
from core.messaging import send as send_message
from core.models import Area, Member, Organisation, Postcode, Staff
from core.plugins import MessageVetoed, hookimpl
from core.registry import NavItem, Permission, ProfileField, RuleFilter, TargetingRule, WatchType
from core.scoping import get_scoped_member, member_scope, scoped_members
from core.targeting import apply_rule, has_interest, member_field_value, members_matching

__all__ = [
    "Area",
    "GroupSender",
    "Member",
    "MessageVetoed",
    "NavItem",
    "Organisation",
    "Permission",
    "Postcode",
    "ProfileField",
    "RuleFilter",
    "Staff",
    "Target",
    "TargetError",
    "TargetingRule",
    "WatchType",
    "apply_rule",
    "create_message",
    "db",
    "delivery_states",
    "enqueue",
    "get_scoped_member",
    "gettext",
    "has_interest",
    "has_permission",
    "hookimpl",
    "lazy_gettext",
    "lookup_postcode",
    "member_field_value",
    "member_required",
    "member_scope",
    "members_matching",
    "normalise_postcode",
    "preview_message",
    "public",
    "scoped_members",
    "send_message",
    "sms_segments",
    "staff_required",
    "within",
]

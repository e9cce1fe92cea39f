"""The core's public API for plugins: import from here, not from core internals.

Everything named in ``__all__`` is kept stable between minor versions.
"""

from flask_babel import gettext, lazy_gettext

from core.access import has_permission, log_denied, member_required, public, staff_required
from core.areas import lookup_postcode, normalise_postcode, within
from core.emails import external_url
from core.extensions import db
from core.forms import (
    DEMOGRAPHIC_LABELS,
    GovCheckboxesInput,
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
    area_code_field,
    check_area_code,
)
from core.forms import check_postcode as known_postcode
from core.jobs import enqueue, redis_connection
from core.links import PERSONAL_STAND_IN, personal_url, read_personal_link
from core.members import DEMOGRAPHICS, add_interest, give_consent, set_member_field
from core.messaging import (
    GroupSender,
    Target,
    TargetError,
    create_message,
    delivery_states,
    has_working_channel,
    sms_segments,
)
from core.messaging import preview as preview_message
from core.messaging import recipients as message_recipients
from core.messaging import send as send_message
from core.models import (
    MESSAGE_CATEGORIES,
    Area,
    Member,
    Message,
    Notice,
    Organisation,
    Postcode,
    Staff,
    UTCDateTime,
    utcnow,
)
from core.notices import notify_member, notify_staff
from core.phones import normalise_phone
from core.plugins import MessageVetoed, hookimpl
from core.registry import (
    Concern,
    NavItem,
    Permission,
    ProfileField,
    RuleFilter,
    TargetingRule,
    WatchType,
)
from core.rest import ApiError, PageInfo, PageQuery, page_of
from core.rest import operation as api_operation
from core.scoping import get_scoped_member, log_access, member_scope, scoped_members
from core.shapes import ShapeError, postcodes_inside
from core.shapes import check as check_shape
from core.shapes import covers as shape_covers
from core.targeting import (
    apply_rule,
    area_of_postcode,
    has_interest,
    in_area_code,
    member_field_contains,
    member_field_value,
    members_matching,
)
from core.views.messages import (
    CATEGORY_LABELS,
    message_form,
    postcode_points_geojson,
    target_map_settings,
)
from core.views.staff import spreadsheet_safe

__all__ = [
    "ApiError",
    "PageInfo",
    "PageQuery",
    "api_operation",
    "page_of",
    "CATEGORY_LABELS",
    "Concern",
    "DEMOGRAPHICS",
    "DEMOGRAPHIC_LABELS",
    "PERSONAL_STAND_IN",
    "MESSAGE_CATEGORIES",
    "GovCheckboxInput",
    "GovCheckboxesInput",
    "GovFileInput",
    "GovRadioInput",
    "GovSelect",
    "GovSubmitInput",
    "GovTextArea",
    "GovTextInput",
    "Area",
    "GroupSender",
    "Member",
    "Message",
    "MessageVetoed",
    "NavItem",
    "Notice",
    "Organisation",
    "Permission",
    "Postcode",
    "ShapeError",
    "ProfileField",
    "RuleFilter",
    "Staff",
    "Target",
    "TargetError",
    "TargetingRule",
    "UTCDateTime",
    "WatchType",
    "add_interest",
    "area_code_field",
    "apply_rule",
    "area_of_postcode",
    "check_area_code",
    "check_shape",
    "create_message",
    "db",
    "delivery_states",
    "enqueue",
    "external_url",
    "get_scoped_member",
    "gettext",
    "give_consent",
    "has_interest",
    "has_permission",
    "has_working_channel",
    "in_area_code",
    "known_postcode",
    "hookimpl",
    "lazy_gettext",
    "log_access",
    "log_denied",
    "lookup_postcode",
    "member_field_contains",
    "member_field_value",
    "member_required",
    "member_scope",
    "members_matching",
    "message_form",
    "message_recipients",
    "normalise_phone",
    "normalise_postcode",
    "notify_member",
    "notify_staff",
    "postcode_points_geojson",
    "postcodes_inside",
    "personal_url",
    "preview_message",
    "public",
    "read_personal_link",
    "redis_connection",
    "scoped_members",
    "shape_covers",
    "send_message",
    "set_member_field",
    "sms_segments",
    "spreadsheet_safe",
    "target_map_settings",
    "staff_required",
    "utcnow",
    "within",
]

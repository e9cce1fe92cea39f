"""Staff pages to write a message, see who it reaches, send it and follow it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import wtforms
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy import Integer, and_, cast, func, select
from werkzeug.wrappers import Response
from wtforms.fields.core import UnboundField
from wtforms.validators import InputRequired, Length, Optional

from core.access import has_permission, staff_required
from core.areas import within
from core.extensions import db
from core.forms import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
    with_govuk_widget,
)
from core.messaging import (
    UK,
    Target,
    TargetError,
    create_message,
    delivery_states,
    needs_approval,
    preview,
    schedule,
    send,
    sms_segments,
    ward_name,
)
from core.models import (
    MESSAGE_CATEGORIES,
    MESSAGE_OUTCOMES,
    Delivery,
    Member,
    Message,
    Postcode,
    Staff,
    utcnow,
)
from core.outcomes import (
    NOTE_MAX_LENGTH,
    OUTCOME_LABELS,
    can_have_outcome,
    follow_up_defaults,
    record_outcome,
)
from core.plugins import MessageVetoed
from core.registry import Registry, current_registry
from core.scoping import get_scoped_message, message_scope

bp = Blueprint("messages", __name__, url_prefix="/staff/messages")

CATEGORY_LABELS = {
    "crime_alert": _l("Crime alert"),
    "witness_appeal": _l("Witness appeal"),
    "missing_person": _l("Missing person: sighting request"),
    "suspect_description": _l("Suspect description"),
    "scam_warning": _l("Scam or fraud warning"),
    "prevention_advice": _l("Crime prevention advice"),
    "community_news": _l("Community news"),
    "survey_invitation": _l("Survey invitation"),
}
PRIORITY_LABELS = [
    ("1", _l("1 – Urgent")), ("2", _l("2 – High")), ("3", _l("3 – Normal")),
    ("4", _l("4 – Low")), ("5", _l("5 – Lowest")),
]
MODE_LABELS = [
    ("", _l("Not used")),
    ("include", _l("Also include people who match")),
    ("must", _l("Only people who also match")),
    ("exclude", _l("Leave out people who match")),
]
#: Rules the form offers as fields of their own.
BUILT_IN_RULES = ("core.area", "core.interest")  # core.present is offered as a rule


class MessageForm(FlaskForm):
    title = wtforms.StringField(
        _l("Title"), [InputRequired(message=_l("Enter a title")), Length(max=200)],
        widget=GovTextInput())
    body = wtforms.TextAreaField(
        _l("Message"), [InputRequired(message=_l("Enter the message"))],
        description=_l("Markdown: **bold**, *italic*, lists and links"), widget=GovTextArea())
    plain_text = wtforms.TextAreaField(
        _l("Text for SMS and voice calls"),
        [InputRequired(message=_l("Enter the text for SMS and voice calls")),
         Length(max=918, message=_l("Keep it to 918 characters (6 SMS parts)"))],
        widget=GovTextArea())
    category = wtforms.SelectField(
        _l("Category"), choices=[(c, CATEGORY_LABELS[c]) for c in MESSAGE_CATEGORIES],
        widget=GovSelect())
    priority = wtforms.RadioField(
        _l("Priority"), choices=PRIORITY_LABELS, default="3", widget=GovRadioInput(),
        validators=[InputRequired(message=_l("Choose a priority"))])
    title_cy = wtforms.StringField(_l("Title in Welsh"), [Optional(), Length(max=200)],
                                   widget=GovTextInput())
    body_cy = wtforms.TextAreaField(_l("Message in Welsh"), [Optional()], widget=GovTextArea())
    plain_text_cy = wtforms.TextAreaField(_l("Text for SMS and voice calls in Welsh"),
                                          [Optional(), Length(max=918)], widget=GovTextArea())
    areas = wtforms.StringField(
        _l("Areas"), [Length(max=2000)], widget=GovTextInput(),
        description=_l("Area codes separated by commas; leave empty for all your areas"))
    shape = wtforms.TextAreaField(
        _l("Shape on a map (optional)"), [Optional(), Length(max=100_000)],
        widget=GovTextArea(),
        description=_l("GeoJSON: a Polygon, or a circle such as {\"type\": \"Circle\", "
                       "\"center\": [-0.58, 51.97], \"radius_m\": 500}"))
    watch_types = wtforms.SelectMultipleField(
        _l("Watch types"), choices=[], widget=GovCheckboxesInput(),
        description=_l("Leave all unticked to reach everyone in the areas"))
    send_at = wtforms.StringField(
        _l("Send later (optional)"), [Optional()], widget=GovTextInput(),
        description=_l("UK time, for example 2026-12-24 18:30. Leave empty to send when "
                       "you press Send."))
    public = wtforms.BooleanField(
        _l("Show on the public alerts page for the areas it was sent to"),
        widget=GovCheckboxInput(),
        description=_l("Anyone can then read it there and in the areas' feeds, with who sent "
                       "it, but never who received it."))
    submit = wtforms.SubmitField(_l("Check who it reaches"), widget=GovSubmitInput())

    def validate_send_at(self, field: wtforms.Field) -> None:
        try:
            when = datetime.strptime(field.data.strip().replace("T", " "), "%Y-%m-%d %H:%M")
        except ValueError:
            raise wtforms.ValidationError(
                _l("Enter a date and time like 2026-12-24 18:30")) from None
        field.scheduled_for = when.replace(tzinfo=UK).astimezone(UTC)
        if field.scheduled_for <= utcnow():
            raise wtforms.ValidationError(_l("The time to send must be in the future"))

    #: form field name -> qualified rule name
    rule_fields: dict[str, str] = {}

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate, skipping the rules left unused."""
        ok = True
        for name, field in self._fields.items():
            if name in self.rule_fields and not field.form.mode.data:
                continue
            extra = list((extra_validators or {}).get(name, ()))
            inline = getattr(self.__class__, f"validate_{name}", None)
            if inline is not None:
                extra.append(inline)
            ok = field.validate(self, extra) and ok
        if bool(self.title_cy.data) != bool(self.body_cy.data):
            self.body_cy.errors = [*self.body_cy.errors,
                                   _("Give both the Welsh title and message, or neither")]
            ok = False
        return ok

    def validate_shape(self, field: wtforms.Field) -> None:
        try:
            field.parsed = json.loads(field.data)
        except ValueError:
            raise wtforms.ValidationError(_l("The shape is not valid GeoJSON")) from None

    def used_rules(self) -> list[str]:
        """Form names of the rules given a mode, in order."""
        return [name for name in self.rule_fields if self[name].form.mode.data]

    def target(self) -> Target:
        codes = [c.strip() for c in (self.areas.data or "").split(",") if c.strip()]
        rules = []
        for form_name in self.used_rules():
            sub = self[form_name].form
            params = {k: v for k, v in sub.data.items() if k != "mode"}
            rules.append({"name": self.rule_fields[form_name], "mode": sub.mode.data,
                          "params": params})
        return Target(areas=codes, watch_types=list(self.watch_types.data or []), rules=rules,
                      shape=getattr(self.shape, "parsed", None))

    def error_on(self, part: str, reason: str) -> None:
        """Show a targeting error (``areas``, ``watch_types`` or ``rules.N``) by its field."""
        if part.startswith("rules."):
            field = self[self.used_rules()[int(part.split(".")[1])]].form.mode
        else:
            field = {"watch_types": self.watch_types, "shape": self.shape}.get(part, self.areas)
        field.errors = [*field.errors, reason]


def _rule_form(form: type[wtforms.Form]) -> type[wtforms.Form]:
    """A copy of a rule's parameter form with GOV.UK widgets and a mode choice."""
    attrs: dict[str, Any] = {
        "mode": wtforms.SelectField(_l("Use this rule"), choices=MODE_LABELS, default="",
                                    widget=GovSelect())
    }
    for name in dir(form):
        unbound = getattr(form, name, None)
        if isinstance(unbound, UnboundField):
            attrs[name] = with_govuk_widget(
                UnboundField(unbound.field_class, *unbound.args, **dict(unbound.kwargs)))
    return type(f"{form.__name__}WithMode", (wtforms.Form,), attrs)


def message_form(registry: Registry, **kwargs: Any) -> MessageForm:
    """The message form with the enabled plugins' watch types and rules."""
    attrs: dict[str, Any] = {}
    names: dict[str, str] = {}
    for qualified, rule in registry.targeting_rules.items():
        if qualified in BUILT_IN_RULES:
            continue
        form_name = "rule__" + qualified.replace(".", "__")
        attrs[form_name] = wtforms.FormField(_rule_form(rule.form), label=rule.label)
        names[form_name] = qualified
    attrs["rule_fields"] = names
    form = type("MessageForm", (MessageForm,), attrs)(**kwargs)
    form.watch_types.choices = [(w.name, w.label) for w in registry.watch_types.values()]
    return form


@bp.get("/")
@staff_required("core.messages.send")
def index() -> str:
    staff: Staff = g.staff
    messages = db.session.scalars(
        select(Message).where(message_scope(staff)).order_by(Message.created_at.desc())
        .limit(100)
    ).all()
    return render_template("messages/index.html", messages=messages,
                           categories=CATEGORY_LABELS)


@bp.route("/new", methods=["GET", "POST"])
@staff_required("core.messages.send")
def new() -> str | Response:
    staff: Staff = g.staff
    form = message_form(current_registry())
    if form.validate_on_submit() and (made := _draft(form, staff, form.target())):
        return made
    return render_template("messages/new.html", form=form,
                           segments=sms_segments(form.plain_text.data or ""),
                           target_map=target_map_settings())


def _draft(form: MessageForm, staff: Staff, target: Target) -> Response | None:
    """Save a draft from a valid compose form aimed at ``target`` and go to its check
    page; None (with the errors on the form) when the target is refused."""
    message = create_message(
        staff, title=form.title.data, body=form.body.data, plain_text=form.plain_text.data,
        title_cy=form.title_cy.data or None, body_cy=form.body_cy.data or None,
        plain_text_cy=form.plain_text_cy.data or None, category=form.category.data,
        priority=int(form.priority.data), target=target.to_json(),
        scheduled_for=getattr(form.send_at, "scheduled_for", None),
        public=bool(form.public.data),
    )
    db.session.add(message)
    db.session.flush()
    try:
        preview(message, staff)
    except TargetError as exc:
        db.session.rollback()
        for part, reason in exc.errors.items():
            form.error_on(part, reason)
        return None
    db.session.commit()
    return redirect(url_for("messages.check", message_id=message.id))


def target_map_settings() -> dict[str, str]:
    """What the compose page's map needs: where to fetch the postcode points, and the
    tiles to show under them (``MAP_TILE_URL``; empty for the plain view with no tiles)."""
    config = current_app.config
    return {
        "points_url": url_for("messages.postcode_points"),
        "tile_url": config.get("MAP_TILE_URL") or "",
        "tile_attribution": config.get("MAP_TILE_ATTRIBUTION") or "",
    }


#: The most postcode points the map is sent one by one; beyond that they are grouped
#: into a grid of about as many cells, each drawn at the middle of its postcodes.
MAP_POINTS_LIMIT = 5000


def postcode_points_geojson(staff: Staff, limit: int = MAP_POINTS_LIMIT) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the points of the postcodes in ``staff``'s areas
    (and below), so that staff can see where people live while drawing a shape.

    Each feature is one postcode (property ``postcode``), or, when the areas have more
    than ``limit`` postcodes with a point, one cell of a grid over them (property
    ``postcodes``: how many it stands for), with no more than about ``limit`` cells.
    ``grouped`` says which. At most three queries, whatever the number of postcodes."""
    located = and_(within(staff.areas, Postcode.area_id),
                   Postcode.latitude.is_not(None), Postcode.longitude.is_not(None))
    rows = db.session.execute(
        select(Postcode.postcode, Postcode.longitude, Postcode.latitude)
        .where(located).order_by(Postcode.postcode).limit(limit + 1)
    ).all()
    if len(rows) <= limit:
        return _feature_collection(
            [(lon, lat, {"postcode": code}) for code, lon, lat in rows], grouped=False)
    west, south, east, north = db.session.execute(
        select(func.min(Postcode.longitude), func.min(Postcode.latitude),
               func.max(Postcode.longitude), func.max(Postcode.latitude)).where(located)
    ).one()
    # Square cells, at most about sqrt(limit) along the longer side of the box.
    size = max(east - west, north - south, 1e-6) / math.sqrt(max(limit, 1))
    column = cast((Postcode.longitude - west) / size, Integer)
    row = cast((Postcode.latitude - south) / size, Integer)
    cells = db.session.execute(
        select(func.avg(Postcode.longitude), func.avg(Postcode.latitude), func.count())
        .where(located).group_by(column, row).limit(2 * limit)
    ).all()
    return _feature_collection(
        [(lon, lat, {"postcodes": count}) for lon, lat, count in cells], grouped=True)


def _feature_collection(points: list[tuple[float, float, dict[str, Any]]], grouped: bool
                        ) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "grouped": grouped,
        "features": [
            {"type": "Feature",
             "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
             "properties": properties}
            for lon, lat, properties in points
        ],
    }


@bp.get("/postcode-points.json")
@staff_required("core.messages.send")
def postcode_points() -> Response:
    """The postcode points of the signed-in staff's areas, for the compose page's map."""
    return jsonify(postcode_points_geojson(g.staff, MAP_POINTS_LIMIT))


@bp.get("/<int:message_id>/check")
@staff_required("core.messages.send")
def check(message_id: int) -> str | Response:
    staff: Staff = g.staff
    message = get_scoped_message(staff, message_id)
    if message.status != "draft":
        return redirect(url_for("messages.show", message_id=message.id))
    counts = preview(message, staff)
    return render_template("messages/check.html", message=message, counts=counts,
                           categories=CATEGORY_LABELS, form=FlaskForm(),
                           needs_approval=needs_approval(message, staff))


def _dispatch(message: Message, sender: Staff) -> Response | None:
    """Schedule ``message`` if its time is ahead, else send it now from ``sender``; a
    response only when a plugin refused it."""
    if message.scheduled_for and message.scheduled_for > utcnow():
        schedule(message, message.scheduled_for)
        flash(_("Scheduled: it goes out at the time you chose"), "success")
        return None
    try:
        reached = send(message, sender)
    except MessageVetoed as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("messages.check", message_id=message.id))
    flash(ngettext("Sent to %(num)d person", "Sent to %(num)d people", reached), "success")
    return None


@bp.post("/<int:message_id>/send")
@staff_required("core.messages.send")
def send_now(message_id: int) -> Response:
    staff: Staff = g.staff
    message = get_scoped_message(staff, message_id)
    form = FlaskForm()
    if form.validate_on_submit() and message.status == "draft":
        if message.sender_id != staff.id:
            flash(_("Only the author can send this draft"), "error")
        elif needs_approval(message, staff):
            message.status = "awaiting_approval"
            db.session.commit()
            flash(_("Sent for approval: nothing goes out until a supervisor approves it"),
                  "success")
        elif refused := _dispatch(message, staff):
            return refused
    return redirect(url_for("messages.show", message_id=message.id))


@bp.post("/<int:message_id>/approve")
@staff_required("core.messages.approve")
def approve(message_id: int) -> Response:
    staff: Staff = g.staff
    message = get_scoped_message(staff, message_id)
    form = FlaskForm()
    if form.validate_on_submit() and message.status == "awaiting_approval":
        if message.sender_id == staff.id:
            flash(_("A message must be approved by someone other than its author"), "error")
        elif message.sender is None:
            flash(_("The author's account no longer exists"), "error")
        else:
            message.approved_by_id = staff.id
            message.approved_at = utcnow()
            message.status = "draft"  # send() takes it from draft to sending
            if refused := _dispatch(message, message.sender):
                return refused
    return redirect(url_for("messages.show", message_id=message.id))


@bp.get("/<int:message_id>")
@staff_required("core.messages.send")
def show(message_id: int) -> str:
    staff: Staff = g.staff
    message = get_scoped_message(staff, message_id)
    by_state = delivery_states(message)
    ward = ward_name()
    by_area = db.session.execute(
        select(ward, Delivery.state, func.count())
        .join(Member, Member.id == Delivery.member_id)
        .where(Delivery.message_id == message.id)
        .group_by(ward, Delivery.state)
        .order_by(ward, Delivery.state)
    ).all()
    can_approve = (message.status == "awaiting_approval" and message.sender_id != staff.id
                   and has_permission(staff, "core.messages.approve"))
    counts = preview(message, message.sender) if can_approve and message.sender else None
    return render_template("messages/show.html", message=message, by_state=by_state,
                           by_area=by_area,
                           categories=CATEGORY_LABELS, can_approve=can_approve,
                           counts=counts, form=FlaskForm(), outcome_labels=OUTCOME_LABELS)


# -- outcomes and follow-ups ----------------------------------------------------------------


class OutcomeForm(FlaskForm):
    outcome = wtforms.RadioField(
        _l("How did it end?"), choices=[(o, OUTCOME_LABELS[o]) for o in MESSAGE_OUTCOMES],
        validators=[InputRequired(message=_l("Choose how it ended"))], widget=GovRadioInput())
    note = wtforms.TextAreaField(
        _l("Note for the public (optional)"),
        [Optional(), Length(max=NOTE_MAX_LENGTH,
                            message=_l("Keep the note to 1,000 characters"))],
        widget=GovTextArea(),
        description=_l("Shown with the alert on its verification page and the public alerts "
                       "pages when the alert is public. Name nobody."))
    submit = wtforms.SubmitField(_l("Save the outcome"), widget=GovSubmitInput())


def _sent_message(staff: Staff, message_id: int) -> Message:
    """The sent message ``message_id`` if ``staff`` may see it; 404 otherwise (a draft
    has no outcome and nobody to follow up)."""
    message = get_scoped_message(staff, message_id)
    if not can_have_outcome(message):
        abort(404)
    return message


@bp.route("/<int:message_id>/outcome", methods=["GET", "POST"])
@staff_required("core.messages.send")
def outcome(message_id: int) -> str | Response:
    """Record how an appeal ended, with an optional note for the public."""
    staff: Staff = g.staff
    message = _sent_message(staff, message_id)
    form = OutcomeForm(data={"outcome": message.outcome, "note": message.outcome_note})
    if form.validate_on_submit():
        record_outcome(message, staff, form.outcome.data, form.note.data)
        db.session.commit()
        flash(_("Outcome saved"), "success")
        return redirect(url_for("messages.show", message_id=message.id, _anchor="outcome"))
    return render_template("messages/outcome.html", message=message, form=form)


@bp.route("/<int:message_id>/follow-up", methods=["GET", "POST"])
@staff_required("core.messages.send")
def follow_up(message_id: int) -> str | Response:
    """Write a follow-up to exactly the residents who received a sent message (those of
    them who can still receive it): the compose form, prefilled, without targeting."""
    staff: Staff = g.staff
    original = _sent_message(staff, message_id)
    form = message_form(current_registry(), data=follow_up_defaults(original))
    # Whatever targeting fields are posted, the target is the original's recipients.
    if form.validate_on_submit() and (
            made := _draft(form, staff, Target(follow_up_of=original.id))):
        return made
    return render_template("messages/new.html", form=form, follow_up=original,
                           segments=sms_segments(form.plain_text.data or ""),
                           target_map=target_map_settings())

"""Staff pages: an area's insights (map, table, ranked recommendations), its community
contacts, and "You said, we did" updates.

Every page takes the area in the query string (``?area=<code>``) and answers 404 for an
area outside the staff member's own, so codes of other places cannot be probed.
"""

from __future__ import annotations

import json
from datetime import timedelta

import wtforms
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, format_date, gettext
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import defer
from wtforms.validators import DataRequired, Length

from core.api import (
    DEMOGRAPHIC_LABELS,
    Area,
    GovSubmitInput,
    GovTextArea,
    Member,
    Staff,
    Target,
    TargetError,
    create_message,
    db,
    has_permission,
    log_access,
    log_denied,
    member_field_value,
    preview_message,
    scoped_members,
    staff_required,
    utcnow,
    within,
)
from core.api import lazy_gettext as _l
from plugins.insights import CONTACT_FIELD, CONTACTS, VIEW
from plugins.insights.models import Feedback, Figures, Indicator, Snapshot
from plugins.insights.scoring import coverage, reasons

bp = Blueprint("insights", __name__, template_folder="templates", static_folder="static",
               url_prefix="/insights")

#: What the map can shade areas by.
SHADES = {"score": _l("Focus score"), "coverage": _l("Coverage"),
          "crime": _l("Crimes per 1,000 households"), "concern": _l("Concerns raised")}


def min_cell() -> int:
    """The fewest members a demographic figure may rest on (``INSIGHTS_MIN_CELL``)."""
    return max(1, int(current_app.config.get("INSIGHTS_MIN_CELL", 5)))


def feedback_gap_days() -> int:
    """The fewest days between two "You said, we did" updates to one area."""
    return int(current_app.config.get("INSIGHTS_FEEDBACK_MIN_DAYS", 14))


def scoped_area(staff: Staff, code: str | None) -> Area:
    """The area ``code`` if it is one of ``staff``'s areas or inside them (their first
    area when no code is given); 404 otherwise."""
    if not code:
        if not staff.areas:
            abort(404)
        return sorted(staff.areas, key=lambda a: a.path)[0]
    area = db.session.scalar(select(Area).where(Area.code == code,
                                                within(staff.areas, Area.id)))
    if area is None:
        log_denied("insights: area outside the staff member's areas or unknown")
        abort(404)
    return area


def _path_to(area: Area, staff: Staff) -> list[Area]:
    """The area's ancestors the staff member may open, top first, then the area."""
    ids = [int(i) for i in area.path.strip("/").split("/") if i]
    inside = set(db.session.scalars(select(Area.id).where(Area.id.in_(ids),
                                                          within(staff.areas, Area.id))))
    by_id = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_(inside)))}
    return [by_id[i] for i in ids if i in by_id]


def shade_value(figures: Figures | None, shade: str) -> float | None:
    """The figure the map shades an area by."""
    if figures is None:
        return None
    if shade == "coverage":
        found = coverage(figures)
        return None if found is None else round(100 * found, 1)
    if shade == "crime":
        return round(1000 * figures.crimes / figures.households, 1) if figures.households else None
    if shade == "concern":
        return float(sum(figures.concerns.values()))
    return figures.score


def _classes(values: list[float | None]) -> list[int | None]:
    """Each value's class from 0 (lowest fifth of the range) to 4 (highest)."""
    known = [v for v in values if v is not None]
    if not known:
        return [None for _ in values]
    low, high = min(known), max(known)
    span = high - low
    return [None if v is None else (0 if span == 0 else min(4, int(5 * (v - low) / span)))
            for v in values]


def suppressed(counts: dict[str, int]) -> dict[str, int | None]:
    """Demographic counts with every count from 1 to ``min_cell() - 1`` hidden (None)."""
    minimum = min_cell()
    return {k: (None if 0 < v < minimum else v) for k, v in counts.items()}


@bp.get("/")
@staff_required(VIEW)
def dashboard() -> str:
    """An area's figures and the areas inside it: map, table and where to focus."""
    staff: Staff = g.staff
    area = scoped_area(staff, request.args.get("area"))
    shade = request.args.get("shade") if request.args.get("shade") in SHADES else "score"
    mine = db.session.get(Figures, area.id)
    children = list(db.session.execute(
        select(Area, Figures).outerjoin(Figures, Figures.area_id == Area.id)
        .where(Area.parent_id == area.id).options(defer(Area.boundary))
        .order_by(Area.name)).all())
    ranked = sorted(children, key=lambda row: -(row[1].score if row[1] else 0.0))
    why = {a.id: reasons(f, mine) for a, f in children if f is not None and mine is not None}
    values = [shade_value(f, shade) for _a, f in children]
    since = utcnow() - timedelta(days=90)
    feedback = dict(db.session.execute(
        select(Feedback.area_id, func.count()).where(
            Feedback.created_at >= since,
            Feedback.area_id.in_([area.id, *(a.id for a, _f in children)]))
        .group_by(Feedback.area_id)).all())
    snapshots = list(db.session.scalars(select(Snapshot).where(Snapshot.area_id == area.id)
                                        .order_by(Snapshot.month.desc()).limit(12)))
    indicators = list(db.session.scalars(select(Indicator).where(Indicator.area_id == area.id)
                                         .order_by(Indicator.name)))
    demographics = {
        key: {str(DEMOGRAPHIC_LABELS[key][1].get(answer, answer)): count
              for answer, count in suppressed(counts).items()}
        for key, counts in (mine.demographics if mine else {}).items()
        if key in DEMOGRAPHIC_LABELS}
    return render_template(
        "insights/dashboard.html", area=area, path=_path_to(area, staff), mine=mine,
        children=children, ranked=ranked, why=why, shade=shade, shades=SHADES,
        values=dict(zip((a.id for a, _f in children), values, strict=True)),
        feedback=feedback, snapshots=list(reversed(snapshots)), indicators=indicators,
        demographics=demographics, minimum=min_cell(), coverage=coverage,
        can_see_contacts=has_permission(staff, CONTACTS),
        has_surveys="surveys.staff_list" in current_app.view_functions,
        tile_url=current_app.config.get("MAP_TILE_URL") or "",
        tile_attribution=current_app.config.get("MAP_TILE_ATTRIBUTION") or "")


@bp.get("/areas.geojson")
@staff_required(VIEW)
def areas_geojson() -> Response:
    """The boundaries of the areas inside an area, with the figure the map shades them by
    and its class (0 to 4), as GeoJSON."""
    staff: Staff = g.staff
    area = scoped_area(staff, request.args.get("area"))
    shade = request.args.get("shade") if request.args.get("shade") in SHADES else "score"
    rows = list(db.session.execute(
        select(Area.code, Area.name, Area.boundary, Figures)
        .outerjoin(Figures, Figures.area_id == Area.id)
        .where(Area.parent_id == area.id, Area.boundary.is_not(None)).order_by(Area.name)))
    values = [shade_value(f, shade) for _code, _name, _boundary, f in rows]
    # The boundaries are stored as compact GeoJSON checked on import: they go out as they
    # are, not parsed and written again (real boundaries run to thousands of points).
    features = []
    for (code, name, boundary, _f), value, shade_class in zip(rows, values, _classes(values),
                                                               strict=True):
        properties = json.dumps({
            "code": code, "name": name, "value": value, "class": shade_class,
            "href": url_for("insights.dashboard", area=code, shade=shade)})
        features.append(f'{{"type":"Feature","geometry":{boundary},'
                        f'"properties":{properties}}}')
    body = (f'{{"type":"FeatureCollection","shade":{json.dumps(shade)},'
            f'"features":[{",".join(features)}]}}')
    return Response(body, mimetype="application/geo+json")


@bp.get("/contacts")
@staff_required(CONTACTS)
def contacts() -> str:
    """Members of the area who agreed to be community contacts (recorded in their
    access log)."""
    staff: Staff = g.staff
    area = scoped_area(staff, request.args.get("area"))
    found = list(db.session.scalars(
        scoped_members(staff).where(within([area], Member.area_id),
                                    member_field_value(CONTACT_FIELD) == "yes")
        .order_by(Member.name)))
    log_access(staff, "view", member_ids=[m.id for m in found])
    db.session.commit()
    return render_template("insights/contacts.html", area=area, contacts=found)


class FeedbackForm(FlaskForm):
    """A "You said, we did" update."""

    you_said = wtforms.TextAreaField(
        _l("You said"), [DataRequired(message=_l("Say what residents told you")),
                         Length(max=1000, message=_l("Keep it to 1,000 characters"))],
        widget=GovTextArea(), description=_l("For example: speeding on Mill Lane worries you"))
    we_did = wtforms.TextAreaField(
        _l("We did"), [DataRequired(message=_l("Say what was done")),
                       Length(max=2000, message=_l("Keep it to 2,000 characters"))],
        widget=GovTextArea(),
        description=_l("For example: we ran speed checks on six evenings and stopped 14 drivers"))
    submit = wtforms.SubmitField(_l("Write the update"), widget=GovSubmitInput())


def _update_texts(area: Area, you_said: str, we_did: str) -> dict[str, str]:
    title = gettext("You said, we did: %(area)s", area=area.name)
    said, did = gettext("You said:"), gettext("We did:")
    return {"title": title[:200], "body": f"**{said}** {you_said}\n\n**{did}** {we_did}",
            "plain_text": f"{said} {you_said} {did} {we_did}"[:918]}


def update_texts(area: Area, you_said: str, we_did: str) -> dict[str, str | None]:
    """A "You said, we did" message's texts: its own words in English, and in Welsh too
    (the staff member's words as they wrote them) when the Welsh catalogue has them."""
    with force_locale("en"):
        fields: dict[str, str | None] = dict(_update_texts(area, you_said, we_did))
    with force_locale("cy"):
        has_welsh = gettext("You said:") != "You said:"
        welsh = _update_texts(area, you_said, we_did) if has_welsh else {}
    for key in ("title", "body", "plain_text"):
        fields[f"{key}_cy"] = welsh.get(key)
    return fields


def last_feedback(area: Area) -> Feedback | None:
    """The latest update sent to ``area``, if any."""
    return db.session.scalar(select(Feedback).where(Feedback.area_id == area.id)
                             .order_by(Feedback.created_at.desc()).limit(1))


@bp.route("/feedback", methods=["GET", "POST"])
@staff_required(VIEW)
def feedback() -> str | Response:
    """Tell the area's residents what was done about what they said: a draft message
    to them, checked and sent as any message; at most one per area every
    ``INSIGHTS_FEEDBACK_MIN_DAYS`` days."""
    staff: Staff = g.staff
    if not has_permission(staff, "core.messages.send"):
        log_denied("lacks core.messages.send")
        abort(403)
    area = scoped_area(staff, request.args.get("area"))
    form = FeedbackForm()
    if request.method == "GET" and request.args.get("concern"):
        form.you_said.data = request.args["concern"][:1000]
    last = last_feedback(area)
    wait_until = last.created_at + timedelta(days=feedback_gap_days()) if last else None
    if form.validate_on_submit() and form.submit.data:
        if wait_until is not None and utcnow() < wait_until:
            form.we_did.errors = [*form.we_did.errors, gettext(
                "%(area)s had an update on %(date)s. Updates to one area go at least "
                "%(days)d days apart: wait until %(next)s.", area=area.name,
                date=format_date(last.created_at, "d MMMM yyyy"), days=feedback_gap_days(),
                next=format_date(wait_until, "d MMMM yyyy"))]
        else:
            you_said, we_did = form.you_said.data.strip(), form.we_did.data.strip()
            message = create_message(
                staff, **update_texts(area, you_said, we_did), category="community_news",
                priority=4, target=Target(areas=[area.code]).to_json())
            db.session.add(message)
            db.session.flush()
            try:
                preview_message(message, staff)
            except TargetError as exc:
                db.session.rollback()
                form.we_did.errors = [*form.we_did.errors, *exc.errors.values()]
            else:
                db.session.add(Feedback(area_id=area.id, message_id=message.id,
                                        staff_id=staff.id, summary=you_said[:1000]))
                db.session.commit()
                flash(gettext("Check the update to %(area)s and send it.", area=area.name),
                      "success")
                return redirect(url_for("messages.check", message_id=message.id))
    return render_template("insights/feedback.html", area=area, form=form, last=last,
                           wait_until=wait_until)


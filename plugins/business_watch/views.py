"""Business Watch's pages: a member's own businesses, to add, change and remove."""

from __future__ import annotations

import wtforms
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from core.api import (
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
    add_interest,
    db,
    gettext,
    known_postcode,
    log_denied,
    lookup_postcode,
    member_required,
)
from core.api import lazy_gettext as _l
from plugins.business_watch import SECTOR_LABELS, WATCH_TYPE
from plugins.business_watch.models import Business

bp = Blueprint("business_watch", __name__, template_folder="templates",
               url_prefix="/businesses")


class BusinessForm(FlaskForm):
    name = wtforms.StringField(
        _l("Business name"), [InputRequired(message=_l("Enter the business's name")),
                              Length(max=200, message=_l("Keep the name to 200 characters"))],
        widget=GovTextInput())
    sector = wtforms.RadioField(
        _l("Sector"), choices=list(SECTOR_LABELS.items()),
        validators=[InputRequired(message=_l("Choose the sector closest to the business"))],
        widget=GovRadioInput())
    address_line = wtforms.StringField(
        _l("Premises address"), [InputRequired(message=_l("Enter the premises address")),
                                 Length(max=200, message=_l("Keep the address to 200 "
                                                            "characters"))],
        widget=GovTextInput())
    postcode = wtforms.StringField(
        _l("Premises postcode"), [InputRequired(message=_l("Enter the premises postcode")),
                                  known_postcode],
        widget=GovTextInput(),
        description=_l("Alerts for businesses go by where the premises are"))
    opening_hours = wtforms.TextAreaField(
        _l("Opening hours (optional)"),
        [Optional(), Length(max=500, message=_l("Keep the opening hours to 500 characters"))],
        widget=GovTextArea(), description=_l("For example, Mon to Sat 9am to 5:30pm"))
    staff_count = wtforms.IntegerField(
        _l("Number of staff (optional)"),
        [Optional(), NumberRange(min=1, max=100000, message=_l("Enter a number from 1 to "
                                                                 "100,000"))],
        widget=GovTextInput())
    submit = wtforms.SubmitField(_l("Save the business"), widget=GovSubmitInput())


class RemoveForm(FlaskForm):
    submit = wtforms.SubmitField(_l("Yes, remove it"), widget=GovSubmitInput())


def _own(business_id: int) -> Business:
    """The signed-in member's business ``business_id``; 404 for anyone else's."""
    business = db.session.get(Business, business_id)
    if business is None or business.member_id != g.member.id:
        log_denied("not the member's business")
        abort(404)
    return business


def _save(form: BusinessForm, business: Business) -> None:
    postcode = lookup_postcode(form.postcode.data)
    business.name = form.name.data.strip()
    business.sector = form.sector.data
    business.address_line = form.address_line.data.strip()
    business.postcode = postcode.postcode
    business.area_id = postcode.area_id
    business.opening_hours = (form.opening_hours.data or "").strip()
    business.staff_count = form.staff_count.data


@bp.get("/")
@member_required
def mine() -> str:
    """The signed-in member's businesses."""
    member = g.member
    businesses = db.session.scalars(select(Business).where(Business.member_id == member.id)
                                    .order_by(Business.name)).all()
    subscribed = any(i.watch_type == WATCH_TYPE for i in member.interests)
    return render_template("business_watch/mine.html", businesses=businesses,
                           subscribed=subscribed, sector_labels=SECTOR_LABELS)


@bp.route("/new", methods=["GET", "POST"])
@member_required
def add() -> str | Response:
    """Register a business; it signs the member up for Business Watch alerts."""
    form = BusinessForm()
    if form.validate_on_submit():
        member = g.member
        business = Business(member_id=member.id)
        _save(form, business)
        db.session.add(business)
        add_interest(member, WATCH_TYPE)
        db.session.commit()
        flash(gettext("%(name)s is registered for Business Watch.", name=business.name))
        return redirect(url_for("business_watch.mine"))
    return render_template("business_watch/form.html", form=form, business=None)


@bp.route("/<int:business_id>", methods=["GET", "POST"])
@member_required
def edit(business_id: int) -> str | Response:
    """Change one of the member's businesses."""
    business = _own(business_id)
    form = BusinessForm(obj=business)
    if form.validate_on_submit():
        _save(form, business)
        db.session.commit()
        flash(gettext("Your changes to %(name)s are saved.", name=business.name))
        return redirect(url_for("business_watch.mine"))
    return render_template("business_watch/form.html", form=form, business=business)


@bp.route("/<int:business_id>/remove", methods=["GET", "POST"])
@member_required
def remove(business_id: int) -> str | Response:
    """Remove one of the member's businesses, after asking."""
    business = _own(business_id)
    form = RemoveForm()
    if form.validate_on_submit() and form.submit.data:
        db.session.delete(business)
        db.session.commit()
        flash(gettext("%(name)s is removed.", name=business.name))
        return redirect(url_for("business_watch.mine"))
    return render_template("business_watch/remove.html", form=form, business=business)

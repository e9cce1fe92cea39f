"""The resident's pages: contacting the local policing team, and their cases.

Every page of the plugin hangs off the one blueprint made here; staff_views.py,
dashboard.py and live.py add theirs to it.
"""

from __future__ import annotations

import wtforms
from flask import Blueprint, Response, flash, g, redirect, render_template, url_for
from flask_babel import format_date
from flask_wtf import FlaskForm
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from core.api import (
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
    db,
    gettext,
    known_postcode,
    lookup_postcode,
    member_required,
)
from core.api import lazy_gettext as _l
from plugins.surgery import cases
from plugins.surgery.models import Case
from plugins.surgery.sla import UK_TIME

bp = Blueprint("surgery", __name__, template_folder="templates", static_folder="static",
               url_prefix="/surgery")

#: The longest description or addition kept, in characters.
MAX_TEXT = 5000


class ConcernForm(FlaskForm):
    """A concern, as a resident (or someone helping them) describes it."""

    topic = wtforms.RadioField(
        _l("What is it about?"),
        validators=[InputRequired(message=_l("Choose what your concern is about"))],
        widget=GovRadioInput())
    description = wtforms.TextAreaField(
        _l("Tell us about it"),
        [DataRequired(message=_l("Describe your concern")),
         Length(max=MAX_TEXT, message=_l("Keep it to 5,000 characters"))],
        widget=GovTextArea(),
        description=_l("What is happening, when, and how it affects you. Do not include "
                       "anyone's personal details unless they are needed."))
    location = wtforms.StringField(
        _l("Where is it happening? (optional)"),
        [Optional(), Length(max=200, message=_l("Keep the place to 200 characters"))],
        widget=GovTextInput(), description=_l("A street, park or landmark"))
    postcode = wtforms.StringField(
        _l("Postcode of the place (optional)"), [Optional(), known_postcode],
        widget=GovTextInput(),
        description=_l("It goes to the team for this postcode; without one, the team "
                       "for your address"))
    reply_channel = wtforms.RadioField(
        _l("How should we tell you about replies?"),
        validators=[InputRequired(message=_l("Choose how we should tell you about replies"))],
        widget=GovRadioInput())
    submit = wtforms.SubmitField(_l("Send to your local policing team"),
                                 widget=GovSubmitInput())

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.topic.choices = list(cases.topics().items())


class AddForm(FlaskForm):
    """More information from the resident on an open case."""

    text = wtforms.TextAreaField(
        _l("Add information"),
        [DataRequired(message=_l("Enter what you want to add")),
         Length(max=MAX_TEXT, message=_l("Keep it to 5,000 characters"))],
        widget=GovTextArea())
    submit = wtforms.SubmitField(_l("Add to your case"), widget=GovSubmitInput())


def _resident_channels() -> list[tuple[str, object]]:
    choices = [("email", _l("Email"))]
    if g.member.phone:
        choices.append(("sms", _l("Text message")))
    return choices


@bp.route("/contact", methods=["GET", "POST"])
@member_required
def contact() -> str | Response:
    """Raise a concern with the team whose area covers it (or the member's address)."""
    member = g.member
    form = ConcernForm()
    form.reply_channel.choices = _resident_channels()
    if form.reply_channel.data is None:
        form.reply_channel.data = "email"
    if form.validate_on_submit():
        place = lookup_postcode(form.postcode.data) if form.postcode.data else None
        area = place.area if place is not None else member.area
        try:
            found = cases.submit_case(
                topic=form.topic.data, description=form.description.data.strip(),
                area=area, reply_channel=form.reply_channel.data, member=member,
                location=(form.location.data or "").strip(),
                postcode=place.postcode if place is not None else None)
        except cases.NoTeam:
            field = form.postcode if place is not None else form.description
            field.errors = [*field.errors, gettext(
                "No local policing team takes concerns online for this place yet. "
                "Call 101 instead.")]
        else:
            db.session.commit()
            flash(gettext("Your concern %(reference)s is with %(team)s. They will reply by "
                          "the end of %(day)s.", reference=found.reference,
                          team=found.team_area.name, day=due_day(found)), "success")
            return redirect(url_for("surgery.case", case_id=found.id))
    return render_template("surgery/contact.html", form=form)


def due_day(found: Case) -> str:
    """The UK day a case's reply is due by the end of, as residents read it."""
    return format_date(found.due_at.astimezone(UK_TIME).date(), "EEEE d MMMM yyyy")


@bp.get("/cases")
@member_required
def mine() -> str:
    """The member's concerns and where each stands."""
    return render_template("surgery/mine.html", cases=cases.member_cases(g.member),
                           statuses=cases.STATUS_LABELS, topic_label=cases.topic_label)


def _show(found: Case, form: AddForm | None = None) -> str:
    return render_template(
        "surgery/case.html", case=found, entries=cases.public_entries(found),
        form=form or AddForm(formdata=None), statuses=cases.STATUS_LABELS,
        topic_label=cases.topic_label, channels=cases.REPLY_CHANNEL_LABELS,
        due_day=due_day(found))


@bp.get("/cases/<int:case_id>")
@member_required
def case(case_id: int) -> str:
    """One of the member's concerns: its status, replies and what they added."""
    return _show(cases.get_own_case(g.member, case_id))


@bp.post("/cases/<int:case_id>/add")
@member_required
def add(case_id: int) -> str | Response:
    """Add information to one of the member's open concerns."""
    found = cases.get_own_case(g.member, case_id)
    form = AddForm()
    if not form.validate_on_submit():
        return _show(found, form)
    if found.status == "closed":
        form.text.errors = [gettext("This case is closed. Raise a new concern instead.")]
        return _show(found, form)
    cases.add_information(found, form.text.data.strip())
    db.session.commit()
    flash(gettext("Added to your case. The team can see it now."), "success")
    return redirect(url_for("surgery.case", case_id=found.id))

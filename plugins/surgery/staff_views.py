"""The policing team's pages: the case queue and a case's page; and raising a concern
for someone at a community centre (assisted digital)."""

from __future__ import annotations

import re

import wtforms
from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from core.api import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
    Staff,
    db,
    gettext,
    known_postcode,
    lookup_postcode,
    normalise_phone,
    staff_required,
    utcnow,
)
from core.api import lazy_gettext as _l
from plugins.surgery import cases, sla
from plugins.surgery.models import OPEN_STATUSES, STATUSES, Beat, Case
from plugins.surgery.views import MAX_TEXT, ConcernForm, bp, due_day

#: How many cases a queue page lists at most.
QUEUE_LIMIT = 200

REPLY_STATUS_LABELS = {
    "answered": _l("Answered: nothing more is needed from the resident"),
    "awaiting_resident": _l("Awaiting the resident: the reply asks them something"),
    "assigned": _l("Still with us: we will reply again"),
}

SHOW_LABELS = {
    "team": _l("All cases of your areas"),
    "mine": _l("Assigned to you"),
    "unassigned": _l("Nobody assigned"),
}


# -- forms ----------------------------------------------------------------------------------


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    show = wtforms.SelectField(_l("Show"), choices=list(SHOW_LABELS.items()), default="team",
                               widget=GovSelect())
    status = wtforms.SelectField(
        _l("Status"),
        choices=[("open", _l("Open")), *cases.STATUS_LABELS.items(), ("all", _l("Any"))],
        default="open", widget=GovSelect())
    submit = wtforms.SubmitField(_l("Filter"), widget=GovSubmitInput())


class ReplyForm(FlaskForm):
    reply = wtforms.TextAreaField(
        _l("Reply to the resident"),
        [DataRequired(message=_l("Enter your reply")),
         Length(max=MAX_TEXT, message=_l("Keep it to 5,000 characters"))],
        widget=GovTextArea(), description=_l("The resident reads this and is told it came."))
    status = wtforms.RadioField(_l("After this reply the case is"),
                                choices=list(REPLY_STATUS_LABELS.items()), default="answered",
                                validators=[InputRequired(message=_l("Choose what happens next"))],
                                widget=GovRadioInput())
    submit_reply = wtforms.SubmitField(_l("Send the reply"), widget=GovSubmitInput())


class NoteForm(FlaskForm):
    note = wtforms.TextAreaField(
        _l("Internal note"),
        [DataRequired(message=_l("Enter the note")),
         Length(max=MAX_TEXT, message=_l("Keep it to 5,000 characters"))],
        widget=GovTextArea(), description=_l("Only staff see notes, never the resident."))
    submit_note = wtforms.SubmitField(_l("Add the note"), widget=GovSubmitInput())


class AssignForm(FlaskForm):
    assignee = wtforms.SelectField(_l("Assign to"),
                                   validators=[InputRequired(message=_l("Choose someone"))],
                                   widget=GovSelect())
    submit_assign = wtforms.SubmitField(_l("Assign"), widget=GovSubmitInput())


class StatusForm(FlaskForm):
    status = wtforms.RadioField(_l("Status"), choices=list(cases.STATUS_LABELS.items()),
                                validators=[InputRequired(message=_l("Choose a status"))],
                                widget=GovRadioInput())
    submit_status = wtforms.SubmitField(_l("Change the status"), widget=GovSubmitInput())


class MergeForm(FlaskForm):
    into = wtforms.StringField(
        _l("Merge into case"),
        [DataRequired(message=_l("Enter the reference of the case to keep, like "
                                  "SUR-000123"))],
        widget=GovTextInput(),
        description=_l("This case is closed as a duplicate; its resident sees the other "
                       "case's replies."))
    submit_merge = wtforms.SubmitField(_l("Merge"), widget=GovSubmitInput())


# -- the queue ------------------------------------------------------------------------------


@bp.get("/queue")
@staff_required("surgery.handle")
def queue() -> str:
    """The cases of the signed-in staff's areas, unanswered nearest their due date first."""
    staff: Staff = g.staff
    form = QueueFilterForm(request.args)
    form.validate()
    query = cases.scoped_cases(staff)
    show = form.show.data if form.show.data in SHOW_LABELS else "team"
    if show == "mine":
        query = query.where(Case.assigned_to_id == staff.id)
    elif show == "unassigned":
        query = query.where(Case.assigned_to_id.is_(None))
    status = form.status.data
    if status == "open" or status not in (*STATUSES, "all"):
        query = query.where(Case.status.in_(OPEN_STATUSES))
    elif status != "all":
        query = query.where(Case.status == status)
    found = db.session.scalars(query.order_by(*cases.overdue_first()).limit(QUEUE_LIMIT)).all()
    now = utcnow()
    flags = {c.id: sla.status_of(c.due_at, now, cases.escalate_hours()) for c in found
             if c.kind == "concern" and c.first_reply_at is None and c.is_open}
    return render_template("surgery/queue.html", cases=found, form=form, flags=flags,
                           statuses=cases.STATUS_LABELS, topic_label=cases.topic_label)


# -- a case ---------------------------------------------------------------------------------


def _forms(found: Case, failed: FlaskForm | None) -> dict[str, FlaskForm]:
    forms: dict[str, FlaskForm] = {}
    for key, cls in (("reply_form", ReplyForm), ("note_form", NoteForm),
                     ("assign_form", AssignForm), ("status_form", StatusForm),
                     ("merge_form", MergeForm)):
        forms[key] = failed if isinstance(failed, cls) else cls(formdata=None)
    if not isinstance(failed, StatusForm):
        forms["status_form"].status.data = found.status
    if not isinstance(failed, AssignForm):
        forms["assign_form"].assignee.data = str(found.assigned_to_id or "")
    forms["assign_form"].assignee.choices = _assignees(found)
    return forms


def _assignees(found: Case) -> list[tuple[str, str]]:
    return [("", gettext("Choose someone"))] + [(str(s.id), s.name)
                                                for s in cases.handlers(found)]


def _show(found: Case, failed: FlaskForm | None = None) -> str:
    now = utcnow()
    flag = sla.status_of(found.due_at, now, cases.escalate_hours()) \
        if found.kind == "concern" and found.first_reply_at is None and found.is_open else None
    merged = db.session.scalars(cases.scoped_cases(g.staff)
                                .where(Case.merged_into_id == found.id)).all()
    beat = None
    if found.kind == "beat_surgery":
        beat = db.session.scalar(select(Beat).where(Beat.case_id == found.id))
    return render_template(
        "surgery/staff_case.html", case=found, entries=cases.all_entries(found), flag=flag,
        merged=merged, form=failed, statuses=cases.STATUS_LABELS,
        topic_label=cases.topic_label, channels=cases.REPLY_CHANNEL_LABELS, beat=beat,
        workable=cases.workable(found), **_forms(found, failed))


@bp.get("/queue/<int:case_id>")
@staff_required("surgery.handle")
def staff_case(case_id: int) -> str:
    """A case with everything written on it, and the forms to work on it."""
    return _show(cases.get_scoped_case(g.staff, case_id))


def _done(found: Case, message: str, category: str = "success") -> Response:
    flash(message, category)
    return redirect(url_for("surgery.staff_case", case_id=found.id))


def _not_workable(found: Case) -> Response:
    return _done(found, gettext("Work on this case goes on where it was merged, or on its "
                                "beat surgery's page."), "error")


@bp.post("/queue/<int:case_id>/reply")
@staff_required("surgery.handle")
def reply(case_id: int) -> str | Response:
    """Reply to the resident publicly; they are told it came."""
    found = cases.get_scoped_case(g.staff, case_id)
    if not cases.workable(found):
        return _not_workable(found)
    form = ReplyForm()
    if not (form.validate_on_submit() and form.submit_reply.data):
        return _show(found, form)
    cases.reply(found, g.staff, form.reply.data.strip(), form.status.data)
    if found.reply_channel in ("email", "sms") and found.member_id:
        done = gettext("Reply sent. The resident is told by %(channel)s.",
                       channel=str(cases.REPLY_CHANNEL_LABELS[found.reply_channel]).lower())
    else:
        done = gettext("Reply saved. Pass it on as the case says: %(channel)s.",
                       channel=str(cases.REPLY_CHANNEL_LABELS[found.reply_channel]))
    duplicates = db.session.scalars(select(Case).where(Case.merged_into_id == found.id)).all()
    if duplicates:
        by_hand = [d.reference for d in duplicates if d.member_id is None
                   or d.reply_channel not in ("email", "sms")]
        done += " " + ngettext("It reaches the resident of %(num)d merged duplicate too.",
                               "It reaches the residents of %(num)d merged duplicates too.",
                               len(duplicates))
        if by_hand:
            done += " " + gettext("Pass it on by hand for %(references)s.",
                                  references=", ".join(by_hand))
    return _done(found, done)


@bp.post("/queue/<int:case_id>/note")
@staff_required("surgery.handle")
def note(case_id: int) -> str | Response:
    """Add an internal note, which the resident never sees."""
    found = cases.get_scoped_case(g.staff, case_id)
    form = NoteForm()
    if not (form.validate_on_submit() and form.submit_note.data):
        return _show(found, form)
    cases.add_note(found, g.staff, form.note.data.strip())
    db.session.commit()
    return _done(found, gettext("Note added. Only staff can see it."))


@bp.post("/queue/<int:case_id>/assign")
@staff_required("surgery.handle")
def assign(case_id: int) -> str | Response:
    """Give the case to someone of the team."""
    found = cases.get_scoped_case(g.staff, case_id)
    form = AssignForm()
    form.assignee.choices = _assignees(found)
    if not (form.validate_on_submit() and form.submit_assign.data):
        return _show(found, form)
    assignee = db.session.get(Staff, int(form.assignee.data))
    cases.assign(found, g.staff, assignee)
    db.session.commit()
    return _done(found, gettext("Assigned to %(name)s.", name=assignee.name))


@bp.post("/queue/<int:case_id>/status")
@staff_required("surgery.handle")
def status(case_id: int) -> str | Response:
    """Change the case's status."""
    found = cases.get_scoped_case(g.staff, case_id)
    if not cases.workable(found):
        return _not_workable(found)
    form = StatusForm()
    if not (form.validate_on_submit() and form.submit_status.data):
        return _show(found, form)
    cases.set_status(found, g.staff, form.status.data)
    db.session.commit()
    return _done(found, gettext("Status changed to %(status)s.",
                                status=str(cases.STATUS_LABELS[found.status]).lower()))


_REFERENCE = re.compile(r"^\s*(?:SUR-?)?0*(\d{1,9})\s*$", re.IGNORECASE)


@bp.post("/queue/<int:case_id>/merge")
@staff_required("surgery.handle")
def merge(case_id: int) -> str | Response:
    """Close the case as a duplicate of another case of the same team's areas."""
    staff: Staff = g.staff
    found = cases.get_scoped_case(staff, case_id)
    form = MergeForm()
    if not (form.validate_on_submit() and form.submit_merge.data):
        return _show(found, form)
    match = _REFERENCE.match(form.into.data)
    into = None
    if match:
        into = db.session.scalar(cases.scoped_cases(staff).where(Case.id == int(match[1])))
    if into is None:
        form.into.errors = [gettext("There is no case %(reference)s in your areas",
                                    reference=form.into.data.strip())]
        return _show(found, form)
    try:
        cases.merge(found, into, staff)
    except ValueError as exc:
        form.into.errors = [_merge_problem(str(exc))]
        return _show(found, form)
    db.session.commit()
    return _done(found, gettext("Merged into %(reference)s and closed.",
                                reference=into.reference))


def _merge_problem(reason: str) -> str:
    if "itself" in reason:
        return gettext("Enter another case's reference: a case cannot be merged into itself")
    if "merged into another" in reason:
        return gettext("That case was itself merged into another: merge into that one")
    return gettext("Only concerns of your organisation can be merged")


# -- assisted digital -----------------------------------------------------------------------


class AssistForm(ConcernForm):
    """A concern raised for someone at a community centre, and how the reply reaches
    them."""

    requester_name = wtforms.StringField(
        _l("Their name"), [DataRequired(message=_l("Enter the name of the person you are "
                                                    "helping")),
                           Length(max=200, message=_l("Keep the name to 200 characters"))],
        widget=GovTextInput())
    contact_phone = wtforms.StringField(
        _l("Their phone number"), [Optional()], widget=GovTextInput(),
        description=_l("Needed for a reply by phone"))
    contact_address = wtforms.TextAreaField(
        _l("Their postal address"),
        [Optional(), Length(max=500, message=_l("Keep the address to 500 characters"))],
        widget=GovTextArea(), description=_l("Needed for a reply by letter"))
    collect_at = wtforms.StringField(
        _l("Community centre to collect the reply from"),
        [Optional(), Length(max=200, message=_l("Keep it to 200 characters"))],
        widget=GovTextInput(), description=_l("Needed when they will collect the reply"))
    agreed = wtforms.BooleanField(
        _l("They asked me to raise this for them and agreed to what I wrote"),
        [InputRequired(message=_l("Confirm that the person asked you to raise this"))],
        widget=GovCheckboxInput())
    submit = wtforms.SubmitField(_l("Send to their local policing team"),
                                 widget=GovSubmitInput())

    def validate(self, extra_validators: object = None) -> bool:
        ok = super().validate(extra_validators)
        channel = self.reply_channel.data
        if channel == "phone":
            number = normalise_phone(self.contact_phone.data or "")
            if number is None:
                self.contact_phone.errors = [*self.contact_phone.errors, gettext(
                    "Enter a UK phone number, like 01234 567 890 or 07123 456 789")]
                ok = False
            else:
                self.contact_phone.data = number
        if channel == "post" and not (self.contact_address.data or "").strip():
            self.contact_address.errors = [*self.contact_address.errors,
                                           gettext("Enter the address to send the reply to")]
            ok = False
        if channel == "collect" and not (self.collect_at.data or "").strip():
            self.collect_at.errors = [*self.collect_at.errors,
                                      gettext("Enter the community centre")]
            ok = False
        return ok


ASSISTED_CHANNELS = [(c, cases.REPLY_CHANNEL_LABELS[c]) for c in ("phone", "post", "collect")]


def _assist_form() -> AssistForm:
    form = AssistForm()
    form.reply_channel.choices = ASSISTED_CHANNELS
    form.postcode.validators = [InputRequired(message=_l("Enter the postcode of the place, "
                                                         "or of where they live")),
                                known_postcode]
    form.postcode.label.text = gettext("Postcode of the place, or of where they live")
    form.postcode.description = gettext("It goes to the team for this postcode")
    return form


@bp.route("/assist", methods=["GET", "POST"])
@staff_required("surgery.assist")
def assist() -> str | Response:
    """Raise a concern for someone without email, at a community centre."""
    staff: Staff = g.staff
    form = _assist_form()
    if form.validate_on_submit() and form.submit.data:
        place = lookup_postcode(form.postcode.data)
        channel = form.reply_channel.data
        try:
            found = cases.submit_case(
                topic=form.topic.data, description=form.description.data.strip(),
                area=place.area, reply_channel=channel,
                location=(form.location.data or "").strip(), postcode=place.postcode,
                submitted_by=staff, requester_name=form.requester_name.data.strip(),
                contact_phone=form.contact_phone.data if channel == "phone" else None,
                contact_address=(form.contact_address.data or "").strip()
                if channel == "post" else None,
                collect_at=(form.collect_at.data or "").strip() if channel == "collect"
                else None)
        except cases.NoTeam:
            form.postcode.errors = [gettext("No local policing team takes concerns online "
                                            "for this place yet. Call 101 instead.")]
        else:
            db.session.commit()
            flash(gettext("Sent as %(reference)s to %(team)s. Give the person the reference: "
                          "the reply is due by the end of %(day)s.",
                          reference=found.reference, team=found.team_area.name,
                          day=due_day(found)), "success")
            return redirect(url_for("surgery.assisted_case", case_id=found.id))
    return render_template("surgery/assist.html", form=form)


@bp.get("/assist/cases")
@staff_required("surgery.assist")
def assisted() -> str:
    """The concerns the signed-in account raised for people, newest first."""
    found = db.session.scalars(
        select(Case).where(Case.submitted_by_id == g.staff.id)
        .order_by(Case.submitted_at.desc(), Case.id.desc()).limit(QUEUE_LIMIT)).all()
    return render_template("surgery/assisted.html", cases=found,
                           statuses=cases.STATUS_LABELS, topic_label=cases.topic_label,
                           channels=cases.REPLY_CHANNEL_LABELS)


@bp.get("/assist/cases/<int:case_id>")
@staff_required("surgery.assist")
def assisted_case(case_id: int) -> str:
    """A concern this account raised for someone: its status and the replies to pass on
    (never the team's internal notes)."""
    found = cases.get_assisted_case(g.staff, case_id)
    return render_template("surgery/assisted_case.html", case=found,
                           entries=cases.public_entries(found), statuses=cases.STATUS_LABELS,
                           topic_label=cases.topic_label, channels=cases.REPLY_CHANNEL_LABELS,
                           due_day=due_day(found))


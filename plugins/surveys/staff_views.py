"""Staff pages: building a survey, starting its rounds, and reading the results.

A survey belongs to its organisation: its staff with ``surveys.manage`` build it and
start rounds; everyone's results count only the responses from their own areas.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from typing import Any

import wtforms
from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.api import (
    DEMOGRAPHIC_LABELS,
    DEMOGRAPHICS,
    Area,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
    Member,
    Staff,
    TargetError,
    db,
    has_permission,
    log_access,
    log_denied,
    message_form,
    preview_message,
    spreadsheet_safe,
    staff_required,
    target_map_settings,
    within,
)
from core.api import lazy_gettext as _l
from plugins.surveys import EXPORT, MANAGE, RESPONDENTS
from plugins.surveys import results as res
from plugins.surveys.models import (
    RANK_COUNT,
    Answer,
    Question,
    Round,
    Section,
    Survey,
)
from plugins.surveys.models import Response as SurveyResponse
from plugins.surveys.rounds import first_message, invitation_texts, is_open, start_round
from plugins.surveys.views import bp

KIND_LABELS = {
    "single": _l("One answer from a list"),
    "multiple": _l("Any answers from a list"),
    "rating": _l("A mark from 1 to 5"),
    "text": _l("Their own words"),
    "rank": _l("Their top 3 local priorities, in order"),
}


def priorities() -> list[str]:
    """The local priorities a ranking question offers when given no choices of its own
    (``SURVEY_PRIORITIES``)."""
    from flask import current_app

    configured = current_app.config.get("SURVEY_PRIORITIES") or [
        "Anti-social behaviour", "Burglary", "Drug dealing", "Speeding",
        "Vehicle crime", "Violence", "Fraud and scams", "Shoplifting"]
    if isinstance(configured, str):
        configured = [p.strip() for p in configured.split(",") if p.strip()]
    return list(configured)


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def get_survey(survey_id: int) -> Survey:
    """The survey if it is the signed-in staff member's organisation's; 404 otherwise."""
    staff: Staff = g.staff
    survey = db.session.get(Survey, survey_id)
    if survey is None or (survey.organisation_id != staff.organisation_id
                          and staff.role != "system_admin"):
        log_denied("survey of another organisation or none")
        abort(404)
    return survey


def _started(survey: Survey) -> bool:
    return bool(survey.rounds)


# -- forms ------------------------------------------------------------------------------------


class SurveyForm(FlaskForm):
    """A survey's title, introduction and invitation settings."""

    title = wtforms.StringField(_l("Title"), [DataRequired(message=_l("Enter a title")),
                                              Length(max=200)], widget=GovTextInput())
    title_cy = wtforms.StringField(_l("Title in Welsh"), [Optional(), Length(max=200)],
                                   widget=GovTextInput())
    introduction = wtforms.TextAreaField(
        _l("Introduction"), [Optional(), Length(max=3000)], widget=GovTextArea(),
        description=_l("Why you ask and what you will do with the answers"))
    introduction_cy = wtforms.TextAreaField(_l("Introduction in Welsh"),
                                            [Optional(), Length(max=3000)],
                                            widget=GovTextArea())
    public = wtforms.BooleanField(_l("Anyone with the public link may answer too"),
                                  widget=GovCheckboxInput())
    invite_days = wtforms.IntegerField(
        _l("Spread each round's invitations over how many days?"),
        [InputRequired(message=_l("Enter a number of days")),
         NumberRange(min=1, max=60, message=_l("Enter a number from 1 to 60"))],
        default=7, widget=GovTextInput())
    round_days = wtforms.IntegerField(
        _l("Keep each round open for how many days?"),
        [InputRequired(message=_l("Enter a number of days")),
         NumberRange(min=1, max=365, message=_l("Enter a number from 1 to 365"))],
        default=28, widget=GovTextInput())
    repeat_months = wtforms.IntegerField(
        _l("How often should a new round start, in months? (optional)"),
        [Optional(), NumberRange(min=1, max=24, message=_l("Enter a number from 1 to 24"))],
        widget=GovTextInput(),
        description=_l("3 for every quarter. Leave it empty to start each round yourself."))
    submit = wtforms.SubmitField(_l("Save"), widget=GovSubmitInput())


class SectionForm(FlaskForm):
    """A new section."""

    title = wtforms.StringField(_l("Section title"),
                                [DataRequired(message=_l("Enter the section's title")),
                                 Length(max=200)], widget=GovTextInput())
    title_cy = wtforms.StringField(_l("Section title in Welsh"), [Optional(), Length(max=200)],
                                   widget=GovTextInput())
    add_section = wtforms.SubmitField(_l("Add the section"), widget=GovSubmitInput())


class QuestionForm(FlaskForm):
    """One question."""

    kind = wtforms.RadioField(_l("Kind of question"),
                              [InputRequired(message=_l("Choose the kind of question"))],
                              choices=list(KIND_LABELS.items()), widget=GovRadioInput())
    text = wtforms.StringField(_l("Question"), [DataRequired(message=_l("Enter the question")),
                                                Length(max=500)], widget=GovTextInput())
    text_cy = wtforms.StringField(_l("Question in Welsh"), [Optional(), Length(max=500)],
                                  widget=GovTextInput())
    options = wtforms.TextAreaField(
        _l("Choices, one per line"), [Optional(), Length(max=5000)], widget=GovTextArea(),
        description=_l("For a mark from 1 to 5: the words for 1 and for 5, on two lines. "
                       "For top priorities: leave empty for the force's list."))
    options_cy = wtforms.TextAreaField(_l("Choices in Welsh, one per line, in the same order"),
                                       [Optional(), Length(max=5000)], widget=GovTextArea())
    required = wtforms.BooleanField(_l("An answer is required"), widget=GovCheckboxInput())
    section = wtforms.SelectField(_l("Section"), choices=[], validators=[Optional()],
                                  widget=GovSelect())
    interest = wtforms.SelectField(_l("Answering adds this interest to their profile"),
                                   choices=[], validators=[Optional()], widget=GovSelect())
    interest_option = wtforms.IntegerField(
        _l("…when their answer is choice number"), [Optional(), NumberRange(min=1)],
        widget=GovTextInput(), description=_l("1 for the first choice"))
    profile_field = wtforms.SelectField(_l("Keep the answer in this profile field"),
                                        choices=[], validators=[Optional()], widget=GovSelect())
    submit = wtforms.SubmitField(_l("Save the question"), widget=GovSubmitInput())

    def __init__(self, survey: Survey, *args: Any, **kwargs: Any) -> None:
        from flask import current_app

        super().__init__(*args, **kwargs)
        registry = current_app.extensions["commonwatch"].registry
        self.section.choices = [("", gettext("No section"))] + [
            (str(s.id), s.title) for s in survey.sections]
        self.interest.choices = [("", gettext("None"))] + [
            (w.name, str(w.label)) for w in registry.watch_types.values()]
        self.profile_field.choices = [("", gettext("None"))] + [
            (name, str(f.field().args[0] if f.field().args else name))
            for name, f in registry.member_fields.items()]

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            return False
        kind = self.kind.data
        options, welsh = _lines(self.options.data), _lines(self.options_cy.data)
        if kind in ("single", "multiple") and len(options) < 2:
            self.options.errors.append(gettext("Give at least two choices, one per line"))
        if kind == "rating" and len(options) not in (0, 2):
            self.options.errors.append(gettext(
                "Give the words for 1 and for 5 on two lines, or leave it empty"))
        if kind == "rank" and options and len(options) < RANK_COUNT:
            self.options.errors.append(gettext("Give at least %(count)d priorities",
                                               count=RANK_COUNT))
        if kind == "text" and options:
            self.options.errors.append(gettext("A question answered in words has no choices"))
        if welsh and len(welsh) != len(options):
            self.options_cy.errors.append(gettext(
                "Give as many Welsh choices as English ones, in the same order"))
        if self.interest.data:
            if kind != "single":
                self.interest.errors.append(gettext(
                    "Only a question with one answer from a list can add an interest"))
            elif not self.interest_option.data or self.interest_option.data > len(options):
                self.interest_option.errors.append(
                    gettext("Enter the number of one of the choices"))
        if self.profile_field.data and kind not in ("single", "text"):
            self.profile_field.errors.append(gettext(
                "Only a question with one answer from a list, or in words, can fill a "
                "profile field"))
        return not any(f.errors for f in self)

    def apply(self, question: Question) -> None:
        question.kind = self.kind.data
        question.text = self.text.data.strip()
        question.text_cy = (self.text_cy.data or "").strip() or None
        options = _lines(self.options.data)
        if question.kind == "rank" and not options:
            options = priorities()
        question.options = options
        question.options_cy = _lines(self.options_cy.data)
        question.required = bool(self.required.data)
        question.section_id = int(self.section.data) if self.section.data else None
        question.interest = self.interest.data or None
        question.interest_option = (self.interest_option.data - 1
                                    if self.interest.data and self.interest_option.data else None)
        question.profile_field = self.profile_field.data or None


class ConfirmForm(FlaskForm):
    """A button whose press is the whole request."""

    confirm = wtforms.SubmitField(_l("Delete"), widget=GovSubmitInput())


# -- the surveys and their questions ---------------------------------------------------------


@bp.get("/staff")
@staff_required(MANAGE)
def staff_list() -> str:
    """The organisation's surveys."""
    staff: Staff = g.staff
    surveys = db.session.scalars(select(Survey).where(
        Survey.organisation_id == staff.organisation_id).order_by(Survey.created_at.desc()))
    return render_template("surveys/staff_list.html", surveys=list(surveys))


@bp.route("/staff/new", methods=["GET", "POST"])
@staff_required(MANAGE)
def new_survey() -> str | Response:
    """Start a survey: its title, introduction and invitation settings."""
    staff: Staff = g.staff
    form = SurveyForm()
    if form.validate_on_submit() and form.submit.data:
        survey = Survey(organisation_id=staff.organisation_id, created_by_id=staff.id,
                        public_key=secrets.token_urlsafe(12))
        _apply_settings(form, survey)
        db.session.add(survey)
        db.session.commit()
        flash(gettext("The survey is created. Now add its questions."), "success")
        return redirect(url_for("surveys.staff_survey", survey_id=survey.id))
    return render_template("surveys/settings_form.html", form=form, survey=None)


def _apply_settings(form: SurveyForm, survey: Survey) -> None:
    survey.title = form.title.data.strip()
    survey.title_cy = (form.title_cy.data or "").strip() or None
    survey.introduction = (form.introduction.data or "").strip()
    survey.introduction_cy = (form.introduction_cy.data or "").strip() or None
    survey.public = bool(form.public.data)
    survey.invite_days = form.invite_days.data
    survey.round_days = form.round_days.data
    survey.repeat_months = form.repeat_months.data or None


@bp.route("/staff/<int:survey_id>/settings", methods=["GET", "POST"])
@staff_required(MANAGE)
def edit_survey(survey_id: int) -> str | Response:
    """Change a survey's words and settings (its questions are changed on their own)."""
    survey = get_survey(survey_id)
    form = SurveyForm(obj=survey)
    if form.validate_on_submit() and form.submit.data:
        _apply_settings(form, survey)
        db.session.commit()
        flash(gettext("Saved"), "success")
        return redirect(url_for("surveys.staff_survey", survey_id=survey.id))
    return render_template("surveys/settings_form.html", form=form, survey=survey)


@bp.get("/staff/<int:survey_id>")
@staff_required(MANAGE)
def staff_survey(survey_id: int) -> str:
    """A survey: its questions by section, its rounds, and what can be done next."""
    return _survey_page(get_survey(survey_id), SectionForm(formdata=None))


def _survey_page(survey: Survey, section_form: SectionForm) -> str:
    return render_template(
        "surveys/staff_survey.html", survey=survey, started=_started(survey),
        section_form=section_form, delete_form=ConfirmForm(formdata=None),
        kinds=KIND_LABELS, is_open=is_open, first_message=first_message,
        public_url=url_for("surveys.public_answer", token=survey.public_key, _external=True))


def _locked(survey: Survey) -> Response | None:
    if _started(survey):
        flash(gettext("Questions cannot change once a round has started, so that every "
                      "round's answers can be compared. Make a new survey instead."), "error")
        return redirect(url_for("surveys.staff_survey", survey_id=survey.id))
    return None


@bp.post("/staff/<int:survey_id>/sections")
@staff_required(MANAGE)
def add_section(survey_id: int) -> str | Response:
    """Add a section to the end of the survey."""
    survey = get_survey(survey_id)
    if (locked := _locked(survey)) is not None:
        return locked
    form = SectionForm()
    if form.validate_on_submit() and form.add_section.data:
        survey.sections.append(Section(title=form.title.data.strip(),
                                       title_cy=(form.title_cy.data or "").strip() or None,
                                       position=len(survey.sections)))
        db.session.commit()
        return redirect(url_for("surveys.staff_survey", survey_id=survey.id))
    return _survey_page(survey, form)


@bp.route("/staff/<int:survey_id>/questions/new", methods=["GET", "POST"])
@staff_required(MANAGE)
def new_question(survey_id: int) -> str | Response:
    """Add a question to the end of the survey."""
    survey = get_survey(survey_id)
    if (locked := _locked(survey)) is not None:
        return locked
    form = QuestionForm(survey)
    if form.validate_on_submit() and form.submit.data:
        question = Question(survey_id=survey.id, position=len(survey.questions))
        form.apply(question)
        db.session.add(question)
        db.session.commit()
        return redirect(url_for("surveys.staff_survey", survey_id=survey.id))
    return render_template("surveys/question_form.html", form=form, survey=survey, question=None)


def _question(survey: Survey, question_id: int) -> Question:
    question = db.session.get(Question, question_id)
    if question is None or question.survey_id != survey.id:
        abort(404)
    return question


@bp.route("/staff/<int:survey_id>/questions/<int:question_id>", methods=["GET", "POST"])
@staff_required(MANAGE)
def edit_question(survey_id: int, question_id: int) -> str | Response:
    """Change a question before the first round starts."""
    survey = get_survey(survey_id)
    question = _question(survey, question_id)
    if (locked := _locked(survey)) is not None:
        return locked
    form = QuestionForm(survey, obj=None if request.method == "POST" else _question_data(question))
    if form.validate_on_submit() and form.submit.data:
        form.apply(question)
        db.session.commit()
        return redirect(url_for("surveys.staff_survey", survey_id=survey.id))
    return render_template("surveys/question_form.html", form=form, survey=survey,
                           question=question)


def _question_data(question: Question) -> Any:
    class Data:
        kind = question.kind
        text = question.text
        text_cy = question.text_cy
        options = "\n".join(question.options)
        options_cy = "\n".join(question.options_cy or [])
        required = question.required
        section = str(question.section_id) if question.section_id else ""
        interest = question.interest or ""
        interest_option = (question.interest_option + 1
                           if question.interest_option is not None else None)
        profile_field = question.profile_field or ""

    return Data()


@bp.post("/staff/<int:survey_id>/questions/<int:question_id>/delete")
@staff_required(MANAGE)
def delete_question(survey_id: int, question_id: int) -> Response:
    """Remove a question before the first round starts."""
    survey = get_survey(survey_id)
    question = _question(survey, question_id)
    if (locked := _locked(survey)) is not None:
        return locked
    if ConfirmForm().validate_on_submit() and request.form.get("confirm"):
        db.session.delete(question)
        db.session.commit()
        flash(gettext("The question is removed"), "success")
    return redirect(url_for("surveys.staff_survey", survey_id=survey.id))


# -- rounds -----------------------------------------------------------------------------------


class RoundSettingsForm(FlaskForm):
    """How a round's invitations are spread (shown with the message form)."""

    class Meta:
        csrf = False

    invite_days = wtforms.IntegerField(
        _l("Spread the invitations over how many days?"),
        [InputRequired(message=_l("Enter a number of days")),
         NumberRange(min=1, max=60, message=_l("Enter a number from 1 to 60"))],
        widget=GovTextInput(),
        description=_l("Each day, an even share of the residents not yet asked"))


@bp.route("/staff/<int:survey_id>/invite", methods=["GET", "POST"])
@staff_required(MANAGE)
def invite(survey_id: int) -> str | Response:
    """Start the survey's next round: choose whom to invite exactly as for a message,
    then check and send the first day's invitations."""
    staff: Staff = g.staff
    if not has_permission(staff, "core.messages.send"):
        log_denied("lacks core.messages.send")
        abort(403)
    survey = get_survey(survey_id)
    if not survey.questions:
        flash(gettext("Add the survey's questions before inviting anyone"), "error")
        return redirect(url_for("surveys.staff_survey", survey_id=survey.id))
    if request.method == "GET":
        form = message_form(_registry(), data={**invitation_texts(survey), "priority": "4",
                                               "category": "community_news"})
        settings = RoundSettingsForm(data={"invite_days": survey.invite_days})
    else:
        form = message_form(_registry())
        settings = RoundSettingsForm()
    del form.public
    if request.method == "POST" and settings.validate() and form.validate_on_submit():
        fields = {
            "title": form.title.data, "body": form.body.data, "plain_text": form.plain_text.data,
            "title_cy": form.title_cy.data or None, "body_cy": form.body_cy.data or None,
            "plain_text_cy": form.plain_text_cy.data or None, "category": form.category.data,
            "priority": int(form.priority.data),
            "scheduled_for": getattr(form.send_at, "scheduled_for", None)}
        try:
            round_ = start_round(survey, staff, form.target(), fields,
                                 invite_days=settings.invite_days.data)
            message = first_message(round_)
            assert message is not None
            preview_message(message, staff)
        except TargetError as exc:
            db.session.rollback()
            for part, reason in exc.errors.items():
                form.error_on(part, reason)
        else:
            db.session.commit()
            flash(gettext("Round %(number)d is open. Check the first day's invitations and "
                          "send them; the rest follow a day apart.", number=round_.number),
                  "success")
            return redirect(url_for("messages.check", message_id=message.id))
    from core.api import sms_segments

    return render_template("surveys/invite.html", form=form, settings=settings, survey=survey,
                           segments=sms_segments(form.plain_text.data or ""),
                           target_map=target_map_settings(),
                           heading=gettext("Invite residents to “%(title)s”", title=survey.title))


def _registry() -> Any:
    from flask import current_app

    return current_app.extensions["commonwatch"].registry


# -- results ----------------------------------------------------------------------------------


def _round(survey: Survey) -> Round | None:
    number = request.args.get("round", type=int)
    if number is not None:
        found = next((r for r in survey.rounds if r.number == number), None)
        if found is None:
            abort(404)
        return found
    return survey.rounds[-1] if survey.rounds else None


class FilterForm(FlaskForm):
    """The results' filters, read from the query string."""

    class Meta:
        csrf = False

    area = wtforms.StringField(_l("Area code"), [Optional(), Length(max=64)],
                               widget=GovTextInput(),
                               description=_l("A force, district, ward or street code"))
    age_band = wtforms.SelectField(_l("Age band"), [Optional()], widget=GovSelect())
    ethnic_group = wtforms.SelectField(_l("Ethnic group"), [Optional()], widget=GovSelect())
    interest = wtforms.SelectField(_l("Interest"), [Optional()], widget=GovSelect())
    q = wtforms.SelectField(_l("Who answered the question"), [Optional()], widget=GovSelect())
    a = wtforms.StringField(_l("Answer (choice number)"), [Optional(), Length(max=4)],
                            widget=GovTextInput())


def filters_from_request(survey: Survey, staff: Staff) -> tuple[FilterForm, res.Filters]:
    """The filters in the query string, checked: an area must be one of the staff
    member's or inside them (an error by the field otherwise, and no area filter)."""
    form = FilterForm(request.args)
    labels = {key: answers for key, (_question, answers) in DEMOGRAPHIC_LABELS.items()}
    form.age_band.choices = [("", gettext("Any"))] + [
        (v, labels["age_band"].get(v, v)) for v in DEMOGRAPHICS["age_band"]]
    form.ethnic_group.choices = [("", gettext("Any"))] + [
        (v, labels["ethnic_group"].get(v, v)) for v in DEMOGRAPHICS["ethnic_group"]]
    form.interest.choices = [("", gettext("Any"))] + [
        (w.name, str(w.label)) for w in _registry().watch_types.values()]
    form.q.choices = [("", gettext("Any"))] + [
        (str(q.id), f"{i}. {q.text}") for i, q in enumerate(survey.questions, 1)
        if q.kind in ("single", "multiple", "rating")]
    form.validate()
    found = res.Filters()
    code = (form.area.data or "").strip()
    if code:
        area = db.session.scalar(select(Area).where(Area.code == code,
                                                    within(staff.areas, Area.id)))
        if area is None:
            form.area.errors = [gettext("Enter the code of one of your areas, or an area "
                                        "inside them")]
        else:
            found.area = area
    found.age_band = form.age_band.data or None if not form.age_band.errors else None
    found.ethnic_group = form.ethnic_group.data or None if not form.ethnic_group.errors else None
    found.interest = form.interest.data or None if not form.interest.errors else None
    if form.q.data and not form.q.errors:
        question = next(q for q in survey.questions if str(q.id) == form.q.data)
        try:
            number = int(form.a.data or "")
        except ValueError:
            form.a.errors = [gettext("Enter the number of one of the question's choices")]
        else:
            value = number if question.kind == "rating" else number - 1
            limit = 5 if question.kind == "rating" else len(question.options)
            if not 1 <= number <= limit:
                form.a.errors = [gettext("Enter the number of one of the question's choices")]
            else:
                found.question_id, found.value = question.id, value
    return form, found


@bp.get("/staff/<int:survey_id>/results")
@staff_required(MANAGE)
def results(survey_id: int) -> str:
    """A round's results from the staff member's areas, filtered."""
    staff: Staff = g.staff
    survey = get_survey(survey_id)
    round_ = _round(survey)
    form, filters = filters_from_request(survey, staff)
    found = res.results(round_, staff, filters) if round_ else None
    return render_template("surveys/results.html", survey=survey, round=round_, found=found,
                           form=form, filters=filters,
                           can_export=has_permission(staff, EXPORT),
                           can_see_respondents=has_permission(staff, RESPONDENTS))


@bp.get("/staff/<int:survey_id>/trends")
@staff_required(MANAGE)
def trends(survey_id: int) -> str:
    """Each question's results round by round, and response rates per area."""
    staff: Staff = g.staff
    survey = get_survey(survey_id)
    form, filters = filters_from_request(survey, staff)
    rounds = list(survey.rounds)
    latest = rounds[-1] if rounds else None
    return render_template(
        "surveys/trends.html", survey=survey, form=form, filters=filters,
        trends=res.trends(rounds, staff, filters) if rounds else [],
        rates=res.response_rates(latest, staff, filters.area) if latest else [],
        latest=latest, minimum=res.min_cell())


def _answer_text(question: Question, answers: list[Answer]) -> str:
    if question.kind == "text":
        return answers[0].text or "" if answers else ""
    if question.kind == "rating":
        return str(answers[0].value) if answers else ""
    if question.kind == "rank":
        ranked = sorted((a for a in answers if a.rank), key=lambda a: a.rank or 0)
        return "; ".join(question.options[a.value] for a in ranked
                         if a.value is not None and a.value < len(question.options))
    return "; ".join(question.options[a.value] for a in answers
                     if a.value is not None and a.value < len(question.options))


@bp.get("/staff/<int:survey_id>/results.csv")
@staff_required(EXPORT)
def export(survey_id: int) -> Response:
    """One row per sent response of the round in the staff member's scope, filtered;
    with the respondent's identity only for staff who may see respondents. Recorded in
    the members' access log."""
    staff: Staff = g.staff
    survey = get_survey(survey_id)
    round_ = _round(survey)
    if round_ is None:
        abort(404)
    _form, filters = filters_from_request(survey, staff)
    identify = has_permission(staff, RESPONDENTS)
    ids = res.respondents(round_, staff, filters)
    responses = list(db.session.scalars(select(SurveyResponse).where(SurveyResponse.id.in_(ids))
                                        .order_by(SurveyResponse.id)))
    member_ids = [r.member_id for r in responses if r.member_id]
    members = {m.id: m for m in db.session.scalars(select(Member).where(
        Member.id.in_(member_ids)))} if identify else {}
    answers: dict[tuple[int, int], list[Answer]] = {}
    for a in db.session.scalars(select(Answer).where(
            Answer.response_id.in_([r.id for r in responses])).order_by(Answer.id)):
        answers.setdefault((a.response_id, a.question_id), []).append(a)
    questions = list(survey.questions)
    head = ["response", "round", "submitted_at", "area_code", "area", "age_band",
            "ethnic_group"]
    if identify:
        head += ["member_id", "name", "email"]
    table: list[list[Any]] = [head + [f"Q{i}. {q.text}" for i, q in enumerate(questions, 1)]]
    for r in responses:
        row: list[Any] = [r.id, round_.number,
                          r.submitted_at.isoformat() if r.submitted_at else "",
                          r.area.code if r.area else "", r.area.name if r.area else "",
                          r.age_band or "", r.ethnic_group or ""]
        if identify:
            m = members.get(r.member_id or 0)
            row += [m.id, m.name, m.email] if m else ["", "", ""]
        row += [_answer_text(q, answers.get((r.id, q.id), [])) for q in questions]
        table.append([spreadsheet_safe(v) for v in row])
    log_access(staff, "export", member_ids=member_ids)
    db.session.commit()

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in table:
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    name = f"survey-{survey.id}-round-{round_.number}.csv"
    return Response(rows(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/staff/<int:survey_id>/respondents")
@staff_required(RESPONDENTS)
def respondents_page(survey_id: int) -> str:
    """Who answered the round, from the staff member's areas (recorded in the members'
    access log)."""
    staff: Staff = g.staff
    survey = get_survey(survey_id)
    round_ = _round(survey)
    if round_ is None:
        abort(404)
    rows = db.session.execute(
        select(SurveyResponse, Member).join(Member, Member.id == SurveyResponse.member_id)
        .where(SurveyResponse.id.in_(res.respondents(round_, staff, res.Filters())))
        .order_by(Member.name)).all()
    log_access(staff, "view", member_ids=[m.id for _r, m in rows])
    db.session.commit()
    return render_template("surveys/respondents.html", survey=survey, round=round_, rows=rows)

"""Answering a survey: the form built from its questions, saving (to finish later) and
sending answers, and updating the member's profile with the answers they agreed to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import wtforms
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.validators import Length, Optional

from core.api import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
    Member,
    add_interest,
    db,
    known_postcode,
    set_member_field,
    utcnow,
)
from plugins.surveys.models import RANK_COUNT, RATING_MAX, Answer, Question, Response, Round

#: The longest free-text answer kept, in characters.
MAX_TEXT = 2000
ORDINALS = (lazy_gettext("Most important"), lazy_gettext("Second"), lazy_gettext("Third"))


@dataclass
class Item:
    """A question as the answer page shows it: the question, its form fields (one, or
    one per rank) and the section it opens, if any."""

    question: Question
    fields: list[wtforms.Field]
    section_title: str | None = None


def field_name(question: Question, rank: int | None = None) -> str:
    """The form field of ``question`` (of one rank of a ranking question)."""
    return f"q{question.id}" if rank is None else f"q{question.id}_{rank}"


def _rating_labels(question: Question, language: str) -> list[tuple[str, str]]:
    words = question.choices(language)
    labels = []
    for mark in range(1, RATING_MAX + 1):
        label = str(mark)
        if mark == 1 and words[:1]:
            label += f" – {words[0]}"
        elif mark == RATING_MAX and len(words) > 1:
            label += f" – {words[1]}"
        labels.append((str(mark), label))
    return labels


def answer_form(questions: list[Question], language: str, *, member: Member | None,
                ask_postcode: bool, formdata: Any = None) -> FlaskForm:
    """The answer form for ``questions`` in ``language``: every question optional here
    (required ones are checked on sending, see :func:`missing`); a consent box when a
    member answers questions tied to their profile; a postcode for the public."""
    attrs: dict[str, Any] = {}
    for q in questions:
        choices = [(str(i), c) for i, c in enumerate(q.choices(language))]
        label = q.words(language)
        if q.kind == "single":
            attrs[field_name(q)] = wtforms.RadioField(label, choices=choices,
                                                      validators=[Optional()],
                                                      widget=GovRadioInput())
        elif q.kind == "multiple":
            attrs[field_name(q)] = wtforms.SelectMultipleField(
                label, choices=choices, validators=[Optional()], widget=GovCheckboxesInput())
        elif q.kind == "rating":
            attrs[field_name(q)] = wtforms.RadioField(
                label, choices=_rating_labels(q, language), validators=[Optional()],
                widget=GovRadioInput())
        elif q.kind == "text":
            attrs[field_name(q)] = wtforms.TextAreaField(
                label, [Optional(), Length(max=MAX_TEXT, message=lazy_gettext(
                    "Keep your answer to 2,000 characters"))], widget=GovTextArea())
        elif q.kind == "rank":
            for rank in range(1, min(RANK_COUNT, len(choices)) + 1):
                attrs[field_name(q, rank)] = wtforms.SelectField(
                    ORDINALS[rank - 1], choices=[("", gettext("Choose"))] + choices,
                    validators=[Optional()], widget=GovSelect())
    if member is not None and any(q.interest or q.profile_field for q in questions):
        attrs["profile_consent"] = wtforms.BooleanField(
            lazy_gettext("Update my profile with my answers to the questions that say so"),
            widget=GovCheckboxInput())
    if ask_postcode:
        attrs["postcode"] = wtforms.StringField(
            lazy_gettext("Your postcode (optional)"), [Optional(), known_postcode],
            widget=GovTextInput(),
            description=lazy_gettext("So that your answers count for your neighbourhood"))
    attrs["send"] = wtforms.SubmitField(lazy_gettext("Send your answers"),
                                        widget=GovSubmitInput())
    attrs["save"] = wtforms.SubmitField(lazy_gettext("Save and finish later"),
                                        widget=GovSubmitInput())
    return type("AnswerForm", (FlaskForm,), attrs)(formdata=formdata)


def items(form: FlaskForm, questions: list[Question], language: str) -> list[Item]:
    """The questions with their fields, in order, each section's title on its first."""
    shown: list[Item] = []
    section_id: int | None = None
    for q in questions:
        if q.kind == "rank":
            fields = [form[field_name(q, r)] for r in range(1, RANK_COUNT + 1)
                      if field_name(q, r) in form]
        else:
            fields = [form[field_name(q)]]
        title = None
        if q.section is not None and q.section_id != section_id:
            title = (q.section.title_cy if language == "cy" and q.section.title_cy
                     else q.section.title)
        section_id = q.section_id
        shown.append(Item(q, fields, title))
    return shown


def missing(form: FlaskForm, questions: list[Question]) -> bool:
    """Put an error by each required question left unanswered and each ranking with a
    choice given twice; whether there were any."""
    problems = False
    for q in questions:
        if q.kind == "rank":
            ranks = [form[field_name(q, r)] for r in range(1, RANK_COUNT + 1)
                     if field_name(q, r) in form]
            chosen = [f.data for f in ranks if f.data]
            if len(chosen) != len(set(chosen)):
                ranks[0].errors = [*ranks[0].errors, gettext("Choose each priority only once")]
                problems = True
            elif q.required and len(chosen) < len(ranks):
                empty = next(f for f in ranks if not f.data)
                empty.errors = [*empty.errors, gettext(
                    "Choose your %(count)d most important priorities", count=len(ranks))]
                problems = True
            continue
        field = form[field_name(q)]
        value = field.data
        if isinstance(value, str):
            value = value.strip()
        if q.required and not value:
            field.errors = [*field.errors, gettext("Answer this question")
                            if q.kind != "multiple" else gettext("Choose at least one")]
            problems = True
    return problems


def answers_from(form: FlaskForm, questions: list[Question]) -> list[Answer]:
    """The answers the form carries (choices are checked against the questions')."""
    found: list[Answer] = []
    for q in questions:
        if q.kind == "rank":
            for rank in range(1, RANK_COUNT + 1):
                name = field_name(q, rank)
                if name in form and form[name].data:
                    found.append(Answer(question_id=q.id, value=int(form[name].data),
                                        rank=rank))
        elif q.kind == "multiple":
            found += [Answer(question_id=q.id, value=int(v))
                      for v in form[field_name(q)].data or []]
        elif q.kind == "text":
            text = (form[field_name(q)].data or "").strip()
            if text:
                found.append(Answer(question_id=q.id, text=text))
        elif form[field_name(q)].data:
            found.append(Answer(question_id=q.id, value=int(form[field_name(q)].data)))
    return found


def fill_form(form: FlaskForm, questions: list[Question], response: Response) -> None:
    """Show a saved response's answers on a fresh form."""
    by_question: dict[int, list[Answer]] = {}
    for a in response.answers:
        by_question.setdefault(a.question_id, []).append(a)
    for q in questions:
        given = by_question.get(q.id, [])
        if q.kind == "rank":
            for a in given:
                if a.rank and field_name(q, a.rank) in form:
                    form[field_name(q, a.rank)].data = str(a.value)
        elif q.kind == "multiple":
            form[field_name(q)].data = [str(a.value) for a in given]
        elif q.kind == "text":
            form[field_name(q)].data = given[0].text if given else ""
        elif given:
            form[field_name(q)].data = str(given[0].value)
    if "profile_consent" in form:
        form["profile_consent"].data = response.profile_consent


def find_response(round_: Round, member: Member) -> Response | None:
    """The member's response to the round, if they started one."""
    return db.session.scalar(select(Response).where(Response.round_id == round_.id,
                                                    Response.member_id == member.id))


def save(round_: Round, response: Response | None, form: FlaskForm, questions: list[Question],
         *, member: Member | None, submit: bool, area_id: int | None) -> Response:
    """Keep the form's answers as ``response`` (a new one when None): sent when
    ``submit``, else saved to finish later. Answering again replaces the answers; a sent
    response stays sent. Not committed."""
    if response is None:
        response = Response(round_id=round_.id, member_id=member.id if member else None)
        db.session.add(response)
    response.answers = answers_from(form, questions)
    response.profile_consent = bool("profile_consent" in form and form["profile_consent"].data)
    if member is not None:
        response.area_id = member.area_id
        demographics = member.demographics or {}
        response.age_band = demographics.get("age_band")
        response.ethnic_group = demographics.get("ethnic_group")
    elif area_id is not None:
        response.area_id = area_id
    if submit:
        response.state = "submitted"
        response.submitted_at = utcnow()
        if member is not None and response.profile_consent:
            update_profile(member, questions, response.answers)
    return response


def update_profile(member: Member, questions: list[Question], answers: list[Answer]) -> list[str]:
    """Apply the answers to questions tied to the profile: an interest added for the
    choice that gives it, a profile field set to the answer. Returns what changed, as
    names of interests and fields."""
    from flask import current_app

    registry = current_app.extensions["commonwatch"].registry
    by_question = {q.id: q for q in questions}
    changed: list[str] = []
    for a in answers:
        q = by_question.get(a.question_id)
        if q is None:
            continue
        if (q.interest and q.interest in registry.watch_types and a.value is not None
                and a.value == q.interest_option and add_interest(member, q.interest)):
            changed.append(q.interest)
        if q.profile_field:
            value = a.text if q.kind == "text" else (
                q.options[a.value] if a.value is not None and 0 <= a.value < len(q.options)
                else None)
            if value and set_member_field(member, q.profile_field, value):
                changed.append(q.profile_field)
    return changed

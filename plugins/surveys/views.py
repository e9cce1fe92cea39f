"""The respondent's pages: a member's signed personal link (no sign-in), and the public
link of a survey open to anyone.

Every page of the plugin hangs off the one blueprint made here; staff_views.py adds the
staff's pages to it.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, get_locale, gettext
from flask_login import current_user
from sqlalchemy import select

from core.api import (
    Member,
    db,
    log_denied,
    lookup_postcode,
    public,
    read_personal_link,
)
from plugins.surveys import answers
from plugins.surveys.models import Question, Round, Survey
from plugins.surveys.models import Response as SurveyResponse
from plugins.surveys.rounds import is_open, round_of_message

bp = Blueprint("surveys", __name__, template_folder="templates", url_prefix="/surveys")

LANGUAGES = ("en", "cy")


def link_max_age() -> int:
    """How long a personal survey link works, in seconds (``SURVEY_LINK_DAYS``)."""
    return int(current_app.config.get("SURVEY_LINK_DAYS", 120)) * 24 * 3600


def _language(member: Member | None) -> str:
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    if member is not None:
        return member.language
    return str(get_locale() or "en")[:2]


def _questions(survey: Survey) -> list[Question]:
    return list(survey.questions)


def _closed_page(survey: Survey, round_: Round | None, language: str) -> tuple[str, int]:
    with force_locale(language):
        return render_template("surveys/closed.html", survey=survey, round=round_,
                               language=language), 410


def _answer_page(survey: Survey, round_: Round, member: Member | None,
                 response: SurveyResponse | None, language: str, action: str) -> Any:
    """Show the form, or take what it sent: saved to finish later, or sent (with every
    required question answered)."""
    questions = _questions(survey)
    with force_locale(language):
        form = answers.answer_form(questions, language, member=member,
                                   ask_postcode=member is None,
                                   formdata=request.form if request.method == "POST" else None)
        if request.method == "GET" and response is not None:
            answers.fill_form(form, questions, response)
        if request.method == "POST" and (form.send.data or form.save.data):
            submit = bool(form.send.data) or (response is not None
                                              and response.state == "submitted")
            valid = form.validate()
            if valid and not (submit and answers.missing(form, questions)):
                area_id = None
                if member is None and "postcode" in form and form["postcode"].data:
                    found = lookup_postcode(form["postcode"].data)
                    area_id = found.area_id if found is not None else None
                response = answers.save(round_, response, form, questions, member=member,
                                        submit=submit, area_id=area_id)
                db.session.commit()
                if member is None:
                    session[f"survey_response_{round_.id}"] = response.id
                if submit:
                    flash(gettext("Thank you: your answers are sent. You can change them "
                                  "with the same link until the survey closes."), "success")
                else:
                    flash(gettext("Your answers are saved. Come back with the same link to "
                                  "finish them."), "success")
                return redirect(action)
        return render_template(
            "surveys/answer.html", survey=survey, round=round_, form=form, language=language,
            items=answers.items(form, questions, language), response=response, action=action,
            member=member)


@bp.route("/answer/<token>", methods=["GET", "POST"])
@public
def answer(token: str) -> Any:
    """A member's own link from their invitation: their answers to that round, without
    signing in."""
    link = read_personal_link(token, link_max_age())
    if link.problem:
        if link.problem == "forged":
            log_denied("forged survey link")
            return render_template("surveys/link_problem.html", expired=False), 400
        return render_template("surveys/link_problem.html", expired=True), 410
    assert link.message is not None and link.member is not None
    round_ = round_of_message(link.message.id)
    if round_ is None:
        abort(404)
    survey = round_.survey
    language = _language(link.member)
    if not is_open(round_):
        return _closed_page(survey, round_, language)
    response = answers.find_response(round_, link.member)
    return _answer_page(survey, round_, link.member, response, language,
                        url_for("surveys.answer", token=token))


def open_round(survey: Survey) -> Round | None:
    """The survey's round taking answers now, if any (the latest)."""
    for round_ in reversed(survey.rounds):
        if is_open(round_):
            return round_
    return None


@bp.route("/s/<token>", methods=["GET", "POST"])
@public
def public_answer(token: str) -> Any:
    """A survey's public link: anyone may answer the open round (a signed-in member as
    themselves, once; others once per browser)."""
    survey = db.session.scalar(select(Survey).where(Survey.public_key == token))
    if survey is None or not survey.public:
        abort(404)
    user = current_user._get_current_object()
    member = user if isinstance(user, Member) else None
    language = _language(member)
    round_ = open_round(survey)
    if round_ is None:
        return _closed_page(survey, None, language)
    if member is not None:
        response = answers.find_response(round_, member)
    else:
        kept = session.get(f"survey_response_{round_.id}")
        response = db.session.get(SurveyResponse, kept) if isinstance(kept, int) else None
        if response is not None and (response.round_id != round_.id or response.member_id):
            response = None
    return _answer_page(survey, round_, member, response, language,
                        url_for("surveys.public_answer", token=token))


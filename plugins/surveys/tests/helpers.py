"""Building surveys, rounds and responses for the tests."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import select

from core.api import Member, Message, Staff, Target, db, send_message, utcnow  # noqa: F401
from plugins.surveys.models import Answer, Question, Response, Round, Section, Survey
from plugins.surveys.rounds import first_message, invitation_texts, start_round

#: Questions of the fixture survey: kind, words, choices, required.
QUESTIONS: list[dict[str, Any]] = [
    {"kind": "single", "text": "Do you feel safe after dark?", "options": ["Yes", "No"],
     "options_cy": ["Ydw", "Nac ydw"], "text_cy": "Ydych chi'n teimlo'n ddiogel yn y nos?",
     "required": True},
    {"kind": "multiple", "text": "What worries you?",
     "options": ["Burglary", "Speeding", "Drugs"]},
    {"kind": "rating", "text": "How well do we keep you informed?",
     "options": ["Badly", "Very well"], "required": True},
    {"kind": "rank", "text": "Rank your top 3 local priorities",
     "options": ["Anti-social behaviour", "Burglary", "Speeding", "Drugs"]},
    {"kind": "text", "text": "Anything else?"},
]


def make_survey(app: Flask, staff_id: int, questions: list[dict[str, Any]] | None = None,
                **fields: Any) -> int:
    """A survey of ``staff_id``'s organisation with the fixture questions; its id."""
    with app.app_context():
        staff = db.session.get(Staff, staff_id)
        survey = Survey(organisation_id=staff.organisation_id, created_by_id=staff.id,
                        title=fields.pop("title", "Community priorities"),
                        title_cy=fields.pop("title_cy", "Blaenoriaethau cymunedol"),
                        introduction=fields.pop("introduction", "Tell us what matters."),
                        public_key=fields.pop("public_key", f"key-{staff_id}"),
                        **fields)
        section = Section(title="Feeling safe", title_cy="Teimlo'n ddiogel", position=0)
        survey.sections.append(section)
        for position, q in enumerate(questions or QUESTIONS):
            survey.questions.append(Question(position=position, section=section, **q))
        db.session.add(survey)
        db.session.commit()
        return survey.id


def open_round(app: Flask, survey_id: int, staff_id: int, areas: list[str],
               invite_days: int = 1, send: bool = True) -> int:
    """Start a round aimed at ``areas`` and send its first batch; the round's id."""
    with app.app_context():
        survey = db.session.get(Survey, survey_id)
        staff = db.session.get(Staff, staff_id)
        round_ = start_round(survey, staff, Target(areas=areas), invitation_texts(survey),
                             invite_days=invite_days)
        db.session.commit()
        message = first_message(round_)
        if send:
            send_message(message, staff)
        return round_.id


def question_ids(app: Flask, survey_id: int) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Question.id).where(Question.survey_id == survey_id)
                                       .order_by(Question.position)))


def respond(app: Flask, round_id: int, member_id: int | None, answers: dict[int, Any],
            area: str | None = None, state: str = "submitted") -> int:
    """Store a response directly: ``answers`` maps question id to a choice index, a list
    of them (multiple choice, or ranks in order), a mark or words."""
    from core.api import Area

    with app.app_context():
        member = db.session.get(Member, member_id) if member_id else None
        area_id = member.area_id if member else (db.session.scalar(
            select(Area.id).where(Area.code == area)) if area else None)
        demographics = (member.demographics or {}) if member else {}
        response = Response(round_id=round_id, member_id=member_id, state=state,
                            area_id=area_id, age_band=demographics.get("age_band"),
                            ethnic_group=demographics.get("ethnic_group"),
                            submitted_at=utcnow() if state == "submitted" else None)
        kinds = dict(db.session.execute(select(Question.id, Question.kind).where(
            Question.id.in_(list(answers)))).all())
        for question_id, value in answers.items():
            if kinds[question_id] == "rank":
                response.answers += [Answer(question_id=question_id, value=v, rank=r)
                                     for r, v in enumerate(value, 1)]
            elif isinstance(value, list):
                response.answers += [Answer(question_id=question_id, value=v) for v in value]
            elif isinstance(value, str):
                response.answers.append(Answer(question_id=question_id, text=value))
            else:
                response.answers.append(Answer(question_id=question_id, value=value))
        db.session.add(response)
        db.session.commit()
        return response.id


LINK = re.compile(r"https?://[^/\s]+(/surveys/answer/[A-Za-z0-9._-]+)")


def personal_path(text: str) -> str:
    """The path of the personal survey link in an invitation's text."""
    found = LINK.search(text)
    assert found, text[:2000]
    return found.group(1)


def round_message_ids(app: Flask, round_id: int) -> list[int]:
    with app.app_context():
        round_ = db.session.get(Round, round_id)
        return [b.message_id for b in round_.batches]


def message_status(app: Flask, message_id: int) -> str:
    with app.app_context():
        return db.session.get(Message, message_id).status

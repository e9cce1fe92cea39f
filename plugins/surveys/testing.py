"""The surveys' objects in the access matrix (core/testing/matrix.py): each side's
officer builds a survey with a question, opens a round for their ward, and the side's
resident answers it; only that side's staff may see or change any of it. Loaded as a
pytest plugin through the ``pytest11`` entry point; does nothing when the plugin is
disabled in the test app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


def _survey(side: Any) -> tuple[int, int]:
    from core.api import Member, Staff, Target, db
    from plugins.surveys.models import Answer, Question, Response, Survey
    from plugins.surveys.rounds import invitation_texts, start_round

    officer = db.session.get(Staff, side.actors[f"officer_{side.key}"].id)
    survey = Survey(organisation_id=officer.organisation_id, created_by_id=officer.id,
                    title=f"{side.surname} survey", public=True,
                    public_key=f"matrix-{side.key}-public-key")
    question = Question(kind="text", text=f"{side.surname} question", position=0)
    survey.questions.append(question)
    db.session.add(survey)
    db.session.flush()
    round_ = start_round(survey, officer, Target(areas=[side.ward]), invitation_texts(survey))
    resident = db.session.get(Member, side.residents[0])
    db.session.add(Response(round_id=round_.id, member_id=resident.id, state="submitted",
                            area_id=resident.area_id,
                            answers=[Answer(question_id=question.id,
                                            text=f"{side.surname} survey answer")]))
    db.session.commit()
    return survey.id, question.id


def _state(survey_id: int) -> Callable[[], Any]:
    def snapshot() -> Any:
        from core.api import db
        from plugins.surveys.models import Survey

        survey = db.session.get(Survey, survey_id)
        if survey is None:
            return None
        return [survey.title, survey.public, survey.invite_days,
                [(q.text, q.kind, q.options) for q in survey.questions],
                [s.title for s in survey.sections], len(survey.rounds)]

    return snapshot


def pytest_commonwatch_access_matrix(app: Flask, sides: dict[str, Any]
                                     ) -> dict[str, dict[str, int]] | None:
    """A survey of each side's organisation, with a question, a round and an answer."""
    if "surveys" not in app.extensions["commonwatch"].plugins.enabled:
        return None
    surveys: dict[str, int] = {}
    questions: dict[str, int] = {}
    with app.app_context():
        for key, side in sides.items():
            surveys[key], questions[key] = _survey(side)
            side.watch(_state(surveys[key]))
            side.secrets.update({f"{side.surname} survey answer"})
            # The builder's forms, so that a post across sides would change something if
            # scoping let it through.
            side.form.update({"kind": "single", "text": f"Matrix{key} question",
                              "options": "Yes\nNo", "invite_days": "3", "round_days": "10",
                              "add_section": "y", "submit": "y", "confirm": "1"})
    return {"survey_id": surveys, "question_id": questions}

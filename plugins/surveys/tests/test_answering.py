"""Residents answer by their own signed link, without signing in; once per round."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from core.api import Member, db
from core.models import DevOutbox
from plugins.surveys.models import Answer, Response
from plugins.surveys.tests.helpers import (
    make_survey,
    open_round,
    personal_path,
    question_ids,
    respond,
)


def _invite(app, make_staff, make_member, outbox, **member):
    officer = make_staff("officer", areas=["E05900001"])
    member_id = make_member(area="E05900001", email="ann@example.org", **member)
    survey_id = make_survey(app, officer)
    round_id = open_round(app, survey_id, officer, ["E05900001"])
    email = outbox.wait_for(1)[0]
    return survey_id, round_id, member_id, email


def _body(email) -> str:
    return email.get_body(("plain",)).get_content()


def _answers(app, response_id=None):
    with app.app_context():
        query = select(Response)
        responses = db.session.scalars(query).all()
        return [(r.member_id, r.state, sorted((a.question_id, a.value, a.rank, a.text)
                                              for a in r.answers)) for r in responses]


def test_a_member_answers_by_their_own_link_without_signing_in(app, make_staff, make_member,
                                                               outbox):
    survey_id, round_id, member_id, email = _invite(app, make_staff, make_member, outbox)
    path = personal_path(_body(email))
    html = email.get_body(("html",)).get_content()
    assert path in html and "{personal_url}" not in html and "%7Bpersonal_url%7D" not in html
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Do you feel safe after dark?" in text and "Rank your top 3" in text
    q = question_ids(app, survey_id)
    data = {f"q{q[0]}": "0", f"q{q[1]}": ["0", "2"], f"q{q[2]}": "4",
            f"q{q[3]}_1": "2", f"q{q[3]}_2": "0", f"q{q[4]}": "More patrols please",
            "send": "Send your answers"}
    sent = client.post(path, data=data)
    assert sent.status_code == 302
    assert "your answers are sent" in client.get(path).get_data(as_text=True)
    assert _answers(app) == [(member_id, "submitted", sorted([
        (q[0], 0, None, None), (q[1], 0, None, None), (q[1], 2, None, None),
        (q[2], 4, None, None), (q[3], 2, 1, None), (q[3], 0, 2, None),
        (q[4], None, None, "More patrols please")]))]
    # Answering again updates the one response: never a second.
    data.update({f"q{q[0]}": "1", f"q{q[1]}": ["1"]})
    data.pop(f"q{q[4]}")
    assert client.post(path, data=data).status_code == 302
    rows = _answers(app)
    assert len(rows) == 1
    assert (q[0], 1, None, None) in rows[0][2] and (q[1], 1, None, None) in rows[0][2]
    assert all(a[0] != q[4] for a in rows[0][2])
    # The page shows the answers given, to change them.
    again = client.get(path).get_data(as_text=True)
    assert "You have answered this survey" in again
    assert 'value="1" checked' in again or 'value="1" checked' in again.replace("  ", " ")


def test_the_text_message_carries_the_link_and_the_site_copy_too(app, make_staff, make_member,
                                                                 outbox, login):
    # Whatever the time of day: in quiet hours the text message would wait for morning.
    app.config.update(QUIET_HOURS_START=0, QUIET_HOURS_END=0)
    officer = make_staff("officer", areas=["E05900001"])
    member_id = make_member(area="E05900001", phone="07700900123", channels=["sms"])
    survey_id = make_survey(app, officer)
    open_round(app, survey_id, officer, ["E05900001"])
    with app.app_context():
        sms = db.session.scalar(select(DevOutbox.text).where(DevOutbox.channel == "sms"))
    path = personal_path(sms)
    assert "{personal_url}" not in sms
    assert app.test_client().get(path).status_code == 200
    # Signed in, the member's copy of the invitation links to the survey as them.
    client = app.test_client()
    login(client, member=member_id)
    with app.app_context():
        from plugins.surveys.models import Batch

        message_id = db.session.scalar(select(Batch.message_id))
    page = client.get(f"/account/messages/{message_id}").get_data(as_text=True)
    assert "/surveys/answer/" in page and "personal_url" not in page


def test_a_forged_or_expired_link_is_refused(app, make_staff, make_member, outbox,
                                             monkeypatch):
    survey_id, round_id, member_id, email = _invite(app, make_staff, make_member, outbox)
    path = personal_path(_body(email))
    client = app.test_client()
    for forged in ("/surveys/answer/not-a-token", path[:-3] + ("AAA" if path[-3:] != "AAA"
                                                                 else "BBB")):
        response = client.get(forged)
        assert response.status_code == 400
        assert "This link does not work" in response.get_data(as_text=True)
    assert client.post("/surveys/answer/not-a-token", data={"send": "1"}).status_code == 400
    # A link signed longer ago than SURVEY_LINK_DAYS (120) has expired.
    import itsdangerous.timed

    from core.api import Message, personal_url

    old = time.time() - 121 * 24 * 3600
    with monkeypatch.context() as patch, app.app_context():
        patch.setattr(itsdangerous.timed.time, "time", lambda: old)
        message = db.session.scalar(select(Message))
        stale = personal_url(message, member_id).removeprefix("https://commonwatch.example.org")
    q = question_ids(app, survey_id)
    response = client.post(stale, data={f"q{q[0]}": "0", f"q{q[2]}": "3", "send": "1"})
    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_required_questions_are_enforced_and_answers_can_be_saved_to_finish_later(
        app, make_staff, make_member, outbox):
    survey_id, round_id, member_id, email = _invite(app, make_staff, make_member, outbox)
    path = personal_path(_body(email))
    q = question_ids(app, survey_id)
    client = app.test_client()
    # Sending without the required questions: errors by each, nothing kept.
    page = client.post(path, data={f"q{q[4]}": "Lights on the lane", "send": "1"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    # In the error summary and by each of the two questions.
    assert text.count("Answer this question") == 4
    assert "Lights on the lane" in text
    assert _answers(app) == []
    # A ranking with the same priority twice is refused.
    page = client.post(path, data={f"q{q[0]}": "0", f"q{q[2]}": "3", f"q{q[3]}_1": "1",
                                   f"q{q[3]}_2": "1", "send": "1"})
    assert "Choose each priority only once" in page.get_data(as_text=True)
    assert _answers(app) == []
    # Saving keeps what was given, unsent, and the link brings it back.
    assert client.post(path, data={f"q{q[4]}": "Lights on the lane", "save": "1"}
                       ).status_code == 302
    assert _answers(app) == [(member_id, "draft", [(q[4], None, None, "Lights on the lane")])]
    fresh = app.test_client().get(path).get_data(as_text=True)
    assert "Your saved answers are below" in fresh and "Lights on the lane" in fresh
    assert app.test_client().post(path, data={f"q{q[0]}": "1", f"q{q[2]}": "2",
                                              f"q{q[4]}": "Lights", "send": "1"}
                                  ).status_code == 302
    rows = _answers(app)
    assert len(rows) == 1 and rows[0][1] == "submitted"


def test_one_response_per_member_per_round(app, make_staff, make_member):
    officer = make_staff("officer", areas=["E05900001"])
    member_id = make_member(area="E05900001")
    survey_id = make_survey(app, officer)
    round_id = open_round(app, survey_id, officer, ["E05900001"], send=False)
    q = question_ids(app, survey_id)
    respond(app, round_id, member_id, {q[0]: 0})
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        respond(app, round_id, member_id, {q[0]: 1})
    with app.app_context():
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Response)) == 1
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 1


def test_a_public_link_takes_answers_from_anyone_with_a_postcode(app, make_staff, postcode_for):
    officer = make_staff("officer", areas=["E10900001"])
    survey_id = make_survey(app, officer, public=True, public_key="open-to-all")
    open_round(app, survey_id, officer, ["E05900001"], send=False)
    q = question_ids(app, survey_id)
    client = app.test_client()
    page = client.get("/surveys/s/open-to-all")
    assert page.status_code == 200 and "Your postcode (optional)" in page.get_data(as_text=True)
    bad = client.post("/surveys/s/open-to-all", data={f"q{q[0]}": "0", f"q{q[2]}": "5",
                                                      "postcode": "ZZ1 1ZZ", "send": "1"})
    assert bad.status_code == 200 and _answers(app) == []
    postcode = postcode_for("E05900003")
    assert client.post("/surveys/s/open-to-all", data={
        f"q{q[0]}": "0", f"q{q[2]}": "5", "postcode": postcode, "send": "1"}).status_code == 302
    with app.app_context():
        from core.api import lookup_postcode

        response = db.session.scalar(select(Response))
        assert response.member_id is None
        assert response.area_id == lookup_postcode(postcode).area_id
    # The same browser updates its own answers; a private survey has no public page.
    assert client.post("/surveys/s/open-to-all", data={
        f"q{q[0]}": "1", f"q{q[2]}": "5", "send": "1"}).status_code == 302
    assert len(_answers(app)) == 1
    assert app.test_client().get("/surveys/s/nothing-here").status_code == 404


def test_a_closed_round_takes_no_answers(app, make_staff, make_member, outbox):
    survey_id, round_id, member_id, email = _invite(app, make_staff, make_member, outbox)
    path = personal_path(_body(email))
    from datetime import timedelta

    from core.api import utcnow
    from plugins.surveys.models import Round

    with app.app_context():
        db.session.get(Round, round_id).closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    q = question_ids(app, survey_id)
    response = app.test_client().post(path, data={f"q{q[0]}": "0", f"q{q[2]}": "3",
                                                  "send": "1"})
    assert response.status_code == 410 and "This survey closed on" in response.get_data(
        as_text=True)
    assert _answers(app) == []


def test_the_page_speaks_the_member_s_language(app, make_staff, make_member, outbox):
    survey_id, round_id, member_id, email = _invite(app, make_staff, make_member, outbox,
                                                    language="cy")
    assert email["Subject"].startswith("Arolwg: Blaenoriaethau cymunedol")
    page = app.test_client().get(personal_path(_body(email))).get_data(as_text=True)
    assert "Ydych chi&#39;n teimlo&#39;n ddiogel yn y nos?" in page
    assert "Nac ydw" in page and 'lang="cy"' in page


@pytest.mark.parametrize("commonwatch_plugins", ["surveys,rural_watch"])
def test_answers_update_the_profile_only_with_consent(app, make_staff, make_member, outbox):
    officer = make_staff("officer", areas=["E05900001"])
    questions = [
        {"kind": "single", "text": "Do you keep horses?", "options": ["Yes", "No"],
         "interest": "rural_watch.horse", "interest_option": 0},
        {"kind": "text", "text": "Name of your yard", "profile_field": "rural_watch.horse_yard"},
    ]
    survey_id = make_survey(app, officer, questions=questions)
    agree = make_member(area="E05900001", email="agree@example.org")
    refuse = make_member(area="E05900001", email="refuse@example.org")
    open_round(app, survey_id, officer, ["E05900001"])
    emails = outbox.wait_for(2)
    q = question_ids(app, survey_id)
    for email in emails:
        consent = email["To"].startswith("agree")
        path = personal_path(_body(email))
        page = app.test_client().get(path).get_data(as_text=True)
        assert "Updates your profile if you agree below" in page
        data = {f"q{q[0]}": "0", f"q{q[1]}": "Hill Farm Stables", "send": "1"}
        if consent:
            data["profile_consent"] = "y"
        assert app.test_client().post(path, data=data).status_code == 302
    with app.app_context():
        agreed, refused = db.session.get(Member, agree), db.session.get(Member, refuse)
        assert [i.watch_type for i in agreed.interests] == ["rural_watch.horse"]
        assert {v.name: v.value for v in agreed.field_values} == {
            "rural_watch.horse_yard": "Hill Farm Stables"}
        assert refused.interests == [] and refused.field_values == []

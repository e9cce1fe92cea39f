"""Staff build a survey, invite residents as they aim a message, spread over days and
repeated on a schedule; disabling the plugin removes it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from core.api import Member, Message, db, utcnow
from core.models import Delivery
from plugins.surveys.models import Invitation, Question, Round, Survey
from plugins.surveys.rounds import first_message, send_due_batches, start_due_rounds
from plugins.surveys.tests.helpers import make_survey, open_round, question_ids


def test_an_officer_builds_a_survey_and_bad_input_is_explained(app, make_staff, login):
    officer = make_staff("officer", areas=["E05900001"])
    client = login(app.test_client(), staff=officer)
    page = client.post("/surveys/staff/new", data={"title": " ", "invite_days": "0",
                                                   "round_days": "28", "submit": "y"})
    text = page.get_data(as_text=True)
    assert "Enter a title" in text and "Enter a number from 1 to 60" in text
    response = client.post("/surveys/staff/new", data={
        "title": "Safer streets", "title_cy": "Strydoedd mwy diogel",
        "introduction": "Help us plan patrols.", "invite_days": "5", "round_days": "21",
        "repeat_months": "3", "public": "y", "submit": "y"})
    assert response.status_code == 302
    base = response.location
    with app.app_context():
        survey = db.session.scalar(select(Survey))
        assert (survey.title_cy, survey.invite_days, survey.round_days, survey.repeat_months,
                survey.public) == ("Strydoedd mwy diogel", 5, 21, 3, True)
    assert client.post(f"{base}/sections", data={"title": "Your street",
                                                 "add_section": "y"}).status_code == 302
    # One choice is not a choice; Welsh choices must match the English ones.
    page = client.post(f"{base}/questions/new", data={
        "kind": "single", "text": "Do you feel safe?", "options": "Yes",
        "options_cy": "Ydw\nNac ydw\nEfallai", "submit": "y"}).get_data(as_text=True)
    assert "Give at least two choices, one per line" in page
    assert "Give as many Welsh choices as English ones" in page
    assert "Do you feel safe?" in page  # the answers are kept
    assert client.post(f"{base}/questions/new", data={
        "kind": "single", "text": "Do you feel safe?", "text_cy": "Ydych chi'n ddiogel?",
        "options": "Yes\nNo", "options_cy": "Ydw\nNac ydw", "required": "y",
        "submit": "y"}).status_code == 302
    # A top-3 question with no choices of its own takes the force's priorities.
    assert client.post(f"{base}/questions/new", data={
        "kind": "rank", "text": "Your top 3 priorities", "submit": "y"}).status_code == 302
    with app.app_context():
        single, rank = db.session.scalars(select(Question).order_by(Question.position))
        assert (single.options_cy, single.required) == (["Ydw", "Nac ydw"], True)
        assert rank.options[:3] == ["Anti-social behaviour", "Burglary", "Drug dealing"]
    page = client.get(base).get_data(as_text=True)
    assert "Do you feel safe?" in page and "Invite residents to round 1" in page


def test_inviting_goes_through_the_message_form_and_then_the_questions_are_fixed(
        app, make_staff, make_member, login):
    officer = make_staff("officer", areas=["E05900001"])
    make_member(area="E05900001")
    survey_id = make_survey(app, officer)
    client = login(app.test_client(), staff=officer)
    base = f"/surveys/staff/{survey_id}"
    form = client.get(f"{base}/invite").get_data(as_text=True)
    assert "{personal_url}" in form and "Survey: Community priorities" in form
    # Aiming outside the officer's areas is refused by the field, and nothing is made.
    data = {"title": "Survey: Community priorities", "priority": "4",
            "body": "[Answer the survey]({personal_url})",
            "plain_text": "Answer at {personal_url}", "category": "community_news",
            "invite_days": "3"}
    page = client.post(f"{base}/invite", data={**data, "areas": "E05900012"})
    assert "outside your areas" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Round)) == 0
    response = client.post(f"{base}/invite", data={**data, "areas": "E05900001"})
    assert response.status_code == 302 and "/check" in response.location
    with app.app_context():
        round_ = db.session.scalar(select(Round))
        message = first_message(round_)
        assert (round_.number, round_.invite_days, message.status) == (1, 3, "draft")
    # Once a round has started, questions stay as they are.
    page = client.post(f"{base}/questions/new", data={
        "kind": "text", "text": "Late question", "submit": "y"}, follow_redirects=True)
    assert "Questions cannot change once a round has started" in page.get_data(as_text=True)
    q = question_ids(app, survey_id)
    assert client.post(f"{base}/questions/{q[0]}/delete", data={"confirm": "1"}
                       ).status_code == 302
    assert len(question_ids(app, survey_id)) == len(q)


def test_invitations_are_spread_over_days_and_nobody_is_asked_twice(app, make_staff,
                                                                     make_member, outbox):
    officer = make_staff("officer", areas=["E05900001"])
    people = {make_member(area="E05900001", email=f"p{i}@example.org") for i in range(5)}
    make_member(area="E05900002", email="elsewhere@example.org")
    survey_id = make_survey(app, officer)
    round_id = open_round(app, survey_id, officer, ["E05900001"], invite_days=2)
    outbox.wait_for(3)

    def deliveries():
        with app.app_context():
            return sorted(db.session.scalars(select(Delivery.member_id)))

    first = deliveries()
    assert len(first) == 3 and set(first) <= people  # ceil(5 / 2) on the first day
    with app.app_context():
        sent_at = first_message(db.session.get(Round, round_id)).sent_at
    assert send_due_batches_at(app, sent_at + timedelta(hours=23)) == 0
    assert send_due_batches_at(app, sent_at + timedelta(days=1, minutes=1)) == 1
    outbox.wait_for(5)
    assert sorted(deliveries()) == sorted(people)
    # The round is fully invited: later runs send nothing more.
    assert send_due_batches_at(app, sent_at + timedelta(days=2, minutes=1)) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 5


def send_due_batches_at(app, at):
    with app.app_context():
        return send_due_batches(at)


def test_later_batches_wait_for_the_first_to_be_sent(app, make_staff, make_member):
    officer = make_staff("officer", areas=["E05900001"])
    for i in range(4):
        make_member(area="E05900001", email=f"w{i}@example.org")
    survey_id = make_survey(app, officer)
    open_round(app, survey_id, officer, ["E05900001"], invite_days=2, send=False)
    assert send_due_batches_at(app, utcnow() + timedelta(days=3)) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_a_repeating_survey_opens_its_next_round_for_its_sender_to_send(
        app, make_staff, make_member, outbox):
    officer = make_staff("officer", areas=["E05900001"], email="pc.jones@police.example.org")
    make_member(area="E05900001")
    survey_id = make_survey(app, officer, repeat_months=3)
    open_round(app, survey_id, officer, ["E05900001"])
    outbox.wait_for(1)
    with app.app_context():
        assert start_due_rounds(utcnow() + timedelta(days=80)) == 0
        assert start_due_rounds(utcnow() + timedelta(days=93)) == 1
        rounds = db.session.scalars(select(Round).order_by(Round.number)).all()
        assert [r.number for r in rounds] == [1, 2] and rounds[1].scheduled
        assert rounds[1].target == rounds[0].target
        assert first_message(rounds[1]).status == "draft"
        message_id = first_message(rounds[1]).id
    (mail,) = outbox.to("pc.jones@police.example.org")
    assert "Round 2" in mail["Subject"] and f"/staff/messages/{message_id}/check" in str(
        mail.get_body(("plain",)).get_content())


def test_an_ordinary_message_carries_no_personal_link(app, make_staff):
    officer = make_staff("officer", areas=["E05900001"])
    survey_id = make_survey(app, officer)
    open_round(app, survey_id, officer, ["E05900001"], send=False)
    with app.app_context():
        plugins = app.extensions["commonwatch"].plugins
        invitation = db.session.scalar(select(Message))
        other = Message(id=10_000, title="t")
        assert plugins.call("commonwatch_message_link", message=invitation) == "surveys.answer"
        assert plugins.call("commonwatch_message_link", message=other) is None


def test_answers_are_in_the_member_s_data_download(app, make_staff, make_member, login):
    officer = make_staff("officer", areas=["E05900001"])
    member = make_member(area="E05900001")
    survey_id = make_survey(app, officer)
    from plugins.surveys.tests.helpers import respond

    round_id = open_round(app, survey_id, officer, ["E05900001"], send=False)
    q = question_ids(app, survey_id)
    respond(app, round_id, member, {q[0]: 1, q[3]: [2, 0, 1], q[4]: "Lights please"})
    client = login(app.test_client(), member=member)
    data = client.get("/account/my-data.json").get_json()
    (response,) = data["plugins"]["surveys"]["survey_responses"]
    assert response["survey"] == "Community priorities" and response["state"] == "submitted"
    assert response["answers"] == [
        {"question": "Do you feel safe after dark?", "answer": "No", "rank": None},
        {"question": "Rank your top 3 local priorities", "answer": "Speeding", "rank": 1},
        {"question": "Rank your top 3 local priorities", "answer": "Anti-social behaviour",
         "rank": 2},
        {"question": "Rank your top 3 local priorities", "answer": "Burglary", "rank": 3},
        {"question": "Anything else?", "answer": "Lights please", "rank": None}]


def test_disabling_surveys_removes_their_pages_permissions_rule_and_command(make_app):
    on = make_app(PLUGINS="surveys")
    off = make_app(PLUGINS="none")
    assert any(r.rule.startswith("/surveys/") for r in on.url_map.iter_rules())
    assert not any(r.rule.startswith("/surveys/") for r in off.url_map.iter_rules())
    names = {"surveys.manage", "surveys.respondents", "surveys.export"}
    assert names <= set(on.extensions["commonwatch"].registry.permissions)
    assert not names & set(off.extensions["commonwatch"].registry.permissions)
    assert "surveys.invited" in on.extensions["commonwatch"].registry.targeting_rules
    assert "surveys.invited" not in off.extensions["commonwatch"].registry.targeting_rules
    assert "surveys" in on.cli.commands and "surveys" not in off.cli.commands
    with off.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 0

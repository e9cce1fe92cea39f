"""Raising a concern, routing it to the right team, and the team's work on it: replies
the resident is told of, internal notes they never see, statuses, assignment, merging,
and concerns raised for someone at a community centre."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.api import Area, Member, Staff, db
from core.models import DevOutbox
from plugins.surgery import cases
from plugins.surgery.models import Case, Entry

WARD_1, WARD_2, WARD_B = "E05900001", "E05900002", "E05900012"
DISTRICT = "E07900001"
INTERNAL_NOTE = "Informant at number 12 says the van belongs to Dylan"


def _area(code: str) -> Area:
    return db.session.scalar(select(Area).where(Area.code == code))


@pytest.fixture
def team(make_staff, make_member):
    """Officers of wards 1 and 2, a supervisor of their district, and a resident of
    ward 1 who gets email and text messages."""
    return {
        "officer_1": make_staff("officer", areas=[WARD_1], name="PC Ward One"),
        "officer_2": make_staff("officer", areas=[WARD_2], name="PC Ward Two"),
        "supervisor": make_staff("supervisor", areas=[DISTRICT], name="Sgt District"),
        "resident": make_member(area=WARD_1, name="Rhian Resident", phone="+447400900123",
                                channels=["email", "sms"]),
    }


def _raise(client, **data):
    form = {"topic": "speeding", "description": "Cars race down Mill Lane at night",
            "location": "Mill Lane", "postcode": "", "reply_channel": "email",
            "submit": "Send"}
    form.update(data)
    return client.post("/surgery/contact", data=form)


def _only_case(app) -> Case:
    with app.app_context():
        found = db.session.scalars(select(Case)).all()
        assert len(found) == 1
        db.session.expunge_all()
        return found[0]


# -- routing ----------------------------------------------------------------------------------


def test_a_concern_goes_to_the_team_of_the_residents_address(app, client, login, team):
    login(client, member=team["resident"])
    page = client.get("/surgery/contact").get_data(as_text=True)
    assert "call 999" in page and "call 101" in page
    response = _raise(client)
    assert response.status_code == 302
    found = _only_case(app)
    with app.app_context():
        assert db.session.get(Area, found.team_area_id).code == WARD_1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert found.reference in page and "Cars race down Mill Lane" in page


def test_a_concern_about_another_place_goes_to_that_places_team(
        app, client, login, team, postcode_for):
    login(client, member=team["resident"])
    assert _raise(client, postcode=postcode_for(WARD_2)).status_code == 302
    found = _only_case(app)
    with app.app_context():
        assert db.session.get(Area, found.team_area_id).code == WARD_2
        assert db.session.get(Area, found.area_id).path.startswith(_area(WARD_2).path)


def test_without_a_ward_team_the_district_team_takes_it(app, client, login, make_staff,
                                                        make_member, postcode_for):
    make_staff("officer", areas=[DISTRICT])
    make_staff("officer", areas=[WARD_B])  # another district's team: not this one's
    resident = make_member(area=WARD_2)
    login(client, member=resident)
    assert _raise(client).status_code == 302
    with app.app_context():
        assert db.session.get(Area, _only_case(app).team_area_id).code == DISTRICT


def test_police_take_concerns_before_a_council_working_the_same_ward(
        app, make_staff, make_member):
    make_staff("officer", areas=[WARD_1], organisation="ashendry-council")
    make_staff("officer", areas=[WARD_1], organisation="wealdshire-police")
    with app.app_context():
        organisation, team_area = cases.route(_area(WARD_1))
        assert organisation.slug == "wealdshire-police" and team_area.code == WARD_1


def test_a_police_team_takes_concerns_before_a_watch_association_working_closer(
        app, make_staff):
    make_staff("supervisor", areas=[WARD_1], organisation="wealdshire-nhw")
    make_staff("officer", areas=[DISTRICT], organisation="wealdshire-police")
    with app.app_context():
        organisation, team_area = cases.route(_area(WARD_1))
        assert organisation.slug == "wealdshire-police" and team_area.code == DISTRICT


def test_a_place_no_team_covers_is_refused_by_the_field_and_nothing_is_kept(
        app, client, login, make_staff, make_member, postcode_for):
    make_staff("officer", areas=[WARD_1])
    make_staff("coordinator", areas=[WARD_B])  # works there, but does not handle cases
    resident = make_member(area=WARD_1)
    login(client, member=resident)
    response = _raise(client, postcode=postcode_for(WARD_B),
                      description="Bikes on the footpath")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No local policing team takes concerns online for this place yet" in page
    assert "Bikes on the footpath" in page  # what they wrote is kept in the form
    with app.app_context():
        assert db.session.scalars(select(Case)).all() == []


def test_bad_input_is_refused_by_each_field(app, client, login, team):
    login(client, member=team["resident"])
    response = client.post("/surgery/contact", data={"topic": "nonsense", "description": "",
                                                     "postcode": "ZZ", "submit": "Send"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Describe your concern" in page
    assert "Enter a real postcode" in page
    assert "Choose how we should tell you about replies" in page
    with app.app_context():
        assert db.session.scalars(select(Case)).all() == []


# -- the due date -----------------------------------------------------------------------------


def test_a_concern_raised_the_thursday_before_easter_is_due_after_the_bank_holidays(
        app, team):
    thursday = datetime(2027, 3, 25, 14, 0, tzinfo=UTC)
    with app.app_context():
        member = db.session.get(Member, team["resident"])
        found = cases.submit_case(topic="drugs", description="d", area=member.area,
                                  reply_channel="email", member=member, now=thursday)
        db.session.commit()
        # Good Friday and Easter Monday are not working days in England and Wales.
        assert found.due_at == datetime(2027, 4, 5, 22, 59, 59, 999999, tzinfo=UTC)
        assert found.region == "england-and-wales"


def test_a_force_in_scotland_counts_scottish_bank_holidays(make_app, county, make_staff,
                                                           make_member):
    app = make_app(SURGERY_REGIONS=json.dumps({"wealdshire-police": "scotland"}))
    make_staff("officer", areas=[WARD_1])
    resident = make_member(area=WARD_1)
    with app.app_context():
        member = db.session.get(Member, resident)
        found = cases.submit_case(topic="drugs", description="d", area=member.area,
                                  reply_channel="email", member=member,
                                  now=datetime(2027, 3, 25, 14, 0, tzinfo=UTC))
        # Easter Monday is no bank holiday in Scotland.
        assert found.region == "scotland"
        assert found.due_at == datetime(2027, 4, 2, 22, 59, 59, 999999, tzinfo=UTC)


# -- scoping ----------------------------------------------------------------------------------


def _case_of(app, member_id: int, description: str = "Drug dealing by the park") -> int:
    with app.app_context():
        member = db.session.get(Member, member_id)
        found = cases.submit_case(topic="drugs", description=description, area=member.area,
                                  reply_channel="email", member=member)
        db.session.commit()
        return found.id


def test_an_officer_of_another_area_cannot_see_or_answer_the_case(app, make_app, login,
                                                                  team):
    case_id = _case_of(app, team["resident"])
    other = login(app.test_client(), staff=team["officer_2"])
    assert "Drug dealing by the park" not in other.get(
        "/surgery/queue?status=all").get_data(as_text=True)
    assert other.get(f"/surgery/queue/{case_id}").status_code == 404
    for action, data in (("reply", {"reply": "Hello", "status": "answered",
                                    "submit_reply": "Send"}),
                         ("note", {"note": "x", "submit_note": "Add"}),
                         ("status", {"status": "closed", "submit_status": "Change"}),
                         ("merge", {"into": "SUR-000001", "submit_merge": "Merge"}),
                         ("assign", {"assignee": str(team["officer_2"]),
                                     "submit_assign": "Assign"})):
        assert other.post(f"/surgery/queue/{case_id}/{action}", data=data).status_code == 404
    with app.app_context():
        assert db.session.scalars(select(Entry)).all() == []
        assert db.session.get(Case, case_id).status == "new"
    # The ward's own officer and the district's supervisor can.
    own = login(app.test_client(), staff=team["officer_1"])
    assert "Drug dealing by the park" in own.get(f"/surgery/queue/{case_id}").get_data(
        as_text=True)
    assert "SUR-" in own.get("/surgery/queue").get_data(as_text=True)
    supervisor = login(app.test_client(), staff=team["supervisor"])
    assert supervisor.get(f"/surgery/queue/{case_id}").status_code == 200


def test_a_case_of_another_area_cannot_be_merged_into_by_its_reference(app, login, team,
                                                                       make_member):
    theirs = _case_of(app, team["resident"])
    ours = _case_of(app, make_member(area=WARD_2), "Fly-tipping behind the shops")
    officer = login(app.test_client(), staff=team["officer_2"])
    response = officer.post(f"/surgery/queue/{ours}/merge",
                            data={"into": f"SUR-{theirs:06d}", "submit_merge": "Merge"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is no case" in page
    assert "Drug dealing by the park" not in page
    with app.app_context():
        assert db.session.get(Case, ours).merged_into_id is None


def test_another_organisations_staff_of_the_same_ward_cannot_see_it(app, login, team,
                                                                   make_staff):
    council = make_staff("officer", areas=[WARD_1], organisation="ashendry-council")
    case_id = _case_of(app, team["resident"])
    client = login(app.test_client(), staff=council)
    assert client.get(f"/surgery/queue/{case_id}").status_code == 404


def test_a_resident_cannot_open_anothers_case(app, login, team, make_member):
    case_id = _case_of(app, team["resident"])
    neighbour = login(app.test_client(), member=make_member(area=WARD_1))
    assert neighbour.get(f"/surgery/cases/{case_id}").status_code == 404
    response = neighbour.post(f"/surgery/cases/{case_id}/add",
                              data={"text": "mine now", "submit": "Add"})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalars(select(Entry)).all() == []


# -- replies, notes and what the resident sees ------------------------------------------------


def test_the_resident_reads_the_reply_and_is_emailed_but_never_sees_internal_notes(
        app, login, team, outbox):
    case_id = _case_of(app, team["resident"])
    officer = login(app.test_client(), staff=team["officer_1"])
    response = officer.post(f"/surgery/queue/{case_id}/note",
                            data={"note": INTERNAL_NOTE, "submit_note": "Add"})
    assert response.status_code == 302
    response = officer.post(f"/surgery/queue/{case_id}/reply",
                            data={"reply": "We will patrol the park this week.",
                                  "status": "answered", "submit_reply": "Send"})
    assert response.status_code == 302
    staff_page = officer.get(f"/surgery/queue/{case_id}").get_data(as_text=True)
    assert INTERNAL_NOTE in staff_page and "Told by: email" in staff_page

    mail = outbox.wait_for(1)[0]
    with app.app_context():
        resident = db.session.get(Member, team["resident"])
        assert mail["To"] == resident.email
        found = db.session.get(Case, case_id)
        assert found.status == "answered" and found.first_reply_at is not None
    text = mail.get_body(("plain",)).get_content()
    assert "We will patrol the park this week." in text
    assert f"/surgery/cases/{case_id}" in text
    assert INTERNAL_NOTE not in mail.as_string()

    client = login(app.test_client(), member=team["resident"])
    page = client.get(f"/surgery/cases/{case_id}").get_data(as_text=True)
    assert "We will patrol the park this week." in page
    assert INTERNAL_NOTE not in page and "Informant" not in page
    download = client.get("/account/my-data.json").get_data(as_text=True)
    assert "We will patrol the park this week." in download
    assert INTERNAL_NOTE not in download
    data = json.loads(download)
    entries = data["plugins"]["surgery"]["cases"][0]["entries"]
    assert [e["kind"] for e in entries] == ["reply"]


def test_a_reply_by_text_message_goes_to_the_residents_phone(app, login, make_member, team):
    resident = make_member(area=WARD_1, phone="+447400900456", channels=["sms"])
    client = login(app.test_client(), member=resident)
    assert _raise(client, reply_channel="sms").status_code == 302
    found = _only_case(app)
    officer = login(app.test_client(), staff=team["officer_1"])
    officer.post(f"/surgery/queue/{found.id}/note", data={"note": INTERNAL_NOTE,
                                                           "submit_note": "Add"})
    officer.post(f"/surgery/queue/{found.id}/reply",
                 data={"reply": "Speed checks on Friday.", "status": "answered",
                       "submit_reply": "Send"})
    with app.app_context():
        texts = db.session.scalars(select(DevOutbox)).all()
        assert [(t.channel, t.address) for t in texts] == [("sms", "+447400900456")]
        assert "Speed checks on Friday." in texts[0].text
        assert INTERNAL_NOTE not in texts[0].text
        assert db.session.scalar(select(Entry.notified).where(Entry.kind == "reply")) == "sms"


def test_the_resident_adds_information_and_the_case_goes_back_to_the_team(
        app, login, team):
    case_id = _case_of(app, team["resident"])
    officer = login(app.test_client(), staff=team["officer_1"])
    officer.post(f"/surgery/queue/{case_id}/reply",
                 data={"reply": "Which end of the park?", "status": "awaiting_resident",
                       "submit_reply": "Send"})
    client = login(app.test_client(), member=team["resident"])
    assert client.post(f"/surgery/cases/{case_id}/add",
                       data={"text": "By the north gate", "submit": "Add"}).status_code == 302
    with app.app_context():
        assert db.session.get(Case, case_id).status == "new"
    assert "By the north gate" in officer.get(f"/surgery/queue/{case_id}").get_data(
        as_text=True)
    # Empty additions are refused by the field; closed cases take none.
    response = client.post(f"/surgery/cases/{case_id}/add", data={"text": " ", "submit": "Add"})
    assert "Enter what you want to add" in response.get_data(as_text=True)
    officer.post(f"/surgery/queue/{case_id}/status",
                 data={"status": "closed", "submit_status": "Change"})
    response = client.post(f"/surgery/cases/{case_id}/add",
                           data={"text": "One more thing", "submit": "Add"})
    assert "This case is closed" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Case.closed_at).where(Case.id == case_id))
        assert [e.body for e in db.session.scalars(
            select(Entry).where(Entry.kind == "resident"))] == ["By the north gate"]


def test_assigning_gives_the_case_to_a_handler_of_its_area_only(app, login, team):
    case_id = _case_of(app, team["resident"])
    supervisor = login(app.test_client(), staff=team["supervisor"])
    page = supervisor.get(f"/surgery/queue/{case_id}").get_data(as_text=True)
    assert "PC Ward One" in page and "PC Ward Two" not in page
    response = supervisor.post(f"/surgery/queue/{case_id}/assign",
                               data={"assignee": str(team["officer_2"]), "submit_assign": "A"})
    assert response.status_code == 200 and "Not a valid choice" in response.get_data(
        as_text=True)
    response = supervisor.post(f"/surgery/queue/{case_id}/assign",
                               data={"assignee": str(team["officer_1"]), "submit_assign": "A"})
    assert response.status_code == 302
    with app.app_context():
        found = db.session.get(Case, case_id)
        assert (found.assigned_to_id, found.status) == (team["officer_1"], "assigned")
    officer = login(app.test_client(), staff=team["officer_1"])
    mine = officer.get("/surgery/queue?show=mine").get_data(as_text=True)
    assert f"SUR-{case_id:06d}" in mine


def test_merging_a_duplicate_closes_it_and_its_resident_gets_the_kept_cases_replies(
        app, login, team, make_member, outbox):
    neighbour = make_member(area=WARD_1, name="Nia Neighbour")
    kept = _case_of(app, team["resident"], "Drug dealing by the park gates")
    duplicate = _case_of(app, neighbour, "Dealing at the park every evening")
    officer = login(app.test_client(), staff=team["officer_1"])
    # Before the merge: a reply to the first resident, their addition and a note.
    officer.post(f"/surgery/queue/{kept}/reply",
                 data={"reply": "Rhian, we will call at 4 Mill Lane.", "status": "assigned",
                       "submit_reply": "Send"})
    login(app.test_client(), member=team["resident"]).post(
        f"/surgery/cases/{kept}/add", data={"text": "My son saw them too", "submit": "Add"})
    officer.post(f"/surgery/queue/{kept}/note", data={"note": INTERNAL_NOTE,
                                                      "submit_note": "Add"})
    outbox.wait_for(1)
    outbox.clear()
    response = officer.post(f"/surgery/queue/{duplicate}/merge",
                            data={"into": f"SUR-{duplicate:06d}", "submit_merge": "Merge"})
    assert "cannot be merged into itself" in response.get_data(as_text=True)
    response = officer.post(f"/surgery/queue/{duplicate}/merge",
                            data={"into": f"sur-{kept:06d}", "submit_merge": "Merge"})
    assert response.status_code == 302
    response = officer.post(f"/surgery/queue/{kept}/reply",
                            data={"reply": "Officers will visit the park tonight.",
                                  "status": "answered", "submit_reply": "Send"})
    assert "It reaches the resident of 1 merged duplicate too." in officer.get(
        response.headers["Location"]).get_data(as_text=True)
    mails = outbox.wait_for(2)
    with app.app_context():
        closed = db.session.get(Case, duplicate)
        assert closed.status == "closed"
        # The kept case was answered already: the duplicate counts as answered from the
        # merge, when its resident starts to get the kept case's replies.
        assert closed.first_reply_at == closed.merged_at
        assert closed.merged_at >= closed.submitted_at
        emails = {db.session.get(Member, m).email for m in (team["resident"], neighbour)}
    assert {m["To"] for m in mails} == emails
    client = login(app.test_client(), member=neighbour)
    page = client.get(f"/surgery/cases/{duplicate}").get_data(as_text=True)
    assert "Officers will visit the park tonight." in page
    # The other resident's words, the replies written to them before the merge and the
    # team's notes stay out.
    for private in ("Drug dealing by the park gates", "My son saw them too",
                    "we will call at 4 Mill Lane", INTERNAL_NOTE):
        assert private not in page
    # Work goes on on the kept case: the duplicate takes no reply or status change.
    for action, data in (("reply", {"reply": "x", "status": "answered",
                                    "submit_reply": "Send"}),
                         ("status", {"status": "new", "submit_status": "Change"})):
        officer.post(f"/surgery/queue/{duplicate}/{action}", data=data)
    with app.app_context():
        assert db.session.get(Case, duplicate).status == "closed"
        assert db.session.scalar(select(Entry).where(Entry.case_id == duplicate,
                                                     Entry.body == "x")) is None


def test_a_resident_whose_two_cases_were_merged_is_told_of_a_reply_once(
        app, login, team, outbox):
    kept = _case_of(app, team["resident"], "Dealing by the park")
    duplicate = _case_of(app, team["resident"], "Dealing by the park again")
    officer = login(app.test_client(), staff=team["officer_1"])
    officer.post(f"/surgery/queue/{duplicate}/merge",
                 data={"into": f"SUR-{kept:06d}", "submit_merge": "Merge"})
    officer.post(f"/surgery/queue/{kept}/reply",
                 data={"reply": "Patrols tonight.", "status": "answered",
                       "submit_reply": "Send"})
    outbox.wait_for(1)
    time.sleep(0.5)  # a second email would have arrived by now: replies go out in-process
    assert len(outbox) == 1


# -- assisted digital -------------------------------------------------------------------------


def test_a_volunteer_raises_a_concern_for_someone_without_email(
        app, login, team, make_staff, postcode_for, outbox):
    volunteer = make_staff("coordinator", areas=[WARD_1], organisation="ashendry-council",
                           name="Vera Volunteer")
    client = login(app.test_client(), staff=volunteer)
    form = {"requester_name": "Mr Arthur Price", "topic": "antisocial_behaviour",
            "description": "Youths throw stones at his windows", "postcode":
            postcode_for(WARD_2), "reply_channel": "phone", "contact_phone": "",
            "agreed": "y", "submit": "Send"}
    response = client.post("/surgery/assist", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Enter a UK phone number" in page
    assert "Youths throw stones at his windows" in page
    with app.app_context():
        assert db.session.scalars(select(Case)).all() == []

    response = client.post("/surgery/assist", data={**form, "contact_phone": "01234 567890"})
    assert response.status_code == 302
    found = _only_case(app)
    assert (found.member_id, found.requester_name, found.reply_channel,
            found.contact_phone) == (None, "Mr Arthur Price", "phone", "+441234567890")
    assert found.submitted_by_id == volunteer
    with app.app_context():
        assert db.session.get(Area, found.team_area_id).code == WARD_2

    officer = login(app.test_client(), staff=team["officer_2"])
    page = officer.get(f"/surgery/queue/{found.id}").get_data(as_text=True)
    assert "Mr Arthur Price" in page and "+441234567890" in page and "Vera Volunteer" in page
    officer.post(f"/surgery/queue/{found.id}/note",
                 data={"note": INTERNAL_NOTE, "submit_note": "Add"})
    response = officer.post(f"/surgery/queue/{found.id}/reply",
                            data={"reply": "We have spoken to the school.",
                                  "status": "answered", "submit_reply": "Send"})
    assert "Pass it on as the case says: A phone call" in officer.get(
        response.headers["Location"]).get_data(as_text=True)
    page = client.get(f"/surgery/assist/cases/{found.id}").get_data(as_text=True)
    assert "We have spoken to the school." in page and INTERNAL_NOTE not in page
    assert "Mr Arthur Price" in client.get("/surgery/assist/cases").get_data(as_text=True)
    # Nobody to email: the volunteer passes it on.
    assert list(outbox) == []
    # Another volunteer cannot open it.
    other = login(app.test_client(), staff=make_staff("coordinator", areas=[WARD_1]))
    assert other.get(f"/surgery/assist/cases/{found.id}").status_code == 404


@pytest.mark.parametrize("channel,field,message", [
    ("post", "contact_address", "Enter the address to send the reply to"),
    ("collect", "collect_at", "Enter the community centre"),
])
def test_assisted_replies_by_post_or_collection_need_where(app, login, team, make_staff,
                                                          postcode_for, channel, field,
                                                          message):
    client = login(app.test_client(), staff=team["officer_1"])
    form = {"requester_name": "Ms Price", "topic": "other", "description": "Noise",
            "postcode": postcode_for(WARD_1), "reply_channel": channel, "agreed": "y",
            "submit": "Send"}
    assert message in client.post("/surgery/assist", data=form).get_data(as_text=True)
    response = client.post("/surgery/assist", data={**form, field: "Ashendry Community Hub"})
    assert response.status_code == 302
    assert getattr(_only_case(app), field) == "Ashendry Community Hub"


def test_residents_cannot_use_the_assisted_form(app, login, team):
    client = login(app.test_client(), member=team["resident"])
    assert client.get("/surgery/assist").status_code == 403


def test_the_queue_puts_overdue_cases_first_and_marks_them(app, login, team):
    with app.app_context():
        member = db.session.get(Member, team["resident"])
        old = cases.submit_case(topic="drugs", description="old", area=member.area,
                                reply_channel="email", member=member,
                                now=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        new = cases.submit_case(topic="drugs", description="new", area=member.area,
                                reply_channel="email", member=member)
        db.session.commit()
        old_ref, new_ref = old.reference, new.reference
    page = login(app.test_client(), staff=team["officer_1"]).get(
        "/surgery/queue").get_data(as_text=True)
    assert page.index(old_ref) < page.index(new_ref)
    assert re.search(rf"{old_ref}.*?Overdue", page, re.S)


def test_staff_without_the_permission_have_no_queue(app, login, make_staff):
    coordinator = make_staff("coordinator", areas=[WARD_1])
    client = login(app.test_client(), staff=coordinator)
    assert client.get("/surgery/queue").status_code == 403
    with app.app_context():
        assert db.session.get(Staff, coordinator).role == "coordinator"


def test_case_topics_are_told_as_area_concerns(app, client, login, team, make_member):
    from datetime import timedelta

    from core.api import utcnow

    login(client, member=team["resident"])
    for topic in ("speeding", "speeding", "drugs"):  # the same resident twice: once
        assert _raise(client, topic=topic).status_code == 302
    other = app.test_client()
    login(other, member=make_member(area=WARD_1, email="second@example.org"))
    assert _raise(other, topic="speeding").status_code == 302
    with app.app_context():
        plugins = app.extensions["commonwatch"].plugins
        (concerns,) = plugins.call("commonwatch_area_concerns",
                                   since=utcnow() - timedelta(hours=1))
        totals = {}
        for c in concerns:
            assert c.source == "surgery cases"
            totals[c.label] = totals.get(c.label, 0) + c.count
        assert totals == {"Speeding and road safety": 2, "Drugs": 1}

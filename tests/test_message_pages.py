"""Staff write a message, check who it reaches, send it and follow it."""

import re

from sqlalchemy import select

from core.extensions import db
from core.models import Delivery, Message


def compose(**overrides):
    form = {
        "title": "Van seen near Mill Lane",
        "body": "A white van was seen **trying car doors**.",
        "plain_text": "A white van was seen trying car doors on Mill Lane. Call 101.",
        "category": "crime_alert", "priority": "2", "areas": "E05900001",
    }
    form.update(overrides)
    return form


def test_an_officer_writes_checks_and_sends_a_message(app, county, make_member, make_staff,
                                                      login, outbox):
    for n in range(3):
        make_member(area="E05900001", email=f"ward{n}@example.org")
    make_member(area="E05900002", email="next-ward@example.org")
    client = login(app.test_client(), staff=make_staff("officer", areas=["E05900001"]))
    assert "Write a message" in client.get("/staff/messages/").get_data(as_text=True)
    response = client.post("/staff/messages/new", data=compose())
    assert response.status_code == 302 and "/check" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert re.search(r"People</dt>\s*<dd[^>]*>\s*3\s*</dd>", page)
    assert "Ashendry North" in page
    with app.app_context():
        message = db.session.scalar(select(Message))
        assert message.status == "draft"
        assert db.session.scalar(select(Delivery.id)) is None  # checking sends nothing
    response = client.post(f"/staff/messages/{message.id}/send")
    assert response.status_code == 302
    assert sorted(m["To"] for m in outbox.wait_for(3)) == [
        "ward0@example.org", "ward1@example.org", "ward2@example.org"]
    page = client.get(f"/staff/messages/{message.id}").get_data(as_text=True)
    assert "Sent" in page and "<strong>trying car doors</strong>" in page
    # Deliveries per ward and state, while it sends and after.
    assert re.search(r"Ashendry North</td><td[^>]*>sent</td><td[^>]*>3</td>", page)
    # Sending again does nothing more.
    client.post(f"/staff/messages/{message.id}/send")
    assert len(outbox) == 3


def test_targeting_outside_the_officers_areas_is_refused_by_the_field(app, county,
                                                                     make_staff, login):
    client = login(app.test_client(), staff=make_staff("officer", areas=["E05900001"]))
    page = client.post("/staff/messages/new", data=compose(areas="E05900001, E05900012")
                       ).get_data(as_text=True)
    assert "outside your areas: E05900012" in page and "There is a problem" in page
    with app.app_context():
        assert db.session.scalar(select(Message.id)) is None


def test_a_message_needs_its_texts(app, county, make_staff, login):
    client = login(app.test_client(), staff=make_staff("officer", areas=["E05900001"]))
    page = client.post("/staff/messages/new", data=compose(title="", plain_text="")
                       ).get_data(as_text=True)
    assert "Enter a title" in page and "Enter the text for SMS and voice calls" in page
    page = client.post("/staff/messages/new", data=compose(title_cy="Fan wen")
                       ).get_data(as_text=True)
    assert "Give both the Welsh title and message, or neither" in page


def test_residents_and_coordinators_cannot_write_messages(app, county, make_member,
                                                          make_staff, login):
    resident = login(app.test_client(), member=make_member())
    assert resident.get("/staff/messages/new").status_code == 403
    coordinator = login(app.test_client(), staff=make_staff("coordinator"))
    assert coordinator.get("/staff/messages/new").status_code == 403


def test_a_message_needing_approval_is_not_sent_until_a_supervisor_approves(
        make_app, county, make_member, make_staff, login, outbox):
    app = make_app(APPROVAL_ROLES="officer", APPROVAL_CATEGORIES="missing_person")
    make_member(area="E05900001", email="ward@example.org")
    officer_id = make_staff("officer", areas=["E05900001"])
    officer = login(app.test_client(), staff=officer_id)
    officer.post("/staff/messages/new", data=compose())
    with app.app_context():
        message_id = db.session.scalar(select(Message.id))
    assert "Send for approval" in officer.get(f"/staff/messages/{message_id}/check"
                                              ).get_data(as_text=True)
    officer.post(f"/staff/messages/{message_id}/send")
    with app.app_context():
        assert db.session.get(Message, message_id).status == "awaiting_approval"
        assert db.session.scalar(select(Delivery.id)) is None
    assert len(outbox) == 0
    # The author cannot approve their own message, even with the permission.
    assert officer.post(f"/staff/messages/{message_id}/approve").status_code == 403
    # A supervisor of another district cannot see it; one over the ward approves it.
    elsewhere = login(app.test_client(), staff=make_staff("supervisor", areas=["E07900004"]))
    assert elsewhere.post(f"/staff/messages/{message_id}/approve").status_code == 404
    supervisor_id = make_staff("supervisor", areas=["E07900001"])
    supervisor = login(app.test_client(), staff=supervisor_id)
    page = supervisor.get(f"/staff/messages/{message_id}").get_data(as_text=True)
    assert "Awaiting approval" in page and "It will reach 1 person." in page
    supervisor.post(f"/staff/messages/{message_id}/approve")
    assert [m["To"] for m in outbox.wait_for(1)] == ["ward@example.org"]
    with app.app_context():
        message = db.session.get(Message, message_id)
        assert message.status == "sent" and message.approved_by_id == supervisor_id
        assert message.sender_id == officer_id


def test_approval_by_category_applies_to_any_role(make_app, county, make_staff, login):
    app = make_app(APPROVAL_CATEGORIES="missing_person")
    supervisor = login(app.test_client(), staff=make_staff("supervisor", areas=["E07900001"]))
    supervisor.post("/staff/messages/new", data=compose(category="missing_person"))
    supervisor.post("/staff/messages/new", data=compose(category="crime_alert"))
    with app.app_context():
        first, second = db.session.scalars(select(Message.id).order_by(Message.id)).all()
    supervisor.post(f"/staff/messages/{first}/send")
    supervisor.post(f"/staff/messages/{second}/send")
    with app.app_context():
        assert db.session.get(Message, first).status == "awaiting_approval"
        assert db.session.get(Message, second).status == "sent"


def test_an_officer_schedules_a_message_for_later(app, county, make_member, make_staff,
                                                  login, outbox):
    make_member(area="E05900001", email="later@example.org")
    client = login(app.test_client(), staff=make_staff("officer", areas=["E05900001"]))
    page = client.post("/staff/messages/new", data=compose(send_at="tomorrow")
                       ).get_data(as_text=True)
    assert "Enter a date and time like 2026-12-24 18:30" in page
    page = client.post("/staff/messages/new", data=compose(send_at="2020-01-01 10:00")
                       ).get_data(as_text=True)
    assert "The time to send must be in the future" in page
    client.post("/staff/messages/new", data=compose(send_at="2099-12-24 18:30"))
    with app.app_context():
        message_id = db.session.scalar(select(Message.id))
    client.post(f"/staff/messages/{message_id}/send")
    page = client.get(f"/staff/messages/{message_id}").get_data(as_text=True)
    assert "Scheduled" in page and "24 Dec 2099, 18:30" in page
    assert len(outbox) == 0
    with app.app_context():
        message = db.session.get(Message, message_id)
        assert message.status == "scheduled"
        assert message.scheduled_for.isoformat() == "2099-12-24T18:30:00+00:00"


def test_a_shape_is_given_as_geojson_and_checked_by_its_field(app, county, make_member,
                                                             make_staff, login):
    make_member(area="E05900001", postcode="HF1 1FJ", email="mill@example.org")
    client = login(app.test_client(), staff=make_staff("officer", areas=["E05900001"]))
    page = client.post("/staff/messages/new", data=compose(areas="", shape="{not json")
                       ).get_data(as_text=True)
    assert "The shape is not valid GeoJSON" in page
    page = client.post("/staff/messages/new", data=compose(
        areas="", shape='{"type": "Circle", "center": [0, 0], "radius_m": 0}')
    ).get_data(as_text=True)
    assert "radius_m must be between 0 and 50000" in page
    response = client.post("/staff/messages/new", data=compose(
        areas="", shape='{"type": "Circle", "center": [-0.587439, 51.966677], "radius_m": 300}'))
    page = client.get(response.location).get_data(as_text=True)
    assert "shape drawn (1 postcode)" in page
    assert re.search(r"People</dt>\s*<dd[^>]*>\s*1\s*</dd>", page)

"""Closing the loop: an appeal is marked with its outcome, a follow-up goes to exactly
the residents who received it, and outcome figures are counted per area and per team."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from core import reach
from core.extensions import db
from core.messaging import Target, TargetError, create_message, preview, send
from core.models import Delivery, Member, Message, Staff, utcnow
from core.outcomes import APPEAL_CATEGORIES, outcome_figures

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
WARD_A, WARD_B = "E05900001", "E05900002"  # Ashendry North and South, district E07900001
DISTRICT = "E07900001"
OTHER_WARD = "E05900012"  # Thornwick Cross Town, district E07900004 (Thornwick Cross)


def appeal(app, staff_id, title="Missing: Jo, 14, last seen on Mill Lane", areas=(WARD_A,),
           **fields):
    """A missing-person appeal from ``staff_id``, sent at noon."""
    with app.app_context():
        sender = db.session.get(Staff, staff_id)
        values = {"body": "Have you seen Jo?", "plain_text": "Have you seen Jo? Call 101.",
                  "category": "missing_person", "priority": 2, **fields}
        message = create_message(sender, title=title,
                                 target=Target(areas=list(areas)).to_json(), **values)
        db.session.add(message)
        db.session.commit()
        send(message, sender, at=NOON)
        return message.id


@pytest.fixture
def town(make_member, make_staff):
    return {
        "rita": make_member(area=WARD_A, name="Rita Recipient", email="rita@example.org"),
        "tom": make_member(area=WARD_A, name="Tom Recipient", email="tom@example.org"),
        "otto": make_member(area=WARD_A, name="Otto Optout", email="otto@example.org"),
        "una": make_member(area=WARD_A, name="Una Urgent", email="una@example.org"),
        "officer_a": make_staff("officer", areas=[WARD_A], name="PC Sam Patel"),
        "officer_b": make_staff("officer", areas=[WARD_B], name="PC Ben Jones"),
        "supervisor": make_staff("supervisor", areas=[DISTRICT], name="Sgt Ann Lee"),
    }


@pytest.fixture
def after_the_appeal(app, town, make_member, outbox):
    """The appeal went to Rita, Tom, Otto and Una; since then a neighbour moved into the
    same ward, Otto opted out of everything and Una wants only urgent messages."""
    message_id = appeal(app, town["officer_a"])
    outbox.wait_for(4)
    outbox.clear()
    town["nina"] = make_member(area=WARD_A, name="Nina Newcomer", email="nina@example.org")
    with app.app_context():
        db.session.get(Member, town["otto"]).opted_out_at = utcnow()
        db.session.get(Member, town["una"]).min_priority = 1
        db.session.commit()
        # Pre-count every area afresh: a follow-up counted from area totals would
        # include Nina.
        reach.refresh(full=True)
    return message_id


def test_an_officer_records_the_outcome(app, town, after_the_appeal, login):
    client = login(app.test_client(), staff=town["officer_a"])
    path = f"/staff/messages/{after_the_appeal}"
    page = client.get(path).get_data(as_text=True)
    assert "Not recorded yet" in page and "Compose a follow-up" in page
    form = client.get(f"{path}/outcome").get_data(as_text=True)
    assert "Record the outcome" in form and "No further action" in form
    refused = client.post(f"{path}/outcome", data={"note": "x"}).get_data(as_text=True)
    assert "Choose how it ended" in refused
    response = client.post(f"{path}/outcome", data={"outcome": "found",
                                                    "note": "Jo is home safe. Thank you."})
    assert response.status_code == 302 and response.location.endswith(f"{path}#outcome")
    page = client.get(path).get_data(as_text=True)
    assert re.search(r"Outcome</dt>\s*<dd[^>]*>\s*Found\s*</dd>", page)
    assert "Jo is home safe. Thank you." in page and "by PC Sam Patel" in page
    with app.app_context():
        message = db.session.get(Message, after_the_appeal)
        assert (message.outcome, message.outcome_by_id) == ("found", town["officer_a"])
        assert message.outcome_at is not None


def test_the_follow_up_reaches_exactly_the_original_recipients(app, town, after_the_appeal,
                                                              login, outbox):
    client = login(app.test_client(), staff=town["officer_a"])
    client.post(f"/staff/messages/{after_the_appeal}/outcome",
                data={"outcome": "found", "note": "Jo is home safe."})
    path = f"/staff/messages/{after_the_appeal}/follow-up"
    page = client.get(path).get_data(as_text=True)
    assert "Write a follow-up" in page
    assert 'value="Update: Missing: Jo, 14, last seen on Mill Lane"' in page
    assert 'value="community_news" selected' in page or \
        re.search(r'<option[^>]*selected[^>]*value="community_news"', page)
    assert "Jo is home safe." in page
    assert 'name="areas"' not in page and 'name="shape"' not in page  # no other target
    # Targeting fields posted anyway are ignored: the target is the original's recipients.
    response = client.post(path, data={
        "title": "Update: Jo has been found", "body": "Jo is home safe. Thank you.",
        "plain_text": "Jo is home safe. Thank you.", "category": "community_news",
        "priority": "2", "areas": WARD_B, "watch_types": "rural_watch.horse"})
    assert response.status_code == 302 and response.location.endswith("/check")
    check = client.get(response.location).get_data(as_text=True)
    assert re.search(r"People</dt>\s*<dd[^>]*>\s*2\s*</dd>", check), check
    assert "Residents who received “Missing: Jo, 14, last seen on Mill Lane”" in check
    with app.app_context():
        follow_up = db.session.scalar(select(Message).where(Message.title.startswith("Update")))
        assert follow_up.target["follow_up_of"] == after_the_appeal
        assert not follow_up.target["areas"] and not follow_up.target["watch_types"]
    client.post(f"/staff/messages/{follow_up.id}/send")
    assert sorted(m["To"] for m in outbox.wait_for(2)) == ["rita@example.org",
                                                            "tom@example.org"]
    with app.app_context():
        reached = set(db.session.scalars(select(Delivery.member_id).where(
            Delivery.message_id == follow_up.id)))
        assert reached == {town["rita"], town["tom"]}
        assert db.session.get(Message, follow_up.id).recipient_count == 2
    assert len(outbox) == 2


def test_the_preview_of_a_follow_up_is_counted_exactly(app, town, after_the_appeal):
    with app.app_context():
        sender = db.session.get(Staff, town["officer_a"])
        for target in (Target(follow_up_of=after_the_appeal),
                       # Naming the ward too narrows nothing: still the recipients only.
                       Target(areas=[WARD_A], follow_up_of=after_the_appeal)):
            message = create_message(sender, title="Update", body="B", plain_text="P",
                                     category="community_news", priority=2,
                                     target=target.to_json())
            counted = preview(message, sender, at=NOON)
            assert counted.people == 2, target
            assert counted.deliveries_by_channel == {"email": 2}
        # The same ward without follow_up_of reaches the newcomer as well.
        message = create_message(sender, title="All", body="B", plain_text="P",
                                 category="community_news", priority=2,
                                 target=Target(areas=[WARD_A]).to_json())
        assert preview(message, sender, at=NOON).people == 3


def test_a_supervisor_over_the_ward_may_follow_up_a_colleagues_appeal(app, town,
                                                                      after_the_appeal):
    with app.app_context():
        supervisor = db.session.get(Staff, town["supervisor"])
        message = create_message(supervisor, title="Update", body="B", plain_text="P",
                                 category="community_news", priority=2,
                                 target=Target(follow_up_of=after_the_appeal).to_json())
        assert preview(message, supervisor, at=NOON).people == 2


def test_another_areas_officer_can_neither_mark_nor_follow_up_it(app, town, after_the_appeal,
                                                                 login):
    with app.app_context():
        officer_b = db.session.get(Staff, town["officer_b"])
        draft = create_message(officer_b, title="Draft", body="B", plain_text="P",
                               category="crime_alert", priority=3, target={})
        db.session.add(draft)
        db.session.commit()
        own_draft = draft.id
        last = db.session.scalar(select(func.max(Message.id)))
    client = login(app.test_client(), staff=town["officer_b"])
    for message_id in [after_the_appeal, *range(1, last + 5)]:
        if message_id == own_draft:
            continue
        for path in (f"/staff/messages/{message_id}/outcome",
                     f"/staff/messages/{message_id}/follow-up"):
            assert client.get(path).status_code == 404, path
            response = client.post(path, data={"outcome": "arrested", "title": "Update",
                                               "body": "B", "plain_text": "P",
                                               "category": "community_news", "priority": "2"})
            assert response.status_code == 404, path
    # Their own draft has no outcome and nobody to follow up yet.
    assert client.get(f"/staff/messages/{own_draft}/outcome").status_code == 404
    assert client.get(f"/staff/messages/{own_draft}/follow-up").status_code == 404
    with app.app_context():
        message = db.session.get(Message, after_the_appeal)
        assert message.outcome is None
        assert db.session.scalar(select(func.count()).select_from(Message)) == last
        # Nor by the API: the target is refused, naming the field.
        officer_b = db.session.get(Staff, town["officer_b"])
        follow_up = create_message(officer_b, title="Update", body="B", plain_text="P",
                                   category="community_news", priority=2,
                                   target=Target(follow_up_of=after_the_appeal).to_json())
        with pytest.raises(TargetError) as refused:
            preview(follow_up, officer_b, at=NOON)
        assert "follow_up_of" in refused.value.errors
    # A resident or a coordinator cannot reach the pages at all.
    assert login(app.test_client(), member=town["rita"]).get(
        f"/staff/messages/{after_the_appeal}/outcome").status_code == 403


# -- figures --------------------------------------------------------------------------------


@contextmanager
def statements():
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


@pytest.fixture
def outcomes(app, make_staff):
    """Sent messages of three teams of one district, one of another district and one of
    another organisation, with outcomes (written directly: figures need no deliveries)."""
    staff = {
        "north": make_staff("officer", areas=[WARD_A], name="North officer"),
        "north2": make_staff("officer", areas=[WARD_A], name="North officer two"),
        "south": make_staff("officer", areas=[WARD_B], name="South officer"),
        "sergeant": make_staff("supervisor", areas=[DISTRICT], name="District sergeant"),
        "far": make_staff("officer", areas=[OTHER_WARD], name="Far officer"),
        "council": make_staff("officer", areas=[WARD_A], organisation="ashendry-council",
                              name="Council officer"),
        "admin": make_staff("force_admin", areas=["E10900001"], name="Force admin"),
        "coordinator": make_staff("coordinator", areas=[WARD_A], name="Coordinator"),
    }
    plan = [  # (sender, category, outcome, status)
        ("north", "missing_person", "found", "sent"),
        ("north", "witness_appeal", "arrested", "sent"),
        ("north", "witness_appeal", None, "sent"),
        ("north2", "suspect_description", "arrested", "sent"),
        ("north", "prevention_advice", None, "sent"),
        ("north", "witness_appeal", None, "draft"),  # not sent: not counted
        ("south", "witness_appeal", "resolved", "sent"),
        ("south", "missing_person", None, "sending"),
        ("sergeant", "witness_appeal", "no_further_action", "sent"),
        ("sergeant", "crime_alert", "resolved", "sent"),
        ("far", "witness_appeal", "found", "sent"),
        ("council", "witness_appeal", "found", "sent"),
    ]
    with app.app_context():
        for key, category, outcome, status in plan:
            sender = db.session.get(Staff, staff[key])
            message = create_message(sender, title=f"{key} {category}", body="B",
                                     plain_text="P", category=category, priority=3, target={})
            message.status, message.sent_at = status, NOON
            if outcome:
                message.outcome, message.outcome_by_id, message.outcome_at = \
                    outcome, sender.id, NOON
            db.session.add(message)
        db.session.commit()
    return staff


def table(rows):
    return {r.name: (r.sent, r.by_outcome, r.with_outcome) for r in rows}


def test_outcome_figures_per_area_and_team(app, outcomes):
    with app.app_context():
        sergeant = db.session.get(Staff, outcomes["sergeant"])
        with statements() as seen:
            figures = outcome_figures(sergeant)
        assert len(seen) == 3  # per team, per area, in all: set-based, whatever the number
        assert table(figures.by_team) == {
            "Ashendry": (2, {"no_further_action": 1, "resolved": 1}, 2),
            "Ashendry North": (5, {"found": 1, "arrested": 2}, 3),
            "Ashendry South": (2, {"resolved": 1}, 1),
        }
        assert table(figures.by_area) == {
            "Ashendry": (9, {"found": 1, "arrested": 2, "resolved": 2,
                             "no_further_action": 1}, 6)}
        assert (figures.total.sent, figures.total.with_outcome) == (9, 6)
        # Appeals only: crime alerts and advice left out.
        appeals = outcome_figures(sergeant, APPEAL_CATEGORIES)
        assert table(appeals.by_team)["Ashendry North"] == (4, {"found": 1, "arrested": 2}, 3)
        assert table(appeals.by_team)["Ashendry"] == (1, {"no_further_action": 1}, 1)
        assert round(appeals.total.share, 3) == round(5 / 7, 3)

        admin = db.session.get(Staff, outcomes["admin"])
        force = outcome_figures(admin)
        assert table(force.by_area) == {
            "Ashendry": (9, {"found": 1, "arrested": 2, "resolved": 2,
                             "no_further_action": 1}, 6),
            "Thornwick Cross": (1, {"found": 1}, 1),
        }
        # An officer sees their own team's (their ward colleague's too), nothing else.
        north = outcome_figures(db.session.get(Staff, outcomes["north"]))
        assert table(north.by_team) == {"Ashendry North": (5, {"found": 1, "arrested": 2}, 3)}
        # The other organisation's officer in the same ward sees only their own.
        council = outcome_figures(db.session.get(Staff, outcomes["council"]))
        assert table(council.by_team) == {"Ashendry North": (1, {"found": 1}, 1)}


def test_a_deleted_senders_messages_leave_the_figures_as_they_leave_the_lists(app, outcomes):
    """Figures follow message_scope: a message whose sender's account is gone is in
    nobody's scope, as on the messages page."""
    with app.app_context():
        db.session.delete(db.session.get(Staff, outcomes["far"]))
        db.session.commit()
        figures = outcome_figures(db.session.get(Staff, outcomes["admin"]))
        assert "Thornwick Cross" not in table(figures.by_area)
        assert figures.total.sent == 9


def test_the_outcome_figures_page(app, outcomes, login):
    client = login(app.test_client(), staff=outcomes["sergeant"])
    page = client.get("/staff/outcomes").get_data(as_text=True)
    assert "Outcome figures" in page and "7 messages sent, 5 with an outcome (71%)." in page
    assert re.search(r'<th scope="row"[^>]*>Ashendry North</th>\s*'
                     r'(<td[^>]*>\s*\d+\s*</td>\s*){5}<td[^>]*>3 \(75%\)</td>', page), page
    everything = client.get("/staff/outcomes?which=all").get_data(as_text=True)
    assert "9 messages sent, 6 with an outcome (67%)." in everything
    crime = client.get("/staff/outcomes?which=crime_alert").get_data(as_text=True)
    assert "1 message sent, 1 with an outcome (100%)." in crime
    assert "Thornwick" not in everything
    admin = login(app.test_client(), staff=outcomes["admin"])
    assert "Thornwick Cross" in admin.get("/staff/outcomes?which=all").get_data(as_text=True)
    # Coordinators do not send messages, so they have no figures either.
    coordinator = login(app.test_client(), staff=outcomes["coordinator"])
    assert coordinator.get("/staff/outcomes").status_code == 403

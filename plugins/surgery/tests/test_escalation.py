"""Escalation: supervisors are told once when an unanswered concern is due within a day,
and once more when it is past its due date.

The dates are around Easter 2027: Good Friday is 26 March and Easter Monday 29 March,
and British Summer Time starts on Sunday 28 March. A concern raised on Thursday 25 March
is received that day; its five working days are 30, 31 March and 1, 2 and 5 April, so it
is due by the end of Monday 5 April, UK time (22:59:59.999999 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.api import Area, Staff, db, utcnow
from plugins.surgery import cases
from plugins.surgery.models import Case, Entry

NORTH = "E05900001"  # a ward of Ashendry
ASHENDRY, BRACKENFORD = "E07900001", "E07900002"  # districts
MILLBROOK_EAST = "E05900009"  # a ward of Millbrook Vale, where no supervisor works
WEALDSHIRE = "E10900001"  # the force area

SUBMITTED = datetime(2027, 3, 25, 12, 0, tzinfo=UTC)  # Thursday, before Easter
DUE = datetime(2027, 4, 5, 22, 59, 59, 999999, tzinfo=UTC)  # end of Monday 5 April, BST
FRIDAY_BEFORE = datetime(2027, 4, 2, 9, 0, tzinfo=UTC)  # 10:00 BST, 3 days before due
MONDAY_MORNING = datetime(2027, 4, 5, 8, 0, tzinfo=UTC)  # 09:00 BST on the due day
TUESDAY_MORNING = datetime(2027, 4, 6, 8, 0, tzinfo=UTC)  # the day after


@pytest.fixture
def people(make_staff):
    return {
        "officer": make_staff("officer", areas=[NORTH], email="officer@police.example.org"),
        "officer_millbrook": make_staff("officer", areas=[MILLBROOK_EAST],
                                        email="millbrook@police.example.org"),
        "supervisor": make_staff("supervisor", areas=[ASHENDRY], name="Sergeant Ashendry",
                                 email="sergeant.ashendry@police.example.org"),
        "other_supervisor": make_staff("supervisor", areas=[BRACKENFORD],
                                       email="sergeant.brackenford@police.example.org"),
        "council_supervisor": make_staff("supervisor", areas=[ASHENDRY],
                                         organisation="ashendry-council",
                                         email="manager@council.example.org"),
        "former_supervisor": make_staff("supervisor", areas=[ASHENDRY], active=False,
                                        email="retired@police.example.org"),
        "force_admin": make_staff("force_admin", areas=[WEALDSHIRE], name="Force Admin",
                                  email="admin@police.example.org"),
    }


@pytest.fixture
def raise_concern(app, people):
    """Raise a concern about an area at a given time; returns (id, reference)."""

    def make(code: str = NORTH, submitted: datetime = SUBMITTED,
             first_reply: datetime | None = None) -> tuple[int, str]:
        with app.app_context():
            area = db.session.scalar(select(Area).where(Area.code == code))
            found = cases.submit_case(topic="speeding", description="Cars race at night",
                                      area=area, reply_channel="email",
                                      requester_name="A resident", now=submitted)
            if first_reply is not None:
                found.first_reply_at, found.status = first_reply, "answered"
            db.session.commit()
            return found.id, found.reference

    return make


def escalate(app, now: datetime) -> int:
    with app.app_context():
        return cases.escalate(now=now)


def subjects(outbox, address: str) -> list[str]:
    return [m["Subject"] for m in outbox.to(address)]


def test_the_due_date_counts_past_easter(app, raise_concern):
    case_id, _ = raise_concern()
    with app.app_context():
        assert db.session.get(Case, case_id).due_at == DUE


def test_supervisor_told_once_when_due_within_a_day_then_once_when_overdue(
        app, raise_concern, outbox):
    case_id, reference = raise_concern()
    supervisor = "sergeant.ashendry@police.example.org"

    assert escalate(app, FRIDAY_BEFORE) == 0  # three days to go: nobody is told
    assert list(outbox) == []

    assert escalate(app, MONDAY_MORNING) == 1
    assert [m["To"] for m in outbox] == [supervisor]
    (subject,) = subjects(outbox, supervisor)
    assert subject.startswith(f"Surgery case {reference} is due within a day")
    body = outbox[0].get_body(("plain",)).get_content()
    assert "Ashendry North" in body and "Speeding and road safety" in body
    assert "Monday 5 April 2027" in body
    assert f"https://commonwatch.example.org/surgery/queue/{case_id}" in outbox.links(outbox[0])

    # Later that day, and the last instant before the due date passes: nothing more.
    assert escalate(app, MONDAY_MORNING + timedelta(hours=3)) == 0
    assert escalate(app, DUE) == 0
    assert len(outbox) == 1

    assert escalate(app, DUE + timedelta(microseconds=1)) == 1
    assert len(outbox) == 2
    assert subjects(outbox, supervisor)[1].startswith(
        f"Surgery case {reference} is past its due date")
    assert escalate(app, TUESDAY_MORNING) == 0
    assert escalate(app, TUESDAY_MORNING + timedelta(days=7)) == 0
    assert len(outbox) == 2

    with app.app_context():
        found = db.session.get(Case, case_id)
        assert found.escalation == "overdue"
        assert found.escalated_at == DUE + timedelta(microseconds=1)
        events = db.session.scalars(select(Entry.body).where(
            Entry.case_id == case_id, Entry.kind == "escalated").order_by(Entry.id)).all()
        assert events == ["due-soon: Sergeant Ashendry", "overdue: Sergeant Ashendry"]


def test_only_supervisors_of_the_case_are_told(app, raise_concern, outbox):
    raise_concern()
    escalate(app, MONDAY_MORNING)
    escalate(app, TUESDAY_MORNING)
    assert {m["To"] for m in outbox} == {"sergeant.ashendry@police.example.org"}
    # Not a supervisor of another district, of another organisation working the same
    # district, an inactive one, the force admin while a supervisor is there, or officers.
    for address in ("sergeant.brackenford@police.example.org", "manager@council.example.org",
                    "retired@police.example.org", "admin@police.example.org",
                    "officer@police.example.org"):
        assert outbox.to(address) == []


def test_a_case_first_seen_overdue_is_told_once_as_overdue(app, raise_concern, outbox):
    _, reference = raise_concern()
    assert escalate(app, TUESDAY_MORNING) == 1
    assert escalate(app, TUESDAY_MORNING + timedelta(hours=1)) == 0
    assert [m["Subject"].split(" – ")[0] for m in outbox] == [
        f"Surgery case {reference} is past its due date"]


def test_an_answered_case_is_never_escalated(app, raise_concern, outbox):
    case_id, _ = raise_concern(first_reply=SUBMITTED + timedelta(days=1))
    for now in (MONDAY_MORNING, TUESDAY_MORNING, TUESDAY_MORNING + timedelta(days=30)):
        assert escalate(app, now) == 0
    assert list(outbox) == []
    with app.app_context():
        assert db.session.get(Case, case_id).escalation is None


def test_a_case_answered_after_the_warning_is_not_told_overdue(app, people, raise_concern,
                                                               outbox):
    case_id, _ = raise_concern()
    assert escalate(app, MONDAY_MORNING) == 1
    with app.app_context():
        cases.reply(db.session.get(Case, case_id), db.session.get(Staff, people["officer"]),
                    "We will patrol tonight.", now=MONDAY_MORNING + timedelta(hours=2))
    assert escalate(app, TUESDAY_MORNING) == 0
    assert len(outbox.to("sergeant.ashendry@police.example.org")) == 1


def test_with_no_supervisor_the_force_admin_is_told(app, raise_concern, outbox):
    case_id, reference = raise_concern(MILLBROOK_EAST)
    with app.app_context():
        assert db.session.get(Case, case_id).team_area.code == MILLBROOK_EAST
    assert escalate(app, MONDAY_MORNING) == 1
    assert [m["To"] for m in outbox] == ["admin@police.example.org"]
    assert outbox[0]["Subject"].startswith(f"Surgery case {reference} is due within a day")


def test_the_command_escalates_with_the_clock(app, raise_concern, outbox):
    # Raised a fortnight ago and never answered: overdue now, whatever the date.
    _, reference = raise_concern(submitted=utcnow() - timedelta(days=14))
    runner = app.test_cli_runner()

    result = runner.invoke(args=["surgery", "escalate"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "escalated 1 cases"
    assert subjects(outbox, "sergeant.ashendry@police.example.org") == [
        f"Surgery case {reference} is past its due date – Commonwatch"]

    result = runner.invoke(args=["surgery", "escalate"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "escalated 0 cases"
    assert len(outbox) == 1


def test_a_case_exactly_a_window_before_its_due_date_is_not_counted(app, raise_concern,
                                                                      outbox):
    raise_concern()
    # Due soon means strictly within the window (sla.status_of): not yet at this instant.
    assert escalate(app, DUE - timedelta(hours=24)) == 0
    assert list(outbox) == []
    assert escalate(app, DUE - timedelta(hours=24) + timedelta(microseconds=1)) == 1


def test_the_email_names_the_window_configured(make_app, people, outbox):
    app = make_app(SURGERY_ESCALATE_HOURS=48)
    with app.app_context():
        area = db.session.scalar(select(Area).where(Area.code == NORTH))
        found = cases.submit_case(topic="drugs", description="Dealing", area=area,
                                  reply_channel="email", requester_name="A resident",
                                  now=SUBMITTED)
        db.session.commit()
        reference = found.reference
        # Sunday 4 April, 10:00 BST: 38 hours before the due date.
        assert cases.escalate(now=datetime(2027, 4, 4, 9, 0, tzinfo=UTC)) == 1
    (subject,) = subjects(outbox, "sergeant.ashendry@police.example.org")
    assert subject.startswith(f"Surgery case {reference} is due within 48 hours")


def test_when_no_email_goes_the_next_run_tries_again(make_app, people, outbox):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    broken = make_app(MAIL_PORT=closed_port)
    with broken.app_context():
        area = db.session.scalar(select(Area).where(Area.code == NORTH))
        case_id = cases.submit_case(topic="drugs", description="Dealing", area=area,
                                    reply_channel="email", requester_name="A resident",
                                    now=SUBMITTED).id
        db.session.commit()
        assert cases.escalate(now=MONDAY_MORNING) == 0
        found = db.session.get(Case, case_id)
        assert found.escalation is None
        assert db.session.scalars(select(Entry).where(Entry.case_id == case_id)).all() == []
    assert list(outbox) == []

    working = make_app()
    with working.app_context():
        assert cases.escalate(now=MONDAY_MORNING + timedelta(minutes=15)) == 1
        assert db.session.get(Case, case_id).escalation == "due-soon"
    assert len(outbox.to("sergeant.ashendry@police.example.org")) == 1


def test_a_supervisor_who_could_not_be_emailed_is_recorded(app, make_staff, people,
                                                           raise_concern, outbox,
                                                           monkeypatch):
    make_staff("supervisor", areas=[ASHENDRY], name="Sergeant Nowhere",
               email="nowhere@police.example.org")
    case_id, _ = raise_concern()
    real_notify_staff = cases.notify_staff

    def refusing_one(staff, subject, text, *, link=None):
        if staff.email == "nowhere@police.example.org":
            return False  # as notify_staff does when the mail server refuses
        return real_notify_staff(staff, subject, text, link=link)

    monkeypatch.setattr(cases, "notify_staff", refusing_one)
    assert escalate(app, MONDAY_MORNING) == 1
    assert [m["To"] for m in outbox] == ["sergeant.ashendry@police.example.org"]
    with app.app_context():
        body = db.session.scalar(select(Entry.body).where(Entry.case_id == case_id,
                                                          Entry.kind == "escalated"))
    assert body == "due-soon: Sergeant Ashendry; could not email Sergeant Nowhere"


def test_a_run_starting_while_another_sends_tells_nobody_twice(app, raise_concern, outbox,
                                                              monkeypatch):
    raise_concern()
    real_supervisors = cases.supervisors
    second_run: list[int] = []

    def meanwhile_another_run(found):
        # The second run starts after the first took the case, before it emailed anyone.
        if not second_run:
            second_run.append(cases.escalate(now=MONDAY_MORNING + timedelta(seconds=1)))
        return real_supervisors(found)

    monkeypatch.setattr(cases, "supervisors", meanwhile_another_run)
    assert escalate(app, MONDAY_MORNING) == 1
    assert second_run == [0]
    assert len(outbox.to("sergeant.ashendry@police.example.org")) == 1

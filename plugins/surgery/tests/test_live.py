"""Live beat surgeries: scheduling (the case record and the draft invitation), who may
see and join a session, pseudonyms, moderation, the participant limit, the transcript
on the case record, scoping of the officer's pages, and the event stream (over real
Redis when COMMONWATCH_TEST_REDIS_URL is set, by polling the database without)."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.api import Area, Message, Staff, db, utcnow
from plugins.surgery.live import RESUME_OVERLAP, channel, parse_cursor, schedule_beat
from plugins.surgery.models import Beat, Case, Entry, Participant, Post

UK = ZoneInfo("Europe/London")
WARD = "E05900001"
OTHER_WARD = "E05900012"
DISTRICT = "E07900001"
OFFICER_NAME = "PC Sam Patel"


# -- helpers --------------------------------------------------------------------------------


def uk(moment: datetime) -> str:
    return moment.astimezone(UK).strftime("%Y-%m-%d %H:%M")


def make_beat(app, officer_id: int, area: str = WARD, moderated: bool = True,
              status: str = "open", title: str = "Mill Lane beat surgery") -> int:
    with app.app_context():
        officer = db.session.get(Staff, officer_id)
        place = db.session.scalar(select(Area).where(Area.code == area))
        now = utcnow()
        beat = schedule_beat(officer, place, title, now, now + timedelta(hours=1),
                             moderated=moderated)
        beat.status = status
        db.session.commit()
        return beat.id


def join(client, beat_id: int, pseudonym: str | None = None):
    data = ({"appear_as": "pseudonym", "display_name": pseudonym} if pseudonym
            else {"appear_as": "name"})
    return client.post(f"/surgery/beats/{beat_id}/join", data={**data, "submit": "y"})


def post(client, beat_id: int, text: str, staff: bool = False, **kwargs):
    prefix = "/surgery/staff/beats" if staff else "/surgery/beats"
    return client.post(f"{prefix}/{beat_id}/post", data={"body": text, "submit": "y"},
                       **kwargs)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def posts_of(app, beat_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        return [tuple(r) for r in db.session.execute(
            select(Post.body, Post.state).where(Post.beat_id == beat_id).order_by(Post.id))]


def held_id(app, beat_id: int, text: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Post.id).where(Post.beat_id == beat_id,
                                                       Post.body == text))


class Stream:
    """An event stream read in a thread of its own, as a browser would hold it open."""

    def __init__(self, client, path: str, headers: dict | None = None) -> None:
        self.chunks: queue.Queue = queue.Queue()
        self.text = ""
        self.status = None

        def read() -> None:
            response = client.get(path, headers=headers or {})
            self.status = response.status_code
            self.mimetype = response.mimetype
            try:
                for chunk in response.response:
                    self.chunks.put(chunk.decode())
            finally:
                response.close()
                self.chunks.put(None)

        self.thread = threading.Thread(target=read, daemon=True)
        self.thread.start()

    def read_until(self, needle: str, timeout: float = 10) -> str:
        """Everything read so far, once ``needle`` is in it."""
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not in the stream: {self.text!r}")
            try:
                chunk = self.chunks.get(timeout=left)
            except queue.Empty:
                continue
            if chunk is None:
                raise AssertionError(f"stream ended without {needle!r}: {self.text!r}")
            self.text += chunk
        return self.text

    def finish(self, timeout: float = 15) -> str:
        """Everything, once the stream ended."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the stream did not end"
        while (chunk := self.chunks.get_nowait()) is not None:
            self.text += chunk
        return self.text

    def events(self) -> list[tuple[str, dict]]:
        found = []
        for block in self.text.split("\n\n"):
            kind = re.search(r"^event: (.+)$", block, re.M)
            data = re.search(r"^data: (.+)$", block, re.M)
            if kind and data:
                found.append((kind.group(1), json.loads(data.group(1))))
        return found


@pytest.fixture
def officer(make_staff) -> int:
    return make_staff("officer", areas=[WARD], name=OFFICER_NAME,
                      email="sam@police.example.org")


@pytest.fixture
def officer_client(app, officer, login):
    return login(app.test_client(), staff=officer)


# -- scheduling -----------------------------------------------------------------------------


def test_scheduling_makes_the_case_record_and_a_draft_invitation_to_the_area(
        app, officer, officer_client):
    starts = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    ends = starts + timedelta(hours=1)
    assert "Schedule a beat surgery" in page(officer_client, "/surgery/staff/beats/new")
    response = officer_client.post("/surgery/staff/beats/new", data={
        "title": "Mill Lane beat surgery", "area": WARD, "starts": uk(starts),
        "ends": uk(ends), "moderated": "y", "submit": "y"})
    assert response.status_code == 302
    with app.app_context():
        beat = db.session.scalar(select(Beat))
        record = db.session.get(Case, beat.case_id)
        message = db.session.get(Message, beat.message_id)
        assert response.location == f"/staff/messages/{message.id}/check"
        assert (beat.title, beat.area.code, beat.officer_id, beat.status, beat.moderated) == (
            "Mill Lane beat surgery", WARD, officer, "scheduled", True)
        assert (beat.starts_at, beat.ends_at) == (starts, ends)
        assert (record.kind, record.topic, record.description, record.status) == (
            "beat_surgery", "beat_surgery", "Mill Lane beat surgery", "assigned")
        assert record.assigned_to_id == officer and record.member_id is None
        assert record.area.code == record.team_area.code == WARD
        assert record.organisation.slug == "wealdshire-police"
        assert (record.due_at, record.region) == (ends, "england-and-wales")
        assert (message.status, message.category, message.sender_id) == (
            "draft", "community_news", officer)
        assert message.target["areas"] == [WARD]
        link = f"https://commonwatch.example.org/surgery/beats/{beat.id}"
        assert link in message.body and link in message.plain_text
        assert "Mill Lane beat surgery" in message.title
        assert starts.astimezone(UK).strftime("%H:%M") in message.plain_text
        assert len(message.plain_text) <= 918
    # The invitation goes through the normal check and sending of messages.
    check = page(officer_client, response.location)
    assert "Mill Lane beat surgery" in check
    listing = page(officer_client, "/surgery/staff/beats")
    assert "Mill Lane beat surgery" in listing


def test_the_invitation_reaches_the_areas_residents_with_the_link(
        app, officer, officer_client, make_member, outbox):
    make_member(area=WARD, email="inside@example.org")
    make_member(area=OTHER_WARD, email="outside@example.org")
    starts = datetime.now(UTC) + timedelta(days=1)
    officer_client.post("/surgery/staff/beats/new", data={
        "title": "Mill Lane beat surgery", "area": WARD, "starts": uk(starts),
        "ends": uk(starts + timedelta(hours=1)), "moderated": "y", "submit": "y"})
    with app.app_context():
        beat = db.session.scalar(select(Beat))
    response = officer_client.post(f"/staff/messages/{beat.message_id}/send",
                                   data={"submit": "y"})
    assert response.status_code == 302
    (email,) = outbox.wait_for(1)
    assert email["To"] == "inside@example.org"
    assert f"https://commonwatch.example.org/surgery/beats/{beat.id}" in outbox.links(email)


def test_scheduling_refuses_areas_outside_the_officers_and_bad_times(
        app, officer_client):
    starts = datetime.now(UTC) + timedelta(days=1)
    good = {"title": "Surgery", "area": WARD, "starts": uk(starts),
            "ends": uk(starts + timedelta(hours=1)), "moderated": "y", "submit": "y"}
    for changes, error in (
            ({"area": OTHER_WARD}, "Choose one of your own areas"),
            ({"area": DISTRICT}, "Choose one of your own areas"),  # holds the ward: wider
            ({"area": "NOWHERE"}, "There is no area with this code"),
            ({"starts": "tomorrow"}, "Enter a date and time like"),
            ({"ends": uk(starts - timedelta(hours=1))}, "The end must be after the start"),
            ({"starts": uk(starts - timedelta(days=3)),
              "ends": uk(starts - timedelta(days=2))}, "The end must be in the future"),
            ({"ends": uk(starts + timedelta(hours=13))}, "12 hours at most"),
            ({"title": ""}, "Enter a title")):
        response = officer_client.post("/surgery/staff/beats/new", data={**good, **changes})
        assert response.status_code == 200, changes
        assert error in response.get_data(as_text=True), changes
    # A bare POST without the button changes nothing either.
    assert officer_client.post("/surgery/staff/beats/new",
                               data={k: v for k, v in good.items() if k != "submit"}
                               ).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Beat.id))) == 0
        assert db.session.scalar(select(func.count(Case.id))) == 0
        assert db.session.scalar(select(func.count(Message.id))) == 0


def test_unmoderated_sessions_and_areas_inside_the_officers(app, make_staff, login):
    sergeant = make_staff("supervisor", areas=[DISTRICT])
    client = login(app.test_client(), staff=sergeant)
    starts = datetime.now(UTC) + timedelta(days=1)
    response = client.post("/surgery/staff/beats/new", data={
        "title": "Ward surgery", "area": WARD, "starts": uk(starts),
        "ends": uk(starts + timedelta(hours=1)), "submit": "y"})
    assert response.status_code == 302
    with app.app_context():
        beat = db.session.scalar(select(Beat))
        assert (beat.area.code, beat.moderated) == (WARD, False)


def test_residents_and_coordinators_cannot_schedule(app, make_member, make_staff, login):
    resident = login(app.test_client(), member=make_member())
    assert resident.get("/surgery/staff/beats").status_code == 403
    coordinator = login(app.test_client(), staff=make_staff("coordinator"))
    assert coordinator.get("/surgery/staff/beats/new").status_code == 403


# -- who sees and joins ---------------------------------------------------------------------


def test_only_residents_of_the_area_see_and_join(app, officer, make_member, login):
    beat = make_beat(app, officer, status="scheduled")
    district_beat = make_beat(app, officer, area=WARD, title="Another one")
    with app.app_context():
        db.session.get(Beat, district_beat).area_id = db.session.scalar(
            select(Area.id).where(Area.code == DISTRICT))
        db.session.commit()
    inside = login(app.test_client(), member=make_member(area=WARD))
    outside = login(app.test_client(), member=make_member(area=OTHER_WARD))
    listing = page(inside, "/surgery/beats")
    assert "Mill Lane beat surgery" in listing and "Another one" in listing
    assert "Join the beat surgery" in page(inside, f"/surgery/beats/{beat}")
    other = page(outside, "/surgery/beats")
    assert "Mill Lane beat surgery" not in other and "Another one" not in other
    assert outside.get(f"/surgery/beats/{beat}").status_code == 404
    assert join(outside, beat, "Sneaky").status_code == 404
    assert outside.get(f"/surgery/beats/{beat}/stream").status_code == 404
    assert post(outside, beat, "Hello").status_code == 404
    assert join(inside, beat, "Night Owl").status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Participant.display_name)).all() == ["Night Owl"]
    # Joined: the page says so; the session has not started, so there is nothing to post.
    joined = page(inside, f"/surgery/beats/{beat}")
    assert "You are taking part as Night Owl." in joined
    assert "The session has not started yet" in joined
    assert post(inside, beat, "Too early").status_code == 302
    assert posts_of(app, beat) == []


def test_closed_sessions_leave_the_list(app, officer, make_member, login):
    beat = make_beat(app, officer, status="closed")
    resident = login(app.test_client(), member=make_member())
    assert "Mill Lane beat surgery" not in page(resident, "/surgery/beats")
    assert "This beat surgery has ended." in page(resident, f"/surgery/beats/{beat}")
    assert join(resident, beat, "Late").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Participant.id))) == 0


def test_a_pseudonym_is_shown_and_the_real_name_never(app, officer, officer_client,
                                                      make_member, login):
    app.config["SURGERY_BEAT_STREAM_SECONDS"] = 0
    beat = make_beat(app, officer, moderated=False)
    alice = login(app.test_client(), member=make_member(name="Alice Realname"))
    bob = login(app.test_client(), member=make_member(name="Bob Ownname"))
    page_before = page(alice, f"/surgery/beats/{beat}")
    assert "Under your name, Alice Realname" in page_before  # only to herself
    assert join(alice, beat, "Night Owl").status_code == 302
    assert join(bob, beat).status_code == 302
    assert post(alice, beat, "Is the footpath light fixed?").status_code == 302
    assert post(bob, beat, "And the bins?").status_code == 302
    seen_by_bob = page(bob, f"/surgery/beats/{beat}")
    assert "Night Owl" in seen_by_bob and "Is the footpath light fixed?" in seen_by_bob
    assert "Alice Realname" not in seen_by_bob
    stream = bob.get(f"/surgery/beats/{beat}/stream")
    assert stream.mimetype == "text/event-stream"
    text = stream.get_data(as_text=True)
    assert "Night Owl" in text and "Is the footpath light fixed?" in text
    assert "Alice Realname" not in text
    # Bob chose his own name; the officer's pages show the names shown, nothing more.
    assert "Bob Ownname" in page(alice, f"/surgery/beats/{beat}")
    officer_page = page(officer_client, f"/surgery/staff/beats/{beat}")
    assert "Night Owl" in officer_page and "Alice Realname" not in officer_page
    officer_stream = officer_client.get(f"/surgery/staff/beats/{beat}/stream")
    assert "Alice Realname" not in officer_stream.get_data(as_text=True)


def test_names_that_impersonate_are_refused(app, officer, make_member, login):
    beat = make_beat(app, officer)
    first = login(app.test_client(), member=make_member())
    assert join(first, beat, "Night Owl").status_code == 302
    second = login(app.test_client(), member=make_member())
    for name, error in (("pc  sam PATEL", "That is the officer&#39;s name"),
                        ("night owl", "Someone taking part already uses that name"),
                        ("", "Enter the name to show"),
                        ("x" * 61, "Keep the name to 60 characters")):
        response = join(second, beat, name) if name else second.post(
            f"/surgery/beats/{beat}/join",
            data={"appear_as": "pseudonym", "display_name": "  ", "submit": "y"})
        assert response.status_code == 200, name
        assert error in response.get_data(as_text=True), name
    # A resident whose own name is the officer's must choose another.
    namesake = login(app.test_client(), member=make_member(name=OFFICER_NAME))
    response = join(namesake, beat)
    assert "That is the officer&#39;s name" in response.get_data(as_text=True)
    # Without the button, nothing happens.
    second.post(f"/surgery/beats/{beat}/join",
                data={"appear_as": "pseudonym", "display_name": "Quiet One"})
    with app.app_context():
        assert db.session.scalars(select(Participant.display_name)).all() == ["Night Owl"]
    # A name typed in is used even if "Under your name" was left chosen.
    careless = login(app.test_client(), member=make_member(name="Careless Realname"))
    careless.post(f"/surgery/beats/{beat}/join",
                  data={"appear_as": "name", "display_name": "Hidden Hedgehog", "submit": "y"})
    with app.app_context():
        assert db.session.scalars(select(Participant.display_name)
                                  .order_by(Participant.id)).all() == ["Night Owl",
                                                                       "Hidden Hedgehog"]


def test_the_participant_over_the_limit_is_refused(make_app, officer, make_member, login):
    app = make_app(SURGERY_BEAT_MAX_PARTICIPANTS=2)
    beat = make_beat(app, officer)
    clients = [login(app.test_client(), member=make_member()) for _ in range(3)]
    assert join(clients[0], beat, "One").status_code == 302
    assert join(clients[1], beat, "Two").status_code == 302
    assert "2 of 2 places" in page(clients[2], f"/surgery/beats/{beat}")
    assert "This beat surgery is full" in page(clients[2], f"/surgery/beats/{beat}")
    response = join(clients[2], beat, "Three")
    assert response.status_code == 302
    refused = page(clients[2], response.location)
    assert "This beat surgery is full: 2 people are taking part already" in refused
    with app.app_context():
        assert db.session.scalar(select(func.count(Participant.id))) == 2
    # Joining twice does not take a second place.
    assert join(clients[0], beat, "One again").status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Participant.display_name)
                                  .order_by(Participant.id)).all() == ["One", "Two"]


def test_the_default_limit_is_a_hundred(app):
    from plugins.surgery.live import max_participants

    with app.test_request_context():
        assert max_participants() == 100


# -- moderation -----------------------------------------------------------------------------


def test_held_messages_reach_others_only_once_approved(app, officer, officer_client,
                                                       make_member, login):
    app.config["SURGERY_BEAT_STREAM_SECONDS"] = 0
    beat = make_beat(app, officer, moderated=True)
    alice = login(app.test_client(), member=make_member(name="Alice Realname"))
    bob = login(app.test_client(), member=make_member(name="Bob Ownname"))
    join(alice, beat, "Night Owl")
    join(bob, beat, "Bramble")
    response = post(alice, beat, "Question for approval")
    assert "waiting for the officer" in page(alice, response.location)
    post(alice, beat, "Something rude")
    assert posts_of(app, beat) == [("Question for approval", "held"),
                                   ("Something rude", "held")]
    mine = page(alice, f"/surgery/beats/{beat}")
    assert "Question for approval" in mine and "Waiting for approval" in mine
    for client in (bob,):
        assert "Question for approval" not in page(client, f"/surgery/beats/{beat}")
        stream = client.get(f"/surgery/beats/{beat}/stream").get_data(as_text=True)
        assert "Question for approval" not in stream and "Something rude" not in stream
    staff_page = page(officer_client, f"/surgery/staff/beats/{beat}")
    assert "Question for approval" in staff_page and "Something rude" in staff_page
    assert "Question for approval" in officer_client.get(
        f"/surgery/staff/beats/{beat}/stream").get_data(as_text=True)

    good, rude = (held_id(app, beat, t) for t in ("Question for approval", "Something rude"))
    moderate = f"/surgery/staff/beats/{beat}/moderate"
    # Without a button, nothing happens.
    assert officer_client.post(moderate, data={"post_id": good}).status_code == 302
    assert posts_of(app, beat)[0] == ("Question for approval", "held")
    officer_client.post(moderate, data={"post_id": good, "approve": "y"})
    officer_client.post(moderate, data={"post_id": rude, "reject": "y"})
    assert posts_of(app, beat) == [("Question for approval", "published"),
                                   ("Something rude", "rejected")]
    # Already dealt with: approving the rejected one does nothing.
    officer_client.post(moderate, data={"post_id": rude, "approve": "y"})
    assert posts_of(app, beat)[1] == ("Something rude", "rejected")
    for client in (alice, bob):
        shown = page(client, f"/surgery/beats/{beat}")
        assert "Question for approval" in shown and "Something rude" not in shown
        stream = client.get(f"/surgery/beats/{beat}/stream").get_data(as_text=True)
        assert "Question for approval" in stream and "Something rude" not in stream
    assert "Something rude" not in page(officer_client, f"/surgery/staff/beats/{beat}")


def test_the_officer_posts_directly_and_only_while_open(app, officer, officer_client,
                                                       make_member, login):
    beat = make_beat(app, officer, moderated=True, status="scheduled")
    resident = login(app.test_client(), member=make_member())
    join(resident, beat, "Night Owl")
    post(officer_client, beat, "Too early", staff=True)
    assert posts_of(app, beat) == []
    assert "Open the session" in page(officer_client, f"/surgery/staff/beats/{beat}")
    officer_client.post(f"/surgery/staff/beats/{beat}/open")  # no button: nothing
    with app.app_context():
        assert db.session.get(Beat, beat).status == "scheduled"
    officer_client.post(f"/surgery/staff/beats/{beat}/open", data={"submit": "y"})
    with app.app_context():
        assert db.session.get(Beat, beat).status == "open"
    post(officer_client, beat, "Welcome, everyone", staff=True)
    assert posts_of(app, beat) == [("Welcome, everyone", "published")]
    shown = page(resident, f"/surgery/beats/{beat}")
    assert "Welcome, everyone" in shown and OFFICER_NAME in shown
    # The page script's way: JSON back, and errors as JSON too.
    response = post(resident, beat, "Sent by the script",
                    headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json["post"]["author"] == "Night Owl"
    assert response.json["post"]["state"] == "held" and response.json["post"]["mine"]
    response = post(resident, beat, "", headers={"Accept": "application/json"})
    assert response.status_code == 400 and "Enter your message" in response.json["error"]


def test_posting_too_quickly_is_refused(app, officer, make_member, login):
    app.config["SURGERY_BEAT_POSTS_PER_MINUTE"] = 2
    beat = make_beat(app, officer, moderated=False)
    resident = login(app.test_client(), member=make_member())
    join(resident, beat, "Night Owl")
    for n in range(3):
        post(resident, beat, f"Message {n}")
    assert [b for b, _ in posts_of(app, beat)] == ["Message 0", "Message 1"]


# -- the case record ------------------------------------------------------------------------


def test_closing_keeps_the_transcript_on_the_case_record(app, officer, officer_client,
                                                        make_member, login):
    beat = make_beat(app, officer, moderated=True)
    resident = login(app.test_client(), member=make_member(name="Alice Realname"))
    join(resident, beat, "Night Owl")
    post(resident, beat, "Is the footpath light fixed?")
    post(resident, beat, "Never approved")
    officer_client.post(f"/surgery/staff/beats/{beat}/moderate", data={
        "post_id": held_id(app, beat, "Is the footpath light fixed?"), "approve": "y"})
    post(officer_client, beat, "Yes, since Monday.", staff=True)
    officer_client.post(f"/surgery/staff/beats/{beat}/close")  # no button: nothing
    with app.app_context():
        assert db.session.get(Beat, beat).status == "open"
    response = officer_client.post(f"/surgery/staff/beats/{beat}/close", data={"submit": "y"})
    assert response.status_code == 302
    with app.app_context():
        found = db.session.get(Beat, beat)
        record = db.session.get(Case, found.case_id)
        assert found.status == "closed"
        assert record.status == "closed" and record.closed_at is not None
        (note,) = db.session.scalars(select(Entry).where(Entry.case_id == record.id,
                                                         Entry.kind == "note")).all()
        assert "Night Owl: Is the footpath light fixed?" in note.body
        assert f"{OFFICER_NAME} (officer): Yes, since Monday." in note.body
        assert "Never approved" not in note.body and "Alice Realname" not in note.body
        assert "Messages held back or rejected, not shown above: 1" in note.body
    # Nothing more can be posted; the transcript stays readable for those who took part.
    post(resident, beat, "After the end")
    post(officer_client, beat, "After the end too", staff=True)
    assert "After the end" not in [b for b, _ in posts_of(app, beat)]
    assert "Is the footpath light fixed?" in page(resident, f"/surgery/beats/{beat}")
    assert "Yes, since Monday." in page(officer_client, f"/surgery/staff/beats/{beat}")


# -- scoping of the officer's pages ---------------------------------------------------------


def test_staff_of_another_area_or_organisation_get_404(app, officer, make_staff, login):
    beat = make_beat(app, officer, moderated=True)
    beat_paths = [f"/surgery/staff/beats/{beat}", f"/surgery/staff/beats/{beat}/stream"]
    others = [
        make_staff("officer", areas=[OTHER_WARD]),
        make_staff("force_admin", areas=["E10900001"], organisation="ashendry-council"),
    ]
    with app.app_context():
        before = db.session.get(Beat, beat).status
    for other in others:
        client = login(app.test_client(), staff=other)
        for path in beat_paths:
            assert client.get(path).status_code == 404, path
        for action, data in (("open", {"submit": "y"}), ("close", {"submit": "y"}),
                             ("post", {"body": "Hijack", "submit": "y"}),
                             ("moderate", {"post_id": "1", "approve": "y"})):
            assert client.post(f"/surgery/staff/beats/{beat}/{action}",
                               data=data).status_code == 404, action
        assert "Mill Lane beat surgery" not in page(client, "/surgery/staff/beats")
    with app.app_context():
        assert db.session.get(Beat, beat).status == before
    assert posts_of(app, beat) == []


def test_a_supervisor_above_the_ward_runs_it_too(app, officer, make_staff, login):
    beat = make_beat(app, officer, moderated=True)
    sergeant = login(app.test_client(), staff=make_staff("supervisor", areas=[DISTRICT]))
    assert "Mill Lane beat surgery" in page(sergeant, f"/surgery/staff/beats/{beat}")


def test_a_held_message_of_another_session_cannot_be_moderated(app, officer, officer_client,
                                                              make_member, login):
    first, second = make_beat(app, officer), make_beat(app, officer, title="Second")
    resident = login(app.test_client(), member=make_member())
    join(resident, second, "Night Owl")
    post(resident, second, "Held in the second")
    response = officer_client.post(f"/surgery/staff/beats/{first}/moderate", data={
        "post_id": held_id(app, second, "Held in the second"), "approve": "y"})
    assert response.status_code == 404
    assert posts_of(app, second) == [("Held in the second", "held")]


# -- the event stream -----------------------------------------------------------------------


def test_the_stream_needs_a_participant(app, officer, make_member, login):
    beat = make_beat(app, officer)
    resident = login(app.test_client(), member=make_member())
    assert resident.get(f"/surgery/beats/{beat}/stream").status_code == 404
    assert app.test_client().get(f"/surgery/beats/{beat}/stream").status_code == 302


def _live_session(app, officer, make_member, login, moderated=False):
    beat = make_beat(app, officer, moderated=moderated)
    alice = login(app.test_client(), member=make_member(name="Alice Realname"))
    bob = login(app.test_client(), member=make_member(name="Bob Ownname"))
    join(alice, beat, "Night Owl")
    join(bob, beat, "Bramble")
    return beat, alice, bob


def _delivers_a_post_published_after_connecting(app, officer, officer_client, make_member,
                                                login):
    beat, alice, bob = _live_session(app, officer, make_member, login, moderated=True)
    stream = Stream(bob, f"/surgery/beats/{beat}/stream")
    staff_stream = Stream(officer_client, f"/surgery/staff/beats/{beat}/stream")
    stream.read_until('"status":"open"')
    staff_stream.read_until('"status":"open"')
    post(alice, beat, "Posted after connecting")
    # The officer's page hears of the held message; Bob's does not.
    staff_stream.read_until("Posted after connecting")
    officer_client.post(f"/surgery/staff/beats/{beat}/moderate", data={
        "post_id": held_id(app, beat, "Posted after connecting"), "approve": "y"})
    text = stream.read_until("Posted after connecting")
    assert "Alice Realname" not in text
    post(officer_client, beat, "An answer", staff=True)
    stream.read_until("An answer")
    officer_client.post(f"/surgery/staff/beats/{beat}/close", data={"submit": "y"})
    text = stream.read_until('"status":"closed"')
    stream.finish()  # a closed session ends the stream
    staff_stream.finish()
    kinds = [(kind, data.get("body") or data.get("status")) for kind, data in stream.events()]
    assert kinds == [("status", "open"), ("post", "Posted after connecting"),
                     ("post", "An answer"), ("status", "closed")]
    staff_kinds = [(kind, data.get("state")) for kind, data in staff_stream.events()
                   if kind == "post"]
    assert staff_kinds == [("post", "held"), ("post", "published"), ("post", "published")]
    assert "id: " in text and "retry: " in text
    return beat


def test_the_stream_delivers_new_posts_by_polling_without_redis(
        make_app, officer, make_member, login):
    app = make_app(SURGERY_BEAT_STREAM_SECONDS=30)
    officer_client = login(app.test_client(), staff=officer)
    _delivers_a_post_published_after_connecting(app, officer, officer_client, make_member,
                                                login)


@pytest.mark.redis
def test_the_stream_delivers_new_posts_over_redis(make_app, redis_url, officer, make_member,
                                                  login, monkeypatch):
    from core.jobs import redis_connection
    from plugins.surgery import live

    # Polling so slow that only the announcements can deliver in time.
    monkeypatch.setattr(live, "POLL_SECONDS", 60)
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 60)
    app = make_app(REDIS_URL=redis_url, SURGERY_BEAT_STREAM_SECONDS=30)
    listener = redis_connection(app).pubsub(ignore_subscribe_messages=True)
    with app.app_context():
        pattern = channel(0)[:-1] + "*"
    listener.psubscribe(pattern)
    officer_client = login(app.test_client(), staff=officer)
    started = time.monotonic()
    beat = _delivers_a_post_published_after_connecting(app, officer, officer_client,
                                                       make_member, login)
    assert time.monotonic() - started < 20
    heard = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.2)
        if message and message["channel"].decode() == pattern[:-1] + str(beat):
            heard.append(json.loads(message["data"]))
    listener.close()
    # Hints only: ids and statuses, never anyone's words or names.
    assert {"status": "open"} not in heard  # opened before, in the database
    assert heard[-1] == {"status": "closed"}
    assert all(set(h) <= {"post", "status"} for h in heard) and len(heard) >= 4


def test_the_stream_ends_after_its_time_and_resumes_after_the_last_event(
        make_app, officer, make_member, login):
    app = make_app(SURGERY_BEAT_STREAM_SECONDS=1)
    beat, alice, bob = _live_session(app, officer, make_member, login)
    for text in ("Old message", "Middle message", "New message"):
        post(alice, beat, text)
    with app.app_context():  # published a minute apart
        for text, minutes in (("Old message", 2), ("Middle message", 1)):
            found = db.session.scalar(select(Post).where(Post.body == text))
            found.published_at -= timedelta(minutes=minutes)
        db.session.commit()
        middle_at = db.session.scalar(select(Post.published_at)
                                      .where(Post.body == "Middle message"))
    started = time.monotonic()
    everything = Stream(bob, f"/surgery/beats/{beat}/stream").finish()
    assert time.monotonic() - started < 10
    assert all(t in everything for t in ("Old message", "Middle message", "New message"))
    (middle_id,) = re.findall(r"id: (\d+)\ndata: [^\n]*Middle message", everything)
    assert abs(parse_cursor(middle_id) - middle_at) < timedelta(milliseconds=1)
    # What was published before the last event seen (and the overlap) is not sent again.
    resumed = Stream(bob, f"/surgery/beats/{beat}/stream",
                     headers={"Last-Event-ID": middle_id}).finish()
    assert "New message" in resumed and "Old message" not in resumed
    assert timedelta(minutes=1) > RESUME_OVERLAP
    # The page's own cursor does the same on the first connection.
    after = Stream(bob, f"/surgery/beats/{beat}/stream?after={middle_id}").finish()
    assert "New message" in after and "Old message" not in after
    # A cursor that is not one sends everything.
    assert "Old message" in Stream(bob, f"/surgery/beats/{beat}/stream",
                                   headers={"Last-Event-ID": "rubbish"}).finish()


def test_the_stream_of_a_scheduled_session_announces_its_opening(
        make_app, officer, make_member, login):
    app = make_app(SURGERY_BEAT_STREAM_SECONDS=30)
    beat = make_beat(app, officer, status="scheduled")
    resident = login(app.test_client(), member=make_member())
    join(resident, beat, "Night Owl")
    stream = Stream(resident, f"/surgery/beats/{beat}/stream")
    stream.read_until('"status":"scheduled"')
    login(app.test_client(), staff=officer).post(f"/surgery/staff/beats/{beat}/open",
                                                 data={"submit": "y"})
    stream.read_until('"status":"open"')


def test_pages_escape_what_people_wrote(app, officer, officer_client, make_member, login):
    app.config["SURGERY_BEAT_STREAM_SECONDS"] = 0
    beat = make_beat(app, officer, moderated=False, title="<b>Surgery</b>")
    resident = login(app.test_client(), member=make_member())
    join(resident, beat, "<img src=x onerror=alert(1)>")
    post(resident, beat, "<script>alert(1)</script>")
    for shown in (page(resident, f"/surgery/beats/{beat}"),
                  page(officer_client, f"/surgery/staff/beats/{beat}")):
        assert "<script>alert(1)</script>" not in shown and "<img src=x" not in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
        assert "<b>Surgery</b>" not in shown
    stream = resident.get(f"/surgery/beats/{beat}/stream").get_data(as_text=True)
    assert "<script>alert(1)</script>" in stream  # JSON for textContent, never HTML
    assert "text/event-stream" in resident.get(
        f"/surgery/beats/{beat}/stream").headers["Content-Type"]


def test_the_page_loads_the_script_and_works_without_it(app, officer, make_member, login):
    beat = make_beat(app, officer, moderated=False)
    resident = login(app.test_client(), member=make_member())
    join(resident, beat, "Night Owl")
    shown = page(resident, f"/surgery/beats/{beat}")
    assert 'src="/surgery/static/surgery/live.js"' in shown
    assert f'data-stream-url="/surgery/beats/{beat}/stream"' in shown
    assert f'action="/surgery/beats/{beat}/post"' in shown  # the form works without it
    assert f'href="/surgery/beats/{beat}">Refresh' in shown  # and Refresh
    script = app.test_client().get("/surgery/static/surgery/live.js")
    assert script.status_code == 200
    source = script.get_data(as_text=True)
    assert "innerHTML" not in source and "textContent" in source
    script.close()

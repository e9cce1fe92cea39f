"""Previews answered from pre-counted reach: as exact as counting member by member, and
still exact the moment members change, before anything is recounted."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select
from test_messaging import (  # noqa: F401 - the messaging town's fixtures come too
    MIDNIGHT,
    NOON,
    OTHER_DISTRICT_WARD,
    WARD_A,
    WARD_B,
    ready,
    town,
)

from core import reach
from core.extensions import db
from core.messaging import create_message, preview, send
from core.models import Member, MemberChannel, ReachCount, ReachDirty, Staff, utcnow


@contextmanager
def statements():
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def figures(sender_id, priority=3, at=NOON, areas=None):
    sender = db.session.get(Staff, sender_id)
    message = create_message(sender, title="T", body="B", plain_text="P",
                             category="crime_alert", priority=priority,
                             target={"areas": areas or []})
    result = preview(message, sender, at=at)
    return (result.people, result.deliveries_by_channel, dict(result.people_by_area),
            result.recently_messaged)


def exact(sender_id, **kwargs):
    """The same figures counted member by member (every area marked changed)."""
    with db.session.begin_nested() as savepoint:
        reach.mark([None])
        answer = figures(sender_id, **kwargs)
        savepoint.rollback()
    return answer


CASES = {
    "supervisor": [{}, {"areas": [WARD_A]}, {"areas": ["E07900001"]}, {"areas": [WARD_B]},
                   {"priority": 1}, {"priority": 5, "areas": [WARD_A]}, {"at": MIDNIGHT}],
    "officer_b": [{}, {"areas": [WARD_B]}, {"priority": 1}, {"at": MIDNIGHT}],
}


@pytest.fixture
def varied(app, ready, make_member):  # noqa: F811 - the imported fixture
    """The messaging town, plus people whose channels differ by day and night."""
    night_owl = make_member(area=WARD_B, email="owl@example.org", phone="+447400000009",
                            channels=["email", "sms"])
    with app.app_context():  # email by night only, SMS by day only
        for channel in db.session.get(Member, night_owl).channels:
            channel.by_day, channel.by_night = channel.channel == "sms", channel.channel == "email"
        db.session.commit()
    make_member(area=OTHER_DISTRICT_WARD, email="far2@example.org")
    return {**ready, "night_owl": night_owl}


def test_precounted_previews_match_counting_member_by_member(app, varied):
    with app.app_context():
        for sender, cases in CASES.items():
            for case in cases:
                assert figures(varied[sender], **case) == exact(varied[sender], **case), case
        assert reach.refresh() > 0
        assert db.session.scalar(select(func.count()).select_from(ReachDirty)) == 0
        assert db.session.scalar(select(func.count()).select_from(ReachCount)) > 0
        for sender, cases in CASES.items():
            for case in cases:
                assert figures(varied[sender], **case) == exact(varied[sender], **case), case
        assert figures(varied["supervisor"], areas=["E07900001"]) == (
            4, {"email": 3, "sms": 2}, {"Ashendry North": 2, "Ashendry South": 2}, 0)


def test_a_clean_preview_reads_the_counts_not_the_members(app, varied):
    with app.app_context():
        reach.refresh()
        with statements() as seen:
            people = figures(varied["supervisor"])[0]
        assert people == 4
        assert not any("from member" in s or "join member " in s for s in seen), seen


def test_changes_show_at_once_and_are_recounted_by_the_sweep(app, varied, make_member):
    with app.app_context():
        reach.refresh()
        before = figures(varied["supervisor"], areas=["E07900001"])
        # A resident opts out, another drops SMS, a new one joins: no recount yet.
        db.session.get(Member, varied["ward_a"]).opted_out_at = utcnow()
        db.session.execute(select(MemberChannel))  # (the session sees its own changes)
        horse = db.session.get(Member, varied["ward_a_horse"])
        horse.channels = [c for c in horse.channels if c.channel != "sms"]
        db.session.commit()
    make_member(area=WARD_B, email="new@example.org")
    with app.app_context():
        after = figures(varied["supervisor"], areas=["E07900001"])
        assert after[0] == before[0] - 1 + 1
        assert after[1]["sms"] == before[1]["sms"] - 1
        assert after == exact(varied["supervisor"], areas=["E07900001"])
        assert db.session.scalar(select(func.count()).select_from(ReachDirty)) > 0
    result = app.test_cli_runner().invoke(args=["sweep-deliveries"])
    assert "recounted reach after" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReachDirty)) == 0
        with statements() as seen:
            assert figures(varied["supervisor"], areas=["E07900001"]) == after
        assert not any("from member" in s for s in seen)


def test_people_already_messaged_this_week_are_counted(app, varied):
    with app.app_context():
        sender = db.session.get(Staff, varied["supervisor"])
        for n in range(app.config["PREVIEW_RECENT_MESSAGES"]):
            message = create_message(sender, title=f"Alert {n}", body="B", plain_text="P",
                                     category="crime_alert", priority=1,
                                     target={"areas": [WARD_A]})
            db.session.add(message)
            db.session.commit()
            send(message, sender)
        busy = figures(varied["supervisor"])[3]
        assert busy == 2  # the two reachable residents of ward A
        reach.refresh()
        assert figures(varied["supervisor"])[3] == 2
        assert figures(varied["officer_b"])[3] == 0

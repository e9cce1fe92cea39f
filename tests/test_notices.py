"""Personal notices (core.api.notify_member): one resident, over the email and text
message channels they chose, recorded with what went out."""

from __future__ import annotations

from sqlalchemy import select

from core.api import Member, db, notify_member, utcnow
from core.models import Delivery, DevOutbox, Notice


def _notify(app, member_id: int, **kwargs):
    with app.app_context():
        member = db.session.get(Member, member_id)
        notice = notify_member(member, "Your case", "Officers will visit on Friday.",
                               link="https://commonwatch.example.org/surgery/cases/7",
                               **kwargs)
        return notice.channels, notice.error


def test_a_notice_goes_by_email_and_text_as_the_resident_chose(app, make_member, outbox):
    member_id = make_member(email="jo@example.org", phone="+447400900333",
                            channels=["email", "sms"])
    assert _notify(app, member_id) == ("email,sms", None)
    (mail,) = outbox.wait_for(1)
    assert mail["To"] == "jo@example.org" and mail["Subject"].startswith("Your case")
    body = mail.get_body(("plain",)).get_content()
    assert "Officers will visit on Friday." in body and "/surgery/cases/7" in body
    # A second notice gets its own text message delivery: none clash with another's.
    assert _notify(app, member_id, channels=["sms"]) == ("sms", None)
    with app.app_context():
        texts = db.session.scalars(select(DevOutbox).order_by(DevOutbox.id)).all()
        assert [t.address for t in texts] == ["+447400900333"] * 2
        assert "Officers will visit on Friday. https://commonwatch.example.org" in texts[0].text
        ids = db.session.scalars(select(Delivery.message_id).order_by(Delivery.id)).all()
        assert len(set(ids)) == 2 and all(i < -1_000_000_000 for i in ids)
        assert len(db.session.scalars(select(Notice)).all()) == 2


def test_only_channels_that_work_are_used_and_the_rest_recorded(app, make_member, outbox):
    unconfirmed = make_member(verified=False, channels=["email", "sms"])
    assert _notify(app, unconfirmed) == (
        "", "email: no confirmed, working address; sms: no working number")
    email_only = make_member(channels=["email"])
    assert _notify(app, email_only) == ("email", None)
    assert len(outbox.wait_for(1)) == 1


def test_a_resident_who_opted_out_gets_nothing(app, make_member, outbox):
    member_id = make_member(phone="+447400900444", channels=["email", "sms"])
    with app.app_context():
        db.session.get(Member, member_id).opted_out_at = utcnow()
        db.session.commit()
    assert _notify(app, member_id) == ("", "the resident opted out of all messages")
    with app.app_context():
        assert db.session.scalars(select(DevOutbox)).all() == []
    assert list(outbox) == []

"""Messages: targeting exactly the right people, previewing, fanning out and delivering."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core import hookimpl
from core.extensions import db
from core.messaging import (
    Target,
    TargetError,
    create_message,
    preview,
    render_markdown,
    send,
    sms_segments,
)
from core.models import Delivery, DevOutbox, Member, Message, Staff, utcnow
from core.plugins import MessageVetoed

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
WARD_A, WARD_B = "E05900001", "E05900002"  # Ashendry district E07900001
OTHER_DISTRICT_WARD = "E05900012"


def test_markdown_is_rendered_and_sanitised():
    html = render_markdown("**Bold** [site](https://police.example) <script>x()</script>\n\n"
                           "[bad](javascript:alert(1)) <img src=x onerror=alert(1)>")
    assert "<strong>Bold</strong>" in html
    assert '<a href="https://police.example" rel="noopener noreferrer">site</a>' in html
    # Raw HTML is shown as text, never as markup; unsafe links are not links.
    assert "<script" not in html and "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html


@pytest.mark.parametrize(("text", "parts"), [
    ("", 0), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2), ("ŵ" * 70, 1), ("ŵ" * 71, 2),
])
def test_sms_segments(text, parts):
    assert sms_segments(text) == parts


@pytest.fixture
def town(make_member, make_staff):
    """Residents placed so that a wrong targeting answer is visible."""
    return {
        "ward_a": make_member(area=WARD_A, email="a@example.org", channels=["email"]),
        "ward_a_horse": make_member(area=WARD_A, email="horse@example.org",
                                    interests=["rural_watch.horse"],
                                    phone="+447400000001", channels=["email", "sms"]),
        "ward_b_dog": make_member(area=WARD_B, email="dog@example.org",
                                  interests=["rural_watch.dog", "rural_watch.horse"]),
        "far": make_member(area=OTHER_DISTRICT_WARD, email="far@example.org",
                           interests=["rural_watch.horse"]),
        "no_consent": make_member(area=WARD_A, email="council-only@example.org",
                                  organisations=["ashendry-council"]),
        "opted_out": make_member(area=WARD_A, email="out@example.org"),
        "unverified": make_member(area=WARD_A, email="unverified@example.org",
                                  verified=False),
        "urgent_only": make_member(area=WARD_A, email="urgent@example.org"),
        "supervisor": make_staff("supervisor", areas=["E07900001"]),
        "officer_b": make_staff("officer", areas=[WARD_B]),
    }


@pytest.fixture
def ready(app, town):
    with app.app_context():
        db.session.get(Member, town["opted_out"]).opted_out_at = utcnow()
        db.session.get(Member, town["urgent_only"]).min_priority = 1
        db.session.commit()
    return town


def emails_reached(app, town, staff_key="supervisor", priority=3, **target):
    with app.app_context():
        sender = db.session.get(Staff, town[staff_key])
        message = create_message(sender, title="T", body="B", plain_text="P",
                                 category="crime_alert", priority=priority,
                                 target=Target(**target).to_json())
        db.session.add(message)
        db.session.flush()
        from core.messaging import recipients

        ids = recipients(message, sender)
        found = set(db.session.scalars(select(Member.email).where(Member.id.in_(ids))))
        db.session.rollback()
        return found


def test_targeting_by_each_level(app, ready):
    ward_a = {"a@example.org", "horse@example.org"}
    assert emails_reached(app, ready, areas=[WARD_A]) == ward_a
    assert emails_reached(app, ready, areas=["E07900001"]) == ward_a | {"dog@example.org"}
    assert emails_reached(app, ready) == ward_a | {"dog@example.org"}  # whole scope
    with app.app_context():
        street = db.session.get(Member, ready["ward_a_horse"]).area.code
    assert "horse@example.org" in emails_reached(app, ready, areas=[street])


def test_targeting_by_interest_and_rules(app, ready):
    horses = emails_reached(app, ready, watch_types=["rural_watch.horse"])
    assert horses == {"horse@example.org", "dog@example.org"}
    dogs_or_ward_a = emails_reached(app, ready, watch_types=["rural_watch.dog"], rules=[
        {"name": "core.area", "mode": "include", "params": {"codes": WARD_A}}])
    assert dogs_or_ward_a == {"dog@example.org", "a@example.org", "horse@example.org"}
    horses_not_dogs = emails_reached(app, ready, watch_types=["rural_watch.horse"], rules=[
        {"name": "core.interest", "mode": "exclude", "params": {"watch_types": "rural_watch.dog"}}])
    assert horses_not_dogs == {"horse@example.org"}
    must = emails_reached(app, ready, areas=["E07900001"], rules=[
        {"name": "core.interest", "mode": "must", "params": {"watch_types": "rural_watch.dog"}}])
    assert must == {"dog@example.org"}


def test_only_consenting_reachable_residents_are_targeted(app, ready):
    reached = emails_reached(app, ready, areas=[WARD_A])
    for key in ("no_consent", "opted_out", "unverified", "urgent_only"):
        with app.app_context():
            assert db.session.get(Member, ready[key]).email not in reached
    assert "urgent@example.org" in emails_reached(app, ready, priority=1, areas=[WARD_A])


def test_a_sender_cannot_target_outside_their_scope(app, ready):
    with pytest.raises(TargetError) as caught:
        emails_reached(app, ready, staff_key="officer_b", areas=[WARD_A])
    assert "outside your areas: E05900001" in caught.value.errors["areas"]
    # Without naming areas, the scope still applies.
    assert emails_reached(app, ready, staff_key="officer_b") == {"dog@example.org"}
    with pytest.raises(TargetError, match="unknown targeting rule"):
        emails_reached(app, ready, rules=[{"name": "nope", "mode": "must", "params": {}}])


def draft(app, town, at=NOON, **target):
    sender = db.session.get(Staff, town["supervisor"])
    message = create_message(sender, title="Burglary on Mill Lane",
                             body="Sheds broken into **last night**.",
                             plain_text="Sheds broken into on Mill Lane last night.",
                             title_cy="Byrgleriaeth", body_cy="Siediau", plain_text_cy="Siediau",
                             category="crime_alert", priority=2,
                             target=Target(**target).to_json())
    db.session.add(message)
    db.session.commit()
    return message, sender


def test_preview_counts_people_channels_areas_and_cost(app, ready):
    with app.app_context():
        message, sender = draft(app, ready, areas=["E07900001"])
        result = preview(message, sender, at=NOON)
        assert result.people == 3
        assert result.deliveries_by_channel == {"email": 3, "sms": 1}
        assert dict(result.people_by_area) == {"Ashendry North": 2, "Ashendry South": 1}
        assert result.sms_segments == 1
        assert result.estimated_cost_pence == 1 * 1 * app.config["SMS_PENCE_PER_SEGMENT"]
        assert "Ashendry" in result.description
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_sending_writes_one_delivery_per_member_and_channel_and_delivers(app, ready, outbox):
    with app.app_context():
        message, sender = draft(app, ready, watch_types=["rural_watch.horse"], rules=[
            {"name": "core.area", "mode": "include", "params": {"codes": WARD_A}}])
        reached = send(message, sender, at=NOON)
        assert reached == 3  # matched twice, counted once
        rows = db.session.execute(select(Delivery.member_id, Delivery.channel, Delivery.state)
                                  ).all()
        assert sorted((m, c) for m, c, _ in rows) == sorted([
            (ready["ward_a"], "email"), (ready["ward_a_horse"], "email"),
            (ready["ward_a_horse"], "sms"), (ready["ward_b_dog"], "email")])
        assert {s for _, _, s in rows} == {"sent"}
        assert db.session.get(Message, message.id).status == "sent"
        sms = db.session.scalar(select(DevOutbox))
        assert (sms.address, sms.text) == ("+447400000001",
                                           "Sheds broken into on Mill Lane last night.")
    messages = outbox.wait_for(3)
    assert sorted(m["To"] for m in messages) == ["a@example.org", "dog@example.org",
                                                  "horse@example.org"]
    body = messages[0].get_body(("html",)).get_content()
    assert "<strong>last night</strong>" in body
    assert "Burglary on Mill Lane" in messages[0]["Subject"]
    # One email built per batch, completed per recipient: each their own.
    assert len({m["Message-ID"] for m in messages}) == 3
    assert len({m["X-Commonwatch-Delivery"] for m in messages}) == 3
    links = {m["To"]: m["List-Unsubscribe"].strip("<>") for m in messages}
    assert len(set(links.values())) == 3
    for m in messages:
        assert links[m["To"]] in m.get_body(("plain",)).get_content()
        assert f'href="{links[m["To"]]}"' in m.get_body(("html",)).get_content()


class PipeliningServer:
    """A real SMTP server (aiosmtpd) offering PIPELINING as Postfix does, so that alert
    emails take the pipelined path; it refuses the recipients in ``refuse_rcpt`` and the
    emails to those in ``refuse_data``, hangs up on the email to any in ``drop``, and
    keeps every write the client made to it."""

    def __init__(self) -> None:
        import socket

        from aiosmtpd.controller import Controller

        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse_rcpt: set[str] = set()
        self.refuse_data: set[str] = set()
        self.drop: set[str] = set()
        server = self

        class Handler:
            async def handle_EHLO(self, smtp, session, envelope, hostname, responses):
                session.host_name = hostname
                return [*responses[:-1], "250-PIPELINING", responses[-1]]

            async def handle_RCPT(self, smtp, session, envelope, address, options):
                if address in server.refuse_rcpt:
                    return "550 5.1.1 No such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):
                if set(envelope.rcpt_tos) & server.drop:
                    smtp.transport.close()
                    return "421 4.3.0 Closing"
                if set(envelope.rcpt_tos) & server.refuse_data:
                    return "451 4.3.0 Try again later"
                server.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                                        envelope.content))
                return "250 OK"

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def emails(self) -> dict[str, object]:
        """The emails received, parsed, by envelope recipient."""
        import email
        import email.policy

        return {to[0]: email.message_from_bytes(content, policy=email.policy.default)
                for _, to, content in self.received}


@pytest.fixture
def pipelining_smtp(monkeypatch):
    import smtplib

    server = PipeliningServer()
    server.controller.start()
    writes: list[bytes] = []
    send = smtplib.SMTP.send

    def recording_send(self, data):
        writes.append(data if isinstance(data, bytes) else data.encode())
        return send(self, data)

    monkeypatch.setattr(smtplib.SMTP, "send", recording_send)
    server.writes = writes
    yield server
    server.controller.stop()


def test_pipelined_emails_are_each_a_complete_email_of_their_own(
        make_app, county, make_member, make_staff, pipelining_smtp):
    """The fast path (one email prepared per batch and language, completed per recipient
    at byte level, sent with SMTP pipelining): every email parses as valid MIME and
    carries its own recipient, Message-ID, delivery id, signed unsubscribe link (header
    and both bodies), signed reply links and Reply-To address, in its own language."""
    import email.policy
    import re

    from core.replies import read_address_token
    from core.security import read_token

    app = make_app(MAIL_PORT=pipelining_smtp.port, INBOUND_EMAIL_DOMAIN="in.example.org")
    members = {f"p{n}@example.org": make_member(area=WARD_A, email=f"p{n}@example.org")
               for n in range(4)}
    members["cy@example.org"] = make_member(area=WARD_A, email="cy@example.org",
                                            language="cy")
    with app.app_context():
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        sender = db.session.get(Staff, town["supervisor"])
        # A line starting with a dot survives SMTP's dot-stuffing.
        message = create_message(
            sender, title="Burglary on Mill Lane", body="Sheds broken into.\n\n.Lock them.",
            plain_text="Sheds broken into.\n.Lock them.", title_cy="Byrgleriaeth ŵyn",
            body_cy="Siediau wedi'u torri.", plain_text_cy="Siediau ŵyn.",
            category="crime_alert", priority=2, target=Target(areas=[WARD_A]).to_json())
        db.session.add(message)
        db.session.commit()
        assert send(message, sender, at=NOON) == 5
        deliveries = dict(db.session.execute(select(Delivery.member_id, Delivery.id)).all())
        assert set(db.session.scalars(select(Delivery.state))) == {"sent"}
        assert db.session.get(Message, message.id).status == "sent"
    # Pipelined: an email's end and the next one's commands went out in one write.
    assert any(b"\r\n.\r\nMAIL FROM:" in w and b"DATA\r\n" in w
               for w in pipelining_smtp.writes)
    emails = pipelining_smtp.emails()
    assert sorted(emails) == sorted(members)
    # The line starting with a dot went out doubled, and the server undid that.
    assert any(b"\r\n..Lock them." in w for w in pipelining_smtp.writes)
    for _, _, content in pipelining_smtp.received:
        assert b"\r\n..Lock" not in content
    for address, mail in emails.items():
        member_id, delivery_id = members[address], deliveries[members[address]]
        assert not mail.defects and all(not part.defects for part in mail.walk())
        assert mail.get_content_type() == "multipart/alternative"
        assert mail["To"] == address
        assert mail["Message-ID"] == f"<{delivery_id}@commonwatch.example.org>"
        assert mail["X-Commonwatch-Delivery"] == str(delivery_id)
        assert mail["From"] == "Commonwatch <alerts@commonwatch.example.org>"
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = mail["List-Unsubscribe"].strip("<>")
        with app.app_context():
            assert read_token("unsubscribe", unsubscribe.rpartition("/")[2], 3600) == {
                "m": member_id}
            local = mail["Reply-To"].partition("@")[0]
            assert mail["Reply-To"].endswith("@in.example.org")
            assert read_address_token(local) == (message.id, member_id)
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert unsubscribe in text and f'href="{unsubscribe}"' in html
        reply = re.search(r"https://\S+/reply/([\w.-]+)", text)
        with app.app_context():
            assert read_token("reply", reply.group(1), 3600) == [message.id, member_id]
        assert f'href="{reply.group(0)}/useful"' in html
        welsh = address == "cy@example.org"
        assert mail["Subject"] == ("Byrgleriaeth ŵyn" if welsh else "Burglary on Mill Lane")
        assert ("Siediau ŵyn." in text) is welsh
        assert ("\n.Lock them." in text.replace("\r\n", "\n")) is not welsh
        assert ('lang="cy"' in html) is welsh
        # It is what the email package itself makes of it.
        assert mail.as_bytes(policy=email.policy.SMTP).count(b"\r\n\r\n") >= 3


def test_pipelined_refusals_are_recorded_per_delivery(make_app, county, make_member,
                                                      make_staff, pipelining_smtp):
    app = make_app(MAIL_PORT=pipelining_smtp.port)
    for name in ("a", "b", "c", "d"):
        make_member(area=WARD_A, email=f"{name}@example.org")
    pipelining_smtp.refuse_rcpt.add("b@example.org")
    pipelining_smtp.refuse_data.add("c@example.org")
    with app.app_context():
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        message, sender = draft(app, town, areas=[WARD_A])
        assert send(message, sender, at=NOON) == 4
        outcome = dict(db.session.execute(
            select(Member.email, Delivery.state + ":" + func.coalesce(Delivery.error, ""))
            .join(Member, Member.id == Delivery.member_id)).all())
        assert db.session.get(Message, message.id).status == "sending"
    assert outcome == {"a@example.org": "sent:", "b@example.org":
                       "temporary-failure:SMTPRecipientsRefused",
                       "c@example.org": "temporary-failure:SMTPDataError",
                       "d@example.org": "sent:"}
    assert sorted(pipelining_smtp.emails()) == ["a@example.org", "d@example.org"]


def test_a_connection_lost_mid_batch_fails_only_what_was_not_confirmed(
        make_app, county, make_member, make_staff, pipelining_smtp):
    app = make_app(MAIL_PORT=pipelining_smtp.port)
    for n in range(8):
        make_member(area=WARD_A, email=f"r{n}@example.org")
    pipelining_smtp.drop.add("r4@example.org")
    with app.app_context():
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        message, sender = draft(app, town, areas=[WARD_A])
        send(message, sender, at=NOON)
        outcome = dict(db.session.execute(
            select(Member.email, Delivery.state).join(Member, Member.id == Delivery.member_id)
        ).all())
        errors = set(db.session.scalars(select(Delivery.error).where(
            Delivery.state != "sent")))
    received = set(pipelining_smtp.emails())
    # Sent exactly when the server confirmed it; the rest wait for a retry.
    assert {a for a, state in outcome.items() if state == "sent"} == received
    assert "r4@example.org" not in received and len(received) >= 1
    assert {s for a, s in outcome.items() if a not in received} == {"temporary-failure"}
    assert errors <= {"SMTPServerDisconnected", "ConnectionResetError", "BrokenPipeError"}


def test_links_signed_in_bulk_are_the_same_as_one_by_one(app, monkeypatch):
    import time

    import itsdangerous.timed

    from core.emails import LinkSigner, unsubscribe_links, unsubscribe_url
    from core.replies import reply_url
    from core.security import read_token

    now = int(time.time()) - 5
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: now)
    with app.test_request_context("/"):
        unsubscribe, reply = unsubscribe_links(), LinkSigner("reply", "replies.reply")
        for member_id in (1, 42, 1111111111, 2**31 - 1):
            assert unsubscribe.url({"m": member_id}) == unsubscribe_url(member_id)
            assert reply.url([7, member_id]) == reply_url(7, member_id)
            token = reply.url([7, member_id]).rpartition("/")[2]
            assert read_token("reply", token, 60) == [7, member_id]
            assert read_token("unsubscribe", token, 60) is None  # another purpose


@pytest.mark.parametrize("url", [
    "https://a.example/" + "x" * 42 + ".y" + "z" * 70, "https://a.example/?q=1&r=" + "=" * 70,
    ".starts-with-a-dot" * 5,
])
def test_links_in_quoted_printable_lines(url):
    import quopri

    from core.delivery import _qp

    encoded = _qp(url)
    lines = encoded.split(b"\r\n")
    assert all(len(line) <= 76 and not line.startswith(b".") for line in lines)
    assert quopri.decodestring(encoded.replace(b"\r\n", b"\n")).decode() == url


def test_a_group_sender_reaches_only_its_areas_and_consenting_members(app, ready, outbox):
    """A coordinator's message (no staff account) goes through the same pipeline: only
    members in the group's areas who consented to its organisation get it, and they see
    the coordinator's name, role and group as its sender."""
    from core.messaging import GroupSender, delivery_states
    from core.models import Area, Organisation

    with app.app_context():
        police = db.session.scalar(select(Organisation).where(
            Organisation.slug == "wealdshire-police"))
        ward_a = db.session.scalar(select(Area).where(Area.code == WARD_A))
        sender = GroupSender(police.id, [ward_a], "Jo Bloggs", "Scheme coordinator",
                             "Mill Lane Watch")
        message = create_message(sender, title="Bins out", body="Bin day.", plain_text="P",
                                 category="community_news", priority=4,
                                 target=Target().to_json())
        db.session.add(message)
        db.session.flush()
        assert send(message, sender, at=NOON) == 2  # a@, horse@ — not dog@ in ward B
        assert message.sender_id is None
        assert sorted(delivery_states(message)) == [("email", "sent", 2), ("sms", "sent", 1)]
        follow_up = create_message(sender, title="T", body="B", plain_text="P",
                                   category="community_news", priority=4,
                                   target=Target(follow_up_of=message.id).to_json())
        with pytest.raises(TargetError) as caught:
            send(follow_up, sender, at=NOON)
        assert "follow_up_of" in caught.value.errors
        db.session.rollback()
    messages = outbox.wait_for(2)
    assert sorted(m["To"] for m in messages) == ["a@example.org", "horse@example.org"]
    text = messages[0].get_body(("plain",)).get_content()
    assert "From: Jo Bloggs, Scheme coordinator, Wealdshire Police (Mill Lane Watch)" in text


def test_welsh_speakers_get_the_welsh_version(app, make_member, make_staff, county, outbox):
    make_member(area=WARD_A, email="cymraeg@example.org", language="cy")
    make_member(area=WARD_A, email="english@example.org")
    with app.app_context():
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        message, sender = draft(app, town, areas=[WARD_A])
        send(message, sender, at=NOON)
    by_address = {m["To"]: m for m in outbox.wait_for(2)}
    assert "Byrgleriaeth" in by_address["cymraeg@example.org"]["Subject"]
    assert "Burglary" in by_address["english@example.org"]["Subject"]


def test_channels_follow_the_members_time_of_day_choice(app, ready):
    with app.app_context():
        member = db.session.get(Member, ready["ward_a_horse"])
        for channel in member.channels:
            channel.by_night = channel.channel == "email"  # SMS by day only
        db.session.commit()
        message, sender = draft(app, ready, areas=[WARD_A])
        night = preview(message, sender, at=MIDNIGHT).deliveries_by_channel
        day = preview(message, sender, at=NOON).deliveries_by_channel
        assert night == {"email": 2} and day == {"email": 2, "sms": 1}


def test_a_plugin_can_veto_a_message_and_hears_when_one_is_sent(app, ready):
    heard = []

    class Watcher:
        @hookimpl
        def commonwatch_message_before_send(self, message):
            if "forbidden" in message.title:
                raise MessageVetoed("titles may not say forbidden")

        @hookimpl
        def commonwatch_message_sent(self, message, recipient_count):
            heard.append((message.id, recipient_count))

    app.extensions["commonwatch"].plugins.pm.register(Watcher(), name="watcher")
    with app.app_context():
        message, sender = draft(app, ready, areas=[WARD_A])
        message.title = "forbidden words"
        with pytest.raises(MessageVetoed):
            send(message, sender, at=NOON)
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
        message.title = "fine words"
        send(message, sender, at=NOON)
        assert heard == [(message.id, 2)]


@pytest.mark.redis
def test_workers_deliver_each_delivery_once(make_app, redis_url, county, make_member,
                                            make_staff, outbox):
    from rq import Queue

    from core.jobs import redis_connection, run_worker

    app = make_app(REDIS_URL=redis_url, DELIVERY_BATCH_SIZE=2)
    Queue("default", connection=redis_connection(app)).empty()
    for n in range(5):
        make_member(area=WARD_A, email=f"queued{n}@example.org")
    with app.app_context():
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        message, sender = draft(app, town, areas=[WARD_A])
        assert send(message, sender, at=NOON) == 5
        jobs = Queue("default", connection=redis_connection(app)).get_jobs()
        assert len(jobs) == 3  # batches of 2
        assert all(all(isinstance(a, int) for a in job.args) for job in jobs)
        # A duplicate job (a retry after a crash) finds nothing left to claim.
        from core.delivery import deliver_batch
        from core.jobs import enqueue

        enqueue(deliver_batch, *jobs[0].args)
    run_worker(app, ["default"], burst=True)
    assert sorted(m["To"] for m in outbox.wait_for(5)) == [f"queued{n}@example.org"
                                                            for n in range(5)]
    with app.app_context():
        states = set(db.session.scalars(select(Delivery.state)))
        assert states == {"sent"}
        assert db.session.get(Message, message.id).status == "sent"
    assert len(outbox) == 5


def test_a_plugin_channel_replaces_the_development_channel(app, ready):
    sent = []

    class FakeSmsProvider:
        @hookimpl
        def commonwatch_channels(self):
            from core.registry import Channel

            def deliver(message, items):
                sent.extend((i.address, i.text) for i in items)
                return {}

            return [Channel("sms", deliver)]

    app.extensions["commonwatch"].plugins.pm.register(FakeSmsProvider(), name="fakesms")
    from core.registry import build_registry

    app.extensions["commonwatch"].registry = build_registry(app.extensions["commonwatch"].plugins)
    with app.app_context():
        message, sender = draft(app, ready, areas=[WARD_A])
        send(message, sender, at=NOON)
        assert sent == [("+447400000001", "Sheds broken into on Mill Lane last night.")]
        assert db.session.scalar(select(func.count()).select_from(DevOutbox)) == 0


def test_emails_carry_one_click_unsubscribe_that_needs_no_sign_in(make_app, county,
                                                                  make_member, make_staff,
                                                                  outbox):
    app = make_app(WTF_CSRF_ENABLED=True)
    member_id = make_member(area=WARD_A, email="leaving@example.org")
    with app.app_context():
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        message, sender = draft(app, town, areas=[WARD_A])
        send(message, sender, at=NOON)
    email = outbox.wait_for(1)[0]
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = email["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://commonwatch.example.org/unsubscribe/")
    assert link in email.get_body(("plain",)).get_content()
    assert f'href="{link}"' in email.get_body(("html",)).get_content()
    path = link.removeprefix("https://commonwatch.example.org")
    client = app.test_client()
    # Looking at the link (a mail scanner, a preview) changes nothing.
    assert "Stop all messages" in client.get(path).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Member, member_id).opted_out_at is None
    # A forged link does nothing; the mail client's one-click POST, with no form token,
    # unsubscribes.
    assert client.post("/unsubscribe/forged", data={"List-Unsubscribe": "One-Click"}
                       ).status_code == 400
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Member, member_id).opted_out_at is not None
        second, sender = draft(app, town, areas=[WARD_A])
        assert send(second, sender, at=NOON) == 0


def test_deliveries_of_a_worker_that_died_are_swept_and_sent_once(app, ready, outbox,
                                                                  monkeypatch):
    from datetime import timedelta

    from sqlalchemy import update

    from core.delivery import claim

    with app.app_context():
        message, sender = draft(app, ready, areas=[WARD_A])
        # Fan out without delivering: as if the jobs were lost with Redis.
        with monkeypatch.context() as patch:
            patch.setattr("core.messaging.enqueue_deliveries", lambda message_id: 0)
            send(message, sender, at=NOON)
        ids = list(db.session.scalars(select(Delivery.id).order_by(Delivery.id)))
        # A worker claims the first delivery, then dies before sending it.
        assert claim(message.id, ids[0], ids[0]) == [ids[0]]
        long_ago = utcnow() - timedelta(minutes=10)
        db.session.execute(update(Delivery).values(queued_at=long_ago))
        db.session.execute(update(Delivery).where(Delivery.id == ids[0])
                           .values(claimed_at=long_ago))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["sweep-deliveries"])
    assert result.output.splitlines()[0] == "put back 1 deliveries"
    assert sorted(m["To"] for m in outbox.wait_for(2)) == ["a@example.org", "horse@example.org"]
    with app.app_context():
        assert set(db.session.scalars(select(Delivery.state))) == {"sent"}
        attempts = dict(db.session.execute(select(Delivery.id, Delivery.attempts)).all())
        assert attempts[ids[0]] == 2
    # Sweeping again finds nothing and sends nothing twice.
    assert app.test_cli_runner().invoke(args=["sweep-deliveries"]).output.splitlines()[0] \
        == "put back 0 deliveries"
    assert len(outbox) == 2


def test_residents_read_the_messages_they_were_sent_and_no_others(app, ready, login):
    with app.app_context():
        message, sender = draft(app, ready, areas=[WARD_A])
        send(message, sender, at=NOON)
        other, sender = draft(app, ready, areas=[WARD_B])
        other.title = "Only for Ashendry South"
        send(other, sender, at=NOON)
        message, other = message.id, other.id
    client = login(app.test_client(), member=ready["ward_a"])
    page = client.get("/account/messages").get_data(as_text=True)
    assert "Burglary on Mill Lane" in page and "Only for Ashendry South" not in page
    page = client.get(f"/account/messages/{message}").get_data(as_text=True)
    assert "Sheds broken into <strong>last night</strong>" in page
    assert client.get(f"/account/messages/{other}").status_code == 404
    welsh = login(app.test_client(), member=ready["ward_b_dog"])
    with app.app_context():
        db.session.get(Member, ready["ward_b_dog"]).language = "cy"
        db.session.commit()
    assert "Byrgleriaeth" in welsh.get(f"/account/messages/{other}").get_data(as_text=True)


def test_the_daily_cap_moves_messages_to_the_digest_and_urgent_ones_bypass_it(
        make_app, county, make_member, make_staff, outbox):
    app = make_app(DAILY_MESSAGE_CAP=2)
    busy = make_member(area=WARD_A, email="busy@example.org")
    prefers_digest = make_member(area=WARD_A, email="digest@example.org")
    with app.app_context():
        db.session.get(Member, prefers_digest).digest_only = True
        db.session.commit()
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        titles = []
        for n, priority in enumerate([3, 3, 3, 4, 1]):
            message, sender = draft(app, town, areas=[WARD_A])
            message.title, message.priority = f"Alert {n}", priority
            message.plain_text = f"Text of alert {n}"
            db.session.commit()
            send(message, sender, at=NOON)
            titles.append(message.title)
        states = {(member, title): state for member, title, state in db.session.execute(
            select(Delivery.member_id, Message.title, Delivery.state)
            .join(Message, Message.id == Delivery.message_id))}
    # The busy member gets two a day; the rest wait; the urgent one comes at once.
    assert [states[(busy, t)] for t in titles] == ["sent", "sent", "digest", "digest", "sent"]
    # Digest-only members get only urgent messages straight away.
    assert [states[(prefers_digest, t)] for t in titles] == ["digest"] * 4 + ["sent"]
    assert sorted(m["Subject"].split(" – ")[0] for m in outbox.wait_for(4)) == [
        "Alert 0", "Alert 1", "Alert 4", "Alert 4"]

    result = app.test_cli_runner().invoke(args=["send-digests"])
    assert result.output == "sent 2 digests\n"
    digests = {m["To"]: m for m in outbox.wait_for(6) if "digest" in m["Subject"]}
    assert set(digests) == {"busy@example.org", "digest@example.org"}
    body = digests["digest@example.org"].get_body(("plain",)).get_content()
    assert all(f"Text of alert {n}" in body for n in range(4)) and "alert 4" not in body
    assert digests["busy@example.org"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with app.app_context():
        assert set(db.session.scalars(select(Delivery.state))) == {"sent"}
    assert app.test_cli_runner().invoke(args=["send-digests"]).output == "sent 0 digests\n"


def test_quiet_hours_hold_sms_until_morning_and_the_sweeper_sends_it(app, ready, outbox):
    from datetime import timedelta

    from sqlalchemy import update

    with app.app_context():
        message, sender = draft(app, ready, areas=[WARD_A])
        send(message, sender, at=MIDNIGHT)  # 23:30 UK time
        message_id = message.id
        rows = {(c, s): nb for c, s, nb in db.session.execute(
            select(Delivery.channel, Delivery.state, Delivery.not_before))}
        assert ("email", "sent") in rows  # email goes now
        held = rows[("sms", "queued")]
        assert held == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # deferred, not dropped
        assert db.session.get(Message, message_id).status == "sending"
        # Before the morning the sweeper leaves it; once due, it goes, once.
        assert app.test_cli_runner().invoke(args=["sweep-deliveries"]).exit_code == 0
        assert db.session.scalar(select(func.count()).select_from(DevOutbox)) == 0
        db.session.execute(update(Delivery).where(Delivery.channel == "sms")
                           .values(not_before=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    app.test_cli_runner().invoke(args=["sweep-deliveries"])
    app.test_cli_runner().invoke(args=["sweep-deliveries"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DevOutbox)) == 1
        assert db.session.get(Message, message_id).status == "sent"


def test_urgent_messages_are_not_held_by_quiet_hours(app, ready):
    with app.app_context():
        message, sender = draft(app, ready, areas=[WARD_A])
        message.priority = 1
        db.session.commit()
        send(message, sender, at=MIDNIGHT)
        assert set(db.session.scalars(select(Delivery.state))) == {"sent"}


def test_a_scheduled_message_goes_out_when_due_and_only_then(app, ready, outbox):
    from datetime import timedelta

    from core.messaging import schedule

    # Whatever the time of day the test runs: in quiet hours the text messages would wait
    # for the morning and the message stay "sending".
    app.config.update(QUIET_HOURS_START=0, QUIET_HOURS_END=0)
    with app.app_context():
        message, sender = draft(app, ready, areas=[WARD_A])
        schedule(message, utcnow() + timedelta(hours=2))
        message_id = message.id
    app.test_cli_runner().invoke(args=["sweep-deliveries"])
    assert len(outbox) == 0
    with app.app_context():
        assert db.session.get(Message, message_id).status == "scheduled"
        db.session.get(Message, message_id).scheduled_for = utcnow() - timedelta(minutes=1)
        db.session.commit()
    app.test_cli_runner().invoke(args=["sweep-deliveries"])
    app.test_cli_runner().invoke(args=["sweep-deliveries"])
    assert len(outbox.wait_for(2)) == 2
    with app.app_context():
        assert db.session.get(Message, message_id).status == "sent"


@pytest.mark.redis
def test_urgent_messages_have_their_own_queue_served_first(make_app, redis_url, county,
                                                            make_member, make_staff, outbox):
    from rq import Queue

    from core.jobs import queue_names, redis_connection

    app = make_app(REDIS_URL=redis_url)
    assert queue_names(app) == ["urgent", "default"]
    connection = redis_connection(app)
    for name in ("urgent", "default"):
        Queue(name, connection=connection).empty()
    make_member(area=WARD_A, email="urgent-reader@example.org")
    with app.app_context():
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        routine, sender = draft(app, town, areas=[WARD_A])
        routine.priority = 3
        send(routine, sender, at=NOON)
        urgent, sender = draft(app, town, areas=[WARD_A])
        urgent.priority, urgent.title = 1, "Missing child"
        send(urgent, sender, at=NOON)
    assert Queue("urgent", connection=connection).count == 1
    assert Queue("default", connection=connection).count == 1
    from core.jobs import run_worker

    run_worker(app, queue_names(app), burst=True)
    first, second = outbox.wait_for(2)
    assert first["Subject"].startswith("Missing child")  # served first though sent second


class FlakyEmail:
    """An email provider that fails as told, per address."""

    def __init__(self):
        self.plan = {}  # address -> list of outcomes, "ok" / "temporary" / "permanent"
        self.accepted = []

    @hookimpl
    def commonwatch_channels(self):
        from core.registry import Channel

        def send_batch(message, items):
            failures = {}
            for item in items:
                planned = self.plan.get(item.address)
                outcome = planned.pop(0) if planned else "ok"
                if outcome == "ok":
                    self.accepted.append((item.address, message.title))
                else:
                    failures[item.delivery_id] = (f"{outcome}-failure", f"{outcome} problem")
            return failures

        return [Channel("email", send_batch)]


@pytest.fixture
def flaky(app):
    from core.registry import build_registry

    provider = FlakyEmail()
    state = app.extensions["commonwatch"]
    state.plugins.pm.register(provider, name="flaky")
    state.registry = build_registry(state.plugins)
    return provider


def make_due(app):
    from datetime import timedelta

    from sqlalchemy import update

    with app.app_context():
        db.session.execute(update(Delivery).where(Delivery.not_before.is_not(None))
                           .values(not_before=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_temporary_failures_are_retried_with_backoff_then_given_up(app, ready, flaky):
    flaky.plan = {"a@example.org": ["temporary", "temporary", "ok"],
                  "horse@example.org": ["temporary"] * 9}
    with app.app_context():
        message, sender = draft(app, ready, areas=[WARD_A])
        send(message, sender)
        first = dict(db.session.execute(
            select(Member.email, Delivery.not_before).join(Member, Member.id == Delivery.member_id)
            .where(Delivery.channel == "email")).all())
        waits = {email: (when - utcnow()).total_seconds() for email, when in first.items()}
        assert all(50 < w <= 60 for w in waits.values())  # first retry after 60 s
    for _round in range(6):
        make_due(app)
        app.test_cli_runner().invoke(args=["sweep-deliveries"])
    assert ("a@example.org", "Burglary on Mill Lane") in flaky.accepted
    with app.app_context():
        rows = dict(db.session.execute(
            select(Member.email, Delivery.state).join(Member, Member.id == Delivery.member_id)
            .where(Delivery.channel == "email")).all())
        attempts = dict(db.session.execute(
            select(Member.email, Delivery.attempts).join(Member, Member.id == Delivery.member_id)
            .where(Delivery.channel == "email")).all())
        assert rows == {"a@example.org": "sent", "horse@example.org": "permanent-failure"}
        assert attempts == {"a@example.org": 3, "horse@example.org": 5}


def test_an_address_failing_permanently_again_is_marked_and_left_alone(app, ready, flaky,
                                                                       make_staff, login):
    flaky.plan = {"a@example.org": ["permanent", "permanent"]}
    with app.app_context():
        for _ in range(2):
            message, sender = draft(app, ready, areas=[WARD_A])
            send(message, sender)
        member = db.session.get(Member, ready["ward_a"])
        assert member.email_invalid_at is not None
        third, sender = draft(app, ready, areas=[WARD_A])
        send(third, sender)
        emailed = set(db.session.scalars(
            select(Delivery.member_id).where(Delivery.message_id == third.id,
                                             Delivery.channel == "email")))
        assert ready["ward_a"] not in emailed and ready["ward_a_horse"] in emailed
    staff = login(app.test_client(), staff=ready["supervisor"])
    page = staff.get(f"/staff/members/{ready['ward_a']}").get_data(as_text=True)
    assert "Not working since" in page


MILL_LANE = {"type": "Polygon", "coordinates": [[[-0.6, 51.9625], [-0.5375, 51.9625],
                                                 [-0.5375, 52.0], [-0.6, 52.0],
                                                 [-0.6, 51.9625]]]}


def test_targeting_a_shape_drawn_on_a_map(app, make_member, make_staff, county):
    on_mill_lane = make_member(area="E05900001", postcode="HF1 1FJ", email="mill@example.org")
    make_member(area="E05900001", postcode="HF1 3GL", email="mill2@example.org")
    with app.app_context():
        from core.models import Postcode

        other = db.session.scalar(select(Postcode.postcode).where(
            Postcode.area.has(code="ST000002")))
    make_member(area="E05900001", postcode=other, email="school@example.org")
    town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
    assert emails_reached(app, town, shape=MILL_LANE) == {"mill@example.org",
                                                          "mill2@example.org"}
    # A 300 m circle round the first postcode's point catches it and not the other.
    circle = {"type": "Circle", "center": [-0.587439, 51.966677], "radius_m": 300}
    assert emails_reached(app, town, shape=circle) == {"mill@example.org"}
    # The sender's scope still applies: an officer elsewhere reaches nobody in it.
    town["officer_b"] = make_staff("officer", areas=["E05900012"])
    assert emails_reached(app, town, staff_key="officer_b", shape=MILL_LANE) == set()
    with app.app_context():
        assert db.session.get(Member, on_mill_lane).postcode == "HF1 1FJ"


@pytest.mark.parametrize(("shape", "reason"), [
    ({"type": "Point", "coordinates": [0, 0]}, "Polygon, a MultiPolygon or a Circle"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
     "not valid"),
    ({"type": "Circle", "center": [0, 0], "radius_m": 10**7}, "radius_m"),
    ({"type": "Circle", "center": "here", "radius_m": 10}, "center"),
])
def test_bad_shapes_are_refused_with_a_reason(app, make_staff, county, shape, reason):
    town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
    with pytest.raises(TargetError) as caught:
        emails_reached(app, town, shape=shape)
    assert reason in caught.value.errors["shape"]


@pytest.mark.redis
def test_channel_rate_limits_are_shared_by_workers_and_defer_not_drop(
        make_app, redis_url, county, make_member, make_staff, outbox):
    from datetime import timedelta

    from rq import Queue
    from sqlalchemy import update

    from core.jobs import queue_names, redis_connection, run_worker

    app = make_app(REDIS_URL=redis_url, DELIVERY_BATCH_SIZE=1,
                   CHANNEL_RATE_LIMITS={"email": "2/hour"})
    connection = redis_connection(app)
    for name in ("urgent", "default"):
        Queue(name, connection=connection).empty()
    for key in connection.scan_iter("LIMITS*"):
        connection.delete(key)
    for n in range(3):
        make_member(area=WARD_A, email=f"limited{n}@example.org")
    with app.app_context():
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        message, sender = draft(app, town, areas=[WARD_A])
        send(message, sender, at=NOON)
    run_worker(app, queue_names(app), burst=True)
    assert len(outbox.wait_for(2)) == 2
    with app.app_context():
        held = db.session.execute(select(Delivery.state, Delivery.not_before, Delivery.attempts)
                                  .where(Delivery.state != "sent")).all()
        assert len(held) == 1 and held[0].state == "queued" and held[0].not_before
        assert held[0].attempts == 0  # a deferral is not a failed try
    for key in connection.scan_iter("LIMITS*"):
        connection.delete(key)  # the hour has passed
    with app.app_context():
        db.session.execute(update(Delivery).where(Delivery.state == "queued")
                           .values(not_before=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    app.test_cli_runner().invoke(args=["sweep-deliveries"])
    run_worker(app, queue_names(app), burst=True)
    assert sorted(m["To"] for m in outbox.wait_for(3)) == [f"limited{n}@example.org"
                                                           for n in range(3)]


def test_when_the_only_channel_fails_the_next_allowed_one_is_tried(app, make_member,
                                                                   make_staff, county, flaky):
    both = make_member(area=WARD_A, email="bounces@example.org", phone="+447400200001",
                       channels=["email", "sms"])
    only_email = make_member(area=WARD_A, email="bounces-too@example.org")
    flaky.plan = {"bounces@example.org": ["permanent"], "bounces-too@example.org": ["permanent"]}
    with app.app_context():
        member = db.session.get(Member, both)
        for channel in member.channels:
            channel.by_day = channel.channel == "email"  # SMS only at night...
        db.session.commit()
        town = {"supervisor": make_staff("supervisor", areas=["E07900001"])}
        message, sender = draft(app, town, areas=[WARD_A])
        send(message, sender, at=NOON)
        states = {(m, c): s for m, c, s in db.session.execute(
            select(Delivery.member_id, Delivery.channel, Delivery.state))}
        # ...so the SMS was not sent at first, and comes only because email failed.
        assert states[(both, "email")] == "permanent-failure"
        assert states[(both, "sms")] in ("queued", "sent")
        assert states[(only_email, "email")] == "permanent-failure"
        assert (only_email, "sms") not in states
        # Sent at once by day; held to the morning in quiet hours, never dropped.
        held = db.session.scalar(select(Delivery.not_before).where(
            Delivery.member_id == both, Delivery.channel == "sms"))
        assert (states[(both, "sms")] == "sent") == (held is None)

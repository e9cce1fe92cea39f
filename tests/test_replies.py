"""Residents answer alerts without signing in (by the link in the alert or by replying to
the email), the right team deals with the reply, the resident gets the public answer and
never the internal notes, keywords escalate, and residents rate alerts."""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.messaging import Target, create_message, send
from core.models import (
    Delivery,
    DevOutbox,
    Member,
    MemberAccess,
    MessageRating,
    Reply,
    ReplyNote,
    Staff,
)

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BASE = "https://commonwatch.example.org"
INBOUND = "replies.commonwatch.example.org"
TOKEN = "inbound-test-token"
WARD_A, WARD_B = "E05900001", "E05900002"  # Ashendry North and South
DISTRICT, FAR_DISTRICT, FAR_WARD = "E07900001", "E07900004", "E05900012"


@pytest.fixture
def app(make_app):
    return make_app(INBOUND_EMAIL_DOMAIN=INBOUND, INBOUND_EMAIL_TOKEN=TOKEN,
                    REPLY_KEYWORD_RULES={"knife": FAR_DISTRICT, "missing": DISTRICT})


@pytest.fixture
def town(make_member, make_staff):
    """An officer in Ashendry North who sends alerts, their colleagues near and far,
    the council's officer in the same ward, and residents of the ward."""
    return {
        "officer": make_staff("officer", areas=[WARD_A], name="PC Ann Other"),
        "neighbour_officer": make_staff("officer", areas=[WARD_B], name="PC Ben South"),
        "supervisor": make_staff("supervisor", areas=[DISTRICT], name="Sgt Sue Ashendry"),
        "far_officer": make_staff("officer", areas=[FAR_WARD], name="PC Far Away"),
        "far_supervisor": make_staff("supervisor", areas=[FAR_DISTRICT],
                                     name="Sgt Thornwick"),
        "council": make_staff("officer", areas=[WARD_A], organisation="ashendry-council",
                              name="Council Colin"),
        "resident": make_member(area=WARD_A, email="rita@example.org", name="Rita Resident",
                                phone="+447400100001", channels=["email"]),
        "texter": make_member(area=WARD_A, email="tom@example.org", name="Tom Texter",
                              phone="+447400100002", channels=["email", "sms"]),
    }


def send_alert(app, town, title="Van seen on Mill Lane", staff="officer"):
    with app.app_context():
        sender = db.session.get(Staff, town[staff])
        message = create_message(sender, title=title, body="A white **van** was seen.",
                                 plain_text="A white van was seen on Mill Lane.",
                                 category="witness_appeal", priority=2,
                                 target=Target(areas=[WARD_A]).to_json())
        db.session.add(message)
        db.session.commit()
        send(message, sender, at=NOON)
        return message.id


def email_to(outbox, address, count):
    return [m for m in outbox.wait_for(count) if m["To"] == address][-1]


def reply_link(mail):
    """The "Reply to the sender" link of an alert email, as a path."""
    links = [link for link in type_links(mail) if re.fullmatch(rf"{BASE}/reply/[^/]+", link)]
    assert len(set(links)) == 1, links
    return links[0].removeprefix(BASE)


def type_links(mail):
    return re.findall(r"https?://\S+", mail.get_body(("plain",)).get_content())


def replies(app):
    with app.app_context():
        return db.session.scalars(select(Reply).order_by(Reply.id)).all()


def staff_client(app, login, town, key):
    return login(app.test_client(), staff=town[key])


# -- the reply link ---------------------------------------------------------------------------


def test_every_alert_email_carries_its_own_reply_and_rating_links(app, town, outbox):
    send_alert(app, town)
    mails = {m["To"]: m for m in outbox.wait_for(2)}
    assert set(mails) == {"rita@example.org", "tom@example.org"}
    paths = {to: reply_link(m) for to, m in mails.items()}
    assert paths["rita@example.org"] != paths["tom@example.org"]
    for to, mail in mails.items():
        text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = mail.get_body(("html",)).get_content()
        link = BASE + paths[to]
        assert f"Reply to the sender (no sign-in needed):\n{link}\n" in text
        assert f"Useful: {link}/useful" in text and f"Not useful: {link}/not-useful" in text
        assert f'href="{link}"' in html and f'href="{link}/useful"' in html
        # Replying to the email reaches the inbound address, one per resident and alert.
        assert re.fullmatch(rf"reply\+[a-z0-9-]+@{re.escape(INBOUND)}", mail["Reply-To"])
    assert mails["rita@example.org"]["Reply-To"] != mails["tom@example.org"]["Reply-To"]
    # A text message has no room for links: the SMS is the alert's text alone.
    with app.app_context():
        assert db.session.scalar(select(DevOutbox.text)) == "A white van was seen on Mill Lane."


def test_alert_emails_are_still_built_once_per_batch(app, town):
    """Per-recipient links are filled into one prepared email (the fast path), in both
    languages, so a county-wide alert does not build an email per resident."""
    from core.delivery import _Template, outgoing

    message_id = send_alert(app, town)
    with app.test_request_context("/"):
        from core.models import Message

        message = db.session.get(Message, message_id)
        ids = list(db.session.scalars(select(Delivery.id).where(Delivery.channel == "email")))
        for language in ("en", "cy"):
            db.session.execute(Member.__table__.update().values(language=language))
            message.title_cy, message.body_html_cy = "Fan wen", "<p>Fan</p>"
            items = outgoing(message, ids)["email"]
            template = _Template(items[0], "Alerts <alerts@commonwatch.example.org>",
                                 "commonwatch.example.org", message.id)
            assert template.usable, language
            raw = template.fill(items[1]).decode()
            assert "Reply-To: reply+" in raw
            assert f"{items[1].member_id}-" in raw.split("Reply-To: reply+")[1].split("-", 1)[1]
        db.session.rollback()


def test_a_resident_replies_through_the_link_without_signing_in(app, town, outbox, login):
    message_id = send_alert(app, town)
    path = reply_link(email_to(outbox, "rita@example.org", 2))
    visitor = app.test_client()  # never signed in
    page = visitor.get(path)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Van seen on Mill Lane" in body and "Wealdshire Police" in body
    # Only what the resident saw is asked; nothing the platform already holds.
    fields = set(re.findall(r'<(?:input|textarea|select)\b[^>]*\bname="([^"]+)"', body))
    assert fields - {"csrf_token"} == {"body", "may_contact"}
    assert "Rita" not in body and "rita@example.org" not in body
    response = visitor.post(path, data={"body": "   "})
    assert "Write your reply" in response.get_data(as_text=True)
    assert replies(app) == []
    response = visitor.post(path, data={"body": "The van had a ladder on the roof.",
                                        "may_contact": "y"})
    assert response.status_code == 302
    assert "Your reply has been sent" in visitor.get(response.location).get_data(as_text=True)
    (reply,) = replies(app)
    assert (reply.message_id, reply.member_id, reply.via, reply.may_contact, reply.state) == (
        message_id, town["resident"], "web", True, "open")
    # The officer finds it in their inbox and sees who sent it.
    officer = staff_client(app, login, town, "officer")
    inbox = officer.get("/staff/replies/").get_data(as_text=True)
    assert "The van had a ladder on the roof." in inbox
    page = officer.get(f"/staff/replies/{reply.id}").get_data(as_text=True)
    assert "Rita Resident" in page and "rita@example.org" in page  # they may be contacted
    # Like the member's own page, the resident sees that the officer looked.
    with app.app_context():
        assert db.session.scalar(select(MemberAccess.staff_id).where(
            MemberAccess.member_id == town["resident"])) == town["officer"]


def test_a_forged_or_expired_link_is_refused_with_a_clear_page(app, town, outbox,
                                                               monkeypatch):
    send_alert(app, town)
    path = reply_link(email_to(outbox, "rita@example.org", 2))
    client = app.test_client()
    for forged in ("/reply/not-a-token", path[:-3] + ("AAA" if path[-3:] != "AAA" else "BBB"),
                   path + "x/useful"):
        response = client.get(forged)
        assert response.status_code == 400, forged
        assert "This link does not work" in response.get_data(as_text=True)
    assert client.post("/reply/not-a-token", data={"body": "x"}).status_code == 400
    # A link signed 31 days ago has expired (REPLY_LINK_MAX_AGE_DAYS is 30).
    import itsdangerous.timed

    from core.replies import reply_token

    month_ago = time.time() - 31 * 24 * 3600
    ids = path_ids(app, path)
    with monkeypatch.context() as patch, app.app_context():
        patch.setattr(itsdangerous.timed.time, "time", lambda: month_ago)
        old = reply_token(*ids)
    for suffix in ("", "/useful", "/not-useful"):
        response = client.get(f"/reply/{old}{suffix}")
        assert response.status_code == 410
        assert "This link has expired" in response.get_data(as_text=True)
    assert client.post(f"/reply/{old}", data={"body": "late"}).status_code == 410
    assert client.post(f"/reply/{old}/useful").status_code == 410
    assert replies(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MessageRating)) == 0
    # A resident who deleted their account leaves links that no longer work.
    with app.app_context():
        from core.members import erase

        erase(db.session.get(Member, town["resident"]))
        db.session.commit()
    assert client.get(path).status_code == 410


def path_ids(app, path):
    from core.replies import read_reply_link

    with app.app_context():
        link = read_reply_link(path.rsplit("/", 1)[1])
        return link.message.id, link.member.id


def test_replies_through_one_link_are_rate_limited(make_app, town, outbox):
    app = make_app(REPLY_LIMIT="2 per hour")
    send_alert(app, town)
    path = reply_link(email_to(outbox, "rita@example.org", 2))
    client = app.test_client()
    statuses = [client.post(path, data={"body": f"Reply {n}"}).status_code for n in range(3)]
    assert statuses == [302, 302, 429]
    assert [r.body for r in replies(app)] == ["Reply 0", "Reply 1"]


# -- replies by email ---------------------------------------------------------------------------


def answer_email(alert, text, sender=None, to=None, in_reply_to=True, html=None):
    """What a mail program sends when the resident presses Reply: quoting the alert."""
    mail = EmailMessage()
    mail["From"] = sender or alert["To"]
    mail["To"] = to or alert["Reply-To"]
    mail["Subject"] = "Re: " + alert["Subject"]
    mail["Message-ID"] = make_msgid(domain="mail.example.org")
    if in_reply_to:
        mail["In-Reply-To"] = alert["Message-ID"]
        mail["References"] = alert["Message-ID"]
    quoted = "\n".join("> " + line for line in
                       alert.get_body(("plain",)).get_content().splitlines())
    mail.set_content(f"{text}\n\nOn Sat, 21 Nov 2026 at 12:00, Wealdshire Alerts "
                     f"<alerts@commonwatch.example.org>\nwrote:\n{quoted}\n")
    if html:
        mail.add_alternative(html, subtype="html")
    return mail


def post_email(client, mail, token=TOKEN, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if kwargs.pop("as_form", False):
        return client.post("/inbound/email", headers=headers,
                           data={"email": mail.as_bytes().decode()})
    return client.post("/inbound/email", data=mail.as_bytes(), headers=headers,
                       content_type="message/rfc822")


def test_an_emailed_reply_is_threaded_to_its_message_through_the_webhook(app, town,
                                                                        outbox, login):
    message_id = send_alert(app, town)
    alert = email_to(outbox, "rita@example.org", 2)
    mail = answer_email(alert, "I saw the van again this morning, outside number 12.\n\n"
                               "-- \nRita\nSent from my phone")
    client = app.test_client()
    # Without the right bearer token nothing is taken.
    assert post_email(client, mail, token=None).status_code == 401
    assert post_email(client, mail, token="wrong").status_code == 401
    assert replies(app) == []
    response = post_email(client, mail)
    assert response.status_code == 200, response.get_json()
    (reply,) = replies(app)
    assert response.get_json() == {"reply": reply.id, "duplicate": False}
    assert (reply.message_id, reply.member_id, reply.via) == (message_id, town["resident"],
                                                              "email")
    # The quoted alert, the "wrote:" line and the signature are left out.
    assert reply.body == "I saw the van again this morning, outside number 12."
    # The mail system retrying the same email makes no second reply.
    again = post_email(client, mail, as_form=True)
    assert again.get_json() == {"reply": reply.id, "duplicate": True}
    assert len(replies(app)) == 1
    officer = staff_client(app, login, town, "officer")
    page = officer.get(f"/staff/replies/{reply.id}").get_data(as_text=True)
    assert "outside number 12" in page and "Van seen on Mill Lane" in page


def test_the_webhook_is_off_until_its_token_is_set(make_app, county):
    app = make_app(INBOUND_EMAIL_TOKEN=None)
    response = app.test_client().post("/inbound/email", data=b"From: a@example.org\r\n\r\nhi",
                                      content_type="message/rfc822",
                                      headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404


def test_emails_that_match_nothing_make_no_reply(app, town, outbox):
    send_alert(app, town)
    alert = email_to(outbox, "rita@example.org", 2)
    client = app.test_client()
    tampered = alert["Reply-To"].replace("reply+", "reply+9")
    cases = {
        "stranger": answer_email(alert, "Hello", to="alerts@commonwatch.example.org",
                                 sender="stranger@example.net", in_reply_to=False),
        # Naming our Message-ID is not enough: it must come from the resident's address.
        "spoofed thread": answer_email(alert, "Hello", to="alerts@commonwatch.example.org",
                                       sender="stranger@example.net"),
        "forged address": answer_email(alert, "Hello", to=tampered, in_reply_to=False),
        "nothing written": answer_email(alert, ""),
    }
    auto = answer_email(alert, "I am out of the office until Monday.")
    auto["Auto-Submitted"] = "auto-replied"
    cases["out of office"] = auto
    for name, mail in cases.items():
        response = post_email(client, mail)
        assert response.status_code == 422, name
        assert response.get_json()["error"], name
    junk = client.post("/inbound/email", data=b"not an email at all",
                       content_type="message/rfc822",
                       headers={"Authorization": f"Bearer {TOKEN}"})
    assert junk.status_code == 422
    assert client.post("/inbound/email", data=b"", content_type="message/rfc822",
                       headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 400
    assert replies(app) == []


def test_a_reply_without_the_reply_address_is_threaded_by_its_references(make_app, town,
                                                                         outbox):
    # A force with no inbound domain: residents reply to the sender's address, which is
    # forwarded to the webhook; In-Reply-To names the delivery, From the resident.
    app = make_app(INBOUND_EMAIL_TOKEN=TOKEN)
    message_id = send_alert(app, town)
    alert = email_to(outbox, "tom@example.org", 2)
    assert alert["Reply-To"] is None
    mail = answer_email(alert, "It was parked by the school.", sender="Tom <TOM@example.org>",
                        to="alerts@commonwatch.example.org")
    assert post_email(app.test_client(), mail).status_code == 200
    (reply,) = replies(app)
    assert (reply.message_id, reply.member_id, reply.body) == (
        message_id, town["texter"], "It was parked by the school.")


@pytest.mark.parametrize(("written", "kept"), [
    ("Yes, I saw it.\n\nOn Mon, 23 Nov 2026, 09:12 Alerts <a@example.org> wrote:\n> Van\n",
     "Yes, I saw it."),
    ("Blue car.\n\n-----Original Message-----\nFrom: Alerts\nSent: Monday\n> x", "Blue car."),
    ("Two men.\r\n\r\nFrom: Alerts <a@example.org>\r\nSent: 23 November 2026 09:00\r\n"
     "To: me\r\nSubject: Van", "Two men."),
    ("Near the shop.\n________________________________\nFrom: Alerts", "Near the shop."),
    ("Ger y siop.\n\nAr Llun 23 Tach 2026 am 09:12, Alerts <a@example.org> ysgrifennodd:\n> x",
     "Ger y siop."),
    ("First line\n> quoted in between\nsecond line\n\n-- \nRita Resident\n07700 900000",
     "First line\nsecond line"),
    ("Saw it at 9.\n\nSent from my iPhone", "Saw it at 9."),
])
def test_quoted_text_and_signatures_are_left_out(written, kept):
    from core.replies import strip_quoted

    assert strip_quoted(written) == kept


def test_an_html_only_reply_is_read_without_its_quote():
    from core.replies import email_text, parse_email

    mail = EmailMessage()
    mail["From"] = "r@example.org"
    mail.set_content("<div dir='ltr'>A grey <b>van</b>, 10:30.<br></div><div class="
                     "'gmail_quote'>On Mon wrote:<blockquote>The alert</blockquote></div>",
                     subtype="html")
    assert email_text(parse_email(mail.as_bytes())) == "A grey van, 10:30."


# -- fetching replies over IMAP ------------------------------------------------------------------


class ImapServer:
    """A small IMAP4rev1 server over TLS on loopback: LOGIN, SELECT, SEARCH UNSEEN, FETCH
    RFC822, STORE flags, LOGOUT; one mailbox held in memory."""

    def __init__(self, certfile, keyfile, user, password):
        self.user, self.password = user, password
        self.mails: list[dict] = []
        self.commands: list[str] = []
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile, keyfile)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def add(self, raw: bytes, seen=False):
        self.mails.append({"raw": raw, "seen": seen})

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    self._session(tls.makefile("rwb"))
            except (OSError, ssl.SSLError):
                continue

    def _session(self, io):
        def say(line: str | bytes):
            io.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")
            io.flush()

        say("* OK IMAP4rev1 test server ready")
        selected = False
        while line := io.readline():
            tag, command, *args = line.decode().strip().split(" ", 2)
            command = command.upper()
            rest = args[0] if args else ""
            self.commands.append(f"{command} {rest}".strip())
            if command == "CAPABILITY":
                say("* CAPABILITY IMAP4rev1")
                say(f"{tag} OK CAPABILITY completed")
            elif command == "LOGIN":
                user, password = [p.strip('"') for p in rest.split(" ", 1)]
                ok = (user, password) == (self.user, self.password)
                say(f"{tag} OK LOGIN completed" if ok else f"{tag} NO LOGIN failed")
            elif command == "SELECT":
                selected = rest.strip('"') == "Replies"
                if selected:
                    say(f"* {len(self.mails)} EXISTS")
                    say(f"{tag} OK [READ-WRITE] SELECT completed")
                else:
                    say(f"{tag} NO no such mailbox")
            elif command == "SEARCH" and selected:
                numbers = [str(n) for n, m in enumerate(self.mails, 1) if not m["seen"]]
                say("* SEARCH" + "".join(" " + n for n in numbers))
                say(f"{tag} OK SEARCH completed")
            elif command == "FETCH" and selected:
                number = int(rest.split(" ", 1)[0])
                mail = self.mails[number - 1]
                mail["seen"] = True  # fetching RFC822 sets \Seen, as real servers do
                say(f"* {number} FETCH (RFC822 {{{len(mail['raw'])}}}".encode() + b"\r\n"
                    + mail["raw"] + b")\r\n")
                say(f"{tag} OK FETCH completed")
            elif command == "STORE" and selected:
                number, change, _flags = rest.split(" ", 2)
                self.mails[int(number) - 1]["seen"] = change.startswith("+")
                say(f"{tag} OK STORE completed")
            elif command == "LOGOUT":
                say("* BYE logging out")
                say(f"{tag} OK LOGOUT completed")
                return
            else:
                say(f"{tag} BAD unknown command")

    def close(self):
        self.sock.close()


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1, as a force's private mail server has."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return str(certfile), str(keyfile)


def test_fetch_replies_takes_unseen_emails_from_the_mailbox(make_app, town, outbox,
                                                            certificate):
    server = ImapServer(*certificate, user="replies@force.example", password="imap secret")
    try:
        app = make_app(INBOUND_EMAIL_DOMAIN=INBOUND, IMAP_HOST="127.0.0.1",
                       IMAP_PORT=server.port, IMAP_USER="replies@force.example",
                       IMAP_PASSWORD="imap secret", IMAP_FOLDER="Replies",
                       IMAP_CA_FILE=certificate[0])
        message_id = send_alert(app, town)
        alert = email_to(outbox, "tom@example.org", 2)
        server.add(answer_email(alert, "Old news", sender="tom@example.org").as_bytes(),
                   seen=True)
        server.add(answer_email(alert, "The van was white with a blue stripe.").as_bytes())
        server.add(answer_email(alert, "Buy cheap watches", sender="spam@example.net",
                                to="replies@force.example", in_reply_to=False).as_bytes())
        result = app.test_cli_runner().invoke(args=["fetch-replies"])
        assert result.exit_code == 0, result.output
        assert result.output == ("took 1 replies; refused 1 emails; 0 already taken; "
                                 "0 left for the next run\n")
        (reply,) = replies(app)
        assert (reply.message_id, reply.member_id, reply.body, reply.via) == (
            message_id, town["texter"], "The van was white with a blue stripe.", "email")
        assert [m["seen"] for m in server.mails] == [True, True, True]
        assert {"LOGIN", "SELECT", "SEARCH", "FETCH", "STORE", "LOGOUT"} <= {
            c.split(" ")[0] for c in server.commands}
        # The next run finds nothing new; an email marked unseen again is not taken twice.
        server.mails[1]["seen"] = False
        again = app.test_cli_runner().invoke(args=["fetch-replies"])
        assert again.output.startswith("took 0 replies; refused 0 emails; 1 already taken")
        assert len(replies(app)) == 1
        wrong = make_app(IMAP_HOST="127.0.0.1", IMAP_PORT=server.port, IMAP_USER="x",
                         IMAP_PASSWORD="y", IMAP_FOLDER="Replies", IMAP_CA_FILE=certificate[0])
        refused = wrong.test_cli_runner().invoke(args=["fetch-replies"])
        assert refused.exit_code != 0 and "refused the user name or password" in refused.output
        # Without the force's certificate authority, the server is not trusted.
        untrusted = make_app(IMAP_HOST="127.0.0.1", IMAP_PORT=server.port, IMAP_USER="x",
                             IMAP_PASSWORD="y")
        failed = untrusted.test_cli_runner().invoke(args=["fetch-replies"])
        assert failed.exit_code != 0 and "cannot connect" in failed.output
    finally:
        server.close()


# -- inboxes and scope ------------------------------------------------------------------------


def reply_from(app, town, outbox, text, member="resident", count=2, **alert):
    send_alert(app, town, **alert)
    address = {"resident": "rita@example.org", "texter": "tom@example.org"}[member]
    path = reply_link(email_to(outbox, address, count))
    assert app.test_client().post(path, data={"body": text}).status_code == 302
    return replies(app)[-1].id


def test_a_reply_is_in_its_teams_inbox_and_nowhere_else(app, town, outbox, login):
    reply_id = reply_from(app, town, outbox, "I know who owns the van.")
    seen_by = {}
    for key in ("officer", "supervisor", "neighbour_officer", "far_officer",
                "far_supervisor", "council"):
        client = staff_client(app, login, town, key)
        inbox = client.get("/staff/replies/").get_data(as_text=True)
        page = client.get(f"/staff/replies/{reply_id}")
        seen_by[key] = ("I know who owns the van." in inbox, page.status_code)
        if page.status_code == 404:
            # Guessing the id gets nowhere, by any route, and changes nothing.
            for route, data in (("notes", {"note": "x"}), ("answer", {"answer": "x"}),
                                ("ticket", {"state": "closed", "assignee": ""})):
                response = client.post(f"/staff/replies/{reply_id}/{route}", data=data)
                assert response.status_code == 404, (key, route)
            assert "owns the van" not in page.get_data(as_text=True)
    assert seen_by == {
        "officer": (True, 200),  # the sender, whose ward is the team
        "supervisor": (True, 200),  # over the team's ward
        "neighbour_officer": (False, 404),  # next ward along
        "far_officer": (False, 404),
        "far_supervisor": (False, 404),
        "council": (False, 404),  # the same ward, another organisation
    }
    (reply,) = replies(app)
    assert (reply.state, reply.assignee_id) == ("open", None)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReplyNote)) == 0
    # Residents and visitors cannot open the inbox at all.
    assert app.test_client().get(f"/staff/replies/{reply_id}").status_code == 302
    resident = login(app.test_client(), member=town["resident"])
    assert resident.get("/staff/replies/").status_code == 403


def test_staff_deal_with_a_reply_state_assignee_and_filters(app, town, outbox, login):
    reply_id = reply_from(app, town, outbox, "The van is back.")
    supervisor = staff_client(app, login, town, "supervisor")
    page = supervisor.get(f"/staff/replies/{reply_id}").get_data(as_text=True)
    options = dict(re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', page))
    # Only people who can see the reply can be given it.
    assert set(options.values()) >= {"PC Ann Other", "Sgt Sue Ashendry", "Nobody"}
    assert not {"PC Ben South", "PC Far Away", "Council Colin"} & set(options.values())
    officer_option = next(v for v, name in options.items() if name == "PC Ann Other")
    response = supervisor.post(f"/staff/replies/{reply_id}/ticket", data={
        "state": "pending", "assignee": officer_option})
    assert response.status_code == 302
    refused = supervisor.post(f"/staff/replies/{reply_id}/ticket", data={
        "state": "closed", "assignee": str(town["far_officer"])})
    assert "Not a valid choice" in refused.get_data(as_text=True)
    (reply,) = replies(app)
    assert (reply.state, reply.assignee_id) == ("pending", town["officer"])
    officer = staff_client(app, login, town, "officer")
    assert "The van is back." in officer.get("/staff/replies/?show=mine").get_data(as_text=True)
    assert "The van is back." in officer.get("/staff/replies/?state=pending").get_data(
        as_text=True)
    assert "The van is back." not in officer.get("/staff/replies/?state=closed").get_data(
        as_text=True)
    assert "The van is back." not in supervisor.get("/staff/replies/?show=mine").get_data(
        as_text=True)


def test_internal_notes_never_reach_the_resident(app, town, outbox, login):
    reply_id = reply_from(app, town, outbox, "My camera caught the van.", member="texter")
    officer = staff_client(app, login, town, "officer")
    officer.post(f"/staff/replies/{reply_id}/notes",
                 data={"note": "Known vehicle: PNC check 12/345, do not disclose."})
    outbox.clear()
    response = officer.post(f"/staff/replies/{reply_id}/answer",
                            data={"answer": "Thank you, an officer will collect the footage."})
    assert response.status_code == 302
    (mail,) = outbox.wait_for(1)
    assert mail["To"] == "tom@example.org"
    text = mail.get_body(("plain",)).get_content()
    assert "Thank you, an officer will collect the footage." in text
    assert "PNC" not in mail.as_string() and "do not disclose" not in mail.as_string()
    # Tom also gets texts: the answer goes by SMS too, again without the note.
    with app.app_context():
        sms = db.session.scalars(select(DevOutbox).where(
            DevOutbox.address == "+447400100002")).all()
        answer_sms = [s.text for s in sms if "collect the footage" in s.text]
        assert len(answer_sms) == 1 and "PNC" not in answer_sms[0]
        # Its delivery row never shows among the alert's deliveries.
        assert db.session.scalar(select(func.min(Delivery.message_id))) < 0
    page = officer.get(f"/staff/replies/{reply_id}").get_data(as_text=True)
    assert "Sent by: email, sms" in page and "PNC check" in page
    (reply,) = replies(app)
    assert reply.state == "pending"  # answered: waiting on the resident
    # Only answers were sent: one email, for one answer.
    assert len(outbox) == 1


def test_a_keyword_flags_a_reply_and_escalates_it_to_the_named_team(app, town, outbox,
                                                                   login):
    reply_id = reply_from(app, town, outbox, "He had a KNIFE in his belt.")
    quiet_id = reply_from(app, town, outbox, "I have a penknife and knives at home.",
                          count=4, title="Second alert")
    (reply, quiet) = replies(app)
    assert (reply.flagged, reply.keyword) == (True, "knife")
    assert (quiet.flagged, quiet.escalated_area_id) == (False, None)
    far = staff_client(app, login, town, "far_supervisor")
    assert far.get(f"/staff/replies/{reply_id}").status_code == 200
    assert far.get(f"/staff/replies/{quiet_id}").status_code == 404
    flagged = far.get("/staff/replies/?show=flagged").get_data(as_text=True)
    assert "He had a KNIFE in his belt." in flagged and "penknife" not in flagged
    # The sender's own team still has it, marked.
    officer = staff_client(app, login, town, "officer")
    page = officer.get("/staff/replies/?show=flagged").get_data(as_text=True)
    assert "Flagged: knife" in page and "penknife" not in page
    # Rules given in the environment are JSON.
    from core.replies import match_keyword

    with app.app_context():
        app.config["REPLY_KEYWORD_RULES"] = '{"Missing": "E07900001"}'
        assert match_keyword("my dog is missing!") == ("Missing", "E07900001")
        assert match_keyword("dismissing it") is None


# -- ratings ------------------------------------------------------------------------------------


def test_residents_rate_an_alert_once_and_may_change_their_minds(app, town, outbox, login):
    message_id = send_alert(app, town)
    rita = reply_link(email_to(outbox, "rita@example.org", 2))
    tom = reply_link(email_to(outbox, "tom@example.org", 2))
    client = app.test_client()

    def counts():
        with app.app_context():
            return sorted(db.session.execute(
                select(MessageRating.member_id, MessageRating.useful)).all())

    # Opening the link (as a mail scanner does) records nothing: it asks to confirm.
    page = client.get(rita + "/useful").get_data(as_text=True)
    assert "Yes, it was useful" in page and "Van seen on Mill Lane" in page
    assert client.get(rita + "/not-useful").status_code == 200
    assert counts() == []
    response = client.post(rita + "/useful")
    assert response.status_code == 302
    assert "You said this alert was useful." in client.get(response.location).get_data(
        as_text=True)
    client.post(rita + "/useful")
    client.post(rita + "/not-useful")
    assert counts() == [(town["resident"], False)]  # one rating, changed
    app.test_client().post(tom + "/useful")
    assert counts() == [(town["resident"], False), (town["texter"], True)]
    officer = staff_client(app, login, town, "officer")
    page = officer.get(f"/staff/messages/{message_id}").get_data(as_text=True)
    assert re.search(r"Rated useful</dt>\s*<dd[^>]*>1</dd>", page)
    assert re.search(r"Rated not useful</dt>\s*<dd[^>]*>1</dd>", page)
    # Per sender, for the team; nobody elsewhere sees them.
    table = officer.get("/staff/replies/ratings").get_data(as_text=True)
    assert re.search(r"PC Ann Other</td>\s*<td[^>]*>1</td>\s*<td[^>]*>1</td>\s*<td[^>]*>1</td>",
                     table)
    far = staff_client(app, login, town, "far_supervisor")
    assert "PC Ann Other" not in far.get("/staff/replies/ratings").get_data(as_text=True)


def test_a_welsh_speaker_gets_the_reply_page_in_welsh(app, make_member, make_staff, outbox):
    make_member(area=WARD_A, email="cymraeg@example.org", language="cy")
    with app.app_context():
        sender = db.session.get(Staff, make_staff("officer", areas=[WARD_A]))
        message = create_message(sender, title="Fan ar Lôn y Felin", body="Fan wen.",
                                 plain_text="Fan wen.", title_cy="Fan ar Lôn y Felin",
                                 body_cy="Fan wen.", plain_text_cy="Fan wen.",
                                 category="witness_appeal", priority=2,
                                 target=Target(areas=[WARD_A]).to_json())
        db.session.add(message)
        db.session.commit()
        send(message, sender, at=NOON)
    (mail,) = outbox.wait_for(1)
    text = mail.get_body(("plain",)).get_content()
    assert "Ymateb i'r anfonwr (dim angen mewngofnodi):" in text
    page = app.test_client().get(reply_link(mail)).get_data(as_text=True)
    assert 'lang="cy"' in page and "Anfon ymateb" in page and "Fan ar Lôn y Felin" in page


def test_erasing_a_resident_erases_their_replies_and_ratings(app, town, outbox, login):
    reply_id = reply_from(app, town, outbox, "Please keep my name out of this.")
    path = reply_link(email_to(outbox, "rita@example.org", 2))
    app.test_client().post(path + "/useful")
    officer = staff_client(app, login, town, "officer")
    officer.post(f"/staff/replies/{reply_id}/notes", data={"note": "Called her back."})
    with app.app_context():
        from core.members import erase

        erase(db.session.get(Member, town["resident"]))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Reply)) == 0
        assert db.session.scalar(select(func.count()).select_from(ReplyNote)) == 0
        assert db.session.scalar(select(func.count()).select_from(MessageRating)) == 0
    assert officer.get(f"/staff/replies/{reply_id}").status_code == 404

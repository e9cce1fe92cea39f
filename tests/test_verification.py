"""Verification codes: every alert carries one, and the public verification page confirms
a real alert (who sent it, never who received it) and rejects made-up and unsent codes
alike."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import flask_migrate
import pytest
from sqlalchemy import select, text, update

from core.extensions import db
from core.messaging import Target, create_message, send
from core.models import Message, Staff
from core.schema import upgrade_database
from core.testing.pytest_plugin import fresh_database_url
from core.verification import (
    VERIFICATION_ALPHABET,
    format_code,
    genuine_message,
    normalise_code,
)

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BASE = "https://commonwatch.example.org"
WARD_A = "E05900001"  # Ashendry North
CODE_RE = re.compile(rf"[{VERIFICATION_ALPHABET}]{{4}}-[{VERIFICATION_ALPHABET}]{{4}}")

RECIPIENTS = {"Rita Recipient": "rita@example.org", "Tom Recipient": "tom@example.org",
              "Una Recipient": "una@example.org"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " | ".join(parser.parts)


@pytest.fixture
def town(make_member, make_staff):
    ids = {name: make_member(area=WARD_A, name=name, email=email)
           for name, email in RECIPIENTS.items()}
    ids["officer"] = make_staff("officer", areas=[WARD_A], name="PC Sam Patel",
                                email="sam@police.example.org")
    return ids


def write(app, staff_id, title="Van seen on Mill Lane", sent=True, **fields):
    """A message from ``staff_id`` to ward A: sent at noon, or left a draft."""
    with app.app_context():
        sender = db.session.get(Staff, staff_id)
        values = {"body": "A white van was seen **trying car doors**.",
                  "plain_text": "A white van was seen trying car doors.",
                  "category": "witness_appeal", "priority": 2,
                  "target": Target(areas=[WARD_A]).to_json(), **fields}
        message = create_message(sender, title=title, **values)
        db.session.add(message)
        db.session.commit()
        if sent:
            send(message, sender, at=NOON)
        return message.id


def code_of(app, message_id):
    with app.app_context():
        return db.session.get(Message, message_id).code_for_reading


def without_nonces(html: str) -> str:
    return re.sub(r'nonce="[^"]*"', 'nonce=""', html)


# -- the code -------------------------------------------------------------------------------


def test_codes_are_normalised_from_what_people_type():
    assert normalise_code("K7QM-4XT2") == "K7QM4XT2"
    assert normalise_code(" k7qm 4xt2 ") == "K7QM4XT2"
    assert normalise_code("k7qm–4xt2") == "K7QM4XT2"  # an en dash, as phones type it
    assert format_code("K7QM4XT2") == "K7QM-4XT2"
    # Too short or long, or a character the alphabet leaves out (O, 0, I, 1, L, U).
    for bad in ("", "K7QM-4XT", "K7QM-4XT22", "K7QM-4XTO", "K7QM-4XT0", "K7QM-4XTI",
                "K7QM-4XTL", "K7QM-4XTU", "<script>", None):
        assert normalise_code(bad) is None


def test_every_sent_message_gets_its_own_code_and_a_draft_none(app, town):
    first = write(app, town["officer"])
    second = write(app, town["officer"], title="Second")
    draft = write(app, town["officer"], title="Draft", sent=False)
    codes = [code_of(app, first), code_of(app, second)]
    assert all(CODE_RE.fullmatch(c) for c in codes) and codes[0] != codes[1]
    assert code_of(app, draft) is None
    with app.app_context():
        assert genuine_message(codes[0].lower()).id == first
        assert genuine_message(codes[1].replace("-", " ")).id == second


def test_the_code_is_printed_in_the_alert_email(app, town, outbox):
    message_id = write(app, town["officer"])
    code = code_of(app, message_id)
    mails = outbox.wait_for(3)
    assert sorted(m["To"] for m in mails) == sorted(RECIPIENTS.values())
    for mail in mails:
        plain = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert (f"Check this alert is genuine: {BASE}/verify/{code} We never ask for bank "
                "details or passwords.") in plain
        assert f'<a href="{BASE}/verify/{code}">{BASE}/verify/{code}</a>' in html
    # Texts stay within the parts the preview priced: no code in the SMS.
    with app.app_context():
        assert code not in db.session.get(Message, message_id).plain_text


# -- the page -------------------------------------------------------------------------------


def test_the_page_confirms_a_real_alert_without_showing_who_received_it(app, town, client):
    message_id = write(app, town["officer"])
    code = code_of(app, message_id)
    response = client.get(f"/verify/{code}")
    assert response.status_code == 200
    page = visible_text(response.get_data(as_text=True))
    assert "This is a genuine alert" in page
    for shown in ("Van seen on Mill Lane", "21 November 2026, 12:00", "PC Sam Patel",
                  "Officer", "Wealdshire Police", "Ashendry North", "Witness appeal", code):
        assert shown in page, shown
    # Never who, or how many, received it.
    for name, email in RECIPIENTS.items():
        assert name not in page and email not in page
    assert not re.search(r"(?<![\w-])3(?![\w-])", page), page
    for word in ("recipient", "reached", "people", "deliver"):
        assert word not in page.lower()
    assert "Fake alerts" in page and "call 101" in page


@pytest.mark.parametrize("typed", ["{lower}", "{spaced}", "{compact}"])
def test_the_form_works_without_javascript_and_takes_the_code_as_typed(app, town, client,
                                                                       typed):
    code = code_of(app, write(app, town["officer"]))
    form = client.get("/verify").get_data(as_text=True)
    assert '<form method="get" action="/verify"' in form and 'name="code"' in form
    value = typed.format(lower=code.lower(), spaced=" ".join(code.replace("-", "")),
                         compact=code.replace("-", ""))
    page = client.get("/verify", query_string={"code": value}).get_data(as_text=True)
    assert "This is a genuine alert" in page and "PC Sam Patel" in page


def test_a_made_up_code_and_a_drafts_code_get_the_same_answer(app, town, client):
    real = write(app, town["officer"])
    draft = write(app, town["officer"], title="Secret draft about Mill Lane", sent=False)
    waiting = write(app, town["officer"], title="Awaiting approval", sent=False)
    with app.app_context():
        # Drafts never get a code; give these codes anyway, to prove the state is checked.
        db.session.execute(update(Message).where(Message.id == draft)
                           .values(verification_code="DRAFT234"))
        db.session.execute(update(Message).where(Message.id == waiting)
                           .values(verification_code="WAIT2345", status="awaiting_approval"))
        db.session.commit()
    pages = {}
    for label, code in (("made up", "ZZZZ-2345"), ("draft", "DRAF-T234"),
                        ("awaiting approval", "WAIT-2345"), ("malformed", "NOT-A-CODE")):
        response = client.get(f"/verify/{code}")
        assert response.status_code == 200, label
        body = response.get_data(as_text=True)
        page = visible_text(body)
        assert "We have no alert with this code — it may be fake" in page, label
        assert "Never reply to it" in page and "bank details" in page and "101" in page
        assert "Secret draft" not in page and "PC Sam Patel" not in page
        pages[label] = without_nonces(body).replace(code, "CODE")
    # Nothing tells a draft's code from one never given out.
    assert pages["draft"] == pages["made up"] == pages["awaiting approval"]
    assert "This is a genuine alert" in client.get(f"/verify/{code_of(app, real)}"
                                                  ).get_data(as_text=True)


def test_the_outcome_shows_only_when_the_alert_is_public(app, town, client):
    from core.outcomes import record_outcome

    hidden = write(app, town["officer"], title="Private appeal")
    shown = write(app, town["officer"], title="Public appeal", public=True)
    with app.app_context():
        officer = db.session.get(Staff, town["officer"])
        for message_id in (hidden, shown):
            record_outcome(db.session.get(Message, message_id), officer, "found",
                           "Found safe and well, thank you.")
        db.session.commit()
    private = client.get(f"/verify/{code_of(app, hidden)}").get_data(as_text=True)
    assert "Found safe and well" not in private and "Outcome" not in visible_text(private)
    public = visible_text(client.get(f"/verify/{code_of(app, shown)}").get_data(as_text=True))
    assert "Outcome | Found" in public and "Found safe and well, thank you." in public


def test_a_deleted_senders_alert_still_checks_with_the_organisation(app, town, client):
    code = code_of(app, write(app, town["officer"]))
    with app.app_context():
        db.session.delete(db.session.get(Staff, town["officer"]))
        db.session.commit()
    page = visible_text(client.get(f"/verify/{code}").get_data(as_text=True))
    assert "This is a genuine alert" in page and "Wealdshire Police" in page
    assert "PC Sam Patel" not in page


def test_checking_codes_is_rate_limited_per_address(make_app):
    app = make_app(VERIFY_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(5):
        assert client.get("/verify").status_code == 200  # the bare form is not counted
    assert client.get("/verify/ZZZZ-2345").status_code == 200
    assert client.get("/verify?code=ZZZZ-2346").status_code == 200
    assert client.get("/verify/ZZZZ-2347").status_code == 200
    assert client.get("/verify/ZZZZ-2348").status_code == 429
    assert client.get("/verify?code=ZZZZ-2349").status_code == 429


def test_the_migration_gives_messages_sent_before_it_a_code(make_app, tmp_path):
    url = fresh_database_url(os.environ.get("COMMONWATCH_TEST_DATABASE_URL"),
                             "verification_codes", tmp_path)
    app = make_app(DATABASE_URL=url, PLUGINS="none")
    with app.app_context():
        flask_migrate.upgrade(revision="0011")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO organisation (id, slug, name, kind) "
                              "VALUES (1, 'p', 'Police', 'police')"))
            for message_id, status in ((1, "sent"), (2, "sending"), (3, "draft")):
                conn.execute(text(
                    "INSERT INTO message (id, organisation_id, title, body, body_html, "
                    "plain_text, category, priority, status, target, target_description, "
                    "created_at) VALUES (:id, 1, 'T', 'B', '<p>B</p>', 'P', 'crime_alert', 3, "
                    ":status, '{}', '', CURRENT_TIMESTAMP)"), {"id": message_id, "status": status})
        upgrade_database()
        codes = dict(db.session.execute(select(Message.id, Message.verification_code)).all())
        assert codes[3] is None
        assert all(re.fullmatch(f"[{VERIFICATION_ALPHABET}]{{8}}", codes[i]) for i in (1, 2))
        assert codes[1] != codes[2]
        db.session.remove()
        db.engine.dispose()


# -- in a browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_a_resident_checks_the_code_from_their_email(app, town, live_server,
                                                     make_browser_page, outbox):
    """In headless Chromium (axe-core checks every page): the resident checks the code
    from their email, reads the public alert in the archive; the officer records the
    outcome, starts a follow-up and reads the outcome figures."""
    from playwright.sync_api import expect

    from core.testing.browser import sign_in_staff

    message_id = write(app, town["officer"], public=True)
    outbox.wait_for(3)
    plain = outbox.to("rita@example.org")[0].get_body(("plain",)).get_content()
    code = re.search(r"Check this alert is genuine: \S+/verify/(\S+)", plain).group(1)

    page = make_browser_page(java_script_enabled=False)
    page.goto(f"{live_server}/verify")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check an alert is genuine")
    # Typed as people do: lower case, a space for the dash.
    page.get_by_label("Code from the alert").fill(code.lower().replace("-", " "))
    page.get_by_role("button", name="Check the alert").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This is a genuine alert")
    expect(page.get_by_text("PC Sam Patel")).to_be_visible()
    expect(page.get_by_text("Wealdshire Police")).to_be_visible()
    assert "Rita Recipient" not in page.content()
    # On to the public alerts of the area, from the top.
    page.get_by_role("link", name="Read this and other public alerts for your area").click()
    page.get_by_role("link", name="Wealdshire").click()
    page.get_by_text("Choose a place in Wealdshire").click()
    page.get_by_role("link", name="Ashendry", exact=True).click()
    expect(page.get_by_role("heading", level=2, name="Van seen on Mill Lane")).to_be_visible()
    assert "Rita Recipient" not in page.content()

    page.goto(f"{live_server}/verify/ZZZZ-2345")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "We have no alert with this code")

    # The officer closes the loop.
    with app.app_context():
        secret = db.session.get(Staff, town["officer"]).totp_secret
    staff = make_browser_page()
    sign_in_staff(staff, live_server, "sam@police.example.org", secret)
    staff.goto(f"{live_server}/staff/messages/{message_id}")
    staff.get_by_role("link", name="Record outcome").click()
    staff.get_by_label("Found").check()
    staff.get_by_label("Note for the public (optional)").fill("Thank you: the van was found.")
    staff.get_by_role("button", name="Save the outcome").click()
    expect(staff.get_by_text("Outcome saved")).to_be_visible()
    staff.get_by_role("link", name="Compose a follow-up").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Write a follow-up")
    expect(staff.get_by_label("Title", exact=True)).to_have_value(
        "Update: Van seen on Mill Lane")
    staff.goto(f"{live_server}/staff/outcomes?which=all")
    expect(staff.get_by_text("1 message sent, 1 with an outcome (100%).")).to_be_visible()

    page.goto(f"{live_server}/verify/{code}")
    expect(page.get_by_text("Thank you: the van was found.")).to_be_visible()

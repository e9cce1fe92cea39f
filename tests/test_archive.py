"""The public archive: only sent messages marked public, on the pages of the areas they
were aimed at (and the areas above and below), newest first, with an Atom feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from sqlalchemy import select

from core.extensions import db
from core.messaging import Target, create_message, send
from core.models import Message, Staff

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BASE = "https://commonwatch.example.org"
WARD_A, WARD_B = "E05900001", "E05900002"  # Ashendry North and South (district E07900001)
DISTRICT = "E07900001"
FORCE = "E10900001"
STREET_A = "ST000001"  # Mill Lane, in ward A
OTHER_WARD = "E05900012"  # Thornwick Cross Town, district E07900004


@pytest.fixture
def town(make_member, make_staff):
    return {
        "resident_a": make_member(area=WARD_A, name="Rita Recipient", email="rita@example.org"),
        "resident_b": make_member(area=WARD_B, name="Bob Recipient", email="bob@example.org"),
        "resident_far": make_member(area=OTHER_WARD, name="Fay Faraway",
                                    email="fay@example.org"),
        "officer_a": make_staff("officer", areas=[WARD_A], name="PC Sam Patel"),
        "officer_b": make_staff("officer", areas=[WARD_B], name="PC Ben Jones"),
        "supervisor": make_staff("supervisor", areas=[DISTRICT], name="Sgt Ann Lee"),
        "officer_far": make_staff("officer", areas=[OTHER_WARD], name="PC Far Away"),
    }


def publish(app, staff_id, title, areas=(), public=True, sent=True, at=NOON, **fields):
    with app.app_context():
        sender = db.session.get(Staff, staff_id)
        values = {"body": f"Details of **{title}**.", "plain_text": title,
                  "category": "crime_alert", "priority": 3, **fields}
        message = create_message(sender, title=title, public=public,
                                 target=Target(areas=list(areas)).to_json(), **values)
        db.session.add(message)
        db.session.commit()
        if sent:
            send(message, sender, at=at)
        return message.id


@pytest.fixture
def alerts(app, town):
    """Messages placed so that a wrong archive shows the wrong ones."""
    return {
        "ward_a": publish(app, town["officer_a"], "Ward A public", [WARD_A],
                          at=NOON - timedelta(hours=5)),
        "street_a": publish(app, town["officer_a"], "Mill Lane public", [STREET_A],
                            at=NOON - timedelta(hours=4)),
        "ward_b": publish(app, town["officer_b"], "Ward B public", [WARD_B],
                          at=NOON - timedelta(hours=3)),
        # No areas named: the supervisor's whole district.
        "district": publish(app, town["supervisor"], "District public",
                            at=NOON - timedelta(hours=2)),
        "far": publish(app, town["officer_far"], "Far public", [OTHER_WARD],
                       at=NOON - timedelta(hours=1)),
        "private": publish(app, town["officer_a"], "Ward A private", [WARD_A], public=False),
        "draft": publish(app, town["officer_a"], "Ward A public draft", [WARD_A], sent=False),
    }


TITLES = {"Ward A public", "Mill Lane public", "Ward B public", "District public",
          "Far public", "Ward A private", "Ward A public draft"}


def listed(client, code, **params):
    response = client.get(f"/alerts/{code}", query_string=params)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return [t for t in sorted(TITLES, key=page.find) if f">{t}</h2>" in page], page


def test_each_area_lists_what_was_sent_to_it_above_it_and_inside_it(app, alerts, client):
    # Newest first.
    assert listed(client, WARD_A)[0] == ["District public", "Mill Lane public", "Ward A public"]
    assert listed(client, STREET_A)[0] == ["District public", "Mill Lane public",
                                           "Ward A public"]
    assert listed(client, "ST000002")[0] == ["District public", "Ward A public"]
    assert listed(client, WARD_B)[0] == ["District public", "Ward B public"]
    assert listed(client, DISTRICT)[0] == ["District public", "Ward B public",
                                           "Mill Lane public", "Ward A public"]
    assert listed(client, OTHER_WARD)[0] == ["Far public"]
    assert listed(client, FORCE)[0] == ["Far public", "District public", "Ward B public",
                                        "Mill Lane public", "Ward A public"]
    assert client.get("/alerts/NOWHERE").status_code == 404


def test_an_alert_shows_its_text_sender_and_code_but_never_its_recipients(app, town, alerts,
                                                                          client):
    with app.app_context():
        code = db.session.get(Message, alerts["ward_a"]).code_for_reading
    _titles, page = listed(client, WARD_A)
    assert "Details of <strong>Ward A public</strong>." in page
    assert "From: PC Sam Patel, Officer, Wealdshire Police (Ashendry North)" in page
    assert f'href="/verify/{code}">{code}</a>' in page
    for secret in ("Rita Recipient", "rita@example.org", "Bob Recipient", "bob@example.org",
                   "Fay Faraway", "Residents in"):
        assert secret not in page


def test_the_area_pages_let_you_choose_and_narrow_down(app, county, client):
    index = client.get("/alerts").get_data(as_text=True)
    assert f'href="/alerts/{FORCE}">Wealdshire</a>' in index
    force = client.get(f"/alerts/{FORCE}").get_data(as_text=True)
    assert f'href="/alerts/{DISTRICT}">Ashendry</a>' in force
    ward = client.get(f"/alerts/{WARD_A}").get_data(as_text=True)
    assert f'href="/alerts/{STREET_A}">Mill Lane</a>' in ward
    # The trail back up.
    assert f'href="/alerts/{DISTRICT}">Ashendry</a>' in ward
    assert "No public alerts for this area yet." in ward


def test_the_archive_is_paginated(app, town, client, monkeypatch):
    monkeypatch.setattr("core.views.archive.PAGE_SIZE", 2)
    for n in range(5):
        publish(app, town["officer_a"], f"Alert {n}", [WARD_A], at=NOON + timedelta(minutes=n))
    first = client.get(f"/alerts/{WARD_A}").get_data(as_text=True)
    assert ">Alert 4</h2>" in first and ">Alert 3</h2>" in first and ">Alert 2</h2>" not in first
    assert f'href="/alerts/{WARD_A}?page=2" rel="next"' in first
    third = client.get(f"/alerts/{WARD_A}?page=3").get_data(as_text=True)
    assert ">Alert 0</h2>" in third and 'rel="next"' not in third
    assert client.get(f"/alerts/{WARD_A}?page=99").status_code == 200


def test_welsh_readers_get_the_welsh_version_where_there_is_one(app, town, client):
    publish(app, town["officer_a"], "Both languages", [WARD_A], title_cy="Y ddwy iaith",
            body_cy="Manylion yn Gymraeg.", plain_text_cy="Cymraeg")
    publish(app, town["officer_a"], "English only", [WARD_A], at=NOON + timedelta(minutes=1))
    english = client.get(f"/alerts/{WARD_A}").get_data(as_text=True)
    assert ">Both languages</h2>" in english and "Y ddwy iaith" not in english
    welsh = client.get(f"/alerts/{WARD_A}?lang=cy").get_data(as_text=True)
    assert ">Y ddwy iaith</h2>" in welsh and "Manylion yn Gymraeg." in welsh
    assert ">English only</h2>" in welsh and ">Both languages</h2>" not in welsh
    # The English one is marked as English on the Welsh page.
    assert 'lang="en">\n      <h2 class="govuk-heading-m">English only' in welsh


def test_hostile_markdown_is_shown_sanitised(app, town, client):
    publish(app, town["officer_a"], "Hostile", [WARD_A],
            body='<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=y>')
    page = client.get(f"/alerts/{WARD_A}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert 'href="javascript' not in page and "&lt;script&gt;alert(1)" in page


def test_the_atom_feed_has_the_areas_public_alerts(app, town, alerts, client):
    from core.outcomes import record_outcome

    with app.app_context():
        record_outcome(db.session.get(Message, alerts["ward_a"]),
                       db.session.get(Staff, town["officer_a"]), "arrested",
                       "A man was arrested <today>.")
        db.session.commit()
    page = client.get(f"/alerts/{WARD_A}").get_data(as_text=True)
    assert (f'<link rel="alternate" type="application/atom+xml" title="Public alerts for '
            f'Ashendry North" href="/alerts/{WARD_A}.atom">') in page
    response = client.get(f"/alerts/{WARD_A}.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.title == "Commonwatch alerts for Ashendry North"
    assert feed.feed.id == f"{BASE}/alerts/{WARD_A}.atom"
    assert {link.rel: link.href for link in feed.feed.links} == {
        "alternate": f"{BASE}/alerts/{WARD_A}", "self": f"{BASE}/alerts/{WARD_A}.atom"}
    assert [e.title for e in feed.entries] == ["District public", "Mill Lane public",
                                               "Ward A public"]
    with app.app_context():
        message = db.session.get(Message, alerts["ward_a"])
        code, sent = message.code_for_reading, message.sent_at
    entry = feed.entries[2]
    assert entry.id == entry.link == f"{BASE}/verify/{code}"
    assert entry.content[0].value.strip() == (
        "<p>Details of <strong>Ward A public</strong>.</p>\n"
        "<p><strong>Outcome: Arrested</strong> A man was arrested &lt;today&gt;.</p>")
    assert entry.author == "PC Sam Patel, Officer, Wealdshire Police (Ashendry North)"
    assert datetime(*entry.published_parsed[:6], tzinfo=UTC) == sent
    body = response.get_data(as_text=True)
    for secret in ("Rita Recipient", "rita@example.org", "Ward A private", "draft"):
        assert secret not in body
    assert client.get("/alerts/NOWHERE.atom").status_code == 404
    empty = feedparser.parse(client.get(f"/alerts/{OTHER_WARD}.atom").get_data())
    assert [e.title for e in empty.entries] == ["Far public"]


def test_an_area_with_no_alerts_has_an_empty_valid_feed(app, county, client):
    feed = feedparser.parse(client.get(f"/alerts/{WARD_A}.atom").get_data())
    assert not feed.bozo and feed.entries == [] and feed.feed.title


def test_staff_choose_to_make_a_message_public_when_writing_it(app, county, make_staff,
                                                                login):
    client = login(app.test_client(), staff=make_staff("officer", areas=[WARD_A]))
    page = client.get("/staff/messages/new").get_data(as_text=True)
    assert "Show on the public alerts page for the areas it was sent to" in page
    assert 'name="public"' in page and "checked" not in page.split('name="public"')[1][:80]
    form = {"title": "Made public", "body": "B", "plain_text": "P", "category": "crime_alert",
            "priority": "3", "areas": WARD_A}
    client.post("/staff/messages/new", data={**form, "public": "y"})
    client.post("/staff/messages/new", data={**form, "title": "Kept private"})
    with app.app_context():
        assert dict(db.session.execute(select(Message.title, Message.public)).all()) == {
            "Made public": True, "Kept private": False}

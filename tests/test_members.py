"""Residents: registering, their profile and their data rights."""

import json

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.messaging import create_message, send
from core.models import (
    Delivery,
    DevOutbox,
    Member,
    MemberAccess,
    MemberChannel,
    MemberConsent,
    MemberInterest,
    Organisation,
    Staff,
)
from core.testing.pytest_plugin import DEFAULT_PASSWORD


def org_id(app, slug):
    with app.app_context():
        return db.session.scalar(select(Organisation.id).where(Organisation.slug == slug))


def registration(app, **overrides):
    data = {
        "name": "Ffion Hughes",
        "email": "Ffion.Hughes@Example.org",
        "password": "a long enough password",
        "password_confirm": "a long enough password",
        "address_line": "4 Orchard Close",
        "postcode": "hf1 1fj",
        "phone": "07400 123456",
        "channels": ["email", "sms"],
        "interests": ["rural_watch.horse", "neighbourhood_watch.neighbourhood"],
        "organisations": [str(org_id(app, "wealdshire-police"))],
        "language": "cy",
        "age_band": "45_64",
        "privacy": "y",
    }
    data.update(overrides)
    return data


def test_a_resident_registers_and_confirms_their_email(app, client, county, outbox):
    response = client.post("/register", data=registration(app))
    assert response.status_code == 302 and response.location.endswith("/register/done")
    with app.app_context():
        member = db.session.scalar(select(Member))
        assert member.email == "ffion.hughes@example.org"
        assert member.postcode == "HF1 1FJ"
        assert member.area.level == "street" and member.area.code == "ST000001"
        assert member.phone == "+447400123456"
        assert member.language == "cy"
        assert member.interest_names == {"rural_watch.horse", "neighbourhood_watch.neighbourhood"}
        assert sorted(c.channel for c in member.channels) == ["email", "sms"]
        assert member.demographics == {"age_band": "45_64"}
        assert member.privacy_notice_version == app.config["PRIVACY_NOTICE_VERSION"]
        assert member.privacy_accepted_at is not None
        assert [c.organisation.slug for c in member.consents] == ["wealdshire-police"]
        assert member.consents[0].method == "self" and member.consents[0].given_at
        assert member.email_verified_at is None
        assert member.password_hash.startswith("$argon2id$")

    message = outbox.wait_for(1)[0]
    assert message["To"] == "ffion.hughes@example.org"
    # The email is in the language the resident chose.
    assert "Cadarnhau" in message["Subject"] or "Confirm" not in message["Subject"]
    link = outbox.links(message)[0]
    assert link.startswith("https://commonwatch.example.org/verify-email/")
    path = link.removeprefix("https://commonwatch.example.org")
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Member)).email_verified_at is not None


def test_a_forged_verification_link_does_nothing(app, client, county, make_member):
    member_id = make_member(verified=False)
    response = client.post("/verify-email/not-a-real-token")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Member, member_id).email_verified_at is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("postcode", "ZZ1 1ZZ", "We do not cover this postcode"),
        ("postcode", "not a postcode", "Enter a real postcode"),
        ("email", "not-an-email", "Enter an email address in the correct format"),
        ("phone", "12345", "Enter a UK phone number"),
        ("password", "short", "Password must be between 12 and 128 characters"),
        ("password", "1QAZ2WSX3EDC", "one of the most common passwords"),
        ("password_confirm", "something else entirely", "The passwords do not match"),
        ("privacy", "", "You must agree to the privacy notice"),
        ("organisations", [], "Choose at least one organisation"),
        ("channels", [], "Choose at least one way to contact you"),
        ("name", "", "Enter your full name"),
    ],
)
def test_bad_input_re_renders_with_the_message_by_the_field(app, client, county, field, value,
                                                             message):
    data = registration(app, **{field: value})
    response = client.post("/register", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert page.count(message) == 2  # in the error summary and by the field
    assert f'href="#{field}"' in page
    # What the person typed elsewhere is kept.
    if field != "address_line":
        assert 'value="4 Orchard Close"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Member.id))) == 0


def test_text_and_voice_need_a_phone_number(app, client, county):
    page = client.post("/register", data=registration(app, phone="", channels=["sms"])
                       ).get_data(as_text=True)
    assert "Enter a phone number to get text messages or calls" in page


def test_an_email_address_registers_only_once(app, client, county, make_member):
    make_member(email="taken@example.org")
    page = client.post("/register", data=registration(app, email="Taken@example.org")
                       ).get_data(as_text=True)
    assert "An account already uses this email address" in page


def test_extra_form_fields_cannot_set_protected_values(app, client, county):
    data = registration(app, email_verified_at="2020-01-01", registration_method="import",
                        area_id="1", role="system_admin", min_priority="1")
    client.post("/register", data=data)
    with app.app_context():
        member = db.session.scalar(select(Member))
        assert member.email_verified_at is None
        assert member.registration_method == "self"
        assert member.area.code == "ST000001"
        assert member.min_priority == 5


def test_a_member_changes_their_profile(app, client, county, make_member, login, outbox):
    member_id = make_member(email="old@example.org", interests=["rural_watch.dog"])
    login(client, member=member_id)
    police, council = org_id(app, "wealdshire-police"), org_id(app, "ashendry-council")
    data = registration(app, email="old@example.org", postcode="HF4 1AB", language="en",
                        organisations=[str(police), str(council)], interests=["rural_watch.farm"])
    data = {k: v for k, v in data.items() if k not in ("password", "password_confirm", "privacy")}
    with app.app_context():
        from core.models import Postcode

        postcode = db.session.scalar(select(Postcode).where(Postcode.postcode.like("HF4%")))
        data["postcode"] = postcode.postcode.lower().replace(" ", "")
    response = client.post("/account/profile", data=data)
    assert response.status_code == 302
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert member.postcode == postcode.postcode and member.area_id == postcode.area_id
        assert member.interest_names == {"rural_watch.farm"}
        assert {c.organisation_id for c in member.consents} == {police, council}
        assert member.email_verified_at is not None  # email unchanged
    assert len(outbox) == 0

    # The email address cannot be changed from the profile form...
    data["email"] = "new@example.org"
    client.post("/account/profile", data=data)
    with app.app_context():
        assert db.session.get(Member, member_id).email == "old@example.org"
    # ...but on its own page, with the password.
    page = client.post("/account/email?lang=en", data={"email": "new@example.org",
                                                "password": "wrong password!"})
    assert "Your password is not right" in page.get_data(as_text=True)
    response = client.post("/account/email", data={"email": "New@Example.org",
                                                    "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert member.email == "new@example.org" and member.email_verified_at is None
    messages = outbox.wait_for(3)
    # The old address is told, the new one too, and the new one gets a link to confirm.
    assert {m["To"] for m in messages} == {"old@example.org", "new@example.org"}
    notices = [m for m in messages if "email address was changed" in m["Subject"]]
    assert {m["To"] for m in notices} == {"old@example.org", "new@example.org"}
    assert any("/verify-email/" in m.get_body(("plain",)).get_content() for m in messages)


def test_withdrawing_consent_hides_the_member_from_that_organisation(
        app, client, county, make_member, make_staff, login):
    member_id = make_member(organisations=["wealdshire-police", "ashendry-council"])
    officer = make_staff("officer", areas=["E10900001"], organisation="ashendry-council")
    staff_client = login(app.test_client(), staff=officer)
    assert staff_client.get(f"/staff/members/{member_id}").status_code == 200
    with app.app_context():
        db.session.execute(
            MemberConsent.__table__.delete().where(
                MemberConsent.organisation_id == org_id(app, "ashendry-council"))
        )
        db.session.commit()
    assert staff_client.get(f"/staff/members/{member_id}").status_code == 404


def test_contact_preferences_by_time_of_day_and_priority(app, client, county, make_member,
                                                         login):
    member_id = make_member(phone="+447400900111", channels=["email", "sms"])
    login(client, member=member_id)
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "Text message (SMS)" in page
    response = client.post("/account/preferences", data={
        "when_email": ["day", "night"], "when_sms": ["day"], "min_priority": "2"})
    assert response.status_code == 302
    with app.app_context():
        member = db.session.get(Member, member_id)
        prefs = {c.channel: (c.by_day, c.by_night) for c in member.channels}
        assert prefs == {"email": (True, True), "sms": (True, False)}
        assert member.min_priority == 2
    page = client.post("/account/preferences", data={"when_email": [], "when_sms": ["day"],
                                                     "min_priority": "9"}).get_data(as_text=True)
    assert "Choose when we may use this" in page


def test_one_click_opt_out_and_back_in(app, client, county, make_member, login):
    member_id = make_member()
    login(client, member=member_id)
    assert "Stop all messages" in client.get("/account").get_data(as_text=True)
    client.post("/account/opt-out")
    with app.app_context():
        assert db.session.get(Member, member_id).opted_out_at is not None
    assert "You have turned off all messages" in client.get("/account").get_data(as_text=True)
    client.post("/account/opt-in")
    with app.app_context():
        assert db.session.get(Member, member_id).opted_out_at is None


def test_a_member_downloads_everything_held_about_them(app, client, county, make_member,
                                                       make_staff, login):
    member_id = make_member(email="me@example.org", phone="+447400900222",
                            channels=["email", "sms"], interests=["rural_watch.canal"],
                            demographics={"ethnic_group": "mixed"})
    officer = make_staff("officer", areas=["E05900001"])
    login(app.test_client(), staff=officer).get(f"/staff/members/{member_id}")
    login(client, member=member_id)
    response = client.get("/account/my-data.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.get_data(as_text=True))
    assert data["email"] == "me@example.org"
    assert data["phone"] == "+447400900222"
    assert data["interests"] == ["rural_watch.canal"]
    assert [c["channel"] for c in data["channels"]] == ["email", "sms"]
    assert data["demographics"] == {"ethnic_group": "mixed"}
    assert data["consents"][0]["organisation"] == "wealdshire-police"
    assert data["privacy_notice"]["version"] == app.config["PRIVACY_NOTICE_VERSION"]
    assert data["seen_by"][0]["organisation"] == "Wealdshire Police"
    assert data["seen_by"][0]["action"] == "view"
    assert "password_hash" not in data
    assert data["replies"] == data["ratings"] == data["push_devices"] == []


def test_the_download_holds_replies_ratings_and_devices_but_no_internal_notes(
        app, client, county, make_member, make_staff, login):
    from core.models import MessageRating, PushSubscription, Reply, ReplyAnswer, ReplyNote

    member_id = make_member()
    officer = make_staff("officer", areas=["E05900001"])
    with app.app_context():
        sender = db.session.get(Staff, officer)
        message = create_message(sender, title="Van seen on Mill Lane", body="B",
                                 plain_text="P", category="witness_appeal", priority=2,
                                 target={})
        db.session.add(message)
        db.session.commit()
        send(message, sender)
        reply = Reply(message_id=message.id, member_id=member_id,
                      organisation_id=sender.organisation_id, body="A white van at 9pm",
                      via="web", may_contact=True)
        reply.notes = [ReplyNote(staff_id=officer, text="Known to us: check PNC")]
        reply.answers = [ReplyAnswer(staff_id=officer, text="Thank you, very helpful")]
        db.session.add_all([reply, MessageRating(message_id=message.id, member_id=member_id,
                                                 useful=True),
                            PushSubscription(member_id=member_id, endpoint="https://push.example/1",
                                             p256dh="k", auth="a", user_agent="Firefox on Linux")])
        db.session.commit()
    login(client, member=member_id)
    body = client.get("/account/my-data.json").get_data(as_text=True)
    data = json.loads(body)
    assert data["replies"][0]["alert"] == "Van seen on Mill Lane"
    assert data["replies"][0]["text"] == "A white van at 9pm"
    assert data["replies"][0]["answers"][0]["text"] == "Thank you, very helpful"
    assert "check PNC" not in body  # staff's internal notes are not the resident's
    assert data["ratings"] == [{"alert": "Van seen on Mill Lane", "useful": True,
                                "at": data["ratings"][0]["at"]}]
    assert data["push_devices"][0]["device"] == "Firefox on Linux"


def test_a_member_sees_who_has_seen_their_details(app, client, county, make_member,
                                                  make_staff, login):
    member_id = make_member()
    officer = make_staff("supervisor", areas=["E05900001"])
    staff_client = login(app.test_client(), staff=officer)
    staff_client.get(f"/staff/members/{member_id}")
    staff_client.get("/staff/members/export.csv").get_data()
    login(client, member=member_id)
    page = client.get("/account/seen").get_data(as_text=True)
    assert page.count("Wealdshire Police") == 2
    assert "Viewed your record" in page and "Exported your record" in page
    with app.app_context():
        actions = db.session.scalars(select(MemberAccess.action).order_by(MemberAccess.id)).all()
        assert actions == ["view", "export"]


def test_a_member_erases_their_account(app, client, county, make_member, make_staff, login):
    member_id = make_member(interests=["rural_watch.dog"], channels=["email", "sms"],
                            phone="07700 900123")
    other_id = make_member()
    staff_id = make_staff()
    login(app.test_client(), staff=staff_id).get(f"/staff/members/{member_id}")
    with app.app_context():  # an alert reached them: their deliveries are about them too
        sender = db.session.get(Staff, staff_id)
        message = create_message(sender, title="Alert", body="Lock up.", plain_text="Lock up.",
                                 category="crime_alert", priority=1, target={})
        db.session.add(message)
        db.session.commit()
        assert send(message, sender) == 2
        assert db.session.scalar(select(func.count()).select_from(DevOutbox)) == 1  # the SMS
    login(client, member=member_id)
    page = client.post("/account/delete", data={"password": "wrong password!"}
                       ).get_data(as_text=True)
    assert "Your password is not right" in page
    response = client.post("/account/delete", data={"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Member, member_id) is None
        for model in (MemberChannel, MemberInterest, MemberConsent, MemberAccess, Delivery):
            assert db.session.scalar(
                select(func.count()).select_from(model).where(model.member_id == member_id)
            ) == 0
        assert db.session.scalar(select(func.count()).select_from(DevOutbox)) == 0
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 1  # other's
        assert db.session.get(Member, other_id) is not None
    assert client.get("/account").status_code == 302  # signed out


def test_pages_follow_the_members_language(app, client, county, make_member, login):
    member_id = make_member(language="cy")
    login(client, member=member_id)
    page = client.get("/account").get_data(as_text=True)
    assert '<html lang="cy"' in page
    assert '<html lang="en"' in client.get("/account?lang=en").get_data(as_text=True)

"""Watch schemes: starting, finding, joining with approval, verification levels,
coordinators, invitations, messaging the scheme and printing for members without email."""

from __future__ import annotations

import html
import json

import pytest
from sqlalchemy import func, select

from core.api import Member, Message, db
from plugins.neighbourhood_watch.models import Decision, Scheme, SchemeMember


def text(response) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def decisions(app, scheme_id):
    with app.app_context():
        return [(d.kind, d.outcome, d.subject.name if d.subject else None,
                 d.by_member.name if d.by_member else None,
                 d.by_staff.name if d.by_staff else None)
                for d in db.session.scalars(select(Decision).where(
                    Decision.scheme_id == scheme_id).order_by(Decision.id))]


def place(app, scheme_id, member_id):
    with app.app_context():
        found = db.session.scalar(select(SchemeMember).where(
            SchemeMember.scheme_id == scheme_id, SchemeMember.member_id == member_id))
        return (found.status, found.role, found.applied_role) if found else None


def verify(app, login, town, scheme_id, who="officer"):
    client = login(app.test_client(), staff=town[who])
    response = client.post(f"/staff/schemes/{scheme_id}/verify", data={"accept": "y"})
    assert response.status_code == 302, text(response)[:1000]


def join(app, login, member_id, scheme_id, consent=True):
    client = login(app.test_client(), member=member_id)
    data = {"target": scheme_id, **({"consent": "y"} if consent else {})}
    return client.post("/schemes/join", data=data)


def test_a_resident_starts_a_self_declared_scheme_as_its_main_coordinator(
        app, start_scheme, town):
    scheme_id = start_scheme()
    with app.app_context():
        scheme = db.session.get(Scheme, scheme_id)
        assert scheme.level == "self" and scheme.verified_by is None
        assert [a.code for a in scheme.areas] == ["ST000001"]
        creator = db.session.get(Member, town["coordinator"])
        assert scheme.organisation_id in creator.consented_organisation_ids
    assert place(app, scheme_id, town["coordinator"]) == ("active", "main", None)
    assert decisions(app, scheme_id) == [
        ("start", "self", "Cora Coordinator", "Cora Coordinator", None)]


def test_a_scheme_must_take_in_its_founders_address(app, login, ids, town):
    client = login(app.test_client(), member=town["coordinator"])
    response = client.post("/schemes/new", data={
        "name": "Not mine", "organisation": ids(org="wealdshire-nhw"),
        "areas": [ids("ST000002")]})
    page = text(response)
    assert response.status_code == 200
    assert "Your own address must be inside the scheme's boundary" in page
    response = client.post("/schemes/new", data={"name": "", "organisation": ""})
    page = text(response)
    assert "Enter the scheme's name" in page and "Choose at least one street" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Scheme)) == 0


def test_residents_find_schemes_by_postcode_within_the_boundary(
        app, client, start_scheme, town):
    start_scheme()  # Mill Lane (ST000001)
    # A drawn boundary around one of Mill Lane's two postcodes only (HF1 1FJ).
    shape = {"type": "Circle", "center": [-0.587439, 51.966677], "radius_m": 300}
    start_scheme(name="Top of Mill Lane", areas=("E05900001",), shape=json.dumps(shape))
    found = text(client.get("/schemes?postcode=hf1 1fj"))
    assert "Mill Lane Watch" in found and "Top of Mill Lane" in found
    assert "Self-declared" in found and "Cora Coordinator" in found
    other = text(client.get("/schemes?postcode=HF1 3GL"))
    assert "Mill Lane Watch" in other and "Top of Mill Lane" not in other
    elsewhere = text(client.get("/schemes?postcode=HF1 5DY"))  # School Lane
    assert "Mill Lane Watch" not in elsewhere and "0 schemes cover this postcode" in elsewhere
    unknown = text(client.get("/schemes?postcode=ZZ9 9ZZ"))
    assert "We do not know that postcode" in unknown


def test_joining_needs_consent_and_a_coordinators_approval_each_recorded(
        app, login, start_scheme, town):
    scheme_id = start_scheme()
    refused = join(app, login, town["resident"], scheme_id, consent=False)
    assert refused.status_code == 200
    assert "Agree to share your details to join" in text(refused)
    assert place(app, scheme_id, town["resident"]) is None

    assert join(app, login, town["resident"], scheme_id).status_code == 302
    assert place(app, scheme_id, town["resident"]) == ("requested", "member", None)
    with app.app_context():
        scheme = db.session.get(Scheme, scheme_id)
        member = db.session.get(Member, town["resident"])
        assert scheme.organisation_id in member.consented_organisation_ids
        request_id = db.session.scalar(select(SchemeMember.id).where(
            SchemeMember.member_id == town["resident"]))

    # Someone outside the boundary cannot join, whatever they post.
    outside = join(app, login, town["school_lane"], scheme_id)
    assert "Your address is outside this scheme's boundary" in text(outside)
    assert place(app, scheme_id, town["school_lane"]) is None

    # Only a coordinator decides, and only for their scheme's requests.
    resident = login(app.test_client(), member=town["neighbour"])
    assert resident.post(f"/schemes/{scheme_id}/requests/{request_id}",
                         data={"accept": "y"}).status_code == 404
    coordinator = login(app.test_client(), member=town["coordinator"])
    page = text(coordinator.get(f"/schemes/{scheme_id}/manage"))
    assert "Rita Resident" in page
    response = coordinator.post(f"/schemes/{scheme_id}/requests/{request_id}",
                                data={"accept": "y"})
    assert response.status_code == 302
    assert place(app, scheme_id, town["resident"]) == ("active", "member", None)
    assert decisions(app, scheme_id)[-1] == (
        "join", "accepted", "Rita Resident", "Cora Coordinator", None)

    assert join(app, login, town["neighbour"], scheme_id).status_code == 302
    with app.app_context():
        second = db.session.scalar(select(SchemeMember.id).where(
            SchemeMember.member_id == town["neighbour"]))
    coordinator.post(f"/schemes/{scheme_id}/requests/{second}", data={"decline": "y"})
    assert place(app, scheme_id, town["neighbour"]) == ("declined", "member", None)
    assert decisions(app, scheme_id)[-1] == (
        "join", "declined", "Ned Neighbour", "Cora Coordinator", None)


def test_verification_levels_show_who_verified_and_when_and_need_scope(
        app, client, login, start_scheme, town):
    scheme_id = start_scheme()
    # An officer whose areas do not cover the scheme cannot see or verify it.
    elsewhere = login(app.test_client(), staff=town["officer_elsewhere"])
    assert elsewhere.get(f"/staff/schemes/{scheme_id}").status_code == 404
    assert elsewhere.post(f"/staff/schemes/{scheme_id}/verify",
                          data={"accept": "y"}).status_code == 404
    assert "Mill Lane Watch" not in text(elsewhere.get("/staff/schemes"))

    verify(app, login, town, scheme_id, who="association")
    with app.app_context():
        scheme = db.session.get(Scheme, scheme_id)
        assert scheme.level == "association" and scheme.verified_by.name == "Alex Association"
    found = text(client.get("/schemes?postcode=HF1 1FJ"))
    assert "Verified by the volunteer association" in found
    assert "Verified by Alex Association, Wealdshire Neighbourhood Watch Association" in found

    verify(app, login, town, scheme_id, who="officer")
    found = text(client.get("/schemes?postcode=HF1 1FJ"))
    assert "Verified by police" in found
    assert "Verified by PC Olu Officer, Wealdshire Police" in found
    assert [d[:2] for d in decisions(app, scheme_id)] == [
        ("start", "self"), ("verify", "association"), ("verify", "police")]
    assert decisions(app, scheme_id)[-1][4] == "PC Olu Officer"


def test_an_unverified_scheme_cannot_message_until_police_verify_it(
        app, login, start_scheme, town, outbox):
    scheme_id = start_scheme()
    join(app, login, town["resident"], scheme_id)
    coordinator = login(app.test_client(), member=town["coordinator"])
    with app.app_context():
        request_id = db.session.scalar(select(SchemeMember.id).where(
            SchemeMember.member_id == town["resident"]))
    coordinator.post(f"/schemes/{scheme_id}/requests/{request_id}", data={"accept": "y"})
    message = {"title": "Bins stolen", "body": "Two wheelie bins taken.",
               "plain_text": "Two wheelie bins taken.", "category": "community_news"}

    page = text(coordinator.get(f"/schemes/{scheme_id}/message"))
    assert "cannot send messages until it is verified by police" in page
    refused = coordinator.post(f"/schemes/{scheme_id}/message", data=message)
    assert refused.status_code == 200
    assert "This scheme must be verified before it can send messages" in refused.get_data(
        as_text=True)
    verify(app, login, town, scheme_id, who="association")
    coordinator.post(f"/schemes/{scheme_id}/message", data=message)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0

    verify(app, login, town, scheme_id, who="officer")
    response = coordinator.post(f"/schemes/{scheme_id}/message", data=message)
    assert response.status_code == 302
    received = outbox.wait_for(2)
    assert sorted(m["To"] for m in received) == ["cora@example.org", "rita@example.org"]
    body = received[0].get_body(("plain",)).get_content()
    assert "Scheme coordinator" in body and "Cora Coordinator" in body
    page = text(coordinator.get(f"/schemes/{scheme_id}/manage"))
    assert "Bins stolen" in page and "Reached 2 people." in page and "email: sent 2" in page


def test_a_coordinator_messages_only_their_own_scheme_even_by_forging_the_form(
        app, login, start_scheme, town, outbox, make_member):
    mill = start_scheme()
    make_member(area="ST000002", name="Sue Schoolcoord", email="sue@example.org",
                organisations=["wealdshire-nhw"])
    with app.app_context():
        sue = db.session.scalar(select(Member.id).where(Member.email == "sue@example.org"))
    town["sue"] = sue
    school = start_scheme(name="School Lane Watch", areas=("ST000002",), who="sue")
    for scheme_id in (mill, school):
        verify(app, login, town, scheme_id, who="officer")
    join(app, login, town["resident"], mill)
    join(app, login, town["school_lane"], school)
    with app.app_context():
        for member in (town["resident"], town["school_lane"]):
            db.session.scalar(select(SchemeMember).where(
                SchemeMember.member_id == member)).status = "active"
        db.session.commit()

    coordinator = login(app.test_client(), member=town["coordinator"])
    message = {"title": "Forged", "body": "x", "plain_text": "x",
               "category": "community_news"}
    assert coordinator.get(f"/schemes/{school}/message").status_code == 404
    assert coordinator.post(f"/schemes/{school}/message", data=message).status_code == 404
    assert coordinator.get(f"/schemes/{school}/manage").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0

    # Extra targeting fields in the form are ignored: the target is the scheme itself.
    forged = {**message, "areas": "E10900001", "scheme": school, "target": school,
              "rules": json.dumps([{"name": "core.area", "mode": "include",
                                    "params": {"codes": "E10900001"}}])}
    assert coordinator.post(f"/schemes/{mill}/message", data=forged).status_code == 302
    received = outbox.wait_for(2)
    assert sorted(m["To"] for m in received) == ["cora@example.org", "rita@example.org"]


def test_coordinator_applications_are_decided_by_verifying_staff(
        app, login, start_scheme, town):
    scheme_id = start_scheme()
    join(app, login, town["resident"], scheme_id)
    with app.app_context():
        request_id = db.session.scalar(select(SchemeMember.id).where(
            SchemeMember.member_id == town["resident"]))
    login(app.test_client(), member=town["coordinator"]).post(
        f"/schemes/{scheme_id}/requests/{request_id}", data={"accept": "y"})
    resident = login(app.test_client(), member=town["resident"])
    assert resident.post(f"/schemes/{scheme_id}/coordinate",
                         data={"role": "deputy"}).status_code == 302
    assert place(app, scheme_id, town["resident"]) == ("active", "member", "deputy")
    # The resident cannot approve themselves; staff of another area cannot either.
    assert resident.get(f"/staff/schemes/{scheme_id}").status_code in (302, 403)
    elsewhere = login(app.test_client(), staff=town["officer_elsewhere"])
    assert elsewhere.post(f"/staff/schemes/{scheme_id}/coordinators/{request_id}",
                          data={"accept": "y"}).status_code == 404
    association = login(app.test_client(), staff=town["association"])
    assert "Rita Resident" in association.get(f"/staff/schemes/{scheme_id}").get_data(
        as_text=True)
    association.post(f"/staff/schemes/{scheme_id}/coordinators/{request_id}",
                     data={"accept": "y"})
    assert place(app, scheme_id, town["resident"]) == ("active", "deputy", None)
    assert decisions(app, scheme_id)[-1] == (
        "coordinator", "deputy", "Rita Resident", None, "Alex Association")
    # Now a deputy, the resident coordinates the scheme.
    assert resident.get(f"/schemes/{scheme_id}/manage").status_code == 200


def test_a_verified_scheme_sees_and_invites_residents_in_its_boundary(
        app, login, start_scheme, town):
    scheme_id = start_scheme(areas=("E05900001",))  # the whole ward
    coordinator = login(app.test_client(), member=town["coordinator"])
    page = text(coordinator.get(f"/schemes/{scheme_id}/manage"))
    assert "Ned Neighbour" not in page  # self-declared: nobody shown yet
    verify(app, login, town, scheme_id, who="association")
    page = text(coordinator.get(f"/schemes/{scheme_id}/manage"))
    # In the boundary and consented to the association: Ned and Sol. Rita consented
    # only to the police; Fay lives in another ward.
    assert "Ned Neighbour" in page and "Sol Schoollane" in page
    assert "Rita Resident" not in page and "Fay Faraway" not in page
    # Someone outside the list cannot be invited by forging the id.
    forged = coordinator.post(f"/schemes/{scheme_id}/invitations",
                              data={"member": town["far"]})
    assert "That resident cannot be invited" in text(forged)
    assert place(app, scheme_id, town["far"]) is None
    coordinator.post(f"/schemes/{scheme_id}/invitations", data={"member": town["neighbour"]})
    assert place(app, scheme_id, town["neighbour"])[0] == "invited"
    mine = login(app.test_client(), member=town["neighbour"]).get("/schemes/mine")
    assert "Mill Lane Watch" in text(mine)
    assert join(app, login, town["neighbour"], scheme_id).status_code == 302
    assert place(app, scheme_id, town["neighbour"]) == ("active", "member", None)
    assert [d[:2] for d in decisions(app, scheme_id)][-2:] == [
        ("invite", "invited"), ("invite", "accepted")]


def test_a_printable_message_lists_the_members_without_email(
        app, login, start_scheme, town, make_member):
    scheme_id = start_scheme()
    paper = make_member(area="ST000001", name="Pat Paper", email="pat@example.org",
                        channels=["sms"], phone="+447700900001",
                        address_line="7 Mill Lane", organisations=["wealdshire-nhw"])
    with app.app_context():
        db.session.add(SchemeMember(scheme_id=scheme_id, member_id=paper, status="active"))
        db.session.add(SchemeMember(scheme_id=scheme_id, member_id=town["neighbour"],
                                    status="active"))
        db.session.commit()
    verify(app, login, town, scheme_id, who="officer")
    coordinator = login(app.test_client(), member=town["coordinator"])
    coordinator.post(f"/schemes/{scheme_id}/message", data={
        "title": "Meeting", "body": "Meet at **the hall** <script>alert(1)</script>",
        "plain_text": "Meet at the hall", "category": "community_news"})
    with app.app_context():
        message_id = db.session.scalar(select(Message.id))
    page = coordinator.get(f"/schemes/{scheme_id}/messages/{message_id}/print")
    printed = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<strong>the hall</strong>" in printed and "<script>alert" not in printed
    assert "Pat Paper" in printed and "7 Mill Lane" in printed
    assert "Ned Neighbour" not in printed and "Cora Coordinator</td>" not in printed
    assert "1 address to deliver to" in printed
    # Another scheme's coordinator, or a member, cannot print it.
    member = login(app.test_client(), member=town["neighbour"])
    assert member.get(f"/schemes/{scheme_id}/messages/{message_id}/print").status_code == 404


def test_a_force_can_change_what_each_level_allows(make_app, login, ids, town, outbox):
    app = make_app(NEIGHBOURHOOD_WATCH_LEVELS="message=self,listed=association")
    client = login(app.test_client(), member=town["coordinator"])
    client.post("/schemes/new", data={"name": "Early Watch", "organisation":
                                      ids(org="wealdshire-nhw"), "areas": [ids("ST000001")]})
    with app.app_context():
        scheme_id = db.session.scalar(select(Scheme.id))
    assert "Early Watch" not in app.test_client().get("/schemes?postcode=HF1 1FJ").get_data(
        as_text=True)
    response = client.post(f"/schemes/{scheme_id}/message", data={
        "title": "Hello", "body": "Hello", "plain_text": "Hello", "category": "community_news"})
    assert response.status_code == 302
    assert [m["To"] for m in outbox.wait_for(1)] == ["cora@example.org"]


@pytest.mark.parametrize("setting", ["message=sometimes", "fly=police"])
def test_a_wrong_level_setting_is_refused_by_name(make_app, setting, town, login):
    app = make_app(NEIGHBOURHOOD_WATCH_LEVELS=setting)
    from plugins.neighbourhood_watch.schemes import SchemeError, required_levels

    with app.app_context(), pytest.raises(SchemeError, match="NEIGHBOURHOOD_WATCH_LEVELS"):
        required_levels()

"""Staff see, export and register only the members their areas and organisation allow."""

import csv
import io

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import Member, MemberAccess, Staff

WARD_A, WARD_B = "E05900001", "E05900002"  # both in district E07900001 (Ashendry)
OTHER_DISTRICT_WARD = "E05900005"


@pytest.fixture
def people(make_member, make_staff):
    """Residents in two wards and a district apart, and staff of each scope."""
    return {
        "a1": make_member(area=WARD_A, name="Alice Ward-A", email="alice@example.org"),
        "a2": make_member(area=WARD_A, name="Aaron Ward-A", email="aaron@example.org",
                          organisations=["ashendry-council"]),
        "b1": make_member(area=WARD_B, name="Bella Ward-B", email="bella@example.org"),
        "c1": make_member(area=OTHER_DISTRICT_WARD, name="Carl Elsewhere",
                          email="carl@example.org"),
        "officer_a": make_staff("officer", areas=[WARD_A]),
        "officer_b": make_staff("officer", areas=[WARD_B]),
        "supervisor": make_staff("supervisor", areas=["E07900001"]),
        "council": make_staff("supervisor", areas=["E10900001"],
                              organisation="ashendry-council"),
        "coordinator": make_staff("coordinator", areas=[WARD_A],
                                  organisation="wealdshire-nhw"),
        "force_admin": make_staff("force_admin", areas=["E10900001"]),
    }


def names_listed(client, query=""):
    page = client.get(f"/staff/members?q={query}").get_data(as_text=True)
    return {n for n in ("Alice", "Aaron", "Bella", "Carl") if n in page}


def exported(client):
    response = client.get("/staff/members/export.csv")
    assert response.status_code == 200
    return {row["email"] for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}


def test_an_officer_lists_only_consenting_members_of_their_ward(app, people, login):
    client = login(app.test_client(), staff=people["officer_a"])
    assert names_listed(client) == {"Alice"}  # Aaron chose only the council
    assert names_listed(client, "bella") == set()
    assert names_listed(client, "HF1") == {"Alice"}


def test_scope_reaches_descendant_areas(app, people, login):
    client = login(app.test_client(), staff=people["supervisor"])
    assert names_listed(client) == {"Alice", "Bella"}
    assert exported(client) == {"alice@example.org", "bella@example.org"}


def test_another_organisation_sees_only_members_who_chose_it(app, people, login):
    client = login(app.test_client(), staff=people["council"])
    assert exported(client) == {"aaron@example.org"}
    for key in ("a1", "b1", "c1"):
        assert client.get(f"/staff/members/{people[key]}").status_code == 404
    assert client.get(f"/staff/members/{people['a2']}").status_code == 200


@pytest.mark.parametrize("guess", ["b1", "c1", "a2"])
def test_an_officer_of_ward_a_gets_404_for_others_by_direct_url(app, people, login, guess):
    client = login(app.test_client(), staff=people["officer_a"])
    response = client.get(f"/staff/members/{people[guess]}")
    assert response.status_code == 404
    assert "Bella" not in response.get_data(as_text=True)
    assert client.get("/staff/members/999999").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(MemberAccess.id)) is None  # nothing was seen


def test_viewing_a_member_is_logged_for_them(app, people, login):
    client = login(app.test_client(), staff=people["officer_a"])
    page = client.get(f"/staff/members/{people['a1']}").get_data(as_text=True)
    assert "alice@example.org" in page
    with app.app_context():
        access = db.session.scalar(select(MemberAccess))
        assert (access.member_id, access.staff_id, access.action) == (
            people["a1"], people["officer_a"], "view")


def test_export_needs_the_export_permission_and_is_logged_per_member(app, people, login):
    officer = login(app.test_client(), staff=people["officer_a"])
    assert officer.get("/staff/members/export.csv").status_code == 403
    supervisor = login(app.test_client(), staff=people["supervisor"])
    exported(supervisor)
    with app.app_context():
        logged = db.session.execute(select(MemberAccess.member_id, MemberAccess.action)).all()
        assert sorted(logged) == sorted([(people["a1"], "export"), (people["b1"], "export")])


def test_coordinators_cannot_browse_members(app, people, login):
    client = login(app.test_client(), staff=people["coordinator"])
    assert client.get("/staff/members").status_code == 403
    assert client.get(f"/staff/members/{people['a1']}").status_code == 403
    assert client.get("/staff/").status_code == 200


def test_residents_cannot_use_staff_pages(app, people, login):
    client = login(app.test_client(), member=people["a1"])
    assert client.get("/staff/members").status_code == 403
    assert client.get(f"/staff/members/{people['a1']}").status_code == 403


def test_signed_out_visitors_are_sent_to_staff_sign_in(client, people):
    response = client.get(f"/staff/members/{people['a1']}")
    assert response.status_code == 302 and "/staff/sign-in" in response.location


def test_doorstep_registration_sends_a_confirmation_link(app, people, login, outbox):
    client = login(app.test_client(), staff=people["officer_a"])
    form = {
        "name": "Dora Doorstep", "email": "dora@example.org", "address_line": "9 Mill Lane",
        "postcode": "HF1 1FJ", "channels": "email", "organisations": "1", "language": "en",
        "consent_confirmed": "y",
    }
    response = client.post("/staff/members/new", data=form)
    assert response.status_code == 302
    with app.app_context():
        dora = db.session.scalar(select(Member).where(Member.email == "dora@example.org"))
        assert dora.registration_method == "doorstep"
        assert dora.registered_by_id == people["officer_a"]
        assert dora.password_hash is None and dora.email_verified_at is None
    link = outbox.links(outbox.wait_for(1)[0])[0]
    path = link.removeprefix("https://commonwatch.example.org")
    resident = app.test_client()
    assert "Dora Doorstep" in resident.get(path).get_data(as_text=True)
    response = resident.post(path, data={"password": "dora's own password",
                                         "password_confirm": "dora's own password"})
    assert response.status_code == 302
    with app.app_context():
        dora = db.session.scalar(select(Member).where(Member.email == "dora@example.org"))
        assert dora.email_verified_at is not None and dora.password_hash
    assert resident.get(path).status_code == 400  # the link works once


def test_doorstep_registration_is_limited_to_the_officers_areas(app, people, login):
    client = login(app.test_client(), staff=people["officer_b"])
    form = {
        "name": "Out Of Area", "email": "out@example.org", "address_line": "1 Mill Lane",
        "postcode": "HF1 1FJ", "channels": "email", "organisations": "1", "language": "en",
        "consent_confirmed": "y",
    }
    page = client.post("/staff/members/new", data=form).get_data(as_text=True)
    assert "outside the areas you work in" in page
    with app.app_context():
        assert db.session.scalar(select(Member).where(Member.email == "out@example.org")) is None


def account_form(**overrides):
    form = {"name": "New Officer", "email": "new.officer@police.example.org",
            "role": "officer", "area_codes": WARD_A, "active": "y"}
    form.update(overrides)
    return form


def test_a_force_administrator_creates_a_staff_account(app, people, login, outbox):
    client = login(app.test_client(), staff=people["force_admin"])
    response = client.post("/staff/accounts/new", data=account_form())
    assert response.status_code == 302
    with app.app_context():
        staff = db.session.scalar(
            select(Staff).where(Staff.email == "new.officer@police.example.org"))
        assert staff.role == "officer" and [a.code for a in staff.areas] == [WARD_A]
        assert staff.organisation.slug == "wealdshire-police"
    message = outbox.wait_for(1)[0]
    assert "/password/reset/" in outbox.links(message)[0]


def test_staff_accounts_cannot_be_given_more_than_the_manager_has(app, people, make_staff,
                                                                  login):
    district_admin = make_staff("force_admin", areas=["E07900001"])
    client = login(app.test_client(), staff=district_admin)
    page = client.post("/staff/accounts/new", data=account_form(area_codes=OTHER_DISTRICT_WARD)
                       ).get_data(as_text=True)
    assert "outside your own" in page
    page = client.post("/staff/accounts/new", data=account_form(role="system_admin")
                       ).get_data(as_text=True)
    assert "Not a valid choice" in page
    with app.app_context():
        assert db.session.scalar(
            select(Staff).where(Staff.email == "new.officer@police.example.org")) is None


def test_staff_of_other_areas_or_organisations_cannot_be_managed(app, people, make_staff,
                                                                 login):
    district_admin = make_staff("force_admin", areas=["E07900001"])
    client = login(app.test_client(), staff=district_admin)
    page = client.get("/staff/accounts").get_data(as_text=True)
    assert "Staff 1" in page  # officer_a, in the district
    assert client.get(f"/staff/accounts/{people['force_admin']}").status_code == 404
    assert client.get(f"/staff/accounts/{people['council']}").status_code == 404
    assert client.get(f"/staff/accounts/{people['officer_a']}").status_code == 200


def test_disabling_an_account_ends_its_session(app, people, login):
    officer = login(app.test_client(), staff=people["officer_a"])
    assert officer.get("/staff/").status_code == 200
    admin = login(app.test_client(), staff=people["force_admin"])
    form = account_form(email="staff1@police.example.org", name="Staff 1")
    form.pop("active")
    assert admin.post(f"/staff/accounts/{people['officer_a']}", data=form).status_code == 302
    response = officer.get("/staff/")
    assert response.status_code == 302 and "sign-in" in response.location


def test_officers_cannot_manage_staff(app, people, login):
    client = login(app.test_client(), staff=people["officer_a"])
    assert client.get("/staff/accounts").status_code == 403
    assert client.post("/staff/accounts/new", data=account_form()).status_code == 403


def test_staff_change_their_password_and_other_sessions_end(app, people, login):
    from core.testing.pytest_plugin import DEFAULT_PASSWORD

    first = login(app.test_client(), staff=people["officer_a"])
    second = login(app.test_client(), staff=people["officer_a"])
    assert "Change your password" in first.get("/staff/").get_data(as_text=True)
    wrong = first.post("/staff/password", data={
        "current_password": "not my password", "password": "a brand new password",
        "password_confirm": "a brand new password"}).get_data(as_text=True)
    assert "Your current password is not right" in wrong
    response = first.post("/staff/password", data={
        "current_password": DEFAULT_PASSWORD, "password": "a brand new password",
        "password_confirm": "a brand new password"})
    assert response.status_code == 302
    assert first.get("/staff/").status_code == 200
    assert second.get("/staff/").status_code == 302


def test_the_export_does_not_carry_spreadsheet_formulas(app, make_member, make_staff, login):
    make_member(name='=HYPERLINK("http://evil.example","Click")', email="formula@example.org",
                address_line="@SUM(A1:A9)", phone="+447400123456", channels=["email", "sms"])
    client = login(app.test_client(), staff=make_staff("supervisor", areas=["E07900001"]))
    rows = list(csv.DictReader(io.StringIO(
        client.get("/staff/members/export.csv").get_data(as_text=True))))
    assert rows[0]["name"] == "'=HYPERLINK(\"http://evil.example\",\"Click\")"
    assert rows[0]["address_line"] == "'@SUM(A1:A9)"
    assert rows[0]["phone"] == "'+447400123456"

"""Fields a form does not have cannot be set by posting them.

Each form is posted twice by twins: once plainly and once with privileged extra fields
(role, organisation, verification, two-factor secret, password hash, ids ...). The twin
who sent extras must end up exactly like the one who did not. A last sweep posts the
extras alone to every POST route of ``app.url_map``, so later routes are covered too.
"""

import re

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from core.extensions import db
from core.models import Area, Member, Organisation, Staff
from core.security import check_password, hash_password
from core.testing.matrix import database_changes
from core.testing.pytest_plugin import DEFAULT_PASSWORD

#: Walks every route of the app: run once, on PostgreSQL in CI (see the Makefile).
pytestmark = pytest.mark.walk

INJECTED_PASSWORD = "an injected password"
INJECTED_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NEW_PASSWORD = "a brand new password"

#: Columns that tell twins apart from the start; compared with the account's own values.
MEMBER_IDENTITY = {"id", "name", "email", "created_at", "privacy_accepted_at", "password_hash"}
STAFF_IDENTITY = {"id", "name", "email", "created_at", "totp_secret", "password_hash"}


@pytest.fixture
def extras(app, county, make_member, make_staff):
    """Privileged fields, pointing at things of another organisation and area, and at
    another resident and staff account (who must not change either)."""
    bystander_member = make_member(area="E05900012", organisations=["ashendry-council"],
                                   name="Betty Bystander", email="bystander@example.org")
    bystander_staff = make_staff("officer", areas=["E05900012"], organisation="ashendry-council",
                                 name="Barry Bystander", email="barry@council.example.org")
    with app.app_context():
        fire = db.session.scalar(
            select(Organisation.id).where(Organisation.slug == "wealdshire-fire"))
        far = db.session.scalar(select(Area.id).where(Area.code == "E05900012"))
    fields = {
        "role": "system_admin", "organisation_id": str(fire), "organisation": "wealdshire-fire",
        "area_id": str(far), "area_codes": "E10900001", "active": "false",
        "email": "injected@example.org",
        "email_verified_at": "2020-01-01T00:00:00+00:00", "registration_method": "import",
        "registered_by_id": str(bystander_staff), "min_priority": "1", "auth_version": "99",
        "totp_secret": INJECTED_TOTP, "password_hash": hash_password(INJECTED_PASSWORD),
        "approved": "y", "is_admin": "y", "id": "424242", "member_id": str(bystander_member),
        "staff_id": str(bystander_staff), "opted_out_at": "2020-01-01T00:00:00+00:00",
        "privacy_notice_version": "injected",
    }
    return {"fields": fields, "member": bystander_member, "staff": bystander_staff}


def form_fields(client, path):
    """Names of the fields the page at ``path`` offers."""
    page = client.get(path)
    assert page.status_code == 200, path
    return set(re.findall(r"<(?:input|select|textarea)\b[^>]*\bname=\"([^\"]+)\"",
                          page.get_data(as_text=True)))


def with_extras(client, path, data, extras):
    """``data`` plus every extra that is not a field of the form at ``path``."""
    own = form_fields(client, path)
    return {**{k: v for k, v in extras["fields"].items() if k not in own}, **data}


def member_state(app, member_id):
    with app.app_context():
        m = db.session.get(Member, member_id)
        if m is None:
            return None
        state = {c.key: getattr(m, c.key) for c in sa_inspect(Member).column_attrs}
        state["channels"] = sorted((c.channel, c.by_day, c.by_night) for c in m.channels)
        state["interests"] = sorted(i.watch_type for i in m.interests)
        state["fields"] = sorted((v.name, v.value) for v in m.field_values)
        state["consents"] = sorted((c.organisation.slug, c.method) for c in m.consents)
        return state


def staff_state(app, staff_id):
    with app.app_context():
        s = db.session.get(Staff, staff_id)
        if s is None:
            return None
        state = {c.key: getattr(s, c.key) for c in sa_inspect(Staff).column_attrs}
        state["areas"] = sorted(a.code for a in s.areas)
        return state


def assert_twins(plain_before, plain_after, extra_before, extra_after, identity):
    """The twin who posted extras changed exactly as the plain twin did."""
    if plain_before is not None:
        assert {k: v for k, v in plain_before.items() if k not in identity} == \
            {k: v for k, v in extra_before.items() if k not in identity}, "twins differ at start"
    differences = {
        k: (plain_after[k], extra_after[k])
        for k in plain_after if k not in identity and plain_after[k] != extra_after[k]
    }
    assert not differences, f"extra fields changed (plain twin, twin with extras): {differences}"
    if extra_before is not None:
        for k in identity:
            if plain_after[k] == plain_before[k]:  # the form itself does not change it
                assert extra_after[k] == extra_before[k], k


def assert_bystanders_untouched(app, extras, before):
    assert member_state(app, extras["member"]) == before[0]
    assert staff_state(app, extras["staff"]) == before[1]


def bystanders(app, extras):
    return member_state(app, extras["member"]), staff_state(app, extras["staff"])


def org_id(app, slug):
    with app.app_context():
        return db.session.scalar(select(Organisation.id).where(Organisation.slug == slug))


def resident_form(app, **overrides):
    return {
        "name": "Twin Resident", "address_line": "2 Mill Lane", "postcode": "HF1 1FJ",
        "phone": "07400 123456", "channels": ["email", "sms"],
        "interests": ["neighbourhood_watch.neighbourhood"],
        "organisations": [str(org_id(app, "wealdshire-police"))], "language": "en",
        **overrides,
    }


def no_injected_secrets(state):
    assert state["totp_secret"] != INJECTED_TOTP
    assert not check_password(state["password_hash"], INJECTED_PASSWORD)


# -- residents ------------------------------------------------------------------------------


def test_registration_takes_only_its_own_fields(app, extras):
    before = bystanders(app, extras)
    plain = app.test_client()
    form = resident_form(app, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD, privacy="y")
    assert plain.post("/register", data={**form, "email": "plain@example.org"}
                      ).status_code == 302
    injected = app.test_client()
    data = with_extras(injected, "/register", {**form, "email": "extra@example.org"}, extras)
    assert injected.post("/register", data=data).status_code == 302

    with app.app_context():
        ids = dict(db.session.execute(select(Member.email, Member.id)).all())
        assert 424242 not in ids.values()
    plain_state = member_state(app, ids["plain@example.org"])
    extra_state = member_state(app, ids["extra@example.org"])
    assert_twins(None, plain_state, None, extra_state, MEMBER_IDENTITY)
    assert extra_state["registration_method"] == "self"
    assert extra_state["email_verified_at"] is None and extra_state["min_priority"] == 5
    assert extra_state["consents"] == [("wealdshire-police", "self")]
    assert check_password(extra_state["password_hash"], NEW_PASSWORD)
    no_injected_secrets(extra_state)
    assert_bystanders_untouched(app, extras, before)


def twin_residents(make_member, login, app, **kwargs):
    ids = [make_member(name=f"Twin {n}", email=f"twin{n}@example.org", verified=False,
                       address_line="2 Mill Lane", **kwargs) for n in (1, 2)]
    return [(i, login(app.test_client(), member=i)) for i in ids]


@pytest.mark.parametrize("path,form", [
    ("/account/profile", "profile"),
    ("/account/preferences", {"min_priority": "2", "when_email": "day", "when_sms": "night"}),
    ("/account/email", "email"),
    ("/account/password", {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD,
                           "password_confirm": NEW_PASSWORD}),
], ids=["profile", "preferences", "email", "password"])
def test_resident_forms_take_only_their_own_fields(app, extras, make_member, login, path, form):
    before = bystanders(app, extras)
    (plain_id, plain), (extra_id, injected) = twin_residents(
        make_member, login, app, phone="+447400123456", channels=["email", "sms"])
    if form == "profile":
        form = resident_form(app, name="Renamed Twin")
    states = {}
    for n, (member_id, client) in enumerate(((plain_id, plain), (extra_id, injected)), 1):
        data = dict(form) if form != "email" else {"email": f"new.twin{n}@example.org",
                                                   "password": DEFAULT_PASSWORD}
        if member_id == extra_id:
            data = with_extras(client, path, data, extras)
        old = member_state(app, member_id)
        response = client.post(path, data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        states[member_id] = (old, member_state(app, member_id))
    assert_twins(*states[plain_id], *states[extra_id], MEMBER_IDENTITY)
    after = states[extra_id][1]
    no_injected_secrets(after)
    if path == "/account/email":
        assert after["email"] == "new.twin2@example.org"
    if path == "/account/password":
        assert check_password(after["password_hash"], NEW_PASSWORD)
    assert_bystanders_untouched(app, extras, before)


def test_doorstep_registration_takes_only_its_own_fields(app, extras, make_staff, login):
    before = bystanders(app, extras)
    officer = make_staff("officer", areas=["E05900001"])
    client = login(app.test_client(), staff=officer)
    form = resident_form(app, consent_confirmed="y")
    assert client.post("/staff/members/new", data={**form, "email": "door1@example.org"}
                       ).status_code == 302
    data = with_extras(client, "/staff/members/new", {**form, "email": "door2@example.org"},
                       extras)
    assert client.post("/staff/members/new", data=data).status_code == 302
    with app.app_context():
        ids = dict(db.session.execute(select(Member.email, Member.id)).all())
    plain_state = member_state(app, ids["door1@example.org"])
    extra_state = member_state(app, ids["door2@example.org"])
    assert_twins(None, plain_state, None, extra_state, MEMBER_IDENTITY)
    assert extra_state["registered_by_id"] == officer
    assert extra_state["registration_method"] == "doorstep"
    assert extra_state["password_hash"] is None and extra_state["email_verified_at"] is None
    assert_bystanders_untouched(app, extras, before)


# -- staff ----------------------------------------------------------------------------------


def staff_form(**overrides):
    return {"name": "Twin Officer", "role": "supervisor", "area_codes": "E05900001\nE05900002",
            "active": "y", **overrides}


def test_creating_a_staff_account_takes_only_its_own_fields(app, extras, make_staff, login):
    before = bystanders(app, extras)
    admin = make_staff("force_admin", areas=["E10900001"])
    client = login(app.test_client(), staff=admin)
    assert client.post("/staff/accounts/new", data=staff_form(email="made1@police.example.org")
                       ).status_code == 302
    data = with_extras(client, "/staff/accounts/new",
                       staff_form(email="made2@police.example.org"), extras)
    assert client.post("/staff/accounts/new", data=data).status_code == 302
    with app.app_context():
        ids = dict(db.session.execute(select(Staff.email, Staff.id)).all())
        assert 424242 not in ids.values()
    plain_state = staff_state(app, ids["made1@police.example.org"])
    extra_state = staff_state(app, ids["made2@police.example.org"])
    assert_twins(None, plain_state, None, extra_state, STAFF_IDENTITY)
    assert extra_state["organisation_id"] == org_id(app, "wealdshire-police")
    assert extra_state["totp_secret"] is None and extra_state["auth_version"] == 0
    no_injected_secrets({**extra_state, "totp_secret": None})
    assert_bystanders_untouched(app, extras, before)


def test_editing_a_staff_account_takes_only_its_own_fields(app, extras, make_staff, login):
    before = bystanders(app, extras)
    admin = make_staff("force_admin", areas=["E10900001"])
    twins = [make_staff("officer", areas=["E05900001"], name=f"Officer {n}",
                        email=f"officer{n}@police.example.org") for n in (1, 2)]
    client = login(app.test_client(), staff=admin)
    states = []
    for n, staff_id in enumerate(twins, 1):
        path = f"/staff/accounts/{staff_id}"
        data = staff_form(email=f"renamed{n}@police.example.org")
        if n == 2:
            data = with_extras(client, path, data, extras)
        old = staff_state(app, staff_id)
        assert client.post(path, data=data).status_code == 302
        states += [old, staff_state(app, staff_id)]
    assert_twins(*states, STAFF_IDENTITY)
    assert states[3]["role"] == "supervisor" and states[3]["areas"] == ["E05900001", "E05900002"]
    assert states[3]["organisation_id"] == org_id(app, "wealdshire-police")
    no_injected_secrets(states[3])
    assert_bystanders_untouched(app, extras, before)


def test_staff_change_their_password_without_changing_anything_else(
        app, extras, make_staff, login):
    before = bystanders(app, extras)
    twins = [make_staff("officer", areas=["E05900001"], name=f"Officer {n}",
                        email=f"pw{n}@police.example.org") for n in (1, 2)]
    states = []
    for n, staff_id in enumerate(twins, 1):
        client = login(app.test_client(), staff=staff_id)
        data = {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD}
        if n == 2:
            data = with_extras(client, "/staff/password", data, extras)
        old = staff_state(app, staff_id)
        assert client.post("/staff/password", data=data).status_code == 302
        states += [old, staff_state(app, staff_id)]
    assert_twins(*states, STAFF_IDENTITY)
    assert check_password(states[3]["password_hash"], NEW_PASSWORD)
    assert states[3]["totp_secret"] == states[2]["totp_secret"]
    assert_bystanders_untouched(app, extras, before)


@pytest.mark.parametrize("role", ["system_admin", "force_admin"])
def test_a_manager_cannot_hand_out_a_role_above_their_own(app, county, make_staff, login, role):
    admin = make_staff("force_admin", areas=["E10900001"])
    officer = make_staff("officer", areas=["E05900001"])
    client = login(app.test_client(), staff=admin)
    data = staff_form(role=role, email="climber@police.example.org")
    before = staff_state(app, officer)
    client.post(f"/staff/accounts/{officer}", data=data)
    client.post("/staff/accounts/new", data={**data, "email": "new.climber@police.example.org"})
    with app.app_context():
        roles = dict(db.session.execute(select(Staff.email, Staff.role)).all())
    if role == "system_admin":
        assert staff_state(app, officer) == before
        assert "new.climber@police.example.org" not in roles
    else:  # their own rank is allowed
        assert roles["new.climber@police.example.org"] == "force_admin"


# -- every POST route -----------------------------------------------------------------------


#: What a bare POST (a button with no fields) may legitimately change.
BARE_POST_MAY_CHANGE = {
    "user_session": None,  # signing out ends the session
    "member": frozenset({"opted_out_at"}),  # the opt-out and opt-in buttons
    "reach_dirty": None,  # a note that a member changed, for recounting their reach
}


def test_no_post_route_takes_privileged_fields_alone(access_matrix, extras):
    matrix = access_matrix
    fields = dict(extras["fields"])
    # Point the ids at side b's objects: side a's actors post them.
    fields.update(member_id=str(matrix.arguments["member_id"]["b"]),
                  staff_id=str(matrix.arguments["staff_id"]["b"]))
    problems = []
    for rule, method in matrix.routes(["POST", "PUT", "PATCH", "DELETE"]):
        client = matrix.client(matrix.actor_for(matrix.policy(rule)))
        path = matrix.path(rule, "a")
        before = matrix.database(BARE_POST_MAY_CHANGE)
        response = client.open(path, method=method, data=fields)
        if changes := database_changes(before, matrix.database(BARE_POST_MAY_CHANGE)):
            problems.append(f"{method} {path} ({response.status_code}) changed {changes}")
    assert not problems, "\n".join(problems)

"""Group spaces: listing and hidden groups, joining, roles, ward panels run with police,
documents for members only (checked uploads, recorded openings) and the mailing list."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from core.api import db
from plugins.neighbourhood_watch.models import (
    Decision,
    Document,
    DocumentAccess,
    Group,
    GroupMember,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
WINDOWS_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def groups(app, login, ids, town):
    """A public group chaired by Cora with Rita as a member, and a hidden one."""
    chair = login(app.test_client(), member=town["coordinator"])
    for name, visibility in (("Mill Lane Gardeners", "public"),
                             ("Mill Lane Safety Circle", "hidden")):
        response = chair.post("/groups/new", data={
            "name": name, "description": f"About {name}", "visibility": visibility,
            "organisation": ids(org="wealdshire-police"), "area": ids("E05900001")})
        assert response.status_code == 302, text(response)[:1500]
    with app.app_context():
        public, hidden = (db.session.scalar(select(Group.id).where(Group.name == n))
                          for n in ("Mill Lane Gardeners", "Mill Lane Safety Circle"))
        db.session.add(GroupMember(group_id=public, member_id=town["resident"],
                                   status="active"))
        db.session.commit()
    return {"public": public, "hidden": hidden, "chair": chair}


def upload(client, group_id, name, data, title="Minutes"):
    return client.post(f"/groups/{group_id}/documents/new", data={
        "title": title, "document": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


def document_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Document))


def test_hidden_groups_are_never_listed_or_found(app, client, login, groups, town):
    listing = text(client.get("/groups"))
    assert "Mill Lane Gardeners" in listing and "Mill Lane Safety Circle" not in listing
    assert "Mill Lane Gardeners" in text(client.get("/groups?q=gardeners"))
    for query in ("safety", "circle", "about safety"):
        found = text(client.get(f"/groups?q={query}"))
        assert "Safety Circle" not in found and "No groups found." in found
    # Asking to join a hidden group by its id is refused as if it did not exist.
    outsider = login(app.test_client(), member=town["neighbour"])
    assert outsider.post("/groups/join", data={"target": groups["hidden"],
                                               "consent": "y"}).status_code == 404
    assert outsider.get(f"/groups/{groups['hidden']}").status_code == 404
    assert "Safety Circle" not in text(outsider.get("/groups/mine"))


def test_joining_a_public_group_and_an_invitation_to_a_hidden_one(
        app, login, groups, town):
    neighbour = login(app.test_client(), member=town["neighbour"])
    assert neighbour.post("/groups/join", data={"target": groups["public"]}).status_code == 200
    neighbour.post("/groups/join", data={"target": groups["public"], "consent": "y"})
    with app.app_context():
        request_id = db.session.scalar(select(GroupMember.id).where(
            GroupMember.group_id == groups["public"], GroupMember.member_id == town["neighbour"]))
    # A plain member cannot decide; the chair can.
    resident = login(app.test_client(), member=town["resident"])
    assert resident.post(f"/groups/{groups['public']}/requests/{request_id}",
                         data={"accept": "y"}).status_code == 403
    groups["chair"].post(f"/groups/{groups['public']}/requests/{request_id}",
                         data={"accept": "y"})
    groups["chair"].post(f"/groups/{groups['public']}/people/{request_id}",
                         data={"role": "secretary"})
    with app.app_context():
        membership = db.session.get(GroupMember, request_id)
        assert (membership.status, membership.role) == ("active", "secretary")
        assert [(d.kind, d.outcome) for d in db.session.scalars(select(Decision).where(
            Decision.group_id == groups["public"]).order_by(Decision.id))] == [
            ("start", "chair"), ("join", "accepted"), ("role", "secretary")]

    # Inviting an address nobody registered with looks the same as inviting a resident.
    said = set()
    for email in ("nobody@example.org", "NED@example.org"):
        response = groups["chair"].post(f"/groups/{groups['hidden']}/invite",
                                        data={"email": email}, follow_redirects=True)
        said.add(re.sub(r"\s+", " ", text(response).split("Important")[1][:200]))
    assert len(said) == 1 and "If someone is registered with that address" in said.pop()
    assert "Mill Lane Safety Circle" in text(neighbour.get("/groups/mine"))
    neighbour.post("/groups/join", data={"target": groups["hidden"], "consent": "y"})
    assert "Cora Coordinator" in text(neighbour.get(f"/groups/{groups['hidden']}"))


def test_documents_are_for_the_groups_members_only_and_each_opening_is_recorded(
        app, login, groups, town, make_staff):
    group_id = groups["public"]
    assert upload(groups["chair"], group_id, "minutes.pdf", PDF).status_code == 302
    with app.app_context():
        document_id = db.session.scalar(select(Document.id))
    url = f"/groups/{group_id}/documents/{document_id}"

    member = login(app.test_client(), member=town["resident"])
    assert "Minutes" in text(member.get(f"/groups/{group_id}/documents"))
    response = member.get(url)
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=minutes.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]

    # Police and force administrators see the membership, never the documents.
    officer = login(app.test_client(), staff=town["officer"])
    force_admin = login(app.test_client(), staff=town["force_admin"])
    for staff in (officer, force_admin):
        page = text(staff.get(f"/staff/groups/{group_id}"))
        assert "Rita Resident" in page and "Minutes" not in page
        for path in (url, f"/groups/{group_id}/documents", f"{url}/accesses",
                     f"{url}/send", f"/groups/{group_id}/documents/new"):
            assert staff.get(path).status_code in (403, 404), path
    outsider = login(app.test_client(), member=town["neighbour"])
    for path in (url, f"/groups/{group_id}/documents", f"{url}/accesses"):
        assert outsider.get(path).status_code == 404, path

    with app.app_context():
        opened = db.session.execute(select(DocumentAccess.member_id, DocumentAccess.action)
                                    ).all()
        assert opened == [(town["resident"], "download")]
    log = text(groups["chair"].get(f"{url}/accesses"))
    assert "Rita Resident" in log and "Opened" in log
    assert member.get(f"{url}/accesses").status_code == 403  # officers only


@pytest.mark.parametrize(("name", "data", "message"), [
    ("setup.exe", WINDOWS_PROGRAM, "The file must be a PDF, Word, Excel"),
    ("minutes.pdf", WINDOWS_PROGRAM, "it may be a program or have the wrong extension"),
    ("notes.txt", b"\x7fELF\x02\x01\x01\x00", "The file is not a text file"),
    ("empty.pdf", b"", "The file is empty"),
])
def test_executables_and_disguised_files_are_refused_by_the_field(
        app, groups, name, data, message):
    response = upload(groups["chair"], groups["public"], name, data)
    assert response.status_code == 200
    page = text(response)
    assert message in page and 'govuk-error-summary' in response.get_data(as_text=True)
    assert document_count(app) == 0


def test_an_oversized_file_is_refused_with_a_clear_message(make_app, login, ids, town):
    app = make_app(NEIGHBOURHOOD_WATCH_DOCUMENT_MAX_BYTES=1024 * 1024)
    chair = login(app.test_client(), member=town["coordinator"])
    chair.post("/groups/new", data={"name": "Big", "visibility": "public",
                                    "organisation": ids(org="wealdshire-police"),
                                    "area": ids("E05900001")})
    with app.app_context():
        group_id = db.session.scalar(select(Group.id))
    response = upload(chair, group_id, "big.pdf", PDF + b"0" * (1024 * 1024))
    assert response.status_code == 200
    assert "The file must be smaller than 1 MB" in text(response)
    assert document_count(app) == 0
    assert upload(chair, group_id, "small.pdf", PDF).status_code == 302


def test_documents_go_to_the_mailing_list_only_from_those_the_group_authorises(
        app, login, groups, town, outbox):
    group_id = groups["public"]
    upload(groups["chair"], group_id, "minutes.pdf", PDF, title="March minutes")
    with app.app_context():
        document_id = db.session.scalar(select(Document.id))
    send = f"/groups/{group_id}/documents/{document_id}/send"
    member = login(app.test_client(), member=town["resident"])
    assert member.post(send, data={"note": "x"}).status_code == 403
    # Opening the page (or a post without its button) sends nothing.
    assert groups["chair"].post(send, data={"note": "x"}).status_code == 200
    sent = groups["chair"].post(send, data={"note": "For Tuesday", "submit": "y"})
    assert sent.status_code == 302
    received = outbox.wait_for(2)
    assert sorted(m["To"] for m in received) == ["cora@example.org", "rita@example.org"]
    body = received[0].get_body(("plain",)).get_content()
    assert "March minutes" in body and f"/groups/{group_id}/documents/{document_id}" in body
    # The chair lets members send too.
    groups["chair"].post(f"/groups/{group_id}/mailing-roles",
                         data={"shown": "y", "roles": ["chair", "member"]})
    assert member.get(send).status_code == 200


def test_police_run_ward_panels_with_their_officers_but_not_community_groups(
        app, login, ids, groups, town):
    officer = login(app.test_client(), staff=town["officer"])
    response = officer.post("/staff/groups/new", data={
        "name": "Ashendry North Ward Panel", "visibility": "public",
        "area": ids("E05900001")})
    assert response.status_code == 302
    with app.app_context():
        panel = db.session.scalar(select(Group).where(Group.kind == "ward_panel"))
        assert panel.organisation.slug == "wealdshire-police"
    officer.post(f"/staff/groups/{panel.id}/invite", data={"email": "rita@example.org"})
    resident = login(app.test_client(), member=town["resident"])
    resident.post("/groups/join", data={"target": panel.id, "consent": "y"})
    with app.app_context():
        membership = db.session.scalar(select(GroupMember).where(
            GroupMember.group_id == panel.id))
        assert membership.status == "active"
    officer.post(f"/staff/groups/{panel.id}/people/{membership.id}", data={"role": "chair"})
    with app.app_context():
        assert db.session.get(GroupMember, membership.id).role == "chair"
    # A community group: the membership is visible, its administration is not police's.
    assert officer.post(f"/staff/groups/{groups['public']}/invite",
                        data={"email": "ned@example.org"}).status_code == 403
    # An officer elsewhere sees neither.
    elsewhere = login(app.test_client(), staff=town["officer_elsewhere"])
    assert elsewhere.get(f"/staff/groups/{panel.id}").status_code == 404
    assert "Ward Panel" not in text(elsewhere.get("/staff/groups"))

"""Group spaces: community groups and ward panels, their members and roles, and their
documents (checked, stored outside the web root, every opening recorded).

Staff see a group's membership (through the core's scoping) and administer ward panels
in their areas, but nothing here lets staff list or open a group's documents.
Nothing here commits; the views do.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import filetype
from flask import current_app
from sqlalchemy import ColumnElement, Select, exists, or_, select

from core.api import (
    Area,
    GroupSender,
    Member,
    Staff,
    Target,
    create_message,
    db,
    give_consent,
    member_scope,
    send_message,
    utcnow,
    within,
)
from core.api import lazy_gettext as _l
from plugins.neighbourhood_watch.models import (
    GROUP_OFFICERS,
    GROUP_ROLES,
    Document,
    DocumentAccess,
    Group,
    GroupMember,
)
from plugins.neighbourhood_watch.schemes import SchemeError, record

#: What may be uploaded: extension -> the type its content must have. Text files have
#: no signature: they must be UTF-8 without control characters.
ALLOWED_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "txt": "text/plain",
    "csv": "text/csv",
}
TEXT_EXTENSIONS = {"txt", "csv"}
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


class DocumentRefused(ValueError):
    """An upload that is not accepted, with the reason to show by the field."""


# -- groups and people ----------------------------------------------------------------------


def root_area(area: Area) -> Area:
    """The top of ``area``'s hierarchy (its force)."""
    first = int(area.path.strip("/").split("/")[0]) if area.path.strip("/") else area.id
    return db.session.get(Area, first) or area


def place_of(group: Group, member: Member) -> GroupMember | None:
    return db.session.scalar(select(GroupMember).where(
        GroupMember.group_id == group.id, GroupMember.member_id == member.id))


def role_of(group: Group, member: Member) -> str | None:
    """The member's role in the group while they are an active member; None otherwise."""
    place = place_of(group, member)
    return place.role if place is not None and place.status == "active" else None


def is_officer(group: Group, member: Member) -> bool:
    return role_of(group, member) in GROUP_OFFICERS


def may_mail(group: Group, member: Member) -> bool:
    """Whether the group lets ``member`` send documents to its mailing list."""
    return role_of(group, member) in mailing_roles(group)


def mailing_roles(group: Group) -> list[str]:
    return [r for r in group.mailing_roles.split(",") if r in GROUP_ROLES]


def listed() -> ColumnElement[bool]:
    """SQL: the group may be listed and found by anyone (public)."""
    return Group.visibility == "public"


def public_groups(query: str = "") -> Select[tuple[Group]]:
    """Public groups, optionally those whose name or description mentions ``query``."""
    statement = select(Group).where(listed())
    words = [w for w in query.split() if w][:5]
    for word in words:
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        statement = statement.where(or_(Group.name.ilike(pattern),
                                        Group.description.ilike(pattern)))
    return statement.order_by(Group.name)


def groups_of(member: Member) -> Select[tuple[Group, GroupMember]]:
    """The groups ``member`` belongs to, is invited to, or asked to join."""
    return select(Group, GroupMember).join(GroupMember, GroupMember.group_id == Group.id).where(
        GroupMember.member_id == member.id,
        GroupMember.status.in_(("active", "invited", "requested"))).order_by(Group.name)


def start_group(member: Member, name: str, description: str, visibility: str,
                organisation_id: int, area: Area) -> Group:
    """A community group with ``member`` as its chair."""
    group = Group(name=name.strip(), description=description.strip(), kind="community",
                  visibility=visibility, organisation_id=organisation_id, area_id=area.id)
    db.session.add(group)
    db.session.flush()
    give_consent(member, organisation_id)
    db.session.add(GroupMember(group_id=group.id, member_id=member.id, role="chair",
                               status="active"))
    record("start", "chair", group_id=group.id, subject=member, by_member=member)
    return group


def start_ward_panel(staff: Staff, name: str, description: str, visibility: str,
                     area: Area) -> Group:
    """A ward panel, started by police for an area in their scope."""
    group = Group(name=name.strip(), description=description.strip(), kind="ward_panel",
                  visibility=visibility, organisation_id=staff.organisation_id,
                  area_id=area.id)
    db.session.add(group)
    db.session.flush()
    record("start", "ward_panel", group_id=group.id, by_staff=staff)
    return group


def ask_to_join(group: Group, member: Member) -> GroupMember:
    """Ask to join a public group, or accept an invitation to any group."""
    place = place_of(group, member)
    if place is not None and place.status == "active":
        raise SchemeError(_l("You are already a member of this group"))
    invited = place is not None and place.status == "invited"
    if group.visibility != "public" and not invited:
        raise SchemeError(_l("This group is by invitation only"))
    give_consent(member, group.organisation_id)
    if invited:
        place.status = "active"
        record("invite", "accepted", group_id=group.id, subject=member, by_member=member)
        return place
    if place is None:
        place = GroupMember(group_id=group.id, member_id=member.id)
        db.session.add(place)
    place.status, place.requested_at = "requested", utcnow()
    return place


def decide(group: Group, place: GroupMember, accept: bool, *, by_member: Member | None = None,
           by_staff: Staff | None = None) -> None:
    """Accept or decline a request to join."""
    if place.group_id != group.id or place.status != "requested":
        raise SchemeError(_l("There is no such request"))
    place.status = "active" if accept else "declined"
    record("join", "accepted" if accept else "declined", group_id=group.id,
           subject=place.member, by_member=by_member, by_staff=by_staff)


def set_role(group: Group, place: GroupMember, role: str, *, by_member: Member | None = None,
             by_staff: Staff | None = None) -> None:
    """Give an active member a role, or remove them ("remove")."""
    if place.group_id != group.id or place.status != "active":
        raise SchemeError(_l("That person is not a member of this group"))
    if role == "remove":
        place.status = "declined"
        record("remove", "removed", group_id=group.id, subject=place.member,
               by_member=by_member, by_staff=by_staff)
        return
    if role not in GROUP_ROLES:
        raise SchemeError(_l("Choose a role"))
    place.role = role
    record("role", role, group_id=group.id, subject=place.member, by_member=by_member,
           by_staff=by_staff)


def invite_by_email(group: Group, email: str, *, by_member: Member | None = None,
                    by_staff: Staff | None = None) -> GroupMember | None:
    """Invite the registered resident with ``email``; they see it under their groups.
    Nothing happens, and nothing says so, when nobody is registered with it: the form
    must not tell who is registered."""
    member = db.session.scalar(select(Member).where(Member.email == email.strip().lower()))
    if member is None:
        return None
    place = place_of(group, member)
    if place is not None and place.status == "active":
        raise SchemeError(_l("They are already a member"))
    if place is None:
        place = GroupMember(group_id=group.id, member_id=member.id)
        db.session.add(place)
    place.status, place.requested_at = "invited", utcnow()
    record("invite", "invited", group_id=group.id, subject=member, by_member=by_member,
           by_staff=by_staff)
    return place


def members_of(group: Group, statuses: tuple[str, ...] = ("active",)) -> Select[tuple[Member]]:
    """The group's people in ``statuses``, by name, with their place."""
    return select(Member, GroupMember).join(GroupMember, GroupMember.member_id == Member.id).where(
        GroupMember.group_id == group.id, GroupMember.status.in_(statuses)
    ).order_by(Member.name)


# -- staff ----------------------------------------------------------------------------------


def staff_groups(staff: Staff) -> Select[tuple[Group]]:
    """The groups of ``staff``'s organisation serving an area inside their areas."""
    return select(Group).where(within(staff.areas, Group.area_id),
                               Group.organisation_id == staff.organisation_id
                               ).order_by(Group.name)


def staff_may_administer(group: Group, staff: Staff) -> bool:
    """Police administer the ward panels of their areas with the panel's officers."""
    return group.kind == "ward_panel" and staff.organisation_id == group.organisation_id


def membership_for_staff(group: Group, staff: Staff) -> Select[tuple[Member, GroupMember]]:
    """The group's people whom ``staff`` may see (the core's member scope)."""
    return members_of(group, ("active", "invited", "requested")).where(member_scope(staff))


# -- documents ------------------------------------------------------------------------------


def max_bytes() -> int:
    return int(current_app.config.get("NEIGHBOURHOOD_WATCH_DOCUMENT_MAX_BYTES")
               or DEFAULT_MAX_BYTES)


def storage_dir() -> Path:
    """Where documents are kept: ``NEIGHBOURHOOD_WATCH_DOCUMENT_DIR``, by default a
    folder in the app's instance folder (never under a static folder)."""
    configured = current_app.config.get("NEIGHBOURHOOD_WATCH_DOCUMENT_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "documents"
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_filename(name: str) -> str:
    """A file name safe to offer back: no folders, no control or odd characters."""
    name = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\- ]", "_", name).strip(" .")
    return name[-120:] or "document"


@dataclass
class Checked:
    """An upload that passed the checks."""

    filename: str
    content_type: str
    data: bytes


def check_upload(filename: str, stream: IO[bytes]) -> Checked:
    """Read and check an upload: an allowed extension whose content really is of that
    type, no larger than the limit. Raises :class:`DocumentRefused` saying why not."""
    name = safe_filename(filename or "")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED_TYPES:
        raise DocumentRefused(_l(
            "The file must be a PDF, Word, Excel, PowerPoint, OpenDocument, PNG, JPEG, "
            "text or CSV file"))
    limit = max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DocumentRefused(_l("The file must be smaller than %(num)d MB",
                                 num=limit // (1024 * 1024)))
    if not data:
        raise DocumentRefused(_l("The file is empty"))
    expected = ALLOWED_TYPES[extension]
    if extension in TEXT_EXTENSIONS:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DocumentRefused(_l("A text or CSV file must be in UTF-8")) from None
        if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
            raise DocumentRefused(_l("The file is not a text file")) from None
    else:
        found = filetype.guess(data)
        if found is None or found.mime != expected:
            raise DocumentRefused(_l(
                "The file's content is not a .%(extension)s file: it may be a program or "
                "have the wrong extension", extension=extension))
    return Checked(name, expected, data)


def store(group: Group, title: str, upload: Checked, by: Member) -> Document:
    """Keep a checked upload for ``group`` under a random name."""
    storage_name = secrets.token_hex(16)
    (storage_dir() / storage_name).write_bytes(upload.data)
    document = Document(group_id=group.id, title=title.strip() or upload.filename,
                        filename=upload.filename, content_type=upload.content_type,
                        size=len(upload.data), sha256=hashlib.sha256(upload.data).hexdigest(),
                        storage_name=storage_name, uploaded_by_id=by.id)
    db.session.add(document)
    return document


def path_of(document: Document) -> Path:
    return storage_dir() / document.storage_name


def documents_of(group: Group) -> Select[tuple[Document]]:
    return select(Document).where(Document.group_id == group.id).order_by(
        Document.uploaded_at.desc(), Document.id.desc())


def log_access(document: Document, member: Member, action: str = "download") -> None:
    db.session.add(DocumentAccess(document_id=document.id, member_id=member.id,
                                  action=action))


def accesses(document: Document) -> Select[tuple[DocumentAccess]]:
    return select(DocumentAccess).where(DocumentAccess.document_id == document.id).order_by(
        DocumentAccess.at.desc(), DocumentAccess.id.desc())


# -- mailing list ---------------------------------------------------------------------------


def sender_for(group: Group, member: Member, role_label: str) -> GroupSender:
    """The group as a sender: members anywhere in the group's force who consented to
    its organisation; shown with the sender's name and role."""
    return GroupSender(organisation_id=group.organisation_id, areas=[root_area(group.area)],
                       name=member.name, role=role_label, area_label=group.name)


def in_group(group_id: int) -> ColumnElement[bool]:
    """SQL over Member: an active member of the group."""
    return exists().where(GroupMember.group_id == group_id,
                          GroupMember.member_id == Member.id, GroupMember.status == "active")


def mail_document(group: Group, document: Document, member: Member, role_label: str,
                  link: str, note: str = "") -> int:
    """Tell the group's mailing list (its active members) about ``document``, with a
    link that opens it for members; returns how many people it reached."""
    if not may_mail(group, member):
        raise SchemeError(_l("The group has not authorised you to send to its mailing list"))
    if document.group_id != group.id:
        raise SchemeError(_l("There is no such document"))
    sender = sender_for(group, member, role_label)
    body = (f"{member.name} shared **{document.title}** with {group.name}.\n\n"
            + (f"{note.strip()}\n\n" if note.strip() else "")
            + f"[Open the document]({link}) (sign in as a member of the group).")
    plain = f"{member.name} shared {document.title} with {group.name}: {link}"
    target = Target(rules=[{"name": "neighbourhood_watch.group", "mode": "must",
                            "params": {"group": group.id}}])
    message = create_message(sender, title=f"{group.name}: {document.title}"[:200], body=body,
                             plain_text=plain, category="community_news", priority=4,
                             target=target.to_json())
    db.session.add(message)
    db.session.flush()
    log_access(document, member, "mailed")
    return send_message(message, sender)


"""Neighbourhood Watch's objects in the access matrix (core/testing/matrix.py): each side
gets a scheme coordinated by its resident, a hidden group chaired by its resident with a
document, and the memberships of its neighbour. Loaded as a pytest plugin through the
``pytest11`` entry point; does nothing when the plugin is disabled in the test app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import select


def _objects(side: Any) -> dict[str, int]:
    from core.api import Area, Member, Organisation, db
    from plugins.neighbourhood_watch import groups as group_logic
    from plugins.neighbourhood_watch.models import (
        Group,
        GroupMember,
        Scheme,
        SchemeMember,
    )

    organisation = db.session.scalar(select(Organisation).where(
        Organisation.slug == side.organisation))
    ward = db.session.scalar(select(Area).where(Area.code == side.ward))
    resident, neighbour = side.residents[0], side.residents[1]
    scheme = Scheme(name=f"{side.surname} Close Watch", organisation_id=organisation.id,
                    areas=[ward], level="police")
    group = Group(name=f"{side.surname} Hidden Circle", visibility="hidden",
                  organisation_id=organisation.id, area_id=ward.id)
    db.session.add_all([scheme, group])
    db.session.flush()
    request = SchemeMember(scheme_id=scheme.id, member_id=neighbour, status="requested")
    membership = GroupMember(group_id=group.id, member_id=neighbour, status="requested")
    db.session.add_all([
        SchemeMember(scheme_id=scheme.id, member_id=resident, role="main", status="active"),
        GroupMember(group_id=group.id, member_id=resident, role="chair", status="active"),
        request, membership])
    chair = db.session.get(Member, resident)
    document = group_logic.store(group, f"{side.surname} minutes", group_logic.Checked(
        "minutes.txt", "text/plain", f"{side.surname} minutes".encode()), chair)
    db.session.commit()
    return {"scheme_id": scheme.id, "request_id": request.id, "group_id": group.id,
            "membership_id": membership.id, "document_id": document.id}


def _state(made: Mapping[str, int]) -> Any:
    def snapshot() -> dict[str, Any]:
        from core.api import db
        from plugins.neighbourhood_watch.models import (
            Decision,
            Document,
            DocumentAccess,
            Group,
            GroupMember,
            Scheme,
            SchemeMember,
        )

        scheme = db.session.get(Scheme, made["scheme_id"])
        group = db.session.get(Group, made["group_id"])
        return {
            "scheme": [scheme.name, scheme.level, scheme.description, scheme.shape],
            "scheme_people": sorted((p.member_id, p.status, p.role, p.applied_role or "")
                                    for p in db.session.scalars(select(SchemeMember).where(
                                        SchemeMember.scheme_id == scheme.id))),
            "group": [group.name, group.visibility, group.mailing_roles],
            "group_people": sorted((p.member_id, p.status, p.role)
                                   for p in db.session.scalars(select(GroupMember).where(
                                       GroupMember.group_id == group.id))),
            "documents": sorted(d.id for d in db.session.scalars(select(Document).where(
                Document.group_id == group.id))),
            "accesses": db.session.scalar(select(db.func.count()).select_from(
                DocumentAccess).where(DocumentAccess.document_id == made["document_id"])),
            "decisions": db.session.scalar(select(db.func.count()).select_from(Decision)
                                           .where(Decision.scheme_id == scheme.id)),
        }

    return snapshot


def pytest_commonwatch_access_matrix(app: Flask, sides: dict[str, Any]
                                     ) -> dict[str, dict[str, int]] | None:
    """Schemes, requests, groups, memberships and documents of each side."""
    if "neighbourhood_watch" not in app.extensions["commonwatch"].plugins.enabled:
        return None
    providers: dict[str, dict[str, int]] = {}
    with app.app_context():
        for key, side in sides.items():
            made = _objects(side)
            side.watch(_state(made))
            # Hidden from everyone outside the group: its name and its document.
            side.secrets.update({f"{side.surname} Hidden Circle", f"{side.surname} minutes"})
            for name, value in made.items():
                providers.setdefault(name, {})[key] = value
    return providers

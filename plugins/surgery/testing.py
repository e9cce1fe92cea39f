"""The surgery's objects in the access matrix (core/testing/matrix.py): each side's
resident raises a concern (raised for them by the side's coordinator, so the assisted
pages are covered too), which only that side's team may read or work on; and each side's
officer holds a beat surgery. Loaded as a pytest plugin through the ``pytest11`` entry
point; does nothing when the plugin is disabled in the test app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


def _case(side: Any) -> int:
    from core.api import Area, Member, Staff, db
    from plugins.surgery.cases import submit_case

    ward = db.session.scalar(db.select(Area).where(Area.code == side.ward))
    member = db.session.get(Member, side.residents[0])
    coordinator = db.session.get(Staff, side.actors[f"coordinator_{side.key}"].id)
    found = submit_case(topic="drugs", description=f"{side.surname} concern about a lane",
                        area=ward, reply_channel="email", member=member,
                        location=f"{side.surname} Lane", submitted_by=coordinator)
    # Routing prefers police teams, and side a's police work force-wide; the matrix needs
    # each side's case in its own organisation's ward team, as a team there would have it.
    found.organisation_id, found.team_area_id = coordinator.organisation_id, ward.id
    db.session.commit()
    return found.id


def _state(case_id: int) -> Callable[[], Any]:
    def snapshot() -> Any:
        from core.api import db
        from plugins.surgery.models import Case, Entry

        c = db.session.get(Case, case_id)
        if c is None:
            return None
        entries = db.session.scalars(db.select(Entry.kind).where(Entry.case_id == case_id)
                                     .order_by(Entry.id)).all()
        return [c.status, c.assigned_to_id, c.merged_into_id, c.description, c.topic,
                list(entries)]

    return snapshot


def pytest_commonwatch_access_matrix(app: Flask, sides: dict[str, Any]
                                     ) -> dict[str, dict[str, int]] | None:
    """A concern of each side's resident, and a beat surgery of each side's officer."""
    if "surgery" not in app.extensions["commonwatch"].plugins.enabled:
        return None
    made: dict[str, int] = {}
    with app.app_context():
        for key, side in sides.items():
            made[key] = _case(side)
            side.watch(_state(made[key]))
            side.secrets.update({f"{side.surname} concern about a lane", f"{side.surname} Lane"})
    from plugins.surgery.testing_live import beat_providers

    return {"case_id": made, **beat_providers(app, sides)}

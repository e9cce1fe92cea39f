"""The insights in the access matrix (core/testing/matrix.py): each side's first
resident agrees to be a community contact, and the other side's actors ask for the
side's insights and contacts by area code (the plugin's pages take the area in the query
string, so these are probes rather than route arguments). Loaded as a pytest plugin
through the ``pytest11`` entry point; does nothing when the plugin is disabled."""

from __future__ import annotations

from typing import Any

from flask import Flask


def pytest_commonwatch_access_matrix(app: Flask, sides: dict[str, Any]
                                     ) -> dict[str, dict[str, int]] | None:
    """Community contacts on both sides, and probes of each side's areas."""
    if "insights" not in app.extensions["commonwatch"].plugins.enabled:
        return None
    from core.api import Member, db, set_member_field
    from plugins.insights.figures import refresh

    with app.app_context():
        for side in sides.values():
            resident = db.session.get(Member, side.residents[0])
            set_member_field(resident, "insights.community_contact", "yes")
            side.probes += [f"/insights/?area={side.ward}",
                            f"/insights/?area={side.district}",
                            f"/insights/contacts?area={side.ward}",
                            f"/insights/contacts?area={side.district}",
                            "/insights/contacts?area=E10900001",
                            f"/insights/feedback?area={side.ward}",
                            f"/insights/areas.geojson?area={side.district}"]
        db.session.commit()
        refresh()
    return {}

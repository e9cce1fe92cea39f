"""Business Watch's objects in the access matrix (core/testing/matrix.py): each side's
resident registers a business, which no one else may see, change or remove. Loaded as a
pytest plugin through the ``pytest11`` entry point; does nothing when the plugin is
disabled in the test app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


def _business(side: Any) -> int:
    from core.api import Area, Postcode, db
    from plugins.business_watch.models import Business

    ward = db.session.scalar(db.select(Area).where(Area.code == side.ward))
    postcode = db.session.scalar(db.select(Postcode).join(Area, Postcode.area_id == Area.id)
                                 .where(Area.path.startswith(ward.path))
                                 .order_by(Postcode.postcode))
    business = Business(member_id=side.residents[0], name=f"{side.surname} Hardware",
                        sector="retail", address_line=f"1 {side.surname} Parade",
                        postcode=postcode.postcode, area_id=postcode.area_id,
                        opening_hours=f"{side.surname} hours", staff_count=3)
    db.session.add(business)
    db.session.commit()
    return business.id


def _state(business_id: int) -> Callable[[], Any]:
    def snapshot() -> Any:
        from core.api import db
        from plugins.business_watch.models import Business

        b = db.session.get(Business, business_id)
        return None if b is None else [b.member_id, b.name, b.sector, b.address_line,
                                       b.postcode, b.opening_hours, b.staff_count]

    return snapshot


def pytest_commonwatch_access_matrix(app: Flask, sides: dict[str, Any]
                                     ) -> dict[str, dict[str, int]] | None:
    """A business of each side's resident."""
    if "business_watch" not in app.extensions["commonwatch"].plugins.enabled:
        return None
    made: dict[str, int] = {}
    with app.app_context():
        for key, side in sides.items():
            made[key] = _business(side)
            side.watch(_state(made[key]))
            side.secrets.update({f"{side.surname} Hardware", f"{side.surname} hours"})
    return {"business_id": made}

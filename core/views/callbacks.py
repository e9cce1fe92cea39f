"""Delivery receipts posted by providers. Each callback proves itself with a secret of
its own, so these routes are exempt from CSRF (docs/security.md lists them)."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select, update
from werkzeug.wrappers import Response

from core.access import log_denied, public
from core.delivery import mark_failing_contacts
from core.extensions import csrf, db
from core.models import Delivery, utcnow

bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

#: GOV.UK Notify's statuses -> ours. Notify has already retried temporary failures.
NOTIFY_STATES = {
    "delivered": "delivered",
    "permanent-failure": "permanent-failure",
    "temporary-failure": "temporary-failure",
    "technical-failure": "temporary-failure",
}


def _problem(status: int, reason: str) -> tuple[Response, int]:
    return jsonify({"error": reason}), status


@bp.post("/notify")
@public
@csrf.exempt  # Notify posts JSON with a bearer token of ours, not a form
def notify() -> tuple[Response, int]:
    """Record a GOV.UK Notify delivery receipt for the delivery named by its reference."""
    expected = current_app.config.get("NOTIFY_CALLBACK_TOKEN")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        log_denied("bad Notify callback token")
        return _problem(401, "a valid bearer token is required")
    receipt = request.get_json(silent=True)
    if not isinstance(receipt, dict):
        return _problem(400, "the body must be a JSON object")
    reference, status = receipt.get("reference"), receipt.get("status")
    if not isinstance(reference, str) or not reference.isdigit():
        return _problem(400, "reference must be a delivery id")
    if status not in NOTIFY_STATES:
        return _problem(400, f"unknown status {status!r}")
    delivery_id = int(reference)
    if db.session.scalar(select(Delivery.id).where(Delivery.id == delivery_id)) is None:
        return _problem(404, "no such delivery")
    now = utcnow()
    db.session.execute(
        update(Delivery).where(Delivery.id == delivery_id)
        .values(state=NOTIFY_STATES[status], error=None if status == "delivered" else status)
    )
    if NOTIFY_STATES[status] == "permanent-failure":
        mark_failing_contacts([delivery_id], now)
    db.session.commit()
    return jsonify({"delivery": delivery_id, "state": NOTIFY_STATES[status]}), 200

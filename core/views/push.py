"""Web push: the service worker, the web app manifest, and residents' device
subscriptions (posted as JSON by core/static/js/push.js, with the CSRF token in the
``X-CSRFToken`` header)."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as BaseResponse

from core.access import member_required, public
from core.extensions import db
from core.models import Member, PushSubscription
from core.push import (
    BadSubscription,
    application_server_key,
    device_label,
    parse_subscription,
    remove_subscription,
    save_subscription,
)

bp = Blueprint("push", __name__)

#: Icons of the web app manifest, in core/static/icons/.
ICON_SIZES = (192, 512)


def _problem(status: int, reason: str) -> tuple[Response, int]:
    return jsonify({"error": reason}), status


@bp.get("/service-worker.js")
@public
def service_worker() -> Response:
    """The service worker, served from the root so that its scope is the whole site."""
    response = current_app.send_static_file("js/service-worker.js")
    response.mimetype = "text/javascript"
    response.charset = "utf-8"
    # Browsers check for a new version on each visit; nothing stale is kept.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
@public
def manifest() -> Response:
    """The web app manifest: the site's name, colours and icons for "Add to home
    screen"."""
    config = current_app.config
    name = config["BRAND_NAME"]
    data = {
        "name": name,
        "short_name": name if len(name) <= 12 else name[:12].rstrip(),
        "description": config["BRAND_TAGLINE"]
        or str(_l("Community alerts from your local policing team")),
        "start_url": url_for("account.messages"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": config["BRAND_COLOUR"],
        "icons": [
            {"src": url_for("static", filename=f"icons/icon-{size}.png"),
             "sizes": f"{size}x{size}", "type": "image/png", "purpose": "any maskable"}
            for size in ICON_SIZES
        ],
    }
    return Response(json.dumps(data), mimetype="application/manifest+json")


@bp.post("/account/push-subscriptions")
@member_required
def subscribe() -> tuple[Response, int]:
    """Store the browser's push subscription for the signed-in resident (JSON in, JSON
    out): 201 for a new device, 200 for one already known, 400 with the reason."""
    if application_server_key() is None:
        return _problem(404, "push notifications are not set up on this site")
    try:
        info = parse_subscription(request.get_json(force=True, silent=True))
    except BadSubscription as exc:
        return _problem(400, str(exc))
    member: Member = current_user._get_current_object()
    user_agent = request.headers.get("User-Agent", "")
    try:
        created = save_subscription(member, info, user_agent)
        db.session.commit()
    except IntegrityError:  # the same browser subscribed twice at once
        db.session.rollback()
        created = save_subscription(member, info, user_agent)
        db.session.commit()
    if created:
        return jsonify({"status": "subscribed"}), 201
    return jsonify({"status": "updated"}), 200


@bp.post("/account/push-subscriptions/delete")
@member_required
def unsubscribe() -> tuple[Response, int] | BaseResponse:
    """Forget one of the resident's devices: JSON ``{"endpoint": ...}`` from the script,
    or the ``id`` of a device in the list on the preferences page (no script needed)."""
    member: Member = current_user._get_current_object()
    if "id" in request.form:
        device_id = request.form["id"]
        removed = device_id.isdigit() and remove_subscription(
            member, subscription_id=int(device_id))
        db.session.commit()
        if removed:
            flash(_("That device will no longer get alerts"), "success")
        return redirect(url_for("account.preferences"))
    data = request.get_json(force=True, silent=True)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return _problem(400, "the body must be a JSON object with the subscription's endpoint")
    removed = remove_subscription(member, endpoint=endpoint)
    db.session.commit()
    if not removed:
        return _problem(404, "this device has no subscription")
    return jsonify({"status": "deleted"}), 200


def _devices() -> list[dict[str, Any]]:
    """The signed-in resident's devices, for the preferences page."""
    user = current_user._get_current_object()
    if not isinstance(user, Member):
        return []
    rows = db.session.scalars(
        select(PushSubscription).where(PushSubscription.member_id == user.id)
        .order_by(PushSubscription.created_at, PushSubscription.id))
    return [{"id": row.id, "label": device_label(row.user_agent),
             "created_at": row.created_at, "last_used_at": row.last_used_at}
            for row in rows]


@bp.app_context_processor
def _push_helpers() -> dict[str, Any]:
    return {"push_public_key": application_server_key, "push_devices": _devices}

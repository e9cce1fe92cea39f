"""The public alerts archive: choose an area, read the public alerts sent to it, or
follow its Atom feed (core/archive.py says which alerts an area lists)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.access import public
from core.archive import (
    FEED_SIZE,
    PAGE_SIZE,
    archived,
    atom_feed,
    child_areas,
    in_language,
    sender_details,
    top_areas,
)
from core.areas import ancestors
from core.extensions import db
from core.models import Area
from core.outcomes import OUTCOME_LABELS
from core.views.messages import CATEGORY_LABELS

bp = Blueprint("archive", __name__)


def _area(area_code: str) -> Area:
    area = db.session.scalar(select(Area).where(Area.code == area_code))
    if area is None:
        abort(404)
    return area


def _public_url(endpoint: str, **values: str) -> str:
    """An address on the public site (``BASE_URL``, never the Host header)."""
    return str(current_app.config["BASE_URL"]).rstrip("/") + url_for(endpoint, **values)


@bp.get("/alerts")
@public
def index() -> str:
    """Choose an area: the areas at the top of the hierarchy."""
    return render_template("archive/index.html", areas=top_areas())


@bp.get("/alerts/<area_code>")
@public
def area(area_code: str) -> str:
    """The public alerts of an area, newest first, a page at a time, with the areas
    inside it to narrow down to."""
    place = _area(area_code)
    page = db.paginate(archived(place), page=request.args.get("page", 1, type=int),
                       per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    alerts = [{"message": m, "shown": in_language(m), "sender": sender_details(m)}
              for m in page.items]
    return render_template(
        "archive/area.html", area=place, trail=ancestors(place)[:-1],
        children=child_areas(place), page=page, alerts=alerts,
        categories=CATEGORY_LABELS, outcome_labels=OUTCOME_LABELS)


@bp.get("/alerts/<area_code>.atom")
@public
def feed(area_code: str) -> Response:
    """The Atom feed of an area's public alerts (the newest ``FEED_SIZE``)."""
    place = _area(area_code)
    messages = list(db.session.scalars(archived(place).limit(FEED_SIZE)))
    body = atom_feed(place, messages,
                     page_url=_public_url("archive.area", area_code=place.code),
                     feed_url=_public_url("archive.feed", area_code=place.code),
                     outcome_labels=OUTCOME_LABELS)
    return Response(body, mimetype="application/atom+xml")

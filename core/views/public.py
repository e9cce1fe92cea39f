"""Pages anyone can read."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from core.access import public
from core.models import Staff

bp = Blueprint("public", __name__)


@bp.get("/")
@public
def index() -> str | Response:
    if isinstance(current_user._get_current_object(), Staff):
        return redirect(url_for("staff.index"))
    return render_template("index.html")


@bp.get("/privacy")
@public
def privacy() -> str:
    return render_template("privacy.html")


@bp.get("/accessibility")
@public
def accessibility() -> str:
    return render_template("accessibility.html")

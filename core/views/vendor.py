"""Browser libraries that come as Python packages, served like our own static files.

Leaflet comes from the ``xstatic-leaflet`` package: its files are served from the
package's own directory at ``/static/vendor/leaflet/<path>``, so nothing is fetched from
another site, at install time or at run time. A blueprint's static route is Flask's own
static file view, so these files get the same caching and security headers as the files
of ``core/static``.
"""

from __future__ import annotations

from flask import Blueprint
from xstatic.pkg import leaflet

#: Leaflet's files: ``url_for("leaflet.static", filename="leaflet.js")``.
leaflet_bp = Blueprint(
    "leaflet",
    __name__,
    static_folder=leaflet.BASE_DIR,
    static_url_path="/static/vendor/leaflet",
)

#: Endpoints serving static files (the session check skips them, as it does "static").
STATIC_ENDPOINTS = frozenset({"static", "leaflet.static"})

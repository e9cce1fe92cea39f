"""Error pages in the site's style and language, with no internal detail."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext as _
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from core.access import log_denied
from core.rest import error_response, http_error_response, is_api_request


def _page(status: int) -> tuple[str, list[str]]:
    if status == 404:
        return _("Page not found"), [
            _("If you typed the web address, check it is correct."),
            _("If you pasted the web address, check you copied the entire address."),
        ]
    if status == 403:
        return _("You cannot see this page"), [
            _("Your account does not give you access to this page.")
        ]
    if status == 429:
        return _("Too many attempts"), [
            _("You have tried too many times. Wait 5 minutes, then try again.")
        ]
    if status == 503:
        return _("Sorry, the service is unavailable"), [
            _("Nothing has been saved and you have not been signed in. Try again in a few "
              "minutes.")
        ]
    if status in (400, 405, 413):
        return _("Sorry, there is a problem with that request"), [
            _("Go back and try again.")
        ]
    return _("Sorry, there is a problem with the service"), [_("Try again later.")]


def register_error_pages(app: Flask) -> None:
    """Render HTTP errors (and unexpected exceptions, as 500) with the site's template."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        if is_api_request():
            return http_error_response(error)
        if status in (400, 429) and request.url_rule is not None:
            # Refused CSRF tokens and throttled attempts are denials too.
            log_denied(f"{status} {error.description}"[:120])
        heading, lines = _page(status)
        return render_template("errors/error.html", heading=heading, lines=lines), status

    @app.errorhandler(RedisError)
    def redis_down(error: RedisError) -> tuple[str, int]:
        # Throttling and jobs live in Redis: without it, refuse rather than run unchecked.
        app.logger.error("Redis unavailable: %s", type(error).__name__)
        heading, lines = _page(503)
        return render_template("errors/error.html", heading=heading, lines=lines), 503

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        app.logger.exception("unhandled error")
        if is_api_request():
            return error_response(500, "server_error", "Something went wrong on our side")
        heading, lines = _page(500)
        return render_template("errors/error.html", heading=heading, lines=lines), 500

"""The JSON API, version 1 (``/api/v1``): personal access tokens, one decorator that turns
a function into a documented operation, JSON errors of one shape, pagination, and the
OpenAPI 3.1 document made from the operations (``/api/v1/openapi.json``).

An operation declares its path, method, the token scope it needs, who may call it (a
resident, staff, or either) and marshmallow schemas for its query string, body and
answer. The decorator authenticates the ``Authorization: Bearer`` token (never a
browser session, so no CSRF is possible), checks the scope, validates the input (a 400
with the reasons by field otherwise), calls the function and serialises its answer; the
OpenAPI document is built from the same declarations, so it cannot drift from the code.
Plugins add operations the same way, on a blueprint of their own under
``/api/v1/<plugin>/`` registered with ``commonwatch_blueprints`` (docs/api.md).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from core.access import _mark
from core.extensions import db
from core.models import TOKEN_SCOPES, ApiToken, Member, Staff, utcnow

#: Attribute that records a view's operation, for the OpenAPI document.
OPERATION_ATTR = "commonwatch_api_operation"
TOKEN_PREFIX = "cw_"  # noqa: S105 - the visible start of every token, not a secret

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    """An answer of the API other than success: ``status`` (4xx), a stable ``code``
    and a message for people; ``details`` maps fields to their problems."""

    def __init__(self, status: int, code: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str,
                   details: dict[str, Any] | None = None) -> Response:
    """``{"error": {"status", "code", "message", "details"?}}`` with ``status``."""
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="commonwatch"'
    return response


# -- schemas shared by every operation ------------------------------------------------------


class ErrorBody(Schema):
    status = fields.Integer(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorSchema(Schema):
    """Every error answer."""

    error = fields.Nested(ErrorBody, required=True)


class PageQuery(Schema):
    """Pagination: ``page`` from 1, ``per_page`` up to 100."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageInfo(Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


def page_of(query: Any, page: int, per_page: int) -> tuple[list[Any], dict[str, int]]:
    """One page of a SELECT, and its ``page`` information."""
    from sqlalchemy import func

    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return items, {"page": page, "per_page": per_page, "total": total or 0,
                   "pages": max(1, -(-(total or 0) // per_page))}


# -- tokens ----------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """What is kept of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(owner: Member | Staff, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """A new token for ``owner`` with ``scopes`` (not committed); returns it and the
    token's text, which is not kept and cannot be shown again."""
    unknown = set(scopes) - set(TOKEN_SCOPES)
    if unknown or not scopes:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}" if unknown
                         else "a token needs at least one scope")
    text = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name[:100], token_hash=hash_token(text), prefix=text[:10],
                     scopes=" ".join(s for s in TOKEN_SCOPES if s in scopes))
    if isinstance(owner, Member):
        token.member_id = owner.id
    else:
        token.staff_id = owner.id
    db.session.add(token)
    return token, text


def _authenticate(scope: str, who: str) -> Member | Staff:
    header = request.headers.get("Authorization", "")
    kind, _, text = header.partition(" ")
    if kind.lower() != "bearer" or not text.strip():
        raise ApiError(401, "unauthenticated", "Send a personal access token: "
                       "Authorization: Bearer <token>")
    token = db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == hash_token(text.strip())))
    if token is None or token.revoked_at is not None:
        raise ApiError(401, "invalid_token", "The token is unknown or was revoked")
    owner: Member | Staff | None = (db.session.get(Member, token.member_id)
                                    if token.member_id else db.session.get(Staff, token.staff_id))
    if owner is None or (isinstance(owner, Staff) and not owner.active):
        raise ApiError(401, "invalid_token", "The token's account is closed")
    if scope not in token.scope_set:
        raise ApiError(403, "insufficient_scope", f"The token lacks the {scope!r} scope")
    if who == "member" and not isinstance(owner, Member):
        raise ApiError(403, "residents_only", "Only a resident's token may do this")
    if who == "staff" and not isinstance(owner, Staff):
        raise ApiError(403, "staff_only", "Only a staff member's token may do this")
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
        db.session.commit()
    g.api_token = token
    return owner


def token_key() -> str:
    """The rate-limit key of an API request: its token (hashed), else its address."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "api:" + hash_token(header[7:].strip())[:32]
    return "api-anonymous:" + (request.remote_addr or "")


# -- operations ------------------------------------------------------------------------------


def _refuse_nul(data: Any) -> None:
    """Refuse text with a NUL character anywhere in ``data``: no field takes one, and
    PostgreSQL cannot store it."""
    if isinstance(data, str):
        if "\x00" in data:
            raise ApiError(400, "invalid_request", "Text may not contain NUL characters")
    elif isinstance(data, dict):
        for key, value in data.items():
            _refuse_nul(key)
            _refuse_nul(value)
    elif isinstance(data, list):
        for value in data:
            _refuse_nul(value)


@dataclass
class Operation:
    """What the OpenAPI document says of one operation."""

    #: The rule as declared (the blueprint's prefix decides where it is served).
    path: str
    method: str
    summary: str
    scope: str | None
    who: str
    response: Schema | None
    status: int = 200
    query: Schema | None = None
    body: Schema | None = None
    tags: list[str] = field(default_factory=list)
    errors: tuple[int, ...] = ()


def operation(blueprint: Blueprint, rule: str, method: str, *, summary: str,
              scope: str | None, who: str = "any", response: Schema | None = None,
              status: int = 200, query: Schema | None = None, body: Schema | None = None,
              tags: list[str] | None = None, errors: tuple[int, ...] = ()
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a function an API operation at ``rule`` (under the blueprint's prefix).

    The function receives the route's arguments, the signed-in ``owner`` (a Member or
    Staff), and ``query``/``body`` as loaded by their schemas; it returns what
    ``response`` dumps (or raises :class:`ApiError`). ``scope`` None means no token is
    needed (the OpenAPI document itself)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(**kwargs: Any) -> Response:
            try:
                if scope is not None:
                    kwargs["owner"] = _authenticate(scope, who)
                if query is not None:
                    _refuse_nul(request.args.to_dict(flat=False))
                    kwargs["query"] = query.load(request.args)
                if body is not None:
                    data = request.get_json(silent=True)
                    if not isinstance(data, dict):
                        raise ApiError(400, "invalid_body", "Send a JSON object")
                    _refuse_nul(data)
                    kwargs["body"] = body.load(data)
                result = view(**kwargs)
            except ValidationError as exc:
                db.session.rollback()
                return error_response(400, "invalid_request", "Some fields are not valid",
                                      exc.normalized_messages()
                                      if isinstance(exc.normalized_messages(), dict) else
                                      {"_": exc.messages})
            except ApiError as exc:
                db.session.rollback()
                return error_response(exc.status, exc.code, exc.message, exc.details)
            if isinstance(result, Response):
                return result
            answer = jsonify(response.dump(result) if response is not None else result)
            answer.status_code = status
            return answer

        setattr(wrapped, OPERATION_ATTR, Operation(
            rule, method.lower(), summary, scope, who, response, status, query, body,
            tags or [], errors))
        _mark(wrapped, f"token:{scope}" if scope else "public")
        blueprint.add_url_rule(rule, view.__name__, wrapped, methods=[method])
        return wrapped

    return decorator


def _rate_limit() -> str:
    return str(current_app.config.get("API_RATE_LIMIT") or "600 per minute")


_limited = False


def register_api(app: Flask) -> None:
    """Register the API's blueprint on ``app``: its operations, exempt from CSRF (they
    take no cookies), limited per token (``API_RATE_LIMIT``)."""
    global _limited
    from core.extensions import csrf, limiter
    from core.rest import views  # noqa: F401 - adds the operations to bp

    csrf.exempt(bp)
    if not _limited:
        limiter.limit(_rate_limit, key_func=token_key)(bp)
        _limited = True
    app.register_blueprint(bp)


_limited_plugins: set[str] = set()


def register_plugin_api(app: Flask, blueprint: Blueprint, plugin: str) -> None:
    """Register a plugin's API blueprint under ``/api/v1/<plugin>``, as the core's."""
    from core.extensions import csrf, limiter

    csrf.exempt(blueprint)
    if blueprint.name not in _limited_plugins:
        limiter.limit(_rate_limit, key_func=token_key)(blueprint)
        _limited_plugins.add(blueprint.name)
    app.register_blueprint(blueprint, url_prefix=f"/api/v1/{plugin}")
    from core.plugins import PluginError

    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(blueprint.name + ".") and not getattr(
                app.view_functions[rule.endpoint], OPERATION_ATTR, None):
            raise PluginError(f"plugin {plugin!r} API view {rule.endpoint!r} is not an "
                              "operation (use core.api.api_operation)")


def is_api_request() -> bool:
    """Whether the request is for the API (its errors are JSON, not pages)."""
    return request.path.startswith("/api/")


def http_error_response(exc: HTTPException) -> Response:
    """An HTTP error of the API, in its JSON shape."""
    status = exc.code or 500
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
            413: "too_large", 429: "rate_limited"}.get(status, "http_error")
    response = error_response(status, code, exc.description or exc.name)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response

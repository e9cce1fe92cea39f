"""Who may use a view: every view declares exactly one policy, and anything else is denied.

Use one decorator per view::

    @bp.get("/")
    @public
    def index(): ...

    @bp.get("/members/<int:member_id>")
    @staff_required("core.members.view")
    def member(member_id): ...

A test walks ``app.url_map`` and fails on any view without a policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user

from core.models import ROLES, Member, Staff

F = TypeVar("F", bound=Callable[..., Any])

#: Attribute that records a view's policy, for the url_map test and the docs.
POLICY_ATTR = "commonwatch_access"


def _mark(view: F, policy: str) -> F:
    setattr(view, POLICY_ATTR, policy)
    return view


def public(view: F) -> F:
    """Anyone, signed in or not, may use this view."""
    return _mark(view, "public")


def member_required(view: F) -> F:
    """Only a signed-in resident (who completed two-factor if they enabled it), who is
    then on ``g.member``."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not isinstance(current_user._get_current_object(), Member):
            if current_user.is_authenticated:
                _denied("not a resident")
            return _unauthorized("not signed in")
        if current_user.totp_secret and not session.get("mfa"):
            return redirect(url_for("auth.two_factor", next=request.full_path))
        g.member = current_user._get_current_object()
        return view(*args, **kwargs)

    return _mark(wrapped, "member")


def signed_in_required(view: F) -> F:
    """Any signed-in user, resident or staff, who completed two-factor where they have it
    (staff always)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user._get_current_object()
        if not user.is_authenticated:
            return _unauthorized("not signed in")
        if (isinstance(user, Staff) or user.totp_secret) and not session.get("mfa"):
            target = "auth.two_factor" if user.totp_secret else "auth.two_factor_setup"
            return redirect(url_for(target, next=request.full_path))
        return view(*args, **kwargs)

    return _mark(wrapped, "signed-in")


def fresh_login_required(view: F) -> F:
    """Ask for the password again unless it was given in the last few minutes; use on
    views that change how someone signs in or who may do what. Combine with (inside)
    an access policy decorator."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from core.sessions import is_fresh

        if not is_fresh():
            return redirect(url_for("auth.confirm_password", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def two_factor_pending(view: F) -> F:
    """A signed-in user of either kind who may still owe a two-factor code."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _unauthorized("not signed in")
        return view(*args, **kwargs)

    return _mark(wrapped, "signed-in")


def has_permission(staff: Staff, permission: str) -> bool:
    """Whether ``staff`` holds ``permission`` (system administrators hold all)."""
    registry = current_app.extensions["commonwatch"].registry
    if permission not in registry.permissions:
        raise LookupError(f"unknown permission {permission!r}")
    return staff.role == "system_admin" or staff.role in registry.permissions[permission].roles


def role_rank(role: str) -> int:
    """0 for the most powerful role; higher numbers for less powerful ones."""
    return ROLES.index(role)


def staff_required(permission: str | None = None) -> Callable[[F], F]:
    """Only signed-in staff who passed two-factor and, if given, hold ``permission``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user._get_current_object()
            if not isinstance(user, Staff):
                if isinstance(user, Member):
                    _denied("not staff")
                log_denied("not signed in")
                return redirect(url_for("auth.staff_sign_in", next=request.full_path))
            if not session.get("mfa"):
                target = "auth.two_factor" if user.totp_secret else "auth.two_factor_setup"
                return redirect(url_for(target, next=request.full_path))
            if permission and not has_permission(user, permission):
                _denied(f"lacks {permission}")
            g.staff = user
            return view(*args, **kwargs)

        return _mark(wrapped, f"staff:{permission or 'any'}")

    return decorator


#: Where every refused request is recorded: account ids and routes, no personal data.
security_log = logging.getLogger("commonwatch.security")


def log_denied(reason: str) -> None:
    """Record that this request was refused, by whom (an account id) and where (the route
    pattern, not the URL, which may carry personal data)."""
    user = current_user
    who = f"{user.kind}:{user.id}" if user and user.is_authenticated else "anonymous"
    security_log.warning(
        "denied who=%s method=%s route=%s reason=%s",
        who, request.method, request.url_rule.rule if request.url_rule else "?", reason,
    )


def _unauthorized(reason: str) -> Any:
    log_denied(reason)
    return current_app.login_manager.unauthorized()


def _denied(reason: str) -> None:
    log_denied(reason)
    abort(403)


def enforce_declared_policy() -> None:
    """Refuse any request to a view that declared no access policy (deny by default)."""
    endpoint = request.endpoint
    if not endpoint or endpoint == "static" or endpoint.endswith(".static"):
        return
    view = current_app.view_functions.get(endpoint)
    if view is not None and not getattr(view, POLICY_ATTR, None):
        _denied("view declares no access policy")

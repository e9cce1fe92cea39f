"""Server-side records of signed-in sessions: timeouts, revocation and freshness.

The session cookie is signed but lives in the browser; each sign-in also writes a
``user_session`` row whose random id the cookie carries. A request whose row is missing,
ended or timed out is treated as signed out, so logging out, changing a password or
disabling an account ends sessions even if an old cookie is replayed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import update

from core.extensions import db
from core.models import Member, Staff, UserSession, utcnow

#: How often last_seen_at is written (idle timeouts are measured in minutes).
TOUCH_EVERY = timedelta(seconds=60)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _owner(user: Member | Staff) -> dict[str, int]:
    return {"staff_id": user.id} if isinstance(user, Staff) else {"member_id": user.id}


def begin(user: Member | Staff) -> None:
    """Sign ``user`` in with a brand-new session (nothing of the old one is kept but the
    language choice)."""
    language = session.get("lang")
    session.clear()
    login_user(user)
    sid = secrets.token_urlsafe(32)
    db.session.add(UserSession(id_hash=_hash(sid), **_owner(user)))
    db.session.commit()
    session["sid"] = sid
    session["mfa"] = False
    session["lang"] = user.language if isinstance(user, Member) else language


def end() -> None:
    """Sign the current user out and end their session record."""
    sid = session.get("sid")
    if sid:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id_hash == _hash(sid), UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        db.session.commit()
    logout_user()
    session.clear()


def end_all(user: Member | Staff, keep_current: bool = False) -> None:
    """End every session of ``user`` (but this request's, with ``keep_current``)."""
    query = update(UserSession).where(UserSession.ended_at.is_(None))
    owner = _owner(user)
    for column, value in owner.items():
        query = query.where(getattr(UserSession, column) == value)
    sid = session.get("sid")
    if keep_current and sid:
        query = query.where(UserSession.id_hash != _hash(sid))
    db.session.execute(query.values(ended_at=utcnow()))


def limits(user: Member | Staff) -> tuple[timedelta | None, timedelta]:
    """(idle timeout or None, absolute lifetime) of ``user``'s sessions."""
    config = current_app.config
    if isinstance(user, Staff):
        return (timedelta(minutes=config["STAFF_IDLE_MINUTES"]),
                timedelta(hours=config["STAFF_SESSION_HOURS"]))
    return None, timedelta(days=config["MEMBER_SESSION_DAYS"])


def check_request() -> str | None:
    """Validate the signed-in user's session for this request; ends it and returns the
    reason when it is no longer valid."""
    if not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    sid = session.get("sid")
    record = db.session.get(UserSession, _hash(sid)) if sid else None
    reason = None
    if record is None or record.ended_at is not None:
        reason = "session ended"
    elif _owner(user) != {k: v for k, v in (("staff_id", record.staff_id),
                                            ("member_id", record.member_id)) if v}:
        reason = "session of another user"
    else:
        now = utcnow()
        idle, lifetime = limits(user)
        if now - record.created_at > lifetime:
            reason = "session too old"
        elif idle is not None and now - record.last_seen_at > idle:
            reason = "session idle"
        elif now - record.last_seen_at > TOUCH_EVERY:
            record.last_seen_at = now
            db.session.commit()
    if reason:
        end()
    return reason


def mark_fresh() -> None:
    """Record that the user has just proved their password."""
    sid = session.get("sid")
    if sid:
        db.session.execute(
            update(UserSession).where(UserSession.id_hash == _hash(sid)).values(fresh_at=utcnow())
        )
        db.session.commit()


def is_fresh() -> bool:
    """Whether the user proved their password within ``FRESH_LOGIN_MINUTES``."""
    sid = session.get("sid")
    record = db.session.get(UserSession, _hash(sid)) if sid else None
    if record is None:
        return False
    window = timedelta(minutes=current_app.config["FRESH_LOGIN_MINUTES"])
    return utcnow() - record.fresh_at <= window

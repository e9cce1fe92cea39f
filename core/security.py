"""Passwords, two-factor codes and signed links."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from functools import cache
from pathlib import Path
from typing import Any

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value

from core.extensions import db
from core.models import Member, RecoveryCode, Staff, utcnow

#: argon2id with OWASP's first recommended setting (m=19 MiB, t=2, p=1).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
TOTP_STEP = 30
RECOVERY_CODE_COUNT = 10


COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"


@cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    """Whether ``password`` is one of the 3,000 most common passwords (ignoring case)."""
    return password.strip().lower() in _common_passwords()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for no hash)."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(user: Member | Staff, password: str) -> None:
    """Set a new password and end every session of the user (not committed)."""
    from core.sessions import end_all

    user.password_hash = hash_password(password)
    user.auth_version = (user.auth_version or 0) + 1
    end_all(user)


# -- two-factor ---------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret."""
    return pyotp.random_base32()


def totp_uri(user: Member | Staff, secret: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    issuer = current_app.config["BRAND_NAME"]
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(data: str) -> str:
    """An inline SVG QR code of ``data``."""
    return segno.make(data, error="m").svg_inline(scale=4, dark="#0b0c0c", light="#ffffff")


def check_totp(secret: str, code: str, last_step: int | None, at: float | None = None
               ) -> int | None:
    """The time step ``code`` is valid for (within one step either side of now), or None.

    A step not after ``last_step`` is refused, so a code is never accepted twice. Only the
    ASCII digits 0-9 count: other Unicode digits ("²", "１") are refused, not compared.
    """
    code = "".join(code.split())
    if not (code.isascii() and code.isdigit()) or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now_step = int((time.time() if at is None else at) // TOTP_STEP)
    for step in (now_step - 1, now_step, now_step + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


def verify_second_factor(user: Member | Staff, code: str) -> bool:
    """Accept a TOTP code or an unused recovery code for ``user`` (recording its use).

    Uses are recorded by conditional updates, so when two requests send the same code
    at once only one of them is accepted. The caller commits.
    """
    if not user.totp_secret:
        return False
    step = check_totp(user.totp_secret, code, user.totp_last_step)
    if step is not None:
        return _record_totp_step(user, step)
    return use_recovery_code(user, code)


def _record_totp_step(user: Member | Staff, step: int) -> bool:
    """Record ``step`` as the last one ``user`` used, unless another request recorded it
    or a later one since ``user`` was loaded; whether it was recorded."""
    model = type(user)
    result = db.session.execute(
        update(model)
        .where(model.id == user.id,
               or_(model.totp_last_step.is_(None), model.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def _owner_filter(user: Member | Staff) -> dict[str, int]:
    return {"staff_id": user.id} if isinstance(user, Staff) else {"member_id": user.id}


def new_recovery_codes(user: Member | Staff) -> list[str]:
    """Replace the user's recovery codes with fresh ones; returns them in clear once."""
    RecoveryCode.query.filter_by(**_owner_filter(user)).delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        db.session.add(RecoveryCode(code_hash=hash_password(code), **_owner_filter(user)))
    return codes


def use_recovery_code(user: Member | Staff, code: str) -> bool:
    """Spend one unused recovery code matching ``code`` (False if another request spent
    it first). The caller commits."""
    code = code.strip().lower()
    if len(code) != 13:
        return False
    for row in RecoveryCode.query.filter_by(used_at=None, **_owner_filter(user)):
        if check_password(row.code_hash, code):
            spent = db.session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return spent.rowcount == 1
    return False


# -- signed links ---------------------------------------------------------------------------


def token_serializer(purpose: str) -> URLSafeTimedSerializer:
    """The serializer that signs and reads tokens for ``purpose``: what
    :func:`make_token` and :func:`read_token` use, for code that signs many at once."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"commonwatch.{purpose}")


def make_token(purpose: str, data: Any) -> str:
    """A signed, timestamped token carrying ``data`` for one ``purpose``."""
    return token_serializer(purpose).dumps(data)


def read_token(purpose: str, token: str, max_age: int) -> Any | None:
    """The data in ``token`` if it is genuine, for ``purpose`` and younger than
    ``max_age`` seconds; otherwise None."""
    try:
        return token_serializer(purpose).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None


def password_fingerprint(user: Member | Staff) -> str:
    """Changes whenever the password does, so a reset link works once; reveals nothing
    of the password hash."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, (user.password_hash or "none").encode(), hashlib.sha256)
    return digest.hexdigest()[:24]

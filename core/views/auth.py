"""Signing in and out, two-factor authentication and password resets."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from core import sessions
from core.access import public, signed_in_required, two_factor_pending
from core.emails import RESET_MAX_AGE, notify_security_event, send_password_reset
from core.extensions import db, limiter
from core.forms import (
    ChangePasswordForm,
    ConfirmPasswordForm,
    ForgotPasswordForm,
    NewPasswordForm,
    SignInForm,
    TwoFactorForm,
)
from core.jobs import enqueue
from core.models import Member, Staff
from core.security import (
    check_password,
    check_totp,
    hash_password,
    new_recovery_codes,
    new_totp_secret,
    password_fingerprint,
    qr_svg,
    read_token,
    set_password,
    totp_uri,
    verify_second_factor,
)

bp = Blueprint("auth", __name__)

#: Compared against when no account matches, so both cases take as long.
_DUMMY_HASH = hash_password("commonwatch-no-such-account")


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, otherwise ``default``."""
    if not target:
        return default
    if any(ord(c) < 32 for c in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _sign_in_limit() -> str:
    return current_app.config["SIGN_IN_LIMIT"]


def _account_key() -> str:
    return "sign-in:" + request.form.get("email", "").strip().lower()




def _sign_in(model: type[Member] | type[Staff], template: str) -> str | Response:
    form = SignInForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(model).where(model.email == email))
        ok = check_password(user.password_hash if user else _DUMMY_HASH, form.password.data)
        if user is not None and ok and user.is_active:
            sessions.begin(user)
            default = url_for("staff.index" if model is Staff else "account.index")
            target = safe_next(request.args.get("next"), default)
            if model is Staff:
                step = "auth.two_factor" if user.totp_secret else "auth.two_factor_setup"
                return redirect(url_for(step, next=target))
            if user.totp_secret:
                return redirect(url_for("auth.two_factor", next=target))
            return redirect(target)
        form.email.errors.append(_("Enter the email address and password of your account"))
    return render_template(template, form=form)


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(_sign_in_limit, key_func=_account_key, methods=["POST"])
def sign_in() -> str | Response:
    return _sign_in(Member, "auth/sign_in.html")


@bp.route("/staff/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(_sign_in_limit, key_func=_account_key, methods=["POST"])
def staff_sign_in() -> str | Response:
    return _sign_in(Staff, "auth/staff_sign_in.html")


@bp.post("/sign-out")
@public
def sign_out() -> Response:
    sessions.end()
    flash(_("You have signed out"), "success")
    return redirect(url_for("public.index"))


def _after_two_factor() -> Response:
    user = current_user
    default = url_for("staff.index" if isinstance(user, Staff) else "account.index")
    return redirect(safe_next(request.args.get("next"), default))


@bp.route("/two-factor", methods=["GET", "POST"])
@two_factor_pending
@limiter.limit(_sign_in_limit, key_func=lambda: f"2fa:{current_user.get_id()}", methods=["POST"])
def two_factor() -> str | Response:
    user = current_user._get_current_object()
    if not user.totp_secret:
        return redirect(url_for("auth.two_factor_setup", next=request.args.get("next")))
    form = TwoFactorForm()
    if form.validate_on_submit():
        if verify_second_factor(user, form.code.data):
            db.session.commit()
            session["mfa"] = True
            return _after_two_factor()
        form.code.errors.append(_("The code is not right. Check your app and try again"))
    return render_template("auth/two_factor.html", form=form)


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@two_factor_pending
def two_factor_setup() -> str | Response:
    user = current_user._get_current_object()
    if user.totp_secret and not session.get("mfa"):
        return redirect(url_for("auth.two_factor", next=request.args.get("next")))
    if user.totp_secret and not sessions.is_fresh():
        # Replacing a working second factor is a sensitive change.
        return redirect(url_for("auth.confirm_password", next=request.full_path))
    secret = session.get("pending_totp") or new_totp_secret()
    session["pending_totp"] = secret
    form = TwoFactorForm()
    if form.validate_on_submit():
        step = check_totp(secret, form.code.data, None)
        if step is not None:
            user.totp_secret = secret
            user.totp_last_step = step
            codes = new_recovery_codes(user)
            db.session.commit()
            session.pop("pending_totp", None)
            session["mfa"] = True
            notify_security_event(user, "two_factor_enabled")
            return render_template(
                "auth/recovery_codes.html",
                codes=codes,
                next=safe_next(request.args.get("next"), url_for("public.index")),
            )
        form.code.errors.append(_("The code is not right. Check your app and try again"))
    uri = totp_uri(user, secret)
    return render_template("auth/two_factor_setup.html", form=form, secret=secret, qr=qr_svg(uri))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(_sign_in_limit, key_func=_account_key, methods=["POST"])
def forgot_password() -> str | Response:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        for kind, model in (("m", Member), ("s", Staff)):
            user_id = db.session.scalar(select(model.id).where(model.email == email))
            if user_id is not None:
                enqueue(send_password_reset, kind, user_id)
        return render_template("auth/reset_sent.html")
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str) -> str | Response:
    data = read_token("reset", token, RESET_MAX_AGE)
    model = {"m": Member, "s": Staff}.get(data.get("k")) if isinstance(data, dict) else None
    user = db.session.get(model, data["u"]) if model else None
    if user is None or data.get("f") != password_fingerprint(user):
        return render_template("auth/link_expired.html"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        set_password(user, form.password.data)
        db.session.commit()
        sessions.end()
        notify_security_event(user, "password_changed")
        flash(_("Your password has been changed. Sign in with your new password"), "success")
        return redirect(url_for("auth.staff_sign_in" if model is Staff else "auth.sign_in"))
    return render_template("auth/reset_password.html", form=form)


def change_password_page(done_url: str) -> str | Response:
    """The change-password form for the signed-in user; other sessions end on success."""
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not check_password(user.password_hash, form.current_password.data):
            form.current_password.errors.append(_("Your current password is not right"))
        else:
            set_password(user, form.password.data)
            db.session.commit()
            # Every other session ends; this one carries on in a new session.
            mfa = session.get("mfa")
            sessions.begin(user)
            session["mfa"] = mfa
            notify_security_event(user, "password_changed")
            flash(_("Your password has been changed"), "success")
            return redirect(done_url)
    return render_template("account/change_password.html", form=form, back=done_url)


@bp.route("/confirm-password", methods=["GET", "POST"])
@signed_in_required
def confirm_password() -> str | Response:
    """Ask for the password again before a sensitive change."""
    user = current_user._get_current_object()
    form = ConfirmPasswordForm()
    if form.validate_on_submit():
        if check_password(user.password_hash, form.password.data):
            sessions.mark_fresh()
            default = url_for("staff.index" if isinstance(user, Staff) else "account.index")
            return redirect(safe_next(request.args.get("next"), default))
        form.password.errors.append(_("Your password is not right"))
    return render_template("auth/confirm_password.html", form=form)

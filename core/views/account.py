"""Residents: registering, their account and their data rights."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectMultipleField
from wtforms.validators import InputRequired

from core import sessions
from core.access import log_denied, member_required, public
from core.emails import (
    DOORSTEP_MAX_AGE,
    UNSUBSCRIBE_PURPOSE,
    VERIFY_MAX_AGE,
    notify_security_event,
    send_verification_email,
)
from core.extensions import csrf, db
from core.forms import (
    CHANNEL_LABELS,
    ChangeEmailForm,
    ConfirmForm,
    DeleteAccountForm,
    GovCheckboxesInput,
    NewPasswordForm,
    PreferencesForm,
    ProfileExtras,
    RegistrationExtras,
    resident_form,
)
from core.jobs import enqueue
from core.links import fill_personal_link, personal_url
from core.locations import LocationRefused, record, stop_sharing
from core.members import (
    create_member,
    email_taken,
    erase,
    member_data,
    opt_out,
    personal_data,
    update_member,
)
from core.models import Delivery, Member, MemberAccess, Message, utcnow
from core.registry import current_registry
from core.security import check_password, hash_password, read_token, set_password
from core.views.auth import change_password_page

bp = Blueprint("account", __name__)

#: Unsubscribe links in old emails keep working for a year.
UNSUBSCRIBE_MAX_AGE = 366 * 24 * 3600


@bp.route("/register", methods=["GET", "POST"])
@public
def register() -> str | BaseResponse:
    form = resident_form(RegistrationExtras, current_registry())
    if form.validate_on_submit():
        if email_taken(form.email.data):
            form.email.errors.append(
                _("An account already uses this email address. Sign in or reset your password")
            )
        else:
            member = create_member(form.to_data(), password_hash=hash_password(form.password.data))
            db.session.commit()
            enqueue(send_verification_email, member.id)
            sessions.begin(member)
            return redirect(url_for("account.registered"))
    return render_template("account/register.html", form=form)


@bp.get("/register/done")
@member_required
def registered() -> str:
    return render_template("account/registered.html")


def _verified_member(purpose: str, token: str, max_age: int) -> Member | None:
    data = read_token(purpose, token, max_age)
    if not isinstance(data, dict):
        return None
    member = db.session.get(Member, data.get("m"))
    if member is None or member.email != data.get("e"):
        return None
    return member


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
@public
def verify_email(token: str) -> str | BaseResponse | tuple[str, int]:
    member = _verified_member("verify-email", token, VERIFY_MAX_AGE)
    if member is None:
        return render_template("auth/link_expired.html"), 400
    form = ConfirmForm()
    if form.validate_on_submit():
        member.email_verified_at = member.email_verified_at or utcnow()
        db.session.commit()
        flash(_("Your email address is confirmed. You will now get alerts."), "success")
        return redirect(url_for("account.index" if current_user.is_authenticated
                                else "auth.sign_in"))
    return render_template("account/verify_email.html", form=form, member=member)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@public
def confirm_doorstep(token: str) -> str | BaseResponse | tuple[str, int]:
    member = _verified_member("doorstep", token, DOORSTEP_MAX_AGE)
    if member is None or member.password_hash:
        return render_template("auth/link_expired.html"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        set_password(member, form.password.data)
        member.email_verified_at = utcnow()
        db.session.commit()
        sessions.begin(member)
        flash(_("Your registration is confirmed. You will now get alerts."), "success")
        return redirect(url_for("account.index"))
    return render_template("account/confirm_doorstep.html", form=form, member=member)


@bp.get("/account")
@member_required
def index() -> str:
    member = current_user._get_current_object()
    registry = current_registry()
    return render_template(
        "account/index.html",
        member=member,
        interest_labels=[
            str(registry.watch_types[i.watch_type].label)
            for i in member.interests
            if i.watch_type in registry.watch_types
        ],
        channel_names=[str(CHANNEL_LABELS[c.channel]) for c in member.channels],
        opt_form=ConfirmForm(),
    )


@bp.route("/account/profile", methods=["GET", "POST"])
@member_required
def profile() -> str | BaseResponse:
    member = current_user._get_current_object()
    form = resident_form(ProfileExtras, current_registry())
    if not form.is_submitted():
        form.fill(member_data(member))
    if form.validate_on_submit():
        data = form.to_data()
        data.email = member.email
        update_member(member, data)
        db.session.commit()
        session["lang"] = member.language
        flash(_("Your details have been saved"), "success")
        return redirect(url_for("account.index"))
    return render_template("account/profile.html", form=form)


def _preferences_form(member: Member) -> PreferencesForm:
    attrs = {}
    for channel in member.channels:
        attrs[f"when_{channel.channel}"] = SelectMultipleField(
            CHANNEL_LABELS[channel.channel],
            choices=[("day", _("During the day (8am to 8pm)")), ("night", _("At night"))],
            validators=[InputRequired(message=_("Choose when we may use this"))],
            widget=GovCheckboxesInput(),
        )
    form_class = type("PreferencesForm", (PreferencesForm,), attrs)
    return form_class()


@bp.route("/account/preferences", methods=["GET", "POST"])
@member_required
def preferences() -> str | BaseResponse:
    member = current_user._get_current_object()
    form = _preferences_form(member)
    if not form.is_submitted():
        form.min_priority.data = str(member.min_priority)
        form.digest_only.data = member.digest_only
        for channel in member.channels:
            form[f"when_{channel.channel}"].data = [
                w for w, on in (("day", channel.by_day), ("night", channel.by_night)) if on
            ]
    if form.validate_on_submit():
        member.min_priority = int(form.min_priority.data)
        member.digest_only = bool(form.digest_only.data)
        for channel in member.channels:
            chosen = set(form[f"when_{channel.channel}"].data)
            channel.by_day, channel.by_night = "day" in chosen, "night" in chosen
        db.session.commit()
        flash(_("Your preferences have been saved"), "success")
        return redirect(url_for("account.index"))
    return render_template("account/preferences.html", form=form, member=member)


@bp.post("/account/location-sharing")
@member_required
def location_sharing() -> BaseResponse:
    """Turn sharing where the resident's device is on or off (off forgets the position);
    only the button's value changes anything."""
    member = current_user._get_current_object()
    choice = request.form.get("sharing")
    if FlaskForm().validate_on_submit() and choice in ("on", "off"):
        if choice == "on":
            member.location_alerts = True
            flash(_("While your preferences page is open, this device tells us where it is"),
                  "success")
        else:
            stop_sharing(member)
            flash(_("You no longer share where you are, and we have forgotten it"), "success")
        db.session.commit()
    return redirect(url_for("account.preferences") + "#location")


@bp.post("/account/location")
@member_required
def report_location() -> tuple[Response, int]:
    """Keep where the resident's device is now (JSON ``{"latitude", "longitude"}``),
    coarsened; 409 while sharing is off, 400 for anything that is not a position."""
    member = current_user._get_current_object()
    data = request.get_json(silent=True)
    try:
        latitude, longitude = float(data["latitude"]), float(data["longitude"])
        if not (math.isfinite(latitude) and math.isfinite(longitude)):
            raise ValueError
    except (TypeError, KeyError, ValueError):
        return jsonify({"error": "send {\"latitude\": ..., \"longitude\": ...}"}), 400
    try:
        kept = record(member, latitude, longitude)
    except LocationRefused as exc:
        return jsonify({"error": str(exc)}), 409
    db.session.commit()
    return jsonify({"latitude": kept.latitude, "longitude": kept.longitude,
                    "expires_at": kept.expires_at.isoformat()}), 200


@bp.route("/account/email", methods=["GET", "POST"])
@member_required
def change_email() -> str | BaseResponse:
    member = current_user._get_current_object()
    form = ChangeEmailForm()
    if form.validate_on_submit():
        if not check_password(member.password_hash, form.password.data):
            form.password.errors.append(_("Your password is not right"))
        elif email_taken(form.email.data, except_id=member.id):
            form.email.errors.append(_("Another account already uses this email address"))
        else:
            old_email = member.email
            member.email = form.email.data.lower()
            member.email_verified_at = None
            member.email_invalid_at = None
            db.session.commit()
            notify_security_event(member, "email_changed", old_email=old_email)
            enqueue(send_verification_email, member.id)
            flash(_("Check your email to confirm your new address"), "success")
            return redirect(url_for("account.index"))
    return render_template("account/change_email.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@member_required
def change_password() -> str | BaseResponse:
    return change_password_page(url_for("account.index"))


@bp.post("/account/opt-out")
@member_required
def opt_out_all() -> BaseResponse:
    form = ConfirmForm()
    if form.validate_on_submit():
        opt_out(current_user._get_current_object())
        db.session.commit()
        flash(_("You will not get any more messages. You can turn them back on at any time."),
              "success")
    return redirect(url_for("account.index"))


@bp.post("/account/opt-in")
@member_required
def opt_in() -> BaseResponse:
    form = ConfirmForm()
    if form.validate_on_submit():
        current_user.opted_out_at = None
        db.session.commit()
        flash(_("Messages are turned back on"), "success")
    return redirect(url_for("account.index"))


@bp.get("/account/my-data.json")
@member_required
def download_data() -> Response:
    member = current_user._get_current_object()
    body = json.dumps(personal_data(member), ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-commonwatch-data.json"'},
    )


@bp.get("/account/seen")
@member_required
def seen() -> str:
    accesses = db.session.scalars(
        select(MemberAccess)
        .where(MemberAccess.member_id == current_user.id)
        .order_by(MemberAccess.at.desc())
        .limit(500)
    ).all()
    return render_template("account/seen.html", accesses=accesses)


@bp.route("/account/delete", methods=["GET", "POST"])
@member_required
def delete() -> str | BaseResponse:
    member = current_user._get_current_object()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if not check_password(member.password_hash, form.password.data):
            form.password.errors.append(_("Your password is not right"))
        else:
            sessions.end()
            erase(member)
            db.session.commit()
            flash(_("Your account and everything we held about you has been deleted"), "success")
            return redirect(url_for("public.index"))
    return render_template("account/delete.html", form=form)


@bp.post("/account/verify-email")
@member_required
def resend_verification() -> BaseResponse:
    form = ConfirmForm()
    if form.validate_on_submit() and not current_user.email_verified_at:
        enqueue(send_verification_email, current_user.id)
        flash(_("We have sent the link again"), "success")
    return redirect(url_for("account.index"))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf.exempt  # mail clients POST "List-Unsubscribe=One-Click" with no form (RFC 8058)
def unsubscribe(token: str) -> str | tuple[str, int]:
    data = read_token(UNSUBSCRIBE_PURPOSE, token, max_age=UNSUBSCRIBE_MAX_AGE)
    member = db.session.get(Member, data.get("m")) if isinstance(data, dict) else None
    if member is None:
        return render_template("auth/link_expired.html"), 400
    if request.method == "POST":
        opt_out(member)
        db.session.commit()
        return render_template("account/unsubscribed.html")
    return render_template("account/unsubscribe.html", token=token)


def _received(member: Member) -> Any:
    return select(Delivery.message_id).where(Delivery.member_id == member.id)


@bp.get("/account/messages")
@member_required
def messages() -> str:
    member = current_user._get_current_object()
    received = db.session.scalars(
        select(Message).where(Message.id.in_(_received(member)))
        .order_by(Message.sent_at.desc()).limit(100)
    ).all()
    return render_template("account/messages.html", messages=received, member=member)


@bp.get("/account/messages/<int:message_id>")
@member_required
def message(message_id: int) -> str:
    member = current_user._get_current_object()
    found = db.session.scalar(
        select(Message).where(Message.id == message_id, Message.id.in_(_received(member)))
    )
    if found is None:
        log_denied("message not sent to this member or not found")
        abort(404)
    # A message inviting the member to a plugin's page links to it as them.
    link = personal_url(found, member.id)
    welsh = member.language == "cy" and bool(found.title_cy)
    html = fill_personal_link(found.body_html_cy if welsh else found.body_html, link)
    return render_template("account/message.html", message=found, member=member,
                           welsh=welsh, html=html)

"""Personal access tokens for the JSON API: residents and staff make them for
themselves, see them (never their text again) and revoke them."""

from __future__ import annotations

import wtforms
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.validators import DataRequired, Length

from core.access import has_permission, log_denied, member_required, staff_required
from core.extensions import db
from core.forms import GovCheckboxesInput, GovSubmitInput, GovTextInput
from core.models import ApiToken, Member, Staff, utcnow
from core.rest import create_token

bp = Blueprint("tokens", __name__)

SCOPE_LABELS = {
    "read": _l("Read: your profile, areas and messages"),
    "profile": _l("Profile: change how and about what you hear"),
    "reply": _l("Reply: answer messages you received"),
    "send": _l("Send: preview and send messages"),
}
#: The most tokens one person may hold at once.
MAX_TOKENS = 10


class TokenForm(FlaskForm):
    """A new token: what it is for, and what it may do."""

    name = wtforms.StringField(_l("What is the token for?"),
                               [DataRequired(message=_l("Name the token")), Length(max=100)],
                               widget=GovTextInput(),
                               description=_l("For example: my phone's alert app"))
    scopes = wtforms.SelectMultipleField(
        _l("What may it do?"), validators=[DataRequired(message=_l("Choose what it may do"))],
        widget=GovCheckboxesInput())
    submit = wtforms.SubmitField(_l("Make the token"), widget=GovSubmitInput())


class RevokeForm(FlaskForm):
    """A button whose press is the whole request."""

    revoke = wtforms.SubmitField(_l("Revoke"), widget=GovSubmitInput())


def _owned(owner: Member | Staff) -> list[ApiToken]:
    column = ApiToken.member_id if isinstance(owner, Member) else ApiToken.staff_id
    return list(db.session.scalars(select(ApiToken).where(
        column == owner.id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.created_at)))


def _page(owner: Member | Staff, scopes: list[str], revoke_endpoint: str) -> str:
    form = TokenForm()
    form.scopes.choices = [(s, SCOPE_LABELS[s]) for s in scopes]
    made = None
    if form.validate_on_submit() and form.submit.data:
        if len(_owned(owner)) >= MAX_TOKENS:
            form.name.errors = [*form.name.errors, _(
                "You have %(num)d tokens: revoke one first", num=MAX_TOKENS)]
        else:
            token, made = create_token(owner, form.name.data.strip(),
                                       [s for s in form.scopes.data if s in scopes])
            db.session.commit()
            form = TokenForm(formdata=None)
            form.scopes.choices = [(s, SCOPE_LABELS[s]) for s in scopes]
    return render_template("account/tokens.html", form=form, tokens=_owned(owner), made=made,
                           revoke_form=RevokeForm(formdata=None), labels=SCOPE_LABELS,
                           revoke_endpoint=revoke_endpoint, is_staff=isinstance(owner, Staff))


def _revoke(owner: Member | Staff, token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    mine = token is not None and (token.member_id == owner.id if isinstance(owner, Member)
                                  else token.staff_id == owner.id)
    if not mine:
        log_denied("token of someone else or none")
        abort(404)
    form = RevokeForm()
    # Only the button revokes: a bare POST changes nothing.
    if form.validate_on_submit() and form.revoke.data and token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
        flash(_("The token “%(name)s” no longer works", name=token.name), "success")


@bp.route("/account/api-tokens", methods=["GET", "POST"])
@member_required
def member_tokens() -> str:
    """A resident's tokens, and a form to make one (its text is shown once)."""
    return _page(g.member, ["read", "profile", "reply"], "tokens.member_revoke")


@bp.post("/account/api-tokens/<int:token_id>/revoke")
@member_required
def member_revoke(token_id: int) -> Response:
    """Stop one of the resident's tokens working."""
    _revoke(current_user._get_current_object(), token_id)
    return redirect(url_for("tokens.member_tokens"))


@bp.route("/staff/api-tokens", methods=["GET", "POST"])
@staff_required()
def staff_tokens() -> str:
    """A staff member's tokens; ``send`` only for those who may send messages."""
    staff: Staff = g.staff
    scopes = ["read", "send"] if has_permission(staff, "core.messages.send") else ["read"]
    return _page(staff, scopes, "tokens.staff_revoke")


@bp.post("/staff/api-tokens/<int:token_id>/revoke")
@staff_required()
def staff_revoke(token_id: int) -> Response:
    """Stop one of the staff member's tokens working."""
    _revoke(g.staff, token_id)
    return redirect(url_for("tokens.staff_tokens"))

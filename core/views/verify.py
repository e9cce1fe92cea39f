"""The public verification page: anyone checks, with the code printed in an alert, that
the alert is genuine and who sent it, never who received it (docs/messaging.md)."""

from __future__ import annotations

import wtforms
from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.validators import Length

from core.access import public
from core.archive import in_language, sender_details
from core.extensions import limiter
from core.forms import GovSubmitInput, GovTextInput
from core.outcomes import OUTCOME_LABELS
from core.verification import genuine_message
from core.views.messages import CATEGORY_LABELS

bp = Blueprint("verify", __name__)


class VerifyForm(FlaskForm):
    """The code to check; sent with GET, so it works as a plain link and without
    JavaScript, and carries no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False

    code = wtforms.StringField(
        _l("Code from the alert"), [Length(max=40)], widget=GovTextInput(),
        description=_l("8 letters and numbers, printed at the end of the alert, for example "
                       "K7QM-4XT2. Capitals, spaces and dashes do not matter."))
    submit = wtforms.SubmitField(_l("Check the alert"), widget=GovSubmitInput())


def _verify_limit() -> str:
    return current_app.config["VERIFY_LIMIT"]


def _result(code: str) -> str:
    """The answer for ``code``: the same page, status and single query whether or not
    the code is real, so nothing else can be told from it (a draft has no code)."""
    message = genuine_message(code)
    form = VerifyForm(formdata=None, data={"code": code[:40]})
    if message is None:
        return render_template("verify/result.html", message=None, form=form)
    return render_template(
        "verify/result.html", message=message, form=form, shown=in_language(message),
        sender=sender_details(message), categories=CATEGORY_LABELS,
        outcome_labels=OUTCOME_LABELS)


# Both pages count against one limit per address; the bare form does not count.
_limit = limiter.shared_limit(_verify_limit, scope="verify",
                              exempt_when=lambda: request.endpoint == "verify.index"
                              and "code" not in request.args)


@bp.get("/verify")
@public
@_limit
def index() -> str:
    """The form to enter a code; with ``?code=``, the answer for it."""
    code = request.args.get("code")
    if code is not None:
        return _result(code)
    return render_template("verify/index.html", form=VerifyForm(formdata=None))


@bp.get("/verify/<code>")
@public
@_limit
def check(code: str) -> str:
    """The answer for a code in the address, as the link in an alert gives it."""
    return _result(code)

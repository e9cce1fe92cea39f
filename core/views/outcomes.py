"""The staff report of outcomes: per area and per team, over the messages the signed-in
staff member may see (core/outcomes.py)."""

from __future__ import annotations

import wtforms
from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from core.access import staff_required
from core.forms import GovSelect, GovSubmitInput
from core.models import MESSAGE_CATEGORIES, MESSAGE_OUTCOMES
from core.outcomes import APPEAL_CATEGORIES, OUTCOME_LABELS, figures_level, outcome_figures
from core.views.messages import CATEGORY_LABELS

bp = Blueprint("outcomes", __name__)


class OutcomeFilterForm(FlaskForm):
    class Meta:
        csrf = False

    which = wtforms.SelectField(
        _l("Messages"),
        choices=[("appeals", _l("Appeals: witness appeals, missing people and suspect "
                                "descriptions")),
                 ("all", _l("All messages sent")),
                 *((c, CATEGORY_LABELS[c]) for c in MESSAGE_CATEGORIES)],
        default="appeals", widget=GovSelect())
    submit = wtforms.SubmitField(_l("Show"), widget=GovSubmitInput())


@bp.get("/staff/outcomes")
@staff_required("core.messages.send")
def report() -> str:
    """How the messages one may see ended: counts of each outcome and the share with an
    outcome, per area and per team."""
    form = OutcomeFilterForm(request.args)
    which = form.which.data if form.validate() else "appeals"
    categories = {"appeals": APPEAL_CATEGORIES, "all": None}.get(which, [which])
    figures = outcome_figures(g.staff, categories, no_team=_("No team (account deleted)"))
    return render_template("outcomes/report.html", form=form, figures=figures,
                           outcomes=MESSAGE_OUTCOMES, outcome_labels=OUTCOME_LABELS,
                           level=figures_level())

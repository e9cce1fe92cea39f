"""Neighbourhood Watch's forms."""

from __future__ import annotations

from typing import Any

import wtforms
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from core.api import (
    CATEGORY_LABELS,
    GovCheckboxesInput,
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from core.api import lazy_gettext as _l
from plugins.neighbourhood_watch.models import GROUP_ROLES

ROLE_LABELS = {
    "main": _l("Main coordinator"),
    "deputy": _l("Deputy coordinator"),
    "member": _l("Member"),
    "chair": _l("Chair"),
    "vice_chair": _l("Vice-chair"),
    "secretary": _l("Secretary"),
}
LEVEL_LABELS = {
    "self": _l("Self-declared"),
    "association": _l("Verified by the volunteer association"),
    "police": _l("Verified by police"),
}
VISIBILITY_LABELS = {
    "public": _l("Public: listed, and people may ask to join"),
    "hidden": _l("Hidden: not listed, by invitation only"),
}
#: What a coordinator may send to their scheme.
SCHEME_CATEGORIES = ("community_news", "prevention_advice", "crime_alert", "witness_appeal",
                     "scam_warning")


class PostcodeSearchForm(FlaskForm):
    class Meta:
        csrf = False

    postcode = wtforms.StringField(
        _l("Your postcode"), [DataRequired(message=_l("Enter a postcode")),
                              Length(max=10, message=_l("Enter a real postcode"))],
        widget=GovTextInput())
    submit = wtforms.SubmitField(_l("Find schemes"), widget=GovSubmitInput())


class JoinForm(FlaskForm):
    """Asking to join a scheme or group: which one, and consent to its organisation."""

    target = wtforms.IntegerField(widget=wtforms.widgets.HiddenInput(),
                                  validators=[InputRequired()])
    consent = wtforms.BooleanField(
        _l("I agree that its coordinators and its organisation can see my name, address "
           "and contact details and send me messages"),
        [InputRequired(message=_l("Agree to share your details to join"))],
        widget=GovCheckboxInput())
    submit = wtforms.SubmitField(_l("Ask to join"), widget=GovSubmitInput())


class StartSchemeForm(FlaskForm):
    name = wtforms.StringField(
        _l("Scheme name"), [InputRequired(message=_l("Enter the scheme's name")),
                            Length(max=200, message=_l("Keep the name to 200 characters"))],
        widget=GovTextInput())
    description = wtforms.TextAreaField(
        _l("Description for the public"),
        [Optional(), Length(max=2000, message=_l("Keep the description to 2,000 characters"))],
        widget=GovTextArea())
    organisation = wtforms.SelectField(
        _l("Who will look after it"), coerce=int,
        validators=[InputRequired(message=_l("Choose who will look after the scheme"))],
        widget=GovSelect(),
        description=_l("The volunteer association or police force that verifies it. "
                       "Members who join agree that it can contact them."))
    areas = wtforms.SelectMultipleField(
        _l("Streets and areas it covers"), coerce=int,
        validators=[InputRequired(message=_l("Choose at least one street or area"))],
        widget=GovCheckboxesInput())
    shape = wtforms.TextAreaField(
        _l("Boundary drawn on the map (optional)"), [Optional(), Length(max=20000)],
        widget=GovTextArea(),
        description=_l("GeoJSON, as the map writes it. When given, only addresses inside "
                       "it and in the chosen areas are in the scheme."))
    submit = wtforms.SubmitField(_l("Start the scheme"), widget=GovSubmitInput())


class CoordinateForm(FlaskForm):
    role = wtforms.RadioField(
        _l("Which role?"), choices=[("deputy", ROLE_LABELS["deputy"]),
                                    ("main", ROLE_LABELS["main"])],
        validators=[InputRequired(message=_l("Choose a role"))], widget=GovRadioInput())
    submit = wtforms.SubmitField(_l("Apply to coordinate"), widget=GovSubmitInput())


class DecisionForm(FlaskForm):
    """Accept or decline: valid only when one of its two buttons was pressed."""

    accept = wtforms.SubmitField(_l("Accept"), widget=GovSubmitInput())
    decline = wtforms.SubmitField(_l("Decline"), widget=GovSubmitInput())

    def validate(self, extra_validators: Any = None) -> bool:
        return super().validate(extra_validators) and self.accept.data != self.decline.data


class InviteResidentForm(FlaskForm):
    member = wtforms.IntegerField(widget=wtforms.widgets.HiddenInput(),
                                  validators=[InputRequired()])
    submit = wtforms.SubmitField(_l("Invite"), widget=GovSubmitInput())


class SchemeMessageForm(FlaskForm):
    title = wtforms.StringField(
        _l("Title"), [InputRequired(message=_l("Enter a title")),
                      Length(max=200, message=_l("Keep the title to 200 characters"))],
        widget=GovTextInput())
    body = wtforms.TextAreaField(
        _l("Message"), [InputRequired(message=_l("Enter the message")),
                        Length(max=10000, message=_l("Keep the message to 10,000 characters"))],
        widget=GovTextArea())
    plain_text = wtforms.TextAreaField(
        _l("Text message version"),
        [InputRequired(message=_l("Enter the text for SMS")),
         Length(max=918, message=_l("Keep the text to 918 characters (6 SMS parts)"))],
        widget=GovTextArea())
    category = wtforms.SelectField(
        _l("Category"), choices=[(c, CATEGORY_LABELS[c]) for c in SCHEME_CATEGORIES],
        widget=GovSelect())
    title_cy = wtforms.StringField(_l("Title in Welsh (optional)"),
                                   [Optional(), Length(max=200)], widget=GovTextInput())
    body_cy = wtforms.TextAreaField(_l("Message in Welsh (optional)"),
                                    [Optional(), Length(max=10000)], widget=GovTextArea())
    plain_text_cy = wtforms.TextAreaField(_l("Text message version in Welsh (optional)"),
                                          [Optional(), Length(max=918)], widget=GovTextArea())
    submit = wtforms.SubmitField(_l("Send to the scheme's members"), widget=GovSubmitInput())


class GroupForm(FlaskForm):
    name = wtforms.StringField(
        _l("Group name"), [InputRequired(message=_l("Enter the group's name")),
                           Length(max=200, message=_l("Keep the name to 200 characters"))],
        widget=GovTextInput())
    description = wtforms.TextAreaField(
        _l("Description"),
        [Optional(), Length(max=2000, message=_l("Keep the description to 2,000 characters"))],
        widget=GovTextArea())
    visibility = wtforms.RadioField(
        _l("Who can find it?"), choices=list(VISIBILITY_LABELS.items()), default="public",
        validators=[InputRequired(message=_l("Choose who can find the group"))],
        widget=GovRadioInput())
    organisation = wtforms.SelectField(
        _l("Organisation"), coerce=int,
        validators=[InputRequired(message=_l("Choose the group's organisation"))],
        widget=GovSelect(),
        description=_l("Members who join agree that it can contact them."))
    area = wtforms.SelectField(
        _l("Area it serves"), coerce=int,
        validators=[InputRequired(message=_l("Choose the area the group serves"))],
        widget=GovSelect())
    submit = wtforms.SubmitField(_l("Create the group"), widget=GovSubmitInput())


class InviteEmailForm(FlaskForm):
    email = wtforms.StringField(
        _l("Email address of a registered resident"),
        [InputRequired(message=_l("Enter an email address")),
         Email(message=_l("Enter an email address like name@example.org")),
         Length(max=254)], widget=GovTextInput())
    submit = wtforms.SubmitField(_l("Invite"), widget=GovSubmitInput())


class RoleForm(FlaskForm):
    role = wtforms.SelectField(
        _l("Role"), choices=[*((r, ROLE_LABELS[r]) for r in GROUP_ROLES),
                             ("remove", _l("Remove from the group"))],
        widget=GovSelect())
    submit = wtforms.SubmitField(_l("Change"), widget=GovSubmitInput())


class MailingRolesForm(FlaskForm):
    #: Sent with the form, so that a post without it (no box ticked looks the same as
    #: no form at all) changes nothing.
    shown = wtforms.HiddenField(default="y", validators=[InputRequired()])
    roles = wtforms.SelectMultipleField(
        _l("Who may send documents to the group's mailing list"),
        choices=[(r, ROLE_LABELS[r]) for r in GROUP_ROLES], widget=GovCheckboxesInput())
    submit = wtforms.SubmitField(_l("Save"), widget=GovSubmitInput())


class DocumentForm(FlaskForm):
    title = wtforms.StringField(
        _l("Title"), [Optional(), Length(max=200, message=_l("Keep the title to 200 "
                                                             "characters"))],
        widget=GovTextInput())
    document = FileField(
        _l("File"), validators=[FileRequired(message=_l("Choose a file to upload"))],
        widget=GovFileInput(),
        description=_l("PDF, Word, Excel, PowerPoint, OpenDocument, PNG, JPEG, text or "
                       "CSV."))
    submit = wtforms.SubmitField(_l("Upload"), widget=GovSubmitInput())


class MailDocumentForm(FlaskForm):
    note = wtforms.TextAreaField(
        _l("A note with it (optional)"),
        [Optional(), Length(max=1000, message=_l("Keep the note to 1,000 characters"))],
        widget=GovTextArea())
    submit = wtforms.SubmitField(_l("Send to the mailing list"), widget=GovSubmitInput())

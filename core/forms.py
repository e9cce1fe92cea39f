"""Forms of the core's pages, rendered with GOV.UK Frontend widgets.

The registration and profile forms are built per request, because the enabled plugins
decide which interests and extra fields they offer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from govuk_frontend_wtf import wtforms_widgets as gov
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DecimalField,
    Field,
    Form,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from core.areas import lookup_postcode
from core.extensions import db
from core.members import DEMOGRAPHICS, MemberData
from core.models import ROLES, Organisation
from core.phones import normalise_phone
from core.registry import Registry
from core.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, is_common_password


class _Translated:
    """Puts the texts GOV.UK Frontend would show in English into the page's language."""

    def map_gov_params(self, field: Field, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)  # type: ignore[misc]
        if params.get("errorMessage"):
            params["errorMessage"].setdefault("visuallyHiddenText", _("Error"))
        return params


class GovTextInput(_Translated, gov.GovTextInput):
    """GOV.UK's TextInput with its built-in texts translated."""


class GovTextArea(_Translated, gov.GovTextArea):
    """GOV.UK's TextArea with its built-in texts translated."""


class GovSelect(_Translated, gov.GovSelect):
    """GOV.UK's Select with its built-in texts translated."""


class GovRadioInput(_Translated, gov.GovRadioInput):
    """GOV.UK's RadioInput with its built-in texts translated."""


class GovCheckboxesInput(_Translated, gov.GovCheckboxesInput):
    """GOV.UK's CheckboxesInput with its built-in texts translated."""


class GovCheckboxInput(_Translated, gov.GovCheckboxInput):
    """GOV.UK's CheckboxInput with its built-in texts translated."""


GovSubmitInput = gov.GovSubmitInput


class GovFileInput(_Translated, gov.GovFileInput):
    """GOV.UK's FileUpload with its built-in texts translated."""


class GovPasswordInput(_Translated, gov.GovPasswordInput):
    """GOV.UK's password input with its show/hide texts translated."""

    def map_gov_params(self, field: Field, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)
        params.update(
            showPasswordText=_("Show"),
            hidePasswordText=_("Hide"),
            showPasswordAriaLabelText=_("Show password"),
            hidePasswordAriaLabelText=_("Hide password"),
            passwordShownAnnouncementText=_("Your password is visible"),
            passwordHiddenAnnouncementText=_("Your password is hidden"),
        )
        return params



CHANNEL_LABELS = {
    "email": _l("Email"),
    "sms": _l("Text message (SMS)"),
    "voice": _l("Voice call"),
    "push": _l("App or browser notification"),
}
LANGUAGE_LABELS = [("en", "English"), ("cy", "Cymraeg (Welsh)")]
ROLE_LABELS = {
    "system_admin": _l("System administrator"),
    "force_admin": _l("Force administrator"),
    "supervisor": _l("Supervisor"),
    "officer": _l("Officer"),
    "coordinator": _l("Coordinator (volunteer)"),
}
DEMOGRAPHIC_LABELS = {
    "age_band": (
        _l("Your age (optional)"),
        {
            "under_25": _l("Under 25"),
            "25_44": _l("25 to 44"),
            "45_64": _l("45 to 64"),
            "65_74": _l("65 to 74"),
            "75_plus": _l("75 or over"),
        },
    ),
    "ethnic_group": (
        _l("Your ethnic group (optional)"),
        {
            "asian": _l("Asian or Asian British"),
            "black": _l("Black, Black British, Caribbean or African"),
            "mixed": _l("Mixed or multiple ethnic groups"),
            "white": _l("White"),
            "other": _l("Another ethnic group"),
        },
    ),
}


def check_email(form: Form, field: Field) -> None:
    """Validate and normalise an email address in place."""
    try:
        field.data = validate_email(field.data or "", check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationError(
            _l("Enter an email address in the correct format, like name@example.com")
        ) from None


def check_postcode(form: Form, field: Field) -> None:
    """The postcode must be one we cover."""
    if not field.data or not field.data.strip():
        return
    postcode = lookup_postcode(field.data)
    if postcode is None:
        from core.areas import normalise_postcode

        if normalise_postcode(field.data) is None:
            raise ValidationError(_l("Enter a real postcode, like HF1 1AB"))
        raise ValidationError(
            _l("We do not cover this postcode yet. Check it, or contact your local police.")
        )
    field.data = postcode.postcode


def check_area_code(form: Form, field: Field) -> None:
    """The area code, when given, must be one of the areas the platform knows; the
    field then carries the area as ``field.area``."""
    from core.models import Area

    field.area = None
    if not field.data:
        return
    field.area = db.session.scalar(select(Area).where(Area.code == field.data))
    if field.area is None:
        raise ValidationError(_l("There is no area with this code"))


def area_code_field(label: Any, required: bool = False, description: Any = None) -> Any:
    """An unbound text field for one area code (as on the message page), checked against
    the known areas; for targeting rules' parameter forms."""
    first = (InputRequired(message=_l("Enter an area code")) if required else Optional())
    return StringField(
        label, [first, Length(max=64), check_area_code],
        description=description if description is not None else _l(
            "An area code, as on the message page; areas inside it are included"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v])


def check_phone(form: Form, field: Field) -> None:
    """An optional UK (or +country) phone number, stored in E.164."""
    if not field.data or not field.data.strip():
        field.data = None
        return
    e164 = normalise_phone(field.data)
    if e164 is None:
        raise ValidationError(
            _l("Enter a UK phone number, like 07123 456 789, or an international one "
               "starting with +")
        )
    field.data = e164


def check_not_common(form: Form, field: Field) -> None:
    """Refuse the passwords attackers try first."""
    if field.data and is_common_password(field.data):
        raise ValidationError(
            _l("This is one of the most common passwords. Choose one that is harder to guess")
        )


def _text(label: Any, *validators: Any, **kwargs: Any) -> StringField:
    return StringField(label, validators=list(validators), widget=GovTextInput(), **kwargs)


class ResidentFormBase(FlaskForm):
    """Fields every resident form shares; plugin fields are added per request."""

    name = _text(
        _l("Full name"),
        InputRequired(message=_l("Enter your full name")),
        Length(max=200, message=_l("Name must be 200 characters or fewer")),
    )
    email = _text(
        _l("Email address"),
        InputRequired(message=_l("Enter your email address")),
        check_email,
        Length(max=254),
    )
    address_line = _text(
        _l("First line of address"),
        InputRequired(message=_l("Enter the first line of your address")),
        Length(max=255),
        description=_l("For example, 12 Mill Lane"),
    )
    postcode = _text(
        _l("Postcode"),
        InputRequired(message=_l("Enter your postcode")),
        check_postcode,
        description=_l("We use it to send you alerts for your street, ward and district"),
    )
    phone = _text(
        _l("Phone number (optional)"),
        check_phone,
        description=_l("Needed for text messages and voice calls"),
    )
    channels = SelectMultipleField(
        _l("How should we contact you?"),
        choices=list(CHANNEL_LABELS.items()),
        default=["email"],
        widget=GovCheckboxesInput(),
        validators=[InputRequired(message=_l("Choose at least one way to contact you"))],
    )
    interests = SelectMultipleField(
        _l("What would you like to hear about?"),
        choices=[],
        widget=GovCheckboxesInput(),
        validate_choice=True,
    )
    organisations = SelectMultipleField(
        _l("Who may see your details and contact you?"),
        choices=[],
        coerce=int,
        widget=GovCheckboxesInput(),
        description=_l("You can change this at any time"),
        validators=[InputRequired(message=_l("Choose at least one organisation"))],
    )
    language = RadioField(
        _l("Which language would you like messages in?"),
        choices=LANGUAGE_LABELS,
        default="en",
        widget=GovRadioInput(),
    )
    age_band = RadioField(
        DEMOGRAPHIC_LABELS["age_band"][0],
        choices=list(DEMOGRAPHIC_LABELS["age_band"][1].items()),
        validators=[Optional()],
        widget=GovRadioInput(),
        validate_choice=False,
    )
    ethnic_group = RadioField(
        DEMOGRAPHIC_LABELS["ethnic_group"][0],
        choices=list(DEMOGRAPHIC_LABELS["ethnic_group"][1].items()),
        validators=[Optional()],
        widget=GovRadioInput(),
        validate_choice=False,
    )

    def validate_channels(self, field: Field) -> None:
        """Text and voice need a phone number."""
        if {"sms", "voice"} & set(field.data or []) and not self.phone.data:
            raise ValidationError(_l("Enter a phone number to get text messages or calls"))

    def validate_age_band(self, field: Field) -> None:
        if field.data and field.data not in DEMOGRAPHICS["age_band"]:
            raise ValidationError(_l("Choose an age band from the list"))

    def validate_ethnic_group(self, field: Field) -> None:
        if field.data and field.data not in DEMOGRAPHICS["ethnic_group"]:
            raise ValidationError(_l("Choose an ethnic group from the list"))

    #: Form field name -> qualified plugin field name.
    plugin_field_names: dict[str, str] = {}

    def to_data(self) -> MemberData:
        """The resident's answers as :class:`core.members.MemberData`."""
        return MemberData(
            name=self.name.data,
            email=self.email.data if "email" in self else "",
            address_line=self.address_line.data,
            postcode=self.postcode.data,
            phone=self.phone.data,
            language=self.language.data,
            channels=list(self.channels.data or []),
            interests=list(self.interests.data or []),
            organisation_ids=list(self.organisations.data or []),
            fields={
                qualified: _field_text(self[form_name].data)
                for form_name, qualified in self.plugin_field_names.items()
            },
            demographics={
                k: self[k].data for k in DEMOGRAPHICS if self[k].data
            },
        )

    def fill(self, data: MemberData) -> None:
        """Put a resident's current answers in the form (for the profile page)."""
        for key in ("name", "email", "address_line", "postcode", "language"):
            if key in self:
                self[key].data = getattr(data, key)
        self.phone.data = data.phone or ""
        self.channels.data = data.channels
        self.interests.data = data.interests
        self.organisations.data = data.organisation_ids
        for form_name, qualified in self.plugin_field_names.items():
            if qualified in data.fields:
                value: Any = data.fields[qualified]
                if isinstance(self[form_name], SelectMultipleField):
                    value = [v for v in value.split(",") if v]
                self[form_name].process(None, data=value)
        for k in DEMOGRAPHICS:
            self[k].data = data.demographics.get(k)


def _field_text(value: Any) -> str | None:
    """A plugin field's answer as the text the core stores: several choices are kept
    comma-separated (read them with :func:`core.targeting.member_field_contains`)."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class RegistrationExtras(ResidentFormBase):
    password = PasswordField(
        _l("Create a password"),
        validators=[
            InputRequired(message=_l("Create a password")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l("Password must be between 12 and 128 characters"),
            ),
            check_not_common,
        ],
        widget=GovPasswordInput(),
        description=_l("At least 12 characters. A few words strung together work well."),
    )
    password_confirm = PasswordField(
        _l("Type the password again"),
        validators=[EqualTo("password", message=_l("The passwords do not match"))],
        widget=GovPasswordInput(),
    )
    privacy = BooleanField(
        _l("I have read the privacy notice and agree to my details being kept as it describes"),
        validators=[InputRequired(message=_l("You must agree to the privacy notice to register"))],
        widget=GovCheckboxInput(),
    )
    submit = SubmitField(_l("Register"), widget=GovSubmitInput())


class DoorstepExtras(ResidentFormBase):
    consent_confirmed = BooleanField(
        _l("The resident has been shown the privacy notice and agrees to register"),
        validators=[InputRequired(message=_l("Confirm the resident agrees to register"))],
        widget=GovCheckboxInput(),
    )
    submit = SubmitField(_l("Register resident"), widget=GovSubmitInput())


class ProfileExtras(ResidentFormBase):
    #: The email address changes on its own page, with the password.
    email = None
    submit = SubmitField(_l("Save changes"), widget=GovSubmitInput())


#: The GOV.UK widget for each WTForms field class a plugin may use, most specific first.
_GOV_WIDGETS: list[tuple[type, Callable[[], Any]]] = [
    (BooleanField, GovCheckboxInput),
    (RadioField, GovRadioInput),
    (SelectMultipleField, GovCheckboxesInput),
    (SelectField, GovSelect),
    (TextAreaField, GovTextArea),
    (StringField, GovTextInput),
    (IntegerField, GovTextInput),
    (DecimalField, GovTextInput),
]


def with_govuk_widget(unbound: Any) -> Any:
    """Give a plugin's unbound field the GOV.UK widget for its type, unless it has one."""
    if "widget" not in unbound.kwargs:
        for field_class, widget in _GOV_WIDGETS:
            if issubclass(unbound.field_class, field_class):
                unbound.kwargs["widget"] = widget()
                break
    return unbound


def resident_form(base: type[ResidentFormBase], registry: Registry, **kwargs: Any
                  ) -> ResidentFormBase:
    """A resident form of kind ``base`` carrying the enabled plugins' interests and fields."""
    attrs: dict[str, Any] = {}
    names: dict[str, str] = {}
    for qualified, profile_field in registry.member_fields.items():
        form_name = "field__" + qualified.replace(".", "__")
        attrs[form_name] = with_govuk_widget(profile_field.field())
        names[form_name] = qualified
    attrs["plugin_field_names"] = names
    groups: dict[str | None, list[str]] = {}
    for form_name, qualified in names.items():
        groups.setdefault(registry.member_fields[qualified].watch_type, []).append(form_name)
    attrs["plugin_field_groups"] = [
        (None, None, groups.get(None, [])),
        *((registry.watch_types[w].name, registry.watch_types[w].label, fs)
          for w, fs in groups.items() if w is not None),
    ]
    form_class = type(base.__name__, (base,), attrs)
    form = form_class(**kwargs)
    form.interests.choices = [(w.name, w.label) for w in registry.watch_types.values()]
    form.organisations.choices = [
        (o.id, o.name) for o in db.session.scalars(select(Organisation).order_by(Organisation.name))
    ]
    return form


class SignInForm(FlaskForm):
    email = _text(_l("Email address"), InputRequired(message=_l("Enter your email address")))
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(message=_l("Enter your password"))],
        widget=GovPasswordInput(),
    )
    submit = SubmitField(_l("Sign in"), widget=GovSubmitInput())


class TwoFactorForm(FlaskForm):
    code = _text(
        _l("Code"),
        InputRequired(message=_l("Enter the code from your authenticator app")),
        description=_l("The 6-digit code from your app, or one of your recovery codes"),
    )
    submit = SubmitField(_l("Continue"), widget=GovSubmitInput())


class ForgotPasswordForm(FlaskForm):
    email = _text(_l("Email address"), InputRequired(message=_l("Enter your email address")))
    submit = SubmitField(_l("Send me a link"), widget=GovSubmitInput())


class NewPasswordForm(FlaskForm):
    password = RegistrationExtras.password
    password_confirm = RegistrationExtras.password_confirm
    submit = SubmitField(_l("Save password"), widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[InputRequired(message=_l("Enter your current password"))],
        widget=GovPasswordInput(),
    )
    password = RegistrationExtras.password
    password_confirm = RegistrationExtras.password_confirm
    submit = SubmitField(_l("Change password"), widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""

    submit = SubmitField(_l("Confirm"), widget=GovSubmitInput())


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(message=_l("Enter your password"))],
        widget=GovPasswordInput(),
    )
    submit = SubmitField(_l("Continue"), widget=GovSubmitInput())


class ChangeEmailForm(FlaskForm):
    email = _text(
        _l("New email address"),
        InputRequired(message=_l("Enter your new email address")),
        check_email,
        Length(max=254),
    )
    password = PasswordField(
        _l("Your password"),
        validators=[InputRequired(message=_l("Enter your password"))],
        widget=GovPasswordInput(),
    )
    submit = SubmitField(_l("Change email address"), widget=GovSubmitInput())


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Enter your password to confirm"),
        validators=[InputRequired(message=_l("Enter your password"))],
        widget=GovPasswordInput(),
    )
    submit = SubmitField(_l("Delete my account"), widget=GovSubmitInput())


PRIORITY_LABELS = [
    ("1", _l("Only urgent messages")),
    ("2", _l("Urgent and high priority")),
    ("3", _l("Urgent, high and normal priority")),
    ("4", _l("Everything except the lowest priority")),
    ("5", _l("Everything")),
]


class PreferencesForm(FlaskForm):
    digest_only = BooleanField(
        _l("Send me non-urgent messages once a day, in one email"),
        description=_l("Urgent messages still come straight away"),
        widget=GovCheckboxInput(),
    )
    min_priority = RadioField(
        _l("Which messages do you want?"),
        choices=PRIORITY_LABELS,
        widget=GovRadioInput(),
        validators=[InputRequired(message=_l("Choose which messages you want"))],
    )
    submit = SubmitField(_l("Save preferences"), widget=GovSubmitInput())


class StaffAccountForm(FlaskForm):
    name = _text(_l("Name"), InputRequired(message=_l("Enter a name")), Length(max=200))
    email = _text(
        _l("Email address"), InputRequired(message=_l("Enter an email address")), check_email
    )
    role = SelectField(
        _l("Role"), choices=[(r, ROLE_LABELS[r]) for r in ROLES], widget=GovSelect()
    )
    area_codes = TextAreaField(
        _l("Areas"),
        validators=[InputRequired(message=_l("Enter at least one area code"))],
        widget=GovTextArea(),
        description=_l("Area codes, one per line. The account works in these areas and "
                       "every area inside them."),
    )
    active = BooleanField(_l("Account is active"), default=True, widget=GovCheckboxInput())
    submit = SubmitField(_l("Save account"), widget=GovSubmitInput())


class MemberSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = _text(_l("Search by name, email or postcode"), Length(max=100))

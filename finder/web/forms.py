"""Staff forms (Flask-WTF, CSRF-protected) with messages in the user's language."""

from __future__ import annotations

from decimal import Decimal

from babel.dates import get_day_names
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from .. import taxonomy
from ..accounts import MIN_PASSWORD_LENGTH
from ..text import one_line

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
NUMBER_PAD = {"inputmode": "numeric", "pattern": "[0-9]*"}


def _one_line(value: str | None) -> str | None:
    """A single-line field's value on one line, trimmed: phones often add a space after an
    address picked from autocomplete, and a raw POST can put a line break in a title that would
    end a mail's subject header. Multi-line fields (TextAreaField) keep their lines."""
    return one_line(value).strip() if isinstance(value, str) else value


class NumberField(DecimalField):  # type: ignore[misc]
    """A decimal number as people type it (2.50 or 2,50); never NaN or infinity, which Decimal
    reads from "NaN", "sNaN" or "Infinity" and which no comparison or database can hold."""

    data: Decimal | None

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and valuelist[0].strip():
            valuelist = [valuelist[0].strip().replace(",", ".", 1)]
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(_l("Type a number, for example 2.50."))


def _email_field(label: str) -> EmailField:
    return EmailField(
        label,
        filters=[_one_line],
        validators=[
            DataRequired(message=_l("Type your e-mail address.")),
            Length(max=254, message=_l("This e-mail address is too long.")),
            Regexp(
                EMAIL_PATTERN,
                message=_l("This is not an e-mail address, for example name@example.be."),
            ),
        ],
    )


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = _email_field(_l("E-mail address"))
    password = PasswordField(
        _l("Password"), validators=[DataRequired(message=_l("Type your password."))]
    )


class ResetRequestForm(FlaskForm):  # type: ignore[misc]
    email = _email_field(_l("E-mail address"))


class SetPasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(message=_l("Choose a password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("Use at least %(min)d characters.", min=MIN_PASSWORD_LENGTH),
            ),
        ],
    )
    confirm = PasswordField(
        _l("Type the same password again"),
        validators=[EqualTo("password", message=_l("The two passwords are not the same."))],
    )


class InviteForm(FlaskForm):  # type: ignore[misc]
    email = _email_field(_l("E-mail address"))
    display_name = StringField(
        _l("Name"),
        filters=[_one_line],
        validators=[
            DataRequired(message=_l("Type the person's name.")),
            Length(max=100, message=_l("Use at most %(max)d characters.", max=100)),
        ],
    )
    role = SelectField(_l("Role"), validators=[DataRequired()])
    organisation_id = SelectField(_l("Organisation"), coerce=int, validators=[Optional()])
    locale = SelectField(_l("Language of the mails"))


class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    """Checkboxes for a multiple choice: usable on a phone, unlike a multiple <select>."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


WEEKDAY_LABELS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


def _weekday_choices() -> list[tuple[str, str]]:
    names = get_day_names("wide", locale=str(get_locale()))
    return [(code, names[i]) for code, i in WEEKDAY_LABELS.items()]


class ActivityForm(FlaskForm):  # type: ignore[misc]
    """Every field of an activity, in the order an organiser thinks of them."""

    title = StringField(
        _l("Name of the activity"),
        filters=[_one_line],
        validators=[
            DataRequired(message=_l("Give the activity a name.")),
            Length(max=200, message=_l("Use at most %(max)d characters.", max=200)),
        ],
    )
    summary = StringField(
        _l("In one sentence: what happens?"),
        filters=[_one_line],
        validators=[Length(max=500, message=_l("Use at most %(max)d characters.", max=500))],
    )
    description = TextAreaField(
        _l("More about the activity"),
        validators=[Length(max=5000, message=_l("Use at most %(max)d characters.", max=5000))],
    )
    category = SelectField(_l("Kind of activity"))
    welcome_instructions = TextAreaField(
        _l("When a family arrives"),
        validators=[Length(max=1000, message=_l("Use at most %(max)d characters.", max=1000))],
    )
    street = StringField(
        _l("Street and number"),
        filters=[_one_line],
        validators=[Length(max=200, message=_l("Use at most %(max)d characters.", max=200))],
    )
    postcode = StringField(
        _l("Postcode"),
        filters=[_one_line],
        validators=[
            DataRequired(message=_l("Type the postcode.")),
            Regexp(r"^\d{4}$", message=_l("A Belgian postcode has 4 digits.")),
        ],
    )
    lat = NumberField(_l("Latitude (optional)"), places=None, validators=[Optional()])
    lon = NumberField(_l("Longitude (optional)"), places=None, validators=[Optional()])
    repeat = RadioField(_l("How often?"))
    weekdays = MultiCheckboxField(_l("On which days?"))
    week_of_month = SelectField(_l("Which week of the month?"), coerce=int)
    monthly_day = SelectField(_l("Which day?"))
    first_date = DateField(
        _l("First date"), validators=[DataRequired(message=_l("Choose the first date."))]
    )
    until = DateField(_l("Last date (optional)"), validators=[Optional()])
    start_time = TimeField(
        _l("From"), validators=[DataRequired(message=_l("Choose the start time."))]
    )
    end_time = TimeField(_l("Until"), validators=[DataRequired(message=_l("Choose the end time."))])
    exceptions = TextAreaField(_l("Not on these dates (optional)"))
    skip_school_holidays = BooleanField(_l("Not during school holidays"))
    cost_type = RadioField(_l("What does it cost?"))
    cost_amount = NumberField(_l("Price in euro"), places=2, validators=[Optional()])
    cost_note = StringField(
        _l("Anything else people might pay for?"),
        filters=[_one_line],
        validators=[Length(max=300, message=_l("Use at most %(max)d characters.", max=300))],
    )
    tags = MultiCheckboxField(_l("What is true for this activity?"))
    languages = MultiCheckboxField(_l("Languages spoken at the activity"))
    professional_contact = StringField(
        _l("Contact for social workers"),
        filters=[_one_line],
        validators=[Length(max=300, message=_l("Use at most %(max)d characters.", max=300))],
    )
    referral_capacity = IntegerField(
        _l("Families referred per session"),
        validators=[NumberRange(min=0, max=50, message=_l("Choose a number from 0 to 50."))],
        default=2,
    )

    def fill_choices(self) -> None:
        self.category.choices = [(c.slug, _l(c.label)) for c in taxonomy.CATEGORIES]
        self.repeat.choices = [
            ("weekly", _l("Every week")),
            ("fortnightly", _l("Every other week")),
            ("monthly", _l("Once a month")),
            ("once", _l("Once")),
        ]
        self.weekdays.choices = _weekday_choices()
        self.monthly_day.choices = _weekday_choices()
        self.week_of_month.choices = [
            (1, _l("the first")),
            (2, _l("the second")),
            (3, _l("the third")),
            (4, _l("the fourth")),
            (-1, _l("the last")),
        ]
        self.cost_type.choices = [(k, _l(v)) for k, v in taxonomy.COST_TYPES.items()]
        self.tags.choices = [
            (t.slug, _l(t.label))
            for t in taxonomy.TAGS
            if t.group != "cost" or t.slug == "social_tariff"
        ]
        self.languages.choices = list(taxonomy.LANGUAGES.items())


class OrganisationForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _l("Name of the organisation"),
        filters=[_one_line],
        validators=[
            DataRequired(message=_l("Type the name.")),
            Length(max=200, message=_l("Use at most %(max)d characters.", max=200)),
        ],
    )
    kind = SelectField(_l("Kind of organisation"))
    street = StringField(
        _l("Street and number"),
        filters=[_one_line],
        validators=[Length(max=200, message=_l("Use at most %(max)d characters.", max=200))],
    )
    postcode = StringField(
        _l("Postcode"),
        filters=[_one_line],
        validators=[Optional(), Regexp(r"^\d{4}$", message=_l("A Belgian postcode has 4 digits."))],
    )
    contact_email = EmailField(
        _l("E-mail address"),
        filters=[_one_line],
        validators=[
            Optional(),
            Length(max=254, message=_l("This e-mail address is too long.")),
            Regexp(
                EMAIL_PATTERN,
                message=_l("This is not an e-mail address, for example name@example.be."),
            ),
        ],
    )
    contact_phone = TelField(
        _l("Phone"),
        filters=[_one_line],
        validators=[Length(max=40, message=_l("Use at most %(max)d characters.", max=40))],
    )
    website = StringField(
        _l("Website"),
        filters=[_one_line],
        validators=[Length(max=300, message=_l("Use at most %(max)d characters.", max=300))],
    )


class HolidayForm(FlaskForm):  # type: ignore[misc]
    name = StringField(
        _l("Name"),
        filters=[_one_line],
        validators=[
            DataRequired(message=_l("Type the name.")),
            Length(max=100, message=_l("Use at most %(max)d characters.", max=100)),
        ],
    )
    starts_on = DateField(
        _l("First day"), validators=[DataRequired(message=_l("Choose the first date."))]
    )
    ends_on = DateField(
        _l("Last day"), validators=[DataRequired(message=_l("Choose the last day."))]
    )


class FamilyForm(FlaskForm):  # type: ignore[misc]
    """What a family tells when asking someone to come along (and a professional for them).
    The rules in finder.accompaniment check it; these fields only carry what was typed."""

    session = RadioField(_l("Which day?"), validate_choice=False)
    name = StringField(_l("Your first name or a nickname"), filters=[_one_line])
    channel = RadioField(_l("How can we reach you?"), validate_choice=False)
    contact = StringField(_l("Phone number or e-mail address"), filters=[_one_line])
    language = SelectField(_l("Which language do you speak best?"), validate_choice=False)
    # Numbers: a phone shows its number pad (a text field still, so "2 " or "twee" gets a
    # message in words rather than the browser's own).
    adults = StringField(_l("Adults"), filters=[_one_line], default="1", render_kw=NUMBER_PAD)
    children = StringField(
        _l("Children"), filters=[_one_line], default="0", render_kw=NUMBER_PAD
    )
    note = TextAreaField(_l("Anything we should know? (optional)"))
    consent = BooleanField(_l("I agree"))
    # A field people do not see: a robot that fills it in is turned away.
    website = StringField(_l("Leave this empty"), filters=[_one_line])

    def fill_choices(self, sessions: list[tuple[str, str]]) -> None:
        self.session.choices = [*sessions, ("any", _l("Any of the next times"))]
        self.channel.choices = [
            ("phone", _l("Phone call")),
            ("sms", _l("Text message (SMS)")),
            ("whatsapp", _l("WhatsApp")),
            ("email", _l("E-mail")),
        ]
        self.language.choices = [("", _l("Choose")), *list(taxonomy.LANGUAGES.items())]


class ReferralForm(FamilyForm):
    """A professional's "go together" referral: the family fields plus who goes along."""

    name = StringField(_l("First name or nickname of the family"), filters=[_one_line])
    channel = RadioField(_l("How can the family be reached? (optional)"), validate_choice=False)
    contact = StringField(_l("Phone number or e-mail address of the family"), filters=[_one_line])
    language = SelectField(_l("Language the family speaks best"), validate_choice=False)
    locale = SelectField(_l("Language of the slip and the family's page"), validate_choice=False)
    mode = RadioField(_l("Who goes along?"), validate_choice=False)
    note = TextAreaField(_l("Note for whoever goes along (optional)"))
    share_note = TextAreaField(_l("What the family wants the organiser to know (optional)"))
    bring = StringField(_l("What to bring (optional)"), filters=[_one_line])
    consent = BooleanField(_l("The family agreed that Meegaan keeps these details"))

    def fill_referral_choices(
        self, sessions: list[tuple[str, str]], locales: list[tuple[str, str]]
    ) -> None:
        self.fill_choices(sessions)
        self.locale.choices = locales
        self.mode.choices = [
            ("professional", _l("I go along myself")),
            ("buddy", _l("A buddy goes along (the coordinator finds one)")),
            ("welcomer", _l("A welcomer of the organiser receives them")),
        ]


class ConfirmRequestForm(FlaskForm):  # type: ignore[misc]
    session = SelectField(_l("Which session?"), validate_choice=False)
    welcomer = StringField(_l("Who receives the family?"), filters=[_one_line])
    meeting_point = StringField(_l("Where do they meet? (optional)"), filters=[_one_line])


class BuddyProfileForm(FlaskForm):  # type: ignore[misc]
    languages = MultiCheckboxField(_l("Languages you speak"))
    postcode = StringField(
        _l("Postcode where you live"),
        filters=[_one_line],
        validators=[
            DataRequired(message=_l("Type the postcode.")),
            Regexp(r"^\d{4}$", message=_l("A Belgian postcode has 4 digits.")),
        ],
    )
    radius_km = IntegerField(
        _l("How far do you travel? (km)"),
        validators=[NumberRange(min=1, max=100, message=_l("Choose a number from 1 to 100."))],
        default=10,
    )
    availability = MultiCheckboxField(_l("When are you usually free?"))
    max_open = IntegerField(
        _l("How many families at the same time?"),
        validators=[NumberRange(min=1, max=10, message=_l("Choose a number from 1 to 10."))],
        default=2,
    )
    active = BooleanField(_l("I can take new requests"))

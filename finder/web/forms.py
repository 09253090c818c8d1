"""Staff forms (Flask-WTF, CSRF-protected) with messages in the user's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from ..accounts import MIN_PASSWORD_LENGTH

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _strip(value: str | None) -> str | None:
    """Phones often add a space after an address picked from autocomplete."""
    return value.strip() if isinstance(value, str) else value


def _email_field(label: str) -> EmailField:
    return EmailField(
        label,
        filters=[_strip],
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
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Type the person's name.")),
            Length(max=100, message=_l("Use at most %(max)d characters.", max=100)),
        ],
    )
    role = SelectField(_l("Role"), validators=[DataRequired()])
    organisation_id = SelectField(_l("Organisation"), coerce=int, validators=[Optional()])
    locale = SelectField(_l("Language of the mails"))

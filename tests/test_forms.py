"""forms.py: a single-line field never keeps a line break (a title ends up in a mail's subject
header, a name on a slip); a multi-line field keeps its lines."""

from __future__ import annotations

import inspect

from flask import Flask
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import PasswordField, StringField, TextAreaField

from finder.web import forms

# Every way to end a line: CR LF, LF, CR, vertical tab, form feed, NEL, U+2028, U+2029.
BROKEN = "Koffie\r\nBcc: evil@example.be\nb\rc\x0bd\x0ce\x85f\u2028g\u2029h"


def _forms() -> list[type[FlaskForm]]:
    return [
        cls
        for _, cls in inspect.getmembers(forms, inspect.isclass)
        if issubclass(cls, FlaskForm) and cls.__module__ == forms.__name__
    ]


def test_every_single_line_field_turns_line_breaks_into_spaces(app: Flask) -> None:
    """Derived from the forms themselves: a new StringField without the filter fails here."""
    checked = []
    with app.test_request_context():
        for cls in _forms():
            for field in cls(formdata=None, meta={"csrf": False}):
                if not isinstance(field, StringField) or isinstance(
                    field, TextAreaField | PasswordField
                ):
                    continue  # passwords are taken as typed; text areas keep their lines
                form = cls(formdata=MultiDict({field.name: BROKEN}), meta={"csrf": False})
                value = form[field.name].data
                assert value == "Koffie Bcc: evil@example.be b c d e f g h", (cls, field.name)
                checked.append(f"{cls.__name__}.{field.name}")
    assert "ActivityForm.title" in checked and "ReferralForm.bring" in checked
    assert "FamilyForm.name" in checked and "ConfirmRequestForm.meeting_point" in checked
    assert len(checked) > 25


def test_multi_line_fields_keep_their_lines(app: Flask) -> None:
    with app.test_request_context():
        form = forms.ActivityForm(
            formdata=MultiDict({"description": "Eerste lijn.\r\nTweede lijn."}),
            meta={"csrf": False},
        )
        assert form.description.data.splitlines() == ["Eerste lijn.", "Tweede lijn."]

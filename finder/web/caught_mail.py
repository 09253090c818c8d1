"""On a developer's machine only (`make run`): the mail the outbox sent, as the local mail
server (scripts/devmail.py) kept it in the instance folder, readable at /manage/mail by an
admin. Never registered in production, where mail leaves for real."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template

from .decorators import roles_required

bp = Blueprint("caught_mail", __name__, url_prefix="/manage/mail")
SHOWN = 200  # the newest; older files stay in the folder


@dataclass(frozen=True)
class CaughtMail:
    name: str
    to: str
    subject: str
    date: str
    language: str
    text: str


def folder() -> Path:
    return Path(current_app.instance_path) / "mail"


def _read(path: Path) -> CaughtMail:
    message = message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    return CaughtMail(
        name=path.name,
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        date=str(message.get("Date", "")),
        language=str(message.get("Content-Language", "")),
        text=body.get_content() if body is not None else "",
    )


def _files() -> list[Path]:
    found = folder()
    return sorted(found.glob("*.eml"), reverse=True)[:SHOWN] if found.is_dir() else []


@bp.get("/")
@roles_required("admin")
def index() -> str:
    return render_template(
        "manage/caught_mail.html", mails=[_read(p) for p in _files()], folder=folder()
    )


@bp.get("/<name>")
@roles_required("admin")
def show(name: str) -> str:
    path = folder() / name
    if path not in _files():  # only a file of the list: never a path of the visitor's own
        abort(404)
    mails = [_read(path)]
    return render_template("manage/caught_mail.html", mails=mails, folder=folder(), one=True)

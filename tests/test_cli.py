"""Commands: setup (demo data, demo accounts only in development) and the outbox worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from finder import create_app
from finder.models import Activity, Outbox, User
from finder.notify import queue_mail

from .conftest import NOW, SmtpServer


@pytest.mark.parametrize("development", [True, False])
def test_setup_loads_demo_data_and_demo_accounts_only_in_development(
    tmp_path: Path, development: bool
) -> None:
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "DEMO_ACCOUNTS": development}
    )
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "loaded 162 demo activities" in result.output
    assert ("admin@meegaan.example" in result.output) is development
    database = app.extensions["meegaan_db"]
    with database.session() as s:
        assert s.scalar(select(func.count(Activity.id))) == 162
        assert (s.scalar(select(func.count(User.id))) == 5) is development
    again = app.test_cli_runner().invoke(args=["setup"])
    assert again.exit_code == 0 and "loaded" not in again.output  # a second run changes nothing


def test_outbox_send_command_delivers_over_smtp(app: Flask, db: Session, smtp: SmtpServer) -> None:
    queue_mail(db, "a@example.be", "fr", "reset", NOW, name="A", link="http://x/", expires="demain")
    db.flush()
    runner = app.test_cli_runner()
    app.config.update(SMTP_PORT=smtp.port)
    try:
        result = runner.invoke(args=["outbox-send"])
    finally:
        app.config.update(SMTP_PORT=25)
    assert result.exit_code == 0, result.output
    assert "sent 1 e-mail(s)" in result.output
    assert smtp.messages()[0]["Subject"] == "Choisissez un nouveau mot de passe pour Meegaan"
    assert db.scalar(select(Outbox.status)) == "sent"

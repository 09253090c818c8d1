"""notify.py: mails in the recipient's language, the outbox, and sending over real SMTP."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.models import Outbox
from finder.notify import BACKOFF_MINUTES, SmtpSettings, queue_mail, send_due

from .conftest import NOW, SmtpServer

CONTEXT = {"name": "Fatima", "link": "http://localhost/reset/abc", "expires": "2 december"}


def _settings(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender="Meegaan <noreply@meegaan.test>")


def test_mail_is_sent_as_text_and_html_in_the_recipients_language(
    db: Session, smtp: SmtpServer
) -> None:
    queue_mail(db, "fatima@example.be", "ar", "reset", NOW, **CONTEXT)
    queue_mail(db, "els@example.be", "nl", "reset", NOW, **CONTEXT)
    db.flush()
    assert send_due(db, _settings(smtp.port), NOW) == 2
    arabic, dutch = smtp.messages()
    assert arabic["To"] == "fatima@example.be" and arabic["Content-Language"] == "ar"
    assert dutch["Subject"] == "Kies een nieuw wachtwoord voor Meegaan"
    assert arabic["Subject"] != dutch["Subject"]
    text = dutch.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = dutch.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Hallo Fatima," in text and "http://localhost/reset/abc" in text
    assert 'href="http://localhost/reset/abc"' in html and '<html lang="nl" dir="ltr">' in html
    assert '<html lang="ar" dir="rtl">' in arabic.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    statuses = db.scalars(select(Outbox.status)).all()
    assert statuses == ["sent", "sent"]
    assert send_due(db, _settings(smtp.port), NOW + timedelta(hours=1)) == 0  # never twice
    assert len(smtp.received) == 2


def test_html_mail_escapes_what_people_typed(db: Session, smtp: SmtpServer) -> None:
    queue_mail(db, "x@example.be", "en", "reset", NOW, **{**CONTEXT, "name": "<b>Bob</b>"})
    db.flush()
    send_due(db, _settings(smtp.port), NOW)
    html = smtp.messages()[0].get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;b&gt;Bob&lt;/b&gt;" in html and "<b>Bob</b>" not in html


def test_unreachable_server_is_retried_with_backoff_then_given_up(db: Session) -> None:
    mail = queue_mail(db, "x@example.be", "nl", "reset", NOW, **CONTEXT)
    db.flush()
    closed = _settings(1)  # nothing listens on port 1
    moment = NOW
    for attempt, wait in enumerate(BACKOFF_MINUTES, start=1):
        assert send_due(db, closed, moment) == 0
        assert mail.attempts == attempt and mail.status == "pending"
        assert mail.next_attempt_at == moment + timedelta(minutes=wait)
        assert send_due(db, closed, moment + timedelta(minutes=wait) - timedelta(seconds=1)) == 0
        assert mail.attempts == attempt  # not due yet: not tried
        moment += timedelta(minutes=wait)
    send_due(db, closed, moment)
    assert mail.status == "failed" and "connect" in (mail.last_error or "")


def test_mail_of_a_rolled_back_change_is_never_sent(db: Session, smtp: SmtpServer) -> None:
    nested = db.begin_nested()
    queue_mail(db, "x@example.be", "nl", "reset", NOW, **CONTEXT)
    nested.rollback()
    assert send_due(db, _settings(smtp.port), NOW) == 0 and smtp.received == []


def test_two_workers_on_postgresql_send_every_mail_exactly_once(smtp: SmtpServer) -> None:
    """Two outbox workers at once on one PostgreSQL outbox (FOR UPDATE SKIP LOCKED): every
    mail leaves once, none twice, none left behind."""
    import threading

    from finder.db import Database, scratch_postgres_database, upgrade
    from finder.notify import SmtpSettings, queue_mail, send_due

    from .conftest import POSTGRES_URL

    with scratch_postgres_database(POSTGRES_URL, "meegaan_outbox") as url:
        upgrade(url)
        database = Database(url)
        with database.session() as s:
            for i in range(120):
                queue_mail(
                    s,
                    f"p{i}@example.be",
                    "nl",
                    "reset",
                    NOW,
                    name=f"P{i}",
                    link="http://x/",
                    expires="morgen",
                )
            s.commit()
        settings = SmtpSettings("127.0.0.1", smtp.port, "noreply@meegaan.test")
        sent = [0, 0]
        start = threading.Barrier(2)

        def worker(i: int) -> None:
            with database.session() as s:
                start.wait()
                while n := send_due(s, settings, NOW, batch=10):
                    sent[i] += n

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        with database.session() as s:
            statuses = s.scalars(select(Outbox.status)).all()
        database.engine.dispose()
    recipients = [m["To"] for m in smtp.messages()]
    assert sorted(recipients) == sorted(f"p{i}@example.be" for i in range(120))
    assert len(set(recipients)) == 120 and sum(sent) == 120
    assert all(sent), sent  # both workers did part of the work
    assert set(statuses) == {"sent"}


def test_no_write_lock_is_held_while_smtp_talks_on_sqlite(tmp_path: Path) -> None:
    """outbox-send writes (its transactions take SQLite's write lock at BEGIN), but a request
    that writes while a mail is on its way, however slow the mail server, is not kept waiting."""
    import sqlite3

    from aiosmtpd.controller import Controller

    from finder import create_app
    from finder.db import upgrade

    path = tmp_path / "outbox.sqlite"
    upgrade(f"sqlite:///{path}")
    others: list[str] = []

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, _envelope: Any) -> str:
            other = sqlite3.connect(path, timeout=0, isolation_level=None)  # a request, writing
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                others.append("written")
            except sqlite3.OperationalError as exc:
                others.append(str(exc))
            finally:
                other.close()
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SMTP_PORT": port, "NOW": NOW}
    )
    database = app.extensions["meegaan_db"]
    try:
        with database.session() as s:
            for who in ("fatima", "els"):
                queue_mail(s, f"{who}@example.be", "nl", "reset", NOW, **CONTEXT)
            s.commit()
        result = app.test_cli_runner().invoke(args=["outbox-send"])
        assert "sent 2 e-mail(s)" in result.output, result.output
    finally:
        controller.stop()
        database.engine.dispose()
    assert others == ["written", "written"]

"""notify.py: mails in the recipient's language, the outbox, and sending over real SMTP."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.models import Outbox
from finder.notify import BACKOFF_MINUTES, SmtpSettings, queue_mail, send_due

from .conftest import NOW, AuthActions, SmtpServer, csrf_token

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


def test_the_subject_never_carries_a_line_break() -> None:
    """Whatever a title holds (a raw POST, an old row, an import), the subject stays one line."""
    from finder.notify import render

    for breaks in ("\r\n", "\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"):
        subject, _text, _html = render(
            "family_report", "nl", title=f"Koffie{breaks}Bcc: evil@example.be"
        )
        assert subject.splitlines() == [subject] and "\r" not in subject and "\n" not in subject
        assert "Koffie Bcc: evil@example.be" in subject


def test_a_mail_that_cannot_be_built_is_failed_and_never_holds_up_the_others(
    db: Session, smtp: SmtpServer
) -> None:
    """A subject with a line break written into the outbox (before the input was cleaned, or
    by hand), and a row the data key cannot open, are the oldest: every other mail still goes
    out, and each bad one is marked failed with its reason."""
    from sqlalchemy import text

    poisoned = Outbox(
        to_address="x@example.be",
        locale="nl",
        subject="Koffie\r\nBcc: evil@example.be",
        body_text="x",
        body_html="<p>x</p>",
        status="pending",
        attempts=0,
        next_attempt_at=NOW,
        created_at=NOW,
    )
    db.add(poisoned)
    db.flush()
    db.execute(
        text(
            "INSERT INTO outbox (to_address, locale, subject, body_text, body_html, status,"
            " attempts, next_attempt_at, created_at)"
            " VALUES ('y@example.be', 'nl', 'not encrypted', 'x', 'x', 'pending', 0, :now, :now)"
        ),
        {"now": NOW},
    )
    for i in range(100):
        queue_mail(db, f"p{i}@example.be", "nl", "reset", NOW, **{**CONTEXT, "name": f"P{i}"})
    db.flush()
    sent = 0
    while n := send_due(db, _settings(smtp.port), NOW):
        sent += n
    assert sent == 100
    recipients = [m["To"] for m in smtp.messages()]
    assert sorted(recipients) == sorted(f"p{i}@example.be" for i in range(100))
    assert all("Bcc" not in m and m["Bcc"] is None for m in smtp.messages())
    rows = db.execute(
        text("SELECT status, last_error, attempts FROM outbox ORDER BY id LIMIT 2")
    ).all()
    assert [r.status for r in rows] == ["failed", "failed"]
    assert (
        "cannot build" in rows[0].last_error and "linefeed or carriage return" in rows[0].last_error
    )
    assert "cannot decrypt" in rows[1].last_error
    assert (
        db.scalars(select(Outbox.status).where(Outbox.id > poisoned.id + 1)).all() == ["sent"] * 100
    )
    assert send_due(db, _settings(smtp.port), NOW + timedelta(days=1)) == 0  # not tried again


def test_the_outbox_holds_no_plaintext_and_a_delivered_mail_loses_its_bodies(
    db: Session, smtp: SmtpServer
) -> None:
    from sqlalchemy import text

    link = "http://localhost/reset/s3cr3t-t0ken"
    queue_mail(db, "fatima@example.be", "nl", "reset", NOW, **{**CONTEXT, "link": link})
    db.flush()
    raw = " ".join(str(v) for v in db.execute(text("SELECT * FROM outbox")).one())
    for plain in ("fatima@", "Fatima", "s3cr3t-t0ken", "wachtwoord"):
        assert plain not in raw
    assert send_due(db, _settings(smtp.port), NOW) == 1
    (message,) = smtp.messages()
    assert message["To"] == "fatima@example.be"
    assert message["Subject"] == "Kies een nieuw wachtwoord voor Meegaan"
    text_body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hallo Fatima," in text_body and link in text_body
    row = db.execute(text("SELECT status, body_text, body_html, to_address FROM outbox")).one()
    assert row.status == "sent" and row.body_text is None and row.body_html is None
    assert "fatima" not in row.to_address
    db.expire_all()
    mail = db.scalars(select(Outbox)).one()
    assert mail.to_address == "fatima@example.be" and mail.body_text is None


def test_failed_mails_are_retried_on_demand_and_delivered(db: Session, smtp: SmtpServer) -> None:
    """After an outage longer than the backoff (about 17 hours), `retry_failed` puts them back:
    due now, a fresh set of attempts, sent by the next round."""
    from finder.notify import retry_failed

    mail = queue_mail(db, "x@example.be", "nl", "reset", NOW, **CONTEXT)
    db.flush()
    moment = NOW
    for wait in (*BACKOFF_MINUTES, 0):
        send_due(db, _settings(1), moment)
        moment += timedelta(minutes=wait)
    assert mail.status == "failed" and mail.attempts == len(BACKOFF_MINUTES) + 1
    assert send_due(db, _settings(smtp.port), moment + timedelta(days=30)) == 0  # never again
    later = moment + timedelta(days=1)
    assert retry_failed(db, later) == 1
    assert (mail.status, mail.attempts, mail.next_attempt_at) == ("pending", 0, later)
    assert send_due(db, _settings(smtp.port), later) == 1
    assert [m["To"] for m in smtp.messages()] == ["x@example.be"] and mail.status == "sent"
    assert retry_failed(db, later) == 0


def test_the_dashboard_says_why_mails_failed_and_only_an_admin_sends_them_again(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    staff: dict[str, Any],
    db: Session,
    smtp: SmtpServer,
) -> None:
    """The admin sees each failed mail's reason, attempts and time, a staff member's address
    but never a family's (masked) nor any body; the button needs an admin and a CSRF token."""
    staff_mail = queue_mail(db, "organiser@example.be", "nl", "reset", NOW, **CONTEXT)
    family_mail = queue_mail(
        db, "fatima@example.be", "nl", "reset", NOW, **{**CONTEXT, "link": "http://x/r/s3cr3t"}
    )
    for mail, error in [(staff_mail, "connect: refused"), (family_mail, "550 <recipient> unknown")]:
        mail.status, mail.attempts, mail.last_error = "failed", 7, error
        mail.last_attempt_at = NOW - timedelta(hours=17)
    db.flush()
    auth.login("admin@example.be")
    page = client.get("/manage/?lang=en").get_data(as_text=True)
    assert "E-mails that could not be sent" in page
    assert "organiser@example.be" in page and "connect: refused" in page
    assert "f•••@e•••.be" in page and "550 &lt;recipient&gt; unknown" in page
    assert "fatima" not in page.lower() and "s3cr3t" not in page and "Hallo" not in page
    # Without a CSRF token: refused, nothing changes.
    assert client.post("/manage/outbox/retry").status_code == 400
    assert family_mail.status == "failed"
    # Anyone but an admin: refused.
    auth.logout()
    for role in ("coordinator", "organiser", "professional", "buddy"):
        auth.login(f"{role}@example.be")
        token = csrf_token(client, "/manage/")
        assert "E-mails that could not be sent" not in client.get("/manage/").get_data(as_text=True)
        assert client.post("/manage/outbox/retry", data={"csrf_token": token}).status_code == 403
        auth.logout()
    db.expire_all()
    assert {staff_mail.status, family_mail.status} == {"failed"} and smtp.received == []
    auth.login("admin@example.be")
    token = csrf_token(client, "/manage/")
    app.config.update(SMTP_PORT=smtp.port)
    try:
        answer = client.post("/manage/outbox/retry?lang=en", data={"csrf_token": token})
    finally:
        app.config.update(SMTP_PORT=25)
    assert answer.status_code == 302
    assert sorted(m["To"] for m in smtp.messages()) == ["fatima@example.be", "organiser@example.be"]
    db.expire_all()
    assert (staff_mail.status, family_mail.status) == ("sent", "sent")
    page = client.get("/manage/?lang=en").get_data(as_text=True)
    assert "2 e-mails went back in the queue." in page and "2 e-mails sent." in page
    assert "E-mails that could not be sent" not in page


def test_a_mail_the_server_refuses_for_good_is_failed_at_once_and_the_others_go_on(
    db: Session,
) -> None:
    """A real server that refuses one recipient for good (550) and another for now (450): the
    first is failed at once with the server's reason (its address taken out: admins read it),
    the second waits for its retry, the third is delivered."""
    import socket

    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Handler:
        async def handle_RCPT(
            self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
        ) -> str:
            if address == "gone@example.be":
                return "550 5.1.1 <gone@example.be>: no such user"
            if address == "busy@example.be":
                return "450 4.2.1 <busy@example.be>: mailbox busy"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        gone, busy, fine = (
            queue_mail(db, f"{who}@example.be", "nl", "reset", NOW, **CONTEXT)
            for who in ("gone", "busy", "fine")
        )
        db.flush()
        assert send_due(db, _settings(port), NOW) == 1
    finally:
        controller.stop()
    assert [e.rcpt_tos for e in received] == [["fine@example.be"]]
    db.expire_all()
    assert (gone.status, gone.attempts) == ("failed", 1)
    assert "550" in (gone.last_error or "") and "no such user" in (gone.last_error or "")
    assert "gone@example.be" not in (gone.last_error or "") and "<recipient>" in (
        gone.last_error or ""
    )
    assert (busy.status, busy.attempts) == ("pending", 1)
    assert busy.next_attempt_at == NOW + timedelta(minutes=BACKOFF_MINUTES[0])
    assert fine.status == "sent"


def test_a_server_that_refuses_the_sign_in_is_retried_like_one_that_is_down(
    db: Session, smtp: SmtpServer
) -> None:
    """STARTTLS or the login failing is the server's problem, not the mails': the worker does
    not crash (every run would claim them again), each mail waits for its next attempt."""
    mail = queue_mail(db, "x@example.be", "nl", "reset", NOW, **CONTEXT)
    db.flush()
    without_tls = SmtpSettings("127.0.0.1", smtp.port, "noreply@meegaan.test", starttls=True)
    assert send_due(db, without_tls, NOW) == 0  # the test server offers no STARTTLS
    assert (mail.status, mail.attempts) == ("pending", 1)
    assert (mail.last_error or "").startswith("sign-in: ")
    assert mail.next_attempt_at == NOW + timedelta(minutes=BACKOFF_MINUTES[0])
    assert smtp.received == []


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


def test_the_dashboard_counts_mails_still_being_retried(
    app: Flask, db: Session, staff: dict[str, Any]
) -> None:
    """Not "0 e-mails failed" while every mail waits on a server that is down."""
    from .conftest import AuthActions

    mail = queue_mail(db, "x@example.be", "nl", "reset", NOW, **CONTEXT)
    db.flush()
    assert send_due(db, _settings(1), NOW) == 0  # nobody listens on port 1
    assert (mail.status, mail.attempts) == ("pending", 1)
    admin = app.test_client()
    AuthActions(admin).login("admin@example.be")
    page = admin.get("/manage/?lang=en").get_data(as_text=True)
    assert "1 e-mail is waiting to be tried again" in page


def test_a_database_error_while_loading_a_mail_leaves_it_for_the_next_round(
    db: Session, smtp: SmtpServer
) -> None:
    """"database is locked" is the database's passing trouble, not the mail's: never failed
    for good (an admin would have to send it again by hand)."""
    from sqlalchemy import event

    first = queue_mail(db, "a@example.be", "nl", "reset", NOW, **CONTEXT)
    second = queue_mail(db, "b@example.be", "nl", "reset", NOW, **CONTEXT)
    db.flush()
    engine = db.get_bind().engine
    dbapi = engine.dialect.loaded_dbapi
    raised: list[str] = []

    def locked_once(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        loading = statement.lstrip().upper().startswith("SELECT") and "outbox.id =" in statement
        if loading and not raised:
            raised.append(statement)
            raise dbapi.OperationalError("database is locked")
        return False

    event.listen(engine, "do_execute", locked_once)
    try:
        db.expire_all()
        sent = send_due(db, _settings(smtp.port), NOW)
    finally:
        event.remove(engine, "do_execute", locked_once)
    assert raised, "the lock was never simulated"
    db.expire_all()
    statuses = sorted([first.status, second.status])
    assert statuses == ["pending", "sent"] and sent == 1
    waiting = first if first.status == "pending" else second
    assert waiting.attempts == 0 and waiting.last_error is None  # claimed: due after the lease

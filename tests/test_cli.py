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

from . import factories as f
from .conftest import NOW, SmtpServer


@pytest.mark.parametrize("development", [True, False])
def test_setup_loads_demo_data_and_demo_accounts_only_in_development(
    tmp_path: Path, development: bool
) -> None:
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}",
            "ENVIRONMENT": "development" if development else "production",
            "DEMO_ACCOUNTS": development,
        }
    )
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert ("loaded 162 demo activities" in result.output) is development
    assert ("admin@meegaan.example" in result.output) is development
    database = app.extensions["meegaan_db"]
    with database.session() as s:
        # A real instance starts empty: no fictional activities for families to go to.
        assert s.scalar(select(func.count(Activity.id))) == (162 if development else 0)
        assert (s.scalar(select(func.count(User.id))) == 5) is development
    again = app.test_cli_runner().invoke(args=["setup"])
    assert again.exit_code == 0 and "loaded" not in again.output  # a second run changes nothing


def test_setup_loads_the_demo_in_production_only_when_asked(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite'}"})
    result = app.test_cli_runner().invoke(args=["setup", "--demo"])
    assert result.exit_code == 0, result.output
    assert "loaded 162 demo activities" in result.output
    assert "admin@meegaan.example" not in result.output  # demo accounts: development only
    with app.extensions["meegaan_db"].session() as s:
        assert s.scalar(select(func.count(User.id))) == 0


def test_create_admin_prints_a_one_time_link_and_is_safe_to_run_twice(tmp_path: Path) -> None:
    """A new production instance gets its first admin from the shell; the link sets the
    password once, within 24 hours, and points at PUBLIC_BASE_URL."""
    import re
    from datetime import timedelta

    from finder.models import UserToken

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite'}",
            "NOW": NOW,
            "PUBLIC_BASE_URL": "https://meegaan.example",
            "TRUSTED_HOSTS": ["meegaan.example"],
        }
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db-upgrade"]).exit_code == 0
    first = runner.invoke(args=["create-admin", "Anna@Stad.be", "--name", "Anna"])
    assert first.exit_code == 0, first.output
    assert "made the administrator anna@stad.be" in first.output
    link = re.search(r"https://meegaan\.example(/invite/\S+)", first.output)
    assert link, first.output
    database = app.extensions["meegaan_db"]
    with database.session() as s:
        user = s.scalars(select(User)).one()
        assert (user.role, user.display_name, user.password_hash) == ("admin", "Anna", None)
        token = s.scalars(select(UserToken)).one()
        assert token.expires_at == NOW + timedelta(hours=24)

    second = runner.invoke(args=["create-admin", "anna@stad.be"])
    assert second.exit_code == 0, second.output
    assert "already exists" in second.output
    link2 = re.search(r"https://meegaan\.example(/invite/\S+)", second.output)
    assert link2 and link2.group(1) != link.group(1)
    with database.session() as s:
        assert s.scalar(select(func.count(User.id))) == 1

    client = app.test_client()
    base = "https://meegaan.example"
    assert client.get(link.group(1), base_url=base).status_code == 404  # replaced by the second
    page = client.get(link2.group(1), base_url=base)
    assert page.status_code == 200
    token_value = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert token_value
    done = client.post(
        link2.group(1),
        base_url=base,
        headers={"Referer": base + link2.group(1)},  # Flask-WTF's check over https
        data={
            "password": "een heel lang wachtwoord",
            "confirm": "een heel lang wachtwoord",
            "csrf_token": token_value.group(1),
        },
    )
    assert done.status_code == 302, done.text
    assert client.get(link2.group(1), base_url=base).status_code == 404  # used once


def test_create_admin_never_promotes_another_account(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}", "NOW": NOW})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db-upgrade"]).exit_code == 0
    with app.extensions["meegaan_db"].session() as s:
        f.user(s, "org@stad.be", "organiser")
        s.commit()
    refused = runner.invoke(args=["create-admin", "ORG@stad.be"])
    assert refused.exit_code == 1
    assert "another role" in refused.output
    bad = runner.invoke(args=["create-admin", "not an address"])
    assert bad.exit_code == 1 and "is not an e-mail address" in bad.output
    with app.extensions["meegaan_db"].session() as s:
        assert s.scalar(select(User.role)) == "organiser"


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


def test_requests_tick_erases_what_is_due_and_can_run_again(tmp_path: Path) -> None:
    """The hourly command on its own database: a request closed long ago loses its details."""
    from datetime import timedelta

    from finder.models import AccompanimentRequest


    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 't.sqlite'}", "NOW": NOW})
    assert app.test_cli_runner().invoke(args=["db-upgrade"]).exit_code == 0
    database = app.extensions["meegaan_db"]
    with database.session() as s:
        r = f.request(s, f.activity(s), status="cancelled")
        r.closed_at, r.purge_due_at = NOW - timedelta(days=91), NOW - timedelta(days=1)
        s.commit()
    first = app.test_cli_runner().invoke(args=["requests-tick"])
    assert first.exit_code == 0, first.output
    assert "erased the details of 1 request(s)" in first.output
    second = app.test_cli_runner().invoke(args=["requests-tick"])
    assert "erased the details of 0 request(s)" in second.output
    with database.session() as s:
        kept = s.scalars(select(AccompanimentRequest)).one()
        assert kept.family_name is None and kept.purged_at == NOW


def test_next_sessions_stores_what_has_ended_and_can_run_again(tmp_path: Path) -> None:
    """The 15-minute command: an activity whose stored next session is over gets the one after
    it; a second run finds nothing to do."""
    from datetime import datetime, timedelta


    later = NOW + timedelta(hours=8)  # Wednesday's 13:00–15:00 session is over by then
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'n.sqlite'}", "NOW": later})
    assert app.test_cli_runner().invoke(args=["db-upgrade"]).exit_code == 0
    database = app.extensions["meegaan_db"]
    with database.session() as s:
        a = f.activity(s)  # sessions stored as of NOW
        f.activity(s, rrule="FREQ=WEEKLY;BYDAY=SA")
        s.commit()
        activity_id = a.id
    first = app.test_cli_runner().invoke(args=["next-sessions"])
    assert first.exit_code == 0, first.output
    assert "stored the next session of 1 activity" in first.output
    second = app.test_cli_runner().invoke(args=["next-sessions"])
    assert "stored the next session of 0 activities" in second.output
    with database.session() as s:
        a = s.get(Activity, activity_id)
        assert a is not None
        assert (a.next_starts_at, a.next_checked_at) == (datetime(2026, 12, 9, 13, 0), later)


def test_scheduled_commands_run_on_one_machine_at_a_time_on_postgresql() -> None:
    """Two machines start the nightly job together: the second one sees the lock and skips."""
    from finder.db import Database, only_one, scratch_postgres_database

    from .conftest import POSTGRES_URL

    with scratch_postgres_database(POSTGRES_URL, "meegaan_lock") as url:
        database = Database(url)
        with database.session() as first, database.session() as second:
            assert only_one(first, "occurrences-refresh")
            assert not only_one(second, "occurrences-refresh")
            assert only_one(second, "freshness-check")  # another job is free
            first.rollback()  # the lock ends with the transaction
            assert only_one(second, "occurrences-refresh")
            second.commit()
        database.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_0009_to_0011_fill_in_existing_activities(tmp_path: Path, backend: str) -> None:
    """A database from before the stored next session: the upgrade works it out for every
    activity (a cancelled session and past ones are skipped), numbers its search band and
    stores its slug as the app makes it."""
    from contextlib import nullcontext
    from datetime import UTC, datetime, timedelta

    from alembic import command
    from sqlalchemy import create_engine, text

    from finder.db import alembic_config, scratch_postgres_database, upgrade
    from finder.geo import band_of
    from finder.text import url_slug

    from .conftest import POSTGRES_URL

    title = "Café & taart: لقاء القهوة"

    scratch = (
        scratch_postgres_database(POSTGRES_URL, "meegaan_mig")
        if backend == "postgresql"
        else nullcontext(f"sqlite:///{tmp_path / 'm.sqlite'}")
    )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with scratch as url:
        command.upgrade(alembic_config(url), "0008")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organisation (id, name, kind, verified, created_at)"
                    " VALUES (1, 'O', 'other', true, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO activity (id, organisation_id, category, original_locale, title,"
                    " summary, description, welcome_instructions, street, postcode, municipality,"
                    " lat, lon, location_precision, dtstart_local, duration_minutes, exdates,"
                    " cost_type, cost_note, tags_mask, languages, professional_contact,"
                    " referral_capacity, status, search_text, created_at, updated_at,"
                    " skip_school_holidays)"
                    " VALUES (1, 1, 'coffee_chat', 'nl', :title, '', '', '', '', '9000', 'Gent',"
                    " 51.05, 3.72, 'exact', :now, 120, '', 'free', '', 0, ',nl,', '', 2,"
                    " 'published', ' a ', :now, :now, false)"
                ),
                {"now": now, "title": title},
            )
            for days, cancelled in [(-3, False), (1, True), (2, False), (9, False)]:
                start = now + timedelta(days=days)
                conn.execute(
                    text(
                        "INSERT INTO occurrence (activity_id, starts_at, ends_at, cancelled)"
                        " VALUES (1, :s, :e, :c)"
                    ),
                    {"s": start, "e": start + timedelta(hours=2), "c": cancelled},
                )
            # What refers to the activity: SQLite's rebuild of the table in 0011 dropped the old
            # one with foreign keys on, which deleted the sessions and translations (cascade) and
            # failed outright once a request referred to it.
            conn.execute(
                text(
                    "INSERT INTO activity_translation (activity_id, locale, title, summary,"
                    " description, welcome_instructions) VALUES (1, 'fr', 'Café', '', '', '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO accompaniment_request (id, origin, mode, status, activity_id,"
                    " reference, locale, language, adults, children, consent_at,"
                    " consent_version, welcomer_name, meeting_point, bring, seat_booked,"
                    " followups_done, created_at, updated_at, version) VALUES (1, 'family',"
                    " 'buddy', 'new', 1, 'AAA-001', 'nl', 'ar', 1, 0, :now, '2026-11', '', '',"
                    " '', false, 0, :now, :now, 1)"
                ),
                {"now": now},
            )
        upgrade(url)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT next_starts_at, next_ends_at, next_checked_at FROM activity")
            ).one()
            band, slug = conn.execute(text("SELECT lat_band, slug FROM activity")).one()
            kept = [
                conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("occurrence", "activity_translation", "accompaniment_request")
            ]
        engine.dispose()
    assert kept == [4, 1, 1]
    assert band == band_of(51.05)
    assert (
        slug
        == url_slug(title)
        == "cafe-taart-%D9%84%D9%82%D8%A7%D8%A1-%D8%A7%D9%84%D9%82%D9%87%D9%88%D8%A9"
    )
    stored = [datetime.fromisoformat(str(v)) for v in row]
    assert stored[:2] == [now + timedelta(days=2), now + timedelta(days=2, hours=2)]
    assert now <= stored[2] < now + timedelta(minutes=5)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0012_encrypts_the_outbox_and_a_requests_free_text(
    tmp_path: Path, backend: str
) -> None:
    """A database from before: the upgrade (`flask db-upgrade`, which knows the data key)
    encrypts every mail's recipient, subject and bodies and a request's free text, empties the
    bodies of delivered mails and the text of purged requests, and leaves every other row (a
    request's timeline, an activity's sessions) where it was. The downgrade opens them again."""
    from contextlib import nullcontext
    from datetime import timedelta

    from alembic import command
    from sqlalchemy import create_engine, text

    from finder.db import alembic_config, scratch_postgres_database
    from finder.models import AccompanimentRequest

    from .conftest import POSTGRES_URL

    scratch = (
        scratch_postgres_database(POSTGRES_URL, "meegaan_mig12")
        if backend == "postgresql"
        else nullcontext(f"sqlite:///{tmp_path / 'm12.sqlite'}")
    )
    with scratch as url:
        command.upgrade(alembic_config(url), "0011")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organisation (id, name, kind, verified, created_at)"
                    " VALUES (1, 'O', 'other', true, :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO activity (id, organisation_id, category, original_locale, title,"
                    " summary, description, welcome_instructions, street, postcode, municipality,"
                    " lat, lon, lat_band, slug, location_precision, dtstart_local,"
                    " duration_minutes, exdates, cost_type, cost_note, tags_mask, languages,"
                    " professional_contact, referral_capacity, status, search_text, created_at,"
                    " updated_at, skip_school_holidays)"
                    " VALUES (1, 1, 'coffee_chat', 'nl', 'Koffie', '', '', '', '', '9000',"
                    " 'Gent', 51.05, 3.72, 0, 'koffie', 'exact', :now, 120, '', 'free', '', 0,"
                    " ',nl,', '', 2, 'published', ' koffie ', :now, :now, false)"
                ),
                {"now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO occurrence (activity_id, starts_at, ends_at, cancelled)"
                    " VALUES (1, :s, :e, false)"
                ),
                {"s": NOW + timedelta(days=7), "e": NOW + timedelta(days=7, hours=2)},
            )
            for rid, bring, welcomer, purged in [
                (1, "Zq7Mark his inhaler", "Zq7Mark Fatima", None),
                (2, "", "", None),
                (3, "Zq7Mark old", "Zq7Mark Els", NOW),
            ]:
                conn.execute(
                    text(
                        "INSERT INTO accompaniment_request (id, origin, mode, status, activity_id,"
                        " reference, locale, language, adults, children, consent_at,"
                        " consent_version, welcomer_name, meeting_point, bring, seat_booked,"
                        " followups_done, created_at, updated_at, version, purged_at)"
                        " VALUES (:id, 'professional', 'welcomer', 'new', 1, :ref, 'nl', 'ar', 1,"
                        " 0, :now, '2026-11', :welcomer, :meeting, :bring, false, 0, :now, :now,"
                        " 1, :purged)"
                    ),
                    {
                        "id": rid,
                        "ref": f"AAA-00{rid}",
                        "now": NOW,
                        "welcomer": welcomer,
                        "meeting": welcomer and "Zq7Mark side door",
                        "bring": bring,
                        "purged": purged,
                    },
                )
                conn.execute(
                    text(
                        "INSERT INTO request_event (request_id, at, actor_kind, action, detail)"
                        " VALUES (:id, :now, 'family', 'created', 'buddy')"
                    ),
                    {"id": rid, "now": NOW},
                )
            for status, to in [
                ("pending", "zq7mark@example.be"),
                ("sent", "zq7marksent@example.be"),
            ]:
                conn.execute(
                    text(
                        "INSERT INTO outbox (to_address, locale, subject, body_text, body_html,"
                        " status, attempts, next_attempt_at, created_at, request_id)"
                        " VALUES (:to, 'nl', 'Zq7Mark subject', 'Hallo Zq7Mark, http://x/r/zq7marktoken',"
                        " '<p>Hallo Zq7Mark</p>', :status, 0, :now, :now, 1)"
                    ),
                    {"to": to, "status": status, "now": NOW},
                )
        app = create_app({"DATABASE_URL": url})
        result = app.test_cli_runner().invoke(args=["db-upgrade"])
        assert result.exit_code == 0, result.output

        def stored() -> str:
            with engine.connect() as conn:
                return " ".join(
                    str(v)
                    for table in ("outbox", "accompaniment_request")
                    for row in conn.execute(text(f"SELECT * FROM {table}"))
                    for v in row
                ).lower()

        assert "zq7mark" not in stored()
        with engine.connect() as conn:
            sent = conn.execute(
                text("SELECT body_text, body_html FROM outbox WHERE status = 'sent'")
            ).one()
            assert tuple(sent) == (None, None)
            assert conn.execute(text("SELECT count(*) FROM request_event")).scalar() == 3
            assert conn.execute(text("SELECT count(*) FROM occurrence")).scalar() == 1
        database = app.extensions["meegaan_db"]
        with database.session() as s:
            pending = s.scalars(select(Outbox).where(Outbox.status == "pending")).one()
            assert (pending.to_address, pending.subject) == (
                "zq7mark@example.be",
                "Zq7Mark subject",
            )
            assert pending.body_text == "Hallo Zq7Mark, http://x/r/zq7marktoken"
            assert pending.body_html == "<p>Hallo Zq7Mark</p>"
            requests = s.scalars(select(AccompanimentRequest).order_by(AccompanimentRequest.id))
            assert [(r.bring, r.welcomer_name, r.meeting_point) for r in requests] == [
                ("Zq7Mark his inhaler", "Zq7Mark Fatima", "Zq7Mark side door"),
                (None, None, None),
                (None, None, None),  # purged: erased as the purge now does
            ]
        database.engine.dispose()
        command.downgrade(alembic_config(url), "0011")
        assert (
            "zq7mark his inhaler" in stored()
            and "hallo zq7mark, http://x/r/zq7marktoken" in stored()
        )
        engine.dispose()


def test_outbox_send_retry_failed_sends_the_mails_that_gave_up(
    app: Flask, db: Session, smtp: SmtpServer
) -> None:
    """After an SMTP outage longer than the backoff the mails are failed for good; the
    command with --retry-failed puts them back, due now with fresh attempts, and sends them."""
    mails = [
        queue_mail(db, f"{n}@example.be", "nl", "reset", NOW, name=n, link="http://x/", expires="")
        for n in ("a", "b")
    ]
    for mail in mails:
        mail.status, mail.attempts, mail.last_error = "failed", 7, "connect: refused"
    db.flush()
    runner = app.test_cli_runner()
    app.config.update(SMTP_PORT=smtp.port)
    try:
        plain = runner.invoke(args=["outbox-send"])
        assert plain.exit_code == 0 and smtp.received == []  # failed stays failed
        result = runner.invoke(args=["outbox-send", "--retry-failed"])
    finally:
        app.config.update(SMTP_PORT=25)
    assert result.exit_code == 0, result.output
    assert "put 2 failed e-mail(s) back in the queue" in result.output
    assert "sent 2 e-mail(s)" in result.output
    assert sorted(m["To"] for m in smtp.messages()) == ["a@example.be", "b@example.be"]
    db.expire_all()
    assert [(m.status, m.attempts) for m in mails] == [("sent", 1), ("sent", 1)]


def test_outbox_send_says_what_it_could_not_send_and_fails_when_nothing_went(
    app: Flask, db: Session, smtp: SmtpServer
) -> None:
    """A mail server that is not there is not a silent success: the reason is printed and the
    command exits non-zero, so cron or the developer sees it."""
    import socket

    queue_mail(db, "a@example.be", "nl", "reset", NOW, name="A", link="http://x/", expires="morgen")
    db.flush()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    runner = app.test_cli_runner()
    app.config.update(SMTP_PORT=closed)
    try:
        result = runner.invoke(args=["outbox-send"])
    finally:
        app.config.update(SMTP_PORT=25)
    assert result.exit_code == 1
    assert "could not send 1 e-mail(s)" in result.output and "connect:" in result.output
    assert db.scalar(select(Outbox.status)) == "pending"  # tried again later


def test_mail_on_a_developers_computer_is_kept_and_readable_by_an_admin(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`make run`'s mail server keeps each mail as a file; /manage/mail shows them to an admin
    in development, and the page does not exist in production."""
    import importlib.util
    import socket

    from aiosmtpd.controller import Controller

    from finder.notify import SmtpSettings, send_due

    from .conftest import AuthActions

    spec = importlib.util.spec_from_file_location(
        "devmail", Path(__file__).resolve().parent.parent / "scripts" / "devmail.py"
    )
    assert spec and spec.loader
    devmail = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(devmail)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(devmail.KeepAsFiles(tmp_path / "mail"), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        context = {"name": "A", "link": "http://x/r", "expires": "demain"}
        queue_mail(db, "a@example.be", "fr", "reset", NOW, **context)
        db.flush()
        assert send_due(db, SmtpSettings("127.0.0.1", port, "noreply@meegaan.test"), NOW) == 1
    finally:
        controller.stop()
    (kept,) = list((tmp_path / "mail").glob("*.eml"))
    assert b"\nDate: " in kept.read_bytes()  # every mail says when it was sent

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    dev = create_app({**app.config, "ENVIRONMENT": "development"})
    dev.extensions["meegaan_db"] = app.extensions["meegaan_db"]
    f.user(db, "dev-admin@example.be", "admin", signs_in=True)
    client = dev.test_client()
    assert client.get("/manage/mail/").status_code == 302  # staff only
    AuthActions(client).login("dev-admin@example.be")
    listing = client.get("/manage/mail/?lang=en").get_data(as_text=True)
    assert "Choisissez un nouveau mot de passe pour Meegaan" in listing
    one = client.get(f"/manage/mail/{kept.name}").get_data(as_text=True)
    assert "http://x/r" in one
    assert client.get("/manage/mail/..%2Fdata.key").status_code == 404
    production = app.test_client()
    AuthActions(production).login("dev-admin@example.be")
    assert production.get("/manage/mail/").status_code == 404

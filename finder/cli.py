"""Commands: `flask --app finder setup | create-admin | db-upgrade | demo-load |
occurrences-refresh | next-sessions | outbox-send [--retry-failed] | freshness-check |
requests-tick | bench`."""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import accounts, activities, db, demo, freshness, notify, search
from .web.common import now_utc, smtp_settings


def _database() -> db.Database:
    database: db.Database = current_app.extensions["meegaan_db"]
    return database


def _upgrade() -> None:
    db.upgrade(_database().url)


def _load_demo_if_empty() -> int:
    cfg = current_app.config
    with _database().session(write=True) as session, session.begin():
        if not demo.is_empty(session):
            return 0
        return demo.load_demo(session, now_utc(), cfg["OCCURRENCE_WEEKS"], cfg["LOW_COST_MAX_EUR"])


@click.command("db-upgrade")
@with_appcontext
def db_upgrade_command() -> None:
    """Bring the database schema to the newest migration."""
    _upgrade()
    click.echo("database schema is up to date")


@click.command("demo-load")
@with_appcontext
def demo_load_command() -> None:
    """Load the fictional demo activities when the database has none (not for a real site)."""
    count = _load_demo_if_empty()
    click.echo(f"loaded {count} demo activities" if count else "database not empty: demo skipped")


@click.command("setup")
@with_appcontext
@click.option(
    "--demo",
    "load_demo",
    is_flag=True,
    help="Also load the fictional demo activities into an empty database (always in development).",
)
def setup_command(load_demo: bool) -> None:
    """Migrate and refresh the coming sessions. On a developer's machine (or with --demo) also
    load the demo activities into an empty database, and make the demo accounts."""
    _upgrade()
    development = current_app.config["ENVIRONMENT"] == "development"
    if load_demo or development:
        count = _load_demo_if_empty()
        if count:
            click.echo(f"loaded {count} demo activities")
    _refresh()
    if current_app.config["DEMO_ACCOUNTS"]:
        with _database().session(write=True) as session, session.begin():
            made = demo.create_demo_accounts(session, now_utc())
        if made:
            click.echo("demo accounts (development only), sign in at /login:")
            for role, email, password in made:
                click.echo(f"  {role:<13} {email:<32} {password}")


# The first admin's link: long enough to get from a server's shell to a browser, not longer.
FIRST_ADMIN_LINK_TTL = timedelta(hours=24)


@click.command("create-admin")
@with_appcontext
@click.argument("email")
@click.option("--name", default="", help="The name shown to others (default: before the @).")
@click.option("--locale", default="nl", help="Language of the account's pages and mails.")
def create_admin_command(email: str, name: str, locale: str) -> None:
    """Make an administrator account and print a one-time link (valid 24 hours) to choose its
    password. Run it again for a new link: the earlier one stops working."""
    from .web.auth import token_link
    from .web.common import DEVELOPMENT_BASE_URL

    if locale not in current_app.config["LANGUAGES"]:
        raise click.BadParameter(f"one of {', '.join(current_app.config['LANGUAGES'])}")
    try:
        with _database().session(write=True) as session, session.begin():
            made = accounts.create_admin(
                session, email, name, locale, now_utc(), FIRST_ADMIN_LINK_TTL
            )
    except accounts.AccountError as exc:
        click.echo(accounts.CLI_MESSAGES[exc.code].format(email=email), err=True)
        sys.exit(1)
    base = current_app.config["PUBLIC_BASE_URL"] or DEVELOPMENT_BASE_URL
    with current_app.test_request_context(base_url=base):
        link = token_link(made.purpose, made.raw_token, locale)
    what = "made the administrator" if made.created else "the administrator already exists:"
    click.echo(f"{what} {made.email}")
    click.echo(f"open this link within 24 hours to choose the password (once only):\n{link}")


def _busy(job: str) -> None:
    click.echo(f"{job}: another machine is running it right now; nothing done here")


def _refresh() -> int:
    with _database().session(write=True) as session, session.begin():
        if not db.only_one(session, "occurrences-refresh"):
            _busy("occurrences-refresh")
            return 0
        total = activities.refresh_all(session, now_utc(), current_app.config["OCCURRENCE_WEEKS"])
    click.echo(f"{total} sessions in the coming {current_app.config['OCCURRENCE_WEEKS']} weeks")
    return total


@click.command("occurrences-refresh")
@with_appcontext
def occurrences_refresh_command() -> None:
    """Materialise every published activity's sessions for the coming weeks (run nightly)."""
    _refresh()


@click.command("next-sessions")
@with_appcontext
def next_sessions_command() -> None:
    """Every 15 minutes: store the next session of activities whose stored one has ended, so
    that search reads it from the activity (it looks it up among the sessions until then)."""
    with _database().session(write=True) as session, session.begin():
        if not db.only_one(session, "next-sessions"):
            _busy("next-sessions")
            return
        done = search.store_next_sessions(session, now_utc())
    click.echo(f"stored the next session of {done} activit{'y' if done == 1 else 'ies'}")


# A round of outbox-send sends at most this many batches of 50 (the rest in the next round).
MAX_BATCHES = 200


@click.command("outbox-send")
@with_appcontext
@click.option("--watch", is_flag=True, help="Keep sending every few seconds until stopped.")
@click.option("--interval", default=5.0, help="Seconds between rounds with --watch.")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="First put the mails that failed (after every retry) back in the queue, due now.",
)
def outbox_send_command(watch: bool, interval: float, retry_failed: bool) -> None:
    """Send the e-mails that are due (retries with backoff; run as many workers as you like)."""
    smtp = smtp_settings()
    if retry_failed:
        with _database().session(write=True) as session, session.begin():
            again = notify.retry_failed(session, now_utc())
        click.echo(f"put {again} failed e-mail(s) back in the queue")
    while True:
        sent, now = 0, now_utc()
        with _database().session(write=True) as session:
            # Every batch that is due (a retry of hundreds is more than one batch), also past a
            # batch that sent nothing; bounded, in case other workers keep rows locked.
            for _ in range(MAX_BATCHES):
                sent += notify.send_due(session, smtp, now)
                if not notify.due(session, now):
                    break
            problems = notify.not_sent_at(session, now)
        if sent:
            click.echo(f"sent {sent} e-mail(s)")
        if problems:
            reasons = Counter(problems).most_common(3)
            click.echo(
                f"could not send {len(problems)} e-mail(s) "
                f"(mail server {smtp.host}:{smtp.port}): "
                + "; ".join(f"{reason} ({count}x)" for reason, count in reasons),
                err=True,
            )
        if not watch:
            if problems and not sent:
                sys.exit(1)  # nothing could be sent: whoever runs it must know
            return
        time.sleep(interval)


@click.command("freshness-check")
@with_appcontext
def freshness_check_command() -> None:
    """Daily: ask organisers to confirm old listings, pause those left unconfirmed too long."""
    from .web.common import DEVELOPMENT_BASE_URL, confirm_link, freshness_settings

    # Links in mails need the public address: there is no request to take it from.
    base = current_app.config["PUBLIC_BASE_URL"] or DEVELOPMENT_BASE_URL
    with (
        current_app.test_request_context(base_url=base),
        _database().session(write=True) as session,
        session.begin(),
    ):
        if not db.only_one(session, "freshness-check"):
            _busy("freshness-check")
            return
        done = freshness.check_all(session, now_utc(), freshness_settings(), confirm_link)
    click.echo(f"asked {done['asked']} organiser(s) to confirm, paused {done['paused']} listing(s)")


@click.command("requests-tick")
@with_appcontext
def requests_tick_command() -> None:
    """Hourly: reminders the day before, follow-ups after 4 weeks and 3 months, and erasing the
    families' details when their time has come. Safe on several machines at once."""
    from .accompaniment import tick
    from .web.common import DEVELOPMENT_BASE_URL, WebLinks, request_settings

    base = current_app.config["PUBLIC_BASE_URL"] or DEVELOPMENT_BASE_URL
    with (
        current_app.test_request_context(base_url=base),
        _database().session(write=True) as session,
        session.begin(),
    ):
        if not db.only_one(session, "requests-tick"):
            _busy("requests-tick")
            return
        done = tick(session, now_utc(), request_settings(), WebLinks())
    click.echo(
        f"sent {done['reminders']} reminder(s), {done['followups']} follow-up(s); "
        f"closed {done['expired']} forgotten request(s); "
        f"erased the details of {done['purged']} request(s)"
    )


@click.command("bench")
@with_appcontext
@click.option("--sizes", default="10000,100000,1000000", help="Numbers of synthetic activities.")
@click.option("--queries", default=300, help="Searches per size (60 per common query).")
@click.option(
    "--postgres",
    default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
    help="A PostgreSQL server to benchmark too (a scratch database is made); '' to skip.",
)
@click.option(
    "--http-seconds",
    default=10,
    help="Seconds of wrk load per HTTP case (gunicorn, hello world, caches on and off); 0 skips.",
)
@click.option("--staff-only", is_flag=True, help="Only the staff pages (staff_pages_p95_ms).")
def bench_command(
    sizes: str, queries: int, postgres: str, http_seconds: int, staff_only: bool
) -> None:
    """Time the search on synthetic data, the staff pages and the app under HTTP load; one
    JSON line last."""
    from .bench import run

    run([int(s) for s in sizes.split(",")], queries, postgres or None, http_seconds, staff_only)


def init_app(app: Flask) -> None:
    for command in (
        db_upgrade_command,
        demo_load_command,
        setup_command,
        create_admin_command,
        occurrences_refresh_command,
        next_sessions_command,
        outbox_send_command,
        freshness_check_command,
        requests_tick_command,
        bench_command,
    ):
        app.cli.add_command(command)

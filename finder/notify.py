"""E-mail: messages rendered in the recipient's language, an outbox written in the caller's
transaction, and the worker that sends it over SMTP with retries and backoff."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Text, func, select, type_coerce, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .models import Outbox, User
from .resources import TRANSLATIONS
from .vault import VaultError, vault

TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"
# Minutes to wait before each new attempt; after the last one the mail is marked failed.
BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)
# How long a worker may take to send the mails it claimed before another may try them.
LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=16)
def _translations(locale: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [locale, "nl"])


def render(template: str, locale: str, **context: Any) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of `mail/<template>.*` in the recipient's language."""
    env = _environment().overlay()
    env.install_gettext_translations(_translations(locale), newstyle=True)  # type: ignore[attr-defined]
    context = {**context, "locale": locale}
    # On one line whatever a title or a name holds: a line break would end the header.
    subject = " ".join(env.get_template(f"{template}.subject.txt").render(context).split())
    text = env.get_template(f"{template}.txt").render(context)
    html = env.get_template(f"{template}.html").render(context)
    return subject, text, html


def queue_mail(
    session: Session,
    to: str,
    locale: str,
    template: str,
    now_utc: datetime,
    request_id: int | None = None,
    **context: Any,
) -> Outbox:
    """Render a mail into the outbox; it goes out only if the caller's transaction commits."""
    subject, text, html = render(template, locale, **context)
    mail = Outbox(
        to_address=to,
        locale=locale,
        subject=subject,
        body_text=text,
        body_html=html,
        status="pending",
        attempts=0,
        next_attempt_at=now_utc,
        created_at=now_utc,
        request_id=request_id,
    )
    session.add(mail)
    return mail


def _message(mail: Outbox, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Date"] = format_datetime(datetime.now(UTC))  # not every mail server adds it
    msg.set_content(mail.body_text)
    msg.add_alternative(mail.body_html, subtype="html")
    msg["Content-Language"] = mail.locale  # after: make_alternative moves Content-* headers
    return msg


def _claim(session: Session, now_utc: datetime, batch: int) -> list[int]:
    """Claim due mails by moving their next attempt past a lease, so that any number of workers
    on any number of machines never send the same mail at the same time.

    PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` — each worker takes rows no other worker
    holds, without waiting. SQLite (one machine): one conditional UPDATE per mail.
    """
    due = (
        select(Outbox.id)
        .where(Outbox.status == "pending", Outbox.next_attempt_at <= now_utc)
        .order_by(Outbox.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        claimed = list(session.scalars(due.with_for_update(skip_locked=True)))
        if claimed:
            session.execute(
                update(Outbox)
                .where(Outbox.id.in_(claimed))
                .values(next_attempt_at=now_utc + LEASE)
                .execution_options(synchronize_session=False)
            )
        session.commit()
        return claimed
    claimed = []
    for mail_id in session.scalars(due).all():
        result = session.execute(
            update(Outbox)
            .where(
                Outbox.id == mail_id,
                Outbox.status == "pending",
                Outbox.next_attempt_at <= now_utc,
            )
            .values(next_attempt_at=now_utc + LEASE)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(mail_id)
    session.commit()
    return claimed


def send_due(session: Session, smtp: SmtpSettings, now_utc: datetime, batch: int = 50) -> int:
    """Send the mails that are due, each committed as sent (or retried later) on its own.

    A worker that dies between sending and committing sends that mail again after the lease:
    at least once, never lost. A mail that cannot be read or built (a header with a line
    break, a body the data key cannot open) is marked failed with its reason and the others
    go on: one bad mail never holds up the rest. Returns how many were sent.
    """
    claimed = _claim(session, now_utc, batch)
    if not claimed:
        return 0
    try:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    except OSError as exc:
        _server_failed(session, claimed, f"connect: {exc}", now_utc)
        return 0
    sent = 0
    with client:
        try:
            if smtp.starttls:
                client.starttls()
            if smtp.username:
                client.login(smtp.username, smtp.password)
        except (smtplib.SMTPException, OSError) as exc:
            # The server, not the mails: every claimed mail waits for its next attempt.
            _server_failed(session, claimed, f"sign-in: {exc}", now_utc)
            return 0
        for mail_id in claimed:
            # Anything that goes wrong before a word reaches the server is this mail's own
            # problem, and trying again will not help: give it up, keep the reason, go on.
            loaded: Outbox | None = None
            try:
                mail = loaded = session.get_one(Outbox, mail_id)
                message = _message(mail, smtp.sender)
            except DBAPIError:  # the database, not the mail (locked, gone): its lease runs out
                session.rollback()  # and it is tried again
                continue
            except Exception as exc:
                reason = f"cannot build: {type(exc).__name__}: {exc}"
                address = loaded.to_address if loaded is not None else ""
                _give_up(session, mail_id, _without_address(reason, address), now_utc)
                session.commit()
                continue
            session.commit()  # no transaction (nor SQLite's write lock) is held while SMTP talks
            try:
                client.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                reason = _without_address(str(exc), mail.to_address)
                if _refused_for_good(exc):
                    _give_up(session, mail_id, f"refused: {reason}", now_utc)
                else:
                    _failed_attempt(mail, reason, now_utc)
            except (smtplib.SMTPException, OSError) as exc:
                _failed_attempt(mail, _without_address(str(exc), mail.to_address), now_utc)
            except (ValueError, UnicodeError) as exc:  # refused by smtplib itself, not the server
                reason = f"cannot send: {type(exc).__name__}: {exc}"
                _give_up(session, mail_id, _without_address(reason, mail.to_address), now_utc)
            else:
                mail.status = "sent"
                mail.sent_at = mail.last_attempt_at = now_utc
                mail.attempts += 1
                # Delivered: the bodies (a family's name, a status or reset link) are worth
                # nothing here any more.
                mail.body_text = mail.body_html = None
                sent += 1
            session.commit()
    return sent


def _server_failed(session: Session, claimed: list[int], error: str, now_utc: datetime) -> None:
    for mail_id in claimed:
        try:
            mail = session.get_one(Outbox, mail_id)
        except Exception as exc:  # a row that cannot be read: its own problem, as above
            _give_up(session, mail_id, f"cannot build: {type(exc).__name__}: {exc}", now_utc)
        else:
            _failed_attempt(mail, error, now_utc)
    session.commit()


def _refused_for_good(exc: smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError) -> bool:
    """The server refused this very mail with a permanent (5xx) reply about its recipient or
    its content: trying again for 17 hours will not help, and the admin sees it at once."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    return exc.smtp_code >= 500


def _without_address(error: str, address: str) -> str:
    """A server's error often repeats the recipient's address; the error is kept in plain
    text and shown to admins, the address is not."""
    return error.replace(address, "<recipient>") if address else error


def _failed_attempt(mail: Outbox, error: str, now_utc: datetime) -> None:
    mail.attempts += 1
    mail.last_error = error[:2000]
    mail.last_attempt_at = now_utc
    if mail.attempts > len(BACKOFF_MINUTES):
        mail.status = "failed"
    else:
        mail.next_attempt_at = now_utc + timedelta(minutes=BACKOFF_MINUTES[mail.attempts - 1])


def _give_up(session: Session, mail_id: int, error: str, now_utc: datetime) -> None:
    """Mark a mail failed without loading it: a row that cannot be read can still be marked."""
    session.execute(
        update(Outbox)
        .where(Outbox.id == mail_id)
        .values(
            status="failed",
            attempts=Outbox.attempts + 1,
            last_error=error[:2000],
            last_attempt_at=now_utc,
        )
        .execution_options(synchronize_session="fetch")
    )


def not_sent_at(session: Session, moment: datetime) -> list[str]:
    """Why each mail tried at `moment` (one round of the worker) was not sent: what
    `outbox-send` tells whoever runs it."""
    return list(
        session.scalars(
            select(Outbox.last_error).where(
                Outbox.last_attempt_at == moment, Outbox.status != "sent"
            )
        )
    )


def due(session: Session, now_utc: datetime) -> int:
    """Mails waiting to be sent now."""
    return (
        session.scalar(
            select(func.count(Outbox.id)).where(
                Outbox.status == "pending", Outbox.next_attempt_at <= now_utc
            )
        )
        or 0
    )


def retrying(session: Session) -> int:
    """Mails that could not be sent yet and wait for their next attempt (not failed yet)."""
    return (
        session.scalar(
            select(func.count(Outbox.id)).where(Outbox.status == "pending", Outbox.attempts > 0)
        )
        or 0
    )


def retry_failed(session: Session, now_utc: datetime) -> int:
    """Put every failed mail back in the queue, due now, with a fresh set of attempts (after
    an outage longer than the backoff, or once the reason is fixed). Returns how many."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now_utc)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class FailedMail:
    """What an admin may see of a mail that could not be sent: never its body, and the
    recipient only when it is a staff member (a family's address is masked)."""

    id: int
    recipient: str
    subject: str
    error: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None


def mask_address(address: str) -> str:
    """'fatima@example.be' becomes 'f•••@e•••.be': enough to tell two apart, not to write."""
    local, _, domain = address.rpartition("@")
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}•••{dot}{tld}" if dot else f"{domain[:1]}•••"
    return f"{local[:1]}•••@{masked_domain}" if local else "•••"


def failed_mails(session: Session, limit: int = 50) -> list[FailedMail]:
    """The newest failed mails, for the admin's dashboard. Read column by column and opened
    here, so that a row the data key cannot open is listed too (it may be why it failed)."""
    rows = session.execute(
        select(
            Outbox.id,
            type_coerce(Outbox.to_address, Text),
            type_coerce(Outbox.subject, Text),
            Outbox.last_error,
            Outbox.attempts,
            Outbox.created_at,
            Outbox.last_attempt_at,
        )
        .where(Outbox.status == "failed")
        .order_by(Outbox.id.desc())
        .limit(limit)
    ).all()
    opened = [
        (_open(sealed_to).lower(), _open(sealed_subject))
        for _, sealed_to, sealed_subject, *_ in rows
    ]
    staff = set(session.scalars(select(User.email).where(User.email.in_([to for to, _ in opened]))))
    return [
        FailedMail(
            id=row[0],
            recipient=to if to in staff else mask_address(to),
            subject=subject if to in staff else "",
            error=row[3] or "",
            attempts=row[4],
            created_at=row[5],
            last_attempt_at=row[6],
        )
        for row, (to, subject) in zip(rows, opened, strict=True)
    ]


def _open(sealed: str) -> str:
    try:
        return vault().decrypt(sealed)
    except VaultError:
        return ""

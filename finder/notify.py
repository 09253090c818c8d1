"""E-mail: messages rendered in the recipient's language, an outbox written in the caller's
transaction, and the worker that sends it over SMTP with retries and backoff."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import Outbox

TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
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
    subject = env.get_template(f"{template}.subject.txt").render(context).strip()
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
    at least once, never lost. Returns how many were sent.
    """
    claimed = _claim(session, now_utc, batch)
    if not claimed:
        return 0
    try:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    except OSError as exc:
        for mail_id in claimed:
            _failed_attempt(session.get_one(Outbox, mail_id), f"connect: {exc}", now_utc)
        session.commit()
        return 0
    sent = 0
    with client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        for mail_id in claimed:
            mail = session.get_one(Outbox, mail_id)
            session.commit()  # no transaction (nor SQLite's write lock) is held while SMTP talks
            try:
                client.send_message(_message(mail, smtp.sender))
            except (smtplib.SMTPException, OSError) as exc:
                _failed_attempt(mail, str(exc), now_utc)
            else:
                mail.status = "sent"
                mail.sent_at = now_utc
                mail.attempts += 1
                sent += 1
            session.commit()
    return sent


def _failed_attempt(mail: Outbox, error: str, now_utc: datetime) -> None:
    mail.attempts += 1
    mail.last_error = error[:2000]
    if mail.attempts > len(BACKOFF_MINUTES):
        mail.status = "failed"
    else:
        mail.next_attempt_at = now_utc + timedelta(minutes=BACKOFF_MINUTES[mail.attempts - 1])

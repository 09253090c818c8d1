"""Fixtures: `app`, `db` (a rolled-back transaction, on SQLite and PostgreSQL), `client`."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, has_request_context, request
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from werkzeug.test import TestResponse

from finder import create_app
from finder.db import Database, scratch_postgres_database, upgrade

# The tests run the production configuration as an operator sets it (production refuses to start
# without these); an app of a test's own may override them.
os.environ.setdefault("SECRET_KEY", "tests-" + "k" * 58)
os.environ.setdefault("PUBLIC_BASE_URL", "http://localhost")

# A Wednesday morning in Brussels (08:00 UTC = 09:00 CET); every test that reads the clock sees it.
NOW = datetime(2026, 12, 2, 8, 0)
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def _writes_in_a_reading_page(session: Session) -> None:
    """A page whose session only reads must not write: on SQLite its write would fail when another
    request wrote first (finder/web/common.py: mark such a page `writes`)."""
    if has_request_context() and g.get("db") is session and not session.info.get("writes"):
        raise AssertionError(f"{request.method} {request.path} wrote with a reading session")


@event.listens_for(Session, "before_flush")
def _no_flush_in_a_reading_page(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.deleted or any(session.is_modified(o) for o in session.dirty):
        _writes_in_a_reading_page(session)


@event.listens_for(Session, "do_orm_execute")
def _no_statement_in_a_reading_page(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _writes_in_a_reading_page(state.session)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "test.sqlite"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
    else:  # fails, never skips, when the server cannot be reached
        with scratch_postgres_database(POSTGRES_URL, "meegaan_test") as url:
            upgrade(url)
            yield url


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "NOW": NOW,
            "MAP_TILE_URL": "/static/img/tile.png",
            "SERVER_NAME": None,
            # The test client speaks plain http; test_auth checks the production default.
            "SESSION_COOKIE_SECURE": False,
            # Tests roll their data back, and with it the listings version: a shared page cache
            # would hand one test another's page. test_cache makes its own apps with caches.
            "PAGE_CACHE": "off",
        }
    )


@pytest.fixture()
def db(app: Flask) -> Iterator[Session]:
    """A session whose work, and the app's during the test, is rolled back at the end."""
    database: Database = app.extensions["meegaan_db"]
    connection = database.engine.connect()
    transaction = connection.begin()
    for maker in (database.sessionmaker, database.writer):
        maker.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = database.session()
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()
        database.sessionmaker.configure(bind=database.engine)
        database.writer.configure(bind=database.write_engine)


@pytest.fixture()
def client(app: Flask, db: Session) -> FlaskClient:
    return app.test_client()


@dataclass
class SmtpServer:
    port: int
    received: list[Any] = field(default_factory=list)

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(e.original_content, policy=default_policy)  # type: ignore[misc]
            for e in self.received
        ]


@pytest.fixture()
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd, in-process) on a free loopback port."""
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        server = SmtpServer(port=s.getsockname()[1])

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            server.received.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


PASSWORD = "een lange zin als wachtwoord"


@lru_cache(maxsize=1)
def _password_hash() -> str:
    """Argon2 is slow on purpose: hash the shared test password once."""
    from finder.accounts import hash_password

    return hash_password(PASSWORD)


@pytest.fixture()
def staff(db: Session) -> dict[str, Any]:
    """One active account per role (the organiser belongs to an organisation), password PASSWORD."""
    from finder.models import ROLES, Organisation, User

    org = Organisation(
        name="Buurtcentrum Staff", kind="community_centre", verified=True, created_at=NOW
    )
    db.add(org)
    db.flush()
    people: dict[str, Any] = {"organisation": org}
    for role in ROLES:
        user = User(
            email=f"{role}@example.be",
            password_hash=_password_hash(),
            display_name=role.capitalize(),
            role=role,
            organisation_id=org.id if role == "organiser" else None,
            preferred_locale="nl",
            active=True,
            session_version=1,
            created_at=NOW,
        )
        db.add(user)
        people[role] = user
    db.flush()
    return people


def csrf_token(client: FlaskClient, url: str) -> str:
    return csrf_in(client.get(url).get_data(as_text=True), url)


def csrf_in(html: str, url: str) -> str:
    """The CSRF token of the form on a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD, next_url: str = "") -> TestResponse:
        url = "/login" + (f"?next={next_url}" if next_url else "")
        token = csrf_token(self.client, url)
        return self.client.post(
            url, data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self) -> TestResponse:
        token = csrf_token(self.client, "/manage/")
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture()
def auth(client: FlaskClient, app: Flask) -> Iterator[AuthActions]:
    from finder.web.limits import limiter

    limiter.reset()
    yield AuthActions(client)
    limiter.reset()

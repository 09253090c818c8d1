"""Fixtures: `app`, `db` (a rolled-back transaction, on SQLite and PostgreSQL), `client`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from finder import create_app
from finder.db import Database, upgrade

# A Wednesday morning in Brussels (08:00 UTC = 09:00 CET); every test that reads the clock sees it.
NOW = datetime(2026, 12, 2, 8, 0)
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def _postgres_database() -> Iterator[str]:
    """A fresh database on the PostgreSQL server, dropped afterwards. Fails if unreachable."""
    name = f"meegaan_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "test.sqlite"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
    else:
        gen = _postgres_database()
        url = next(gen)
        upgrade(url)
        yield url
        gen.close()


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "NOW": NOW,
            "MAP_TILE_URL": "/static/img/tile.png",
            "SERVER_NAME": None,
        }
    )


@pytest.fixture()
def db(app: Flask) -> Iterator[Session]:
    """A session whose work, and the app's during the test, is rolled back at the end."""
    database: Database = app.extensions["meegaan_db"]
    connection = database.engine.connect()
    transaction = connection.begin()
    database.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = database.session()
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()
        database.sessionmaker.configure(bind=database.engine)


@pytest.fixture()
def client(app: Flask, db: Session) -> FlaskClient:
    return app.test_client()

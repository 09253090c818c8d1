"""Families and staff who write at the same moment all get through: on an app of its own whose
database is a file (SQLite) or a scratch database (PostgreSQL), served over real HTTP by a
threaded server, requests released together by a barrier are each stored once, none lost."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from werkzeug.serving import make_server

from finder import create_app
from finder.db import Database, scratch_postgres_database, upgrade
from finder.models import AccompanimentRequest, ActivityReport, User

from . import factories as f
from .conftest import NOW, PASSWORD, POSTGRES_URL, csrf_in, csrf_token

AT_ONCE = 20
NEXT = datetime(2026, 12, 9, 13, 0)  # next Wednesday's session of the factory's activity
RECENT = "2026-11-25"  # last Wednesday's session, which a family may say did not take place


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Flask, int]]:
    """(base URL, app, activity id): a migrated database with one activity, served over HTTP."""
    with _database_url(request.param, tmp_path) as url:
        upgrade(url)
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": url,
                "NOW": NOW,
                "PAGE_CACHE": "off",
                "MAP_TILE_URL": "/static/img/tile.png",
                "SESSION_COOKIE_SECURE": False,
                "TRUSTED_HOSTS": ["127.0.0.1", "localhost"],  # HTTP on loopback, test client
                # Only the database may stand in the way here.
                "COME_ALONG_LIMIT": "1000 per hour",
                "COME_ALONG_LIMIT_PER_ACTIVITY": "1000 per hour",
                "COME_ALONG_LIMIT_PER_CONTACT": "1000 per hour",
                "REPORT_LIMIT": "1000 per hour",
                "LOGIN_LIMIT_PER_ADDRESS": "1000 per hour",
            }
        )
        database: Database = app.extensions["meegaan_db"]
        with database.session() as s:
            activity_id = f.activity(s).id
            s.commit()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.port}", app, activity_id
        finally:
            server.shutdown()
            thread.join()
            database.engine.dispose()


@contextmanager
def _database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'concurrent.sqlite'}"
    else:
        with scratch_postgres_database(POSTGRES_URL, "meegaan_concurrent") as url:
            yield url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 302 is the answer we check


class Family:
    """One browser: its own cookies (and so its own CSRF token)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect()
        )

    def token(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return csrf_in(response.read().decode(), path)

    def post(self, path: str, data: dict[str, str]) -> int:
        body = urlencode(data).encode()
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                status: int = response.status
        except urllib.error.HTTPError as exc:  # 4xx, 5xx, and the 302 left unfollowed
            status = exc.code
        return status


def _all_at_once(base: str, form_path: str, data: Callable[[str], dict[str, str]]) -> list[int]:
    """AT_ONCE families each open the form, then all send it at the same moment."""
    families = [Family(base) for _ in range(AT_ONCE)]
    forms = [data(family.token(form_path)) for family in families]
    barrier = threading.Barrier(AT_ONCE)
    statuses: list[int] = [0] * AT_ONCE

    def send(i: int) -> None:
        barrier.wait()
        statuses[i] = families[i].post(form_path, forms[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(AT_ONCE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def _count(app: Flask, model: Any) -> int:
    with app.extensions["meegaan_db"].session() as s:
        return int(s.scalar(select(func.count(model.id))) or 0)


def test_families_who_ask_at_the_same_moment_are_all_stored(
    served: tuple[str, Flask, int],
) -> None:
    base, app, activity_id = served
    statuses = _all_at_once(
        base,
        f"/activities/{activity_id}/come-along",
        lambda token: {
            "csrf_token": token,
            "session": NEXT.isoformat(),
            "name": "Amal",
            "channel": "whatsapp",
            "contact": "0470 12 34 56",
            "language": "ar",
            "adults": "1",
            "children": "2",
            "note": "",
            "consent": "y",
            "website": "",
        },
    )
    assert Counter(statuses) == {302: AT_ONCE}
    assert _count(app, AccompanimentRequest) == AT_ONCE


def test_families_who_report_a_missed_session_at_the_same_moment_are_all_heard(
    served: tuple[str, Flask, int],
) -> None:
    base, app, activity_id = served
    statuses = _all_at_once(
        base,
        f"/activities/{activity_id}/report",
        lambda token: {"csrf_token": token, "session_date": RECENT},
    )
    assert Counter(statuses) == {302: AT_ONCE}
    assert _count(app, ActivityReport) == AT_ONCE


def test_staff_who_sign_in_at_the_same_moment_all_get_in(served: tuple[str, Flask, int]) -> None:
    base, app, _activity_id = served
    with app.extensions["meegaan_db"].session() as s:
        for i in range(AT_ONCE):
            f.user(s, f"staff{i}@example.be", "professional", signs_in=True)
        s.commit()
    emails = iter(f"staff{i}@example.be" for i in range(AT_ONCE))
    started = time.perf_counter()
    statuses = _all_at_once(
        base,
        "/login",
        lambda token: {"csrf_token": token, "email": next(emails), "password": PASSWORD},
    )
    print(f"{AT_ONCE} sign-ins in {time.perf_counter() - started:.2f} s")
    assert Counter(statuses) == {302: AT_ONCE}
    with app.extensions["meegaan_db"].session() as s:
        assert s.scalar(select(func.count(User.id)).where(User.last_login_at == NOW)) == AT_ONCE


@pytest.mark.parametrize("served", ["sqlite"], indirect=True)
def test_pages_that_read_never_wait_for_the_write_lock(served: tuple[str, Flask, int]) -> None:
    """Search, detail and forms read in deferred transactions (WAL: never waiting for a writer);
    a form sent takes the lock at BEGIN."""
    _base, app, activity_id = served
    begins: list[str] = []
    engine = app.extensions["meegaan_db"].engine

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        client = app.test_client()
        for url in (
            "/activities?where=9000",
            f"/activities/{activity_id}",
            "/api/v1/activities?where=9000",
            f"/activities/{activity_id}/come-along",
        ):
            assert client.get(url).status_code == 200, url
        assert begins and set(begins) == {"BEGIN"}
        token = csrf_token(client, f"/activities/{activity_id}/come-along")
        begins.clear()
        sent = {"csrf_token": token, "name": "Amal"}  # refused (no consent): it still reads
        assert client.post(f"/activities/{activity_id}/come-along", data=sent).status_code == 400
        assert begins == ["BEGIN IMMEDIATE"]
    finally:
        event.remove(engine, "before_cursor_execute", seen)

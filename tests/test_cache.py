"""The page cache and conditional requests, on apps of their own whose data is committed (as in
production): a hit is the same page with a fresh nonce, an edit shows on the very next request,
and a browser's copy is revived with a 304."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from finder import create_app
from finder.db import upgrade
from finder.models import Activity
from finder.pagecache import listings_version

from . import factories as f
from .conftest import NOW


@pytest.fixture(params=["memory", "redis"])
def cached_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path / 'cache.sqlite'}"
    upgrade(url)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "NOW": NOW,
            "PAGE_CACHE": request.param,
            "REDIS_URL": "redis://127.0.0.1:6379/14",
            "MAP_TILE_URL": "/static/img/tile.png",
        }
    )
    database = app.extensions["meegaan_db"]
    with database.session() as s:
        f.activity(s, title="Soepmoment")
        s.commit()
    if request.param == "redis":
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/14").flushdb()
    yield app
    if request.param == "redis":
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/14").flushdb()


def _nonce(response: object) -> str:
    csp = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    found = re.search(r"'nonce-([^']+)'", csp)
    assert found
    return found.group(1)


def test_a_cached_page_is_the_same_page_with_a_fresh_nonce(cached_app: Flask) -> None:
    client = cached_app.test_client()
    first = client.get("/activities?where=9000&lang=en")
    second = client.get("/activities?where=9000&lang=en")
    assert first.headers["X-Cache"] == "miss" and second.headers["X-Cache"] == "hit"
    n1, n2 = _nonce(first), _nonce(second)
    assert n1 != n2
    html = second.get_data(as_text=True)
    assert f'nonce="{n2}"' in html and n1 not in html and "Soepmoment" in html
    assert html.replace(n2, "N") == first.get_data(as_text=True).replace(n1, "N")
    # Another parameter or language is another page.
    assert client.get("/activities?where=9000&lang=fr").headers["X-Cache"] == "miss"
    assert client.get("/activities?where=9000&lang=en&tag=free").headers["X-Cache"] == "miss"
    api = client.get("/api/v1/activities?where=9000")
    assert client.get("/api/v1/activities?where=9000").get_json() == api.get_json()


def test_an_edit_shows_on_the_very_next_request(cached_app: Flask) -> None:
    client = cached_app.test_client()
    assert "Soepmoment" in client.get("/activities?where=9000").get_data(as_text=True)
    assert client.get("/activities?where=9000").headers["X-Cache"] == "hit"
    database = cached_app.extensions["meegaan_db"]
    with database.session() as s:
        before = listings_version(s)[0]
        activity = s.scalars(select(Activity)).one()
        activity.title = "Soep en brood"
        s.commit()
        assert listings_version(s)[0] == before + 1
    page = client.get("/activities?where=9000")
    assert page.headers["X-Cache"] == "miss"
    assert "Soep en brood" in page.get_data(as_text=True)
    assert "Soepmoment" not in page.get_data(as_text=True)


def test_staff_and_messages_are_never_served_from_the_cache(cached_app: Flask) -> None:
    client = cached_app.test_client()
    client.get("/activities?where=9000")
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "Bedankt")]
    page = client.get("/activities?where=9000")
    assert "X-Cache" not in page.headers


def test_conditional_requests_get_a_304_until_something_changes(cached_app: Flask) -> None:
    client = cached_app.test_client()
    etags = {}
    for url in ("/activities?where=9000", "/activities/1", "/api/v1/activities/1", "/"):
        first = client.get(url)
        etag = etags[url] = first.headers["ETag"]
        assert first.headers["Last-Modified"] and first.headers["Cache-Control"] == "no-cache"
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304, url
        assert again.get_data() == b"" and "Content-Security-Policy" not in again.headers
    database = cached_app.extensions["meegaan_db"]
    with database.session() as s:
        s.scalars(select(Activity)).one().summary = "Nieuw"
        s.commit()
    for url in ("/activities/1", "/api/v1/activities/1", "/activities?where=9000"):
        assert client.get(url, headers={"If-None-Match": etags[url]}).status_code == 200


def test_a_cached_detail_page_carries_each_visitors_own_form_token(cached_app: Flask) -> None:
    """The "it did not take place" form works for every visitor of a cached page."""
    first_visitor, second_visitor = cached_app.test_client(), cached_app.test_client()
    assert first_visitor.get("/activities/1").headers["X-Cache"] == "miss"
    page = second_visitor.get("/activities/1?lang=nl")
    page = second_visitor.get("/activities/1")
    assert page.headers["X-Cache"] == "hit"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token is not None and "MEEGAAN" not in token.group(1)
    sent = second_visitor.post("/activities/1/report", data={"csrf_token": token.group(1)})
    assert sent.status_code == 302  # accepted: the token is this visitor's

"""The front cache and conditional requests, on apps of their own whose data is committed (as in
production): a hit is the very page Flask rendered, answered before Flask; an edit shows on the
very next request, also on another process; staff, messages and forged sessions never touch the
cache; a browser's copy is revived with a 304."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import brotli
import pytest
from flask import Flask
from sqlalchemy import select

from finder import create_app
from finder.db import upgrade
from finder.models import Activity
from finder.pagecache import MemoryCache, listings_version

from . import factories as f
from .conftest import NOW, PASSWORD, AuthActions, csrf_token

REDIS = "redis://127.0.0.1:6379/14"
# What every page sends, from the cache or not (X-Cache and the cookie aside).
SAME = (
    "Content-Type",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Permissions-Policy",
    "Cross-Origin-Opener-Policy",
    "Cache-Control",
    "ETag",
    "Last-Modified",
)


def _app(url: str, cache: str, **extra: Any) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "NOW": NOW,
            "PAGE_CACHE": cache,
            "REDIS_URL": REDIS,
            "MAP_TILE_URL": "/static/img/tile.png",
            **extra,
        }
    )


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


@pytest.fixture(params=["memory", "redis"])
def cached_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path / 'cache.sqlite'}"
    upgrade(url)
    app = _app(url, request.param)
    database = app.extensions["meegaan_db"]
    with database.session() as s:
        f.activity(s, title="Soepmoment")
        s.commit()
    _flush_redis()
    yield app
    _flush_redis()


def _count_flask_requests(app: Flask) -> list[str]:
    seen: list[str] = []
    app.before_request(lambda: seen.append("x") and None)
    return seen


def test_a_hit_is_the_page_flask_rendered_answered_before_flask(cached_app: Flask) -> None:
    client = cached_app.test_client()
    flask_requests = _count_flask_requests(cached_app)
    first = client.get("/activities?where=9000&lang=en")
    second = client.get("/activities?where=9000&lang=en")
    assert first.headers["X-Cache"] == "miss" and second.headers["X-Cache"] == "hit"
    assert len(flask_requests) == 1  # the hit never reached Flask
    assert second.get_data() == first.get_data() and "Soepmoment" in second.get_data(as_text=True)
    for name in SAME:
        assert second.headers.get(name) == first.headers.get(name), name
    assert all("X-Meegaan-Cacheable" not in page.headers for page in (first, second))
    # Another parameter or language is another page.
    assert client.get("/activities?where=9000&lang=fr").headers["X-Cache"] == "miss"
    assert client.get("/activities?where=9000&lang=en&tag=free").headers["X-Cache"] == "miss"
    assert client.get("/activities?tag=free&lang=en&where=9000").headers["X-Cache"] == "hit"
    api = client.get("/api/v1/activities?where=9000")
    again = client.get("/api/v1/activities?where=9000")
    assert again.headers["X-Cache"] == "hit" and again.get_json() == api.get_json()
    assert again.mimetype == "application/json"
    # The results map (fetched by map.js) is kept the same way, under its own parameters.
    pins = client.get("/activities/map?where=9000&lang=en")
    kept = client.get("/activities/map?where=9000&lang=en")
    assert pins.headers["X-Cache"] == "miss" and kept.headers["X-Cache"] == "hit"
    assert kept.get_json() == pins.get_json() and kept.mimetype == "application/json"
    assert client.get("/activities/map?where=9000&lang=en&tag=free").headers["X-Cache"] == "miss"
    # A search with a mistake is kept too, with its status.
    assert client.get("/activities?where=Gentt").status_code == 400
    bad = client.get("/activities?where=Gentt")
    assert bad.status_code == 400 and bad.headers["X-Cache"] == "hit"
    # Pages that are not the same for everyone never go through it.
    assert "X-Cache" not in client.get("/activities/1/come-along").headers
    assert "X-Cache" not in client.get("/activities/1.ics").headers


def test_kept_compressed_and_answered_in_the_encoding_the_browser_takes(cached_app: Flask) -> None:
    client = cached_app.test_client()
    plain = client.get("/activities/1", headers={"Accept-Encoding": "identity"}).get_data()
    for accepted, encoding in [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("", None),
    ]:
        page = client.get("/activities/1", headers={"Accept-Encoding": accepted})
        assert page.headers["X-Cache"] == "hit"
        assert page.headers.get("Content-Encoding") == encoding
        assert "Accept-Encoding" in page.headers["Vary"]
        body = page.get_data()
        assert int(page.headers["Content-Length"]) == len(body)
        unpacked = {"br": brotli.decompress, "gzip": gzip.decompress}.get(encoding or "", bytes)
        assert unpacked(body) == plain
    head = client.head("/activities/1", headers={"Accept-Encoding": "br"})
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"]


def test_a_head_request_first_keeps_the_whole_page(cached_app: Flask) -> None:
    client = cached_app.test_client()
    head = client.head("/activities?where=9000")
    assert head.status_code == 200 and head.headers["X-Cache"] == "miss" and not head.get_data()
    page = client.get("/activities?where=9000")
    assert page.headers["X-Cache"] == "hit" and "Soepmoment" in page.get_data(as_text=True)
    assert not client.head("/activities/999").get_data()  # not kept, and still no body


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


def test_an_edit_shows_on_the_map_at_once(cached_app: Flask) -> None:
    client = cached_app.test_client()
    assert client.get("/activities/map?where=9000").get_json()["points"][0][2] == "Soepmoment"
    assert client.get("/activities/map?where=9000").headers["X-Cache"] == "hit"
    database = cached_app.extensions["meegaan_db"]
    with database.session() as s:
        s.scalars(select(Activity)).one().title = "Soep en brood"
        s.commit()
    pins = client.get("/activities/map?where=9000")
    assert pins.headers["X-Cache"] == "miss" and pins.get_json()["points"][0][2] == "Soep en brood"


def test_an_edit_made_by_another_process_shows_on_the_next_request(tmp_path: Path) -> None:
    """Two apps on one database, each with its own memory cache, as two gunicorn workers."""
    url = f"sqlite:///{tmp_path / 'two.sqlite'}"
    upgrade(url)
    one, other = _app(url, "memory"), _app(url, "memory")
    with one.extensions["meegaan_db"].session() as s:
        f.activity(s, title="Soepmoment")
        s.commit()
    reader = one.test_client()
    reader.get("/activities/1")
    assert reader.get("/activities/1").headers["X-Cache"] == "hit"
    with other.extensions["meegaan_db"].session() as s:  # the edit happens in the other worker
        s.scalars(select(Activity)).one().summary = "Met verse soep"
        s.commit()
    page = reader.get("/activities/1")
    assert page.headers["X-Cache"] == "miss" and "Met verse soep" in page.get_data(as_text=True)


def test_staff_messages_and_strange_sessions_never_touch_the_cache(cached_app: Flask) -> None:
    database = cached_app.extensions["meegaan_db"]
    with database.session() as s:
        f.user(s, "coordinator@example.be", "coordinator", signs_in=True)
        s.commit()
    family = cached_app.test_client()
    family.get("/activities?where=9000")
    assert family.get("/activities?where=9000").headers["X-Cache"] == "hit"
    # A message waiting: the page shows it, so it is rendered for this visitor alone.
    with family.session_transaction() as session:
        session["_flashes"] = [("message", "Bedankt")]
    assert "X-Cache" not in family.get("/activities?where=9000").headers
    # A form token from the report page does not make a visitor different.
    reporter = cached_app.test_client()
    token = csrf_token(reporter, "/activities/1/report")
    assert token and reporter.get("/activities?where=9000").headers["X-Cache"] == "hit"
    # Staff see their own menu: never a kept page, and their page is never kept.
    staff = cached_app.test_client()
    assert AuthActions(staff).login("coordinator@example.be", PASSWORD).status_code == 302
    page = staff.get("/activities?where=9000")
    assert "X-Cache" not in page.headers and 'action="/logout' in page.get_data(as_text=True)
    assert 'action="/logout' not in family.get("/activities?where=9000").get_data(as_text=True)
    # A session cookie that is not ours: Flask decides what it means.
    stranger = cached_app.test_client()
    stranger.set_cookie("session", "forged.value.here")
    page = stranger.get("/activities?where=9000")
    assert "X-Cache" not in page.headers and "X-Meegaan-Cacheable" not in page.headers
    assert page.headers["ETag"]  # answered as without a cache


def test_the_language_is_chosen_as_the_page_would_and_remembered(cached_app: Flask) -> None:
    client = cached_app.test_client()
    client.get("/activities/1?lang=ar")
    page = client.get("/activities/1?lang=ar")  # a hit still remembers the chosen language
    assert page.headers["X-Cache"] == "hit" and 'lang="ar" dir="rtl"' in page.get_data(as_text=True)
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "ar"
    assert 'lang="ar"' in client.get("/activities/1").get_data(as_text=True)  # by the cookie
    newcomer = cached_app.test_client()
    page = newcomer.get("/activities/1", headers={"Accept-Language": "uk-UA,uk;q=0.9,en;q=0.5"})
    assert 'lang="uk"' in page.get_data(as_text=True)
    assert 'lang="nl"' in newcomer.get("/activities/1").get_data(as_text=True)  # nothing known


def test_the_host_is_part_of_the_key(cached_app: Flask) -> None:
    """Pages carry absolute links (share, alternates): another Host header is another page, so
    nobody can plant links to their own site in the page others get."""
    client = cached_app.test_client()
    client.get("/activities/1", headers={"Host": "evil.example"})
    page = client.get("/activities/1")
    assert "evil.example" not in page.get_data(as_text=True)


def test_conditional_requests_get_a_304_until_something_changes(cached_app: Flask) -> None:
    client = cached_app.test_client()
    etags = {}
    urls = ("/activities?where=9000", "/activities/map?where=9000", "/activities/1")
    for url in (*urls, "/api/v1/activities/1", "/"):
        first = client.get(url)
        etag = etags[url] = first.headers["ETag"]
        assert first.headers["Last-Modified"] and first.headers["Cache-Control"] == "no-cache"
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"", url
        since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
        assert since.status_code == 304, url
    database = cached_app.extensions["meegaan_db"]
    with database.session() as s:
        s.scalars(select(Activity)).one().title = "Nieuw"  # on every one of these pages
        s.commit()
    for url in (*urls, "/api/v1/activities/1"):
        assert client.get(url, headers={"If-None-Match": etags[url]}).status_code == 200


def test_without_the_cache_pages_still_answer_conditional_requests(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'off.sqlite'}"
    upgrade(url)
    app = _app(url, "off")
    with app.extensions["meegaan_db"].session() as s:
        f.activity(s, title="Soepmoment")
        s.commit()
    client = app.test_client()
    for url in ("/activities/1", "/activities/map?where=9000"):
        first = client.get(url)
        assert "X-Cache" not in first.headers
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, url


def test_the_memory_cache_is_bounded_in_bytes_and_forgets_the_least_used() -> None:
    cache = MemoryCache(max_bytes=30)
    cache.set("a", b"x" * 10, 60)
    cache.set("b", b"x" * 10, 60)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.set("c", b"x" * 15, 60)
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    assert cache.size == 25
    cache.set("d", b"x" * 5, -1)  # already expired
    assert cache.get("d") is None and cache.size == 25


def test_a_repeated_parameter_gets_the_page_of_the_value_flask_reads(cached_app: Flask) -> None:
    """Flask reads the first `where`: each address gets its own first place's results, never
    the page kept for the same values in another order."""
    with cached_app.extensions["meegaan_db"].session() as s:
        f.activity(s, title="Taalcafé Brussel", postcode="1000")
        s.commit()
    cached_app.config["MIN_RESULTS"] = 1  # one place's results, not widened to the other
    client = cached_app.test_client()
    for _ in range(2):
        brussels = client.get("/activities?where=1000&where=9000").get_data(as_text=True)
        ghent = client.get("/activities?where=9000&where=1000").get_data(as_text=True)
        assert "Taalcafé Brussel" in brussels and "Soepmoment" not in brussels
        assert "Soepmoment" in ghent and "Taalcafé Brussel" not in ghent
        api = client.get("/api/v1/activities?where=9000&where=1000").get_json()
        assert api["query"]["place"]["postcode"] == "9000"
    # Every tag counts (getlist), in its order: the API answers them as asked.
    for tags in (["free_drinks", "walk_in"], ["walk_in", "free_drinks"]):
        url = "/api/v1/activities?where=9000&" + "&".join(f"tag={t}" for t in tags)
        for _ in range(2):
            assert client.get(url).get_json()["query"]["tags"] == tags


def test_addresses_with_parameters_no_page_reads_are_answered_but_never_kept(
    cached_app: Flask,
) -> None:
    """Random parameters must not fill the cache; such a page is answered as without one."""
    client = cached_app.test_client()
    for n in range(20):
        page = client.get(f"/activities?where=9000&junk={n}")
        assert page.status_code == 200 and "Soepmoment" in page.get_data(as_text=True)
        assert "X-Cache" not in page.headers and "X-Meegaan-Cacheable" not in page.headers
        assert page.headers["ETag"] and page.headers["Cache-Control"] == "no-cache"
    assert "X-Cache" not in client.get("/activities/1?utm_source=x").headers
    assert "X-Cache" not in client.get("/?where=9000").headers  # the home page reads no where
    assert "X-Cache" not in client.get("/activities?where=9000&lang=en&lang=fr").headers
    backend = cached_app.extensions["meegaan_page_cache"]
    if isinstance(backend, MemoryCache):
        assert backend.size == 0
    else:
        assert not _page_keys(redis_client(REDIS))
    assert client.get("/activities?where=9000").headers["X-Cache"] == "miss"


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def _page_keys(store: Any) -> list[bytes]:
    return [k for k in store.scan_iter("meegaan:page:*") if b"=" not in k]


def test_the_pages_kept_in_redis_stay_within_their_budget(tmp_path: Path) -> None:
    """Many unique addresses: the oldest pages make room, the newest are kept, and what Redis
    holds for them stays under PAGE_CACHE_REDIS_MB. A database of its own (11), emptied of
    the pages after."""
    url = f"sqlite:///{tmp_path / 'budget.sqlite'}"
    upgrade(url)
    own = "redis://127.0.0.1:6379/11"
    budget = 0.2  # MB: about 30 results pages
    app = _app(url, "redis", REDIS_URL=own, PAGE_CACHE_REDIS_MB=budget)
    with app.extensions["meegaan_db"].session() as s:
        f.activity(s, title="Soepmoment")
        s.commit()
    store = redis_client(own)
    for key in store.scan_iter("meegaan:page:*"):
        store.delete(key)
    try:
        client = app.test_client()
        addresses = [f"/activities?where=9000&q=soep{n}" for n in range(100)]
        for address in addresses:
            assert client.get(address).headers["X-Cache"] == "miss"
        kept = _page_keys(store)
        held = sum(store.memory_usage(k) or 0 for k in store.scan_iter("meegaan:page:*"))
        assert 10 < len(kept) < 50, len(kept)
        assert held <= budget * 1024 * 1024, held
        assert client.get(addresses[-1]).headers["X-Cache"] == "hit"
        assert client.get(addresses[0]).headers["X-Cache"] == "miss"
    finally:
        for key in store.scan_iter("meegaan:page:*"):
            store.delete(key)


def test_a_page_larger_than_the_whole_budget_is_not_kept() -> None:
    from finder.pagecache import RedisCache

    prefix = f"meegaan:test:{uuid.uuid4().hex}:"
    cache = RedisCache("redis://127.0.0.1:6379/11", 10_000, MemoryCache(), 5, prefix=prefix)
    try:
        cache.set("small", b"x" * 4_000, 60)
        cache.set("large", b"x" * 10_000, 60)
        cache.set("other", b"x" * 4_000, 60)
        assert cache.get("large") is None and cache.get("small") and cache.get("other")
        cache.set("third", b"x" * 4_000, 60)  # 3 x (4,000 + overhead) > 10,000
        assert cache.get("small") is None and cache.get("other") and cache.get("third")
    finally:
        store = redis_client("redis://127.0.0.1:6379/11")
        for key in store.scan_iter(prefix + "*"):
            store.delete(key)


def _times(text: str, answer: dict[str, Any]) -> int:
    return sum(text in message for message in answer["logged"])


class OwnRedis:
    """A redis-server of the test's own on a free port, to stop and start again."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        store = redis_client(self.url)
        for _ in range(100):
            try:
                store.ping()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture()
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_pages_and_forms_answer_while_redis_is_away_and_redis_is_used_again_after(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    """Redis stops and starts again under a running app (in a process of its own: see
    tests/family_visit.py): every page and form answers throughout, pages are kept in the
    process meanwhile, rate limits still hold (in memory), each change is logged once, and
    afterwards the pages and the limits are in Redis again."""
    url = f"sqlite:///{tmp_path / 'away.sqlite'}"
    upgrade(url)
    with _app(url, "off").extensions["meegaan_db"].session() as s:
        f.activity(s, title="Soepmoment")
        s.commit()
    config = {
        "TESTING": True,
        "DATABASE_URL": url,
        "NOW": NOW.isoformat(),
        "SECRET_KEY": "redis-goes-away-" + "k" * 32,
        "PAGE_CACHE": "redis",
        "REDIS_URL": own_redis.url,
        "RATELIMIT_STORAGE_URI": own_redis.url,
        "PAGE_CACHE_REDIS_RETRY_SECONDS": 0.5,
        "LOGIN_FREE_FAILURES": 3,
        "LOGIN_LIMIT_PER_ADDRESS": "1000 per hour",
        "COME_ALONG_LIMIT": "1000 per hour",
        "COME_ALONG_LIMIT_PER_CONTACT": "1000 per hour",
        "MAP_TILE_URL": "/static/img/tile.png",
    }
    store = redis_client(own_redis.url)
    with (tmp_path / "family.log").open("wb") as log:
        family = subprocess.Popen(
            [sys.executable, "-m", "tests.family_visit", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=Path(__file__).parent.parent,
            env={**os.environ, "INSTANCE_PATH": str(tmp_path)},
            text=True,
        )

    def ask(line: str) -> dict[str, Any]:
        assert family.stdin and family.stdout
        family.stdin.write(line + "\n")
        family.stdin.flush()
        answer = family.stdout.readline()
        assert answer, (tmp_path / "family.log").read_text()[-3000:]
        return json.loads(answer)  # type: ignore[no-any-return]

    def answered(visit: dict[str, Any], second: str) -> None:
        for address, (first_status, again_status, state) in visit["pages"].items():
            assert (first_status, again_status, state) == (200, 200, second), address
        assert visit["come_along"] == 302
        assert set(visit["sign_ins"]) <= {400, 429}

    def limited(visit: dict[str, Any]) -> None:
        assert visit["sign_ins"] == [400, 400, 400, 429]  # the limit holds

    try:
        before = ask("visit before")
        answered(before, "hit")
        limited(before)
        assert _times("Redis", before) == _times("storage", before) == 0
        assert _page_keys(store) and list(store.scan_iter("LIMITS*"))
        own_redis.stop()
        away = ask("visit away")
        answered(away, "hit")  # kept in the process meanwhile
        limited(away)  # counted in memory
        # Logged once for the many requests of the outage, by the page cache and the limiter.
        assert _times("Redis does not answer", away) == 1, away["logged"]
        assert _times("falling back to in-memory", away) == 1, away["logged"]
        own_redis.start()  # empty: no pages, no counts
        time.sleep(0.6)  # the page cache leaves Redis alone for 0.5 s after a failure
        after = ask("visit after")
        answered(after, "hit")  # counts may move back to Redis halfway: not limited() here
        assert _times("Redis answers again", after) == 1, after["logged"]
        assert _times("Redis does not answer", after) == 0
        assert _page_keys(store)  # kept in Redis again
        # Flask-Limiter tries its storage again after 1, 2, 4… s: sign-ins count in Redis again.
        for n in range(40):
            if list(store.scan_iter("LIMITS*")):
                break
            assert ask(f"sign_in retry{n}@example.be")["sign_in"] == 400
            time.sleep(1)
        time.sleep(2.1)  # sign-in waits try Redis again 2 s after it failed (web/limits.py)
        limited(ask("visit again"))
        # Redis came back empty: wrong passwords are counted there again.
        assert list(store.scan_iter("LIMITS*meegaan/login-failures/*"))
    finally:
        family.kill()
        family.wait()


def test_the_cache_keys_on_every_parameter_the_search_reads(app: Flask) -> None:
    """web/params.SEARCH_PARAMETERS is what the front cache keys a search on: a parameter the
    search reads but the list lacks would let two different pages share one copy."""
    from werkzeug.datastructures import MultiDict

    from finder.web.params import REPEATED_PARAMETERS, SEARCH_PARAMETERS, parse_search

    read: set[str] = set()

    class Watched(MultiDict):  # type: ignore[type-arg]

        def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
            read.add(key)
            return super().get(key, *args, **kwargs)

        def getlist(self, key: str, *args: Any, **kwargs: Any) -> Any:
            read.add(key)
            return super().getlist(key, *args, **kwargs)

        def __getitem__(self, key: str) -> Any:
            read.add(key)
            return super().__getitem__(key)

    with app.test_request_context("/activities"):
        for args in ({"where": "9000", "tag": "free"}, {"lat": "51.05", "lon": "3.72"}, {}):
            parse_search(Watched(args))
    assert read <= SEARCH_PARAMETERS
    assert {"where", "tag", "lat", "lon", "page", "per_page"} <= read
    assert REPEATED_PARAMETERS <= SEARCH_PARAMETERS

"""The benchmark of DESIGN §8: search timings on synthetic data (SQLite, and PostgreSQL when a
server is given), the staff pages, and page weight; last line JSON.

Run with `make bench`. Every figure comes from this run on this machine; nothing is estimated.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import brotli
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from . import create_app, demo
from .db import Database, scratch_postgres_database, upgrade
from .geo import gazetteer
from .models import Activity, User
from .search import SearchQuery, SearchSettings, search

# Where families search from: the big cities most, then anywhere.
_WHERE = ["9000", "2000", "1000", "2800", "3000", "8000", "9100", "3500", "1030", "2060", "9300"]
# The common queries of issue #8, by the name their figures carry in the JSON.
_CASES: dict[str, dict[str, Any]] = {
    "postcode": {},
    "two_tags": {"tags": ("free_drinks", "walk_in")},
    "week_category": {"when": "week", "category": "coffee_chat"},
    "text": {"q": "koffie"},
    "nearest_tag": {"tags": ("children",), "order": "nearest"},
}


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def time_search(database: Database, queries: int, seed: int = 11) -> list[tuple[str, float]]:
    """(case, milliseconds) per search for a mix of realistic queries (postcode, tags, week,
    text), the cases in turn."""
    rnd = random.Random(seed)
    gaz = gazetteer()
    settings = SearchSettings()
    now = datetime.now(UTC).replace(tzinfo=None)
    timings = []
    with database.session() as session:
        for i in range(queries + 10):
            where = rnd.choice(_WHERE) if rnd.random() < 0.8 else rnd.choice(gaz.entries).postcode
            name = list(_CASES)[i % len(_CASES)]
            query = SearchQuery(place=gaz.resolve(where), **_CASES[name])
            start = time.perf_counter()
            search(session, query, now, settings)
            elapsed = (time.perf_counter() - start) * 1000
            if i >= 10:  # the first searches warm the caches
                timings.append((name, elapsed))
    return timings


def bench_size(size: int, queries: int, url: str, label: str) -> dict[str, float]:
    upgrade(url)
    database = Database(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    started = time.perf_counter()
    with database.session() as session, session.begin():
        demo.generate_synthetic(session, size, now, 8)
    # What autovacuum does on a running site: statistics, and the visibility map that lets
    # PostgreSQL answer the search from the index alone.
    # (SQLite's ANALYZE runs in a transaction that is committed: with AUTOCOMMIT, the BEGIN
    # that db.py emits for SQLite left it rolled back, without a word.)
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with database.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    load_s = time.perf_counter() - started
    measured = time_search(database, queries)
    database.engine.dispose()
    timings = [ms for _case, ms in measured]
    figures = {
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(_percentile(timings, 95), 2),
        "max_ms": round(max(timings), 2),
        "load_s": round(load_s, 1),
    }
    cases = []
    for name in _CASES:
        case = [ms for case_name, ms in measured if case_name == name]
        figures[f"{name}_median_ms"] = round(statistics.median(case), 2)
        figures[f"{name}_p95_ms"] = round(_percentile(case, 95), 2)
        cases.append(f"{name} {figures[f'{name}_median_ms']}/{figures[f'{name}_p95_ms']}")
    print(
        f"search, {label}, {size:>7} activities, {queries} queries: "
        f"median {figures['median_ms']} ms, p95 {figures['p95_ms']} ms, "
        f"max {figures['max_ms']} ms (generated in {figures['load_s']} s); "
        f"per case median/p95 ms: {', '.join(cases)}",
        flush=True,
    )
    return figures


def page_weight(workdir: Path, synthetic_url: str) -> dict[str, float]:
    """Brotli-compressed bytes of the results page and everything it loads (tiles excepted).

    The demo data for an ordinary search; a synthetic database for a map of 200 results.
    """
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'weight.sqlite'}",
            "MAP_TILE_URL": "/static/img/tile.png",
        }
    )
    with app.app_context():  # `flask bench` has the default app's context pushed already
        assert app.test_cli_runner().invoke(args=["setup"]).exit_code == 0
    big = create_app(
        {
            "DATABASE_URL": synthetic_url,
            "MAP_TILE_URL": "/static/img/tile.png",
            "MAP_MAX_MARKERS": 200,  # the budget's case: a map of 200 results
            "PAGE_CACHE": "off",
        }
    )
    headers = {"Accept-Encoding": "br, gzip"}

    def total(url: str, with_map: bool, flask_app: Any = app) -> tuple[int, int]:
        """Bytes of the page and what it loads; with the map, also what map.js then loads:
        the map's data, Leaflet and, for a grouped map, leaflet.markercluster. And the
        number of pins (0 without the map)."""
        client = flask_app.test_client()
        page = client.get(url, headers=headers)
        assert page.headers["Content-Encoding"] == "br"
        body = page.get_data()
        size = len(body)
        source = brotli.decompress(body).decode()
        assets = set(re.findall(r'(?:href|src)="(/static/[^"#]+)', source))
        pins = 0
        if with_map:
            data = client.get(_attr(source, "data-map-src"), headers=headers)
            size += len(data.get_data())
            map_data = json.loads(_decoded(data))
            pins = len(map_data["points"])
            names = ["data-leaflet", "data-leaflet-css"]
            names += ["data-cluster", "data-cluster-css"] if map_data.get("cluster") else []
            assets |= {_attr(source, name) for name in names}
        for asset in sorted(assets):
            if "tile.png" in asset:
                continue
            size += len(client.get(asset.replace("&amp;", "&"), headers=headers).get_data())
        return size, pins

    big_size, big_pins = total("/activities?where=1000", with_map=True, flask_app=big)
    return {
        "page_results_kb": round(total("/activities?where=9000", with_map=False)[0] / 1024, 1),
        "page_results_map_kb": round(total("/activities?where=9000", with_map=True)[0] / 1024, 1),
        "page_results_map_200_kb": round(big_size / 1024, 1),
        "map_markers": big_pins,
    }


def _attr(page: str, name: str) -> str:
    """An attribute of the results page's map box (an address), unescaped."""
    found = re.search(rf'{name}="([^"]+)"', page)
    assert found, f"no {name} on the page"
    return found.group(1).replace("&amp;", "&")


def _decoded(response: Any) -> bytes:
    """A response's body as sent, decompressed (small answers are not compressed)."""
    body: bytes = response.get_data()
    return brotli.decompress(body) if response.headers.get("Content-Encoding") == "br" else body


def _redis_url() -> str:
    """REDIS_URL, or the local Redis when one answers: the shared-cache case is measured too."""
    import os

    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13"
    try:
        redis.Redis.from_url(url, socket_timeout=0.5).ping()
    except (redis.RedisError, OSError):
        return ""
    return url


def _http(workdir: Path, sizes: list[int], seconds: int) -> dict[str, Any]:
    """gunicorn + wrk on the demo data and on the 100,000-activity database (when built)."""
    from . import httpbench

    demo_url = f"sqlite:///{workdir / 'http-demo.sqlite'}"
    app = create_app({"DATABASE_URL": demo_url})
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["setup"]).exit_code == 0
    report: dict[str, Any] = {}
    datasets = [("demo", demo_url, "")]
    if 100000 in sizes:
        datasets.append(("100k", f"sqlite:///{workdir / 'bench-100000.sqlite'}", "_100k"))
    for label, url, suffix in datasets:
        database = Database(url)
        with database.session() as session:
            ids = list(
                session.scalars(
                    text("SELECT id FROM activity WHERE status = 'published' LIMIT 100")
                )
            )
        database.engine.dispose()
        figures = httpbench.run(
            url, ids, label, seconds=seconds, warmup=seconds, redis_url=_redis_url()
        )
        if not figures:
            return report
        hello = figures["hello"]["rps"]
        report[f"http_rps_hello{suffix}"] = hello
        report[f"http_rps{suffix}"] = figures["cached"]["rps"]
        report[f"http_rps_uncached{suffix}"] = figures["uncached"]["rps"]
        report[f"http_ratio_vs_hello{suffix}"] = round(figures["cached"]["rps"] / hello, 3)
        report[f"http_ratio_vs_hello_uncached{suffix}"] = round(
            figures["uncached"]["rps"] / hello, 3
        )
        report[f"http_p50_ms_50c{suffix}"] = figures["cached"]["p50_ms"]
        report[f"http_p99_ms_50c{suffix}"] = figures["cached"]["p99_ms"]
        report[f"http_p99_ms_50c_uncached{suffix}"] = figures["uncached"]["p99_ms"]
        if "redis" in figures:
            report[f"http_rps_redis{suffix}"] = figures["redis"]["rps"]
            report[f"http_p99_ms_50c_redis{suffix}"] = figures["redis"]["p99_ms"]
    return report


# The staff pages timed, per account: the long lists first pages, deep pages and searches.
_STAFF_PAGES: dict[str, list[str]] = {
    "organiser": [
        "/manage/",
        "/manage/activities/",
        "/manage/activities/?page=60",
        "/manage/activities/?q=koffie",
        "/manage/requests",
        "/manage/requests?page=30",
        "/manage/requests?q=SYN-01",
        "/manage/users",
    ],
    "coordinator": ["/manage/", "/manage/requests", "/manage/requests?q=koffie"],
    "admin": [
        "/manage/",
        "/manage/activities/",
        "/manage/activities/?page=90",
        "/manage/requests",
        "/manage/moderation",
        "/manage/users",
        "/manage/organisations",
        "/manage/audit",
    ],
}


def _staff_data(session: Session, activities: int, requests: int, now: datetime) -> None:
    """`activities` in one organisation (a tenth waiting for moderation), `requests` open
    requests on them (buddy, professional and welcomer ones, some with an offer), an account
    per role, a few hundred audit events."""
    from .accompaniment import CONSENT_VERSION, token_hash
    from .models import AccompanimentRequest, AuditEvent, Organisation, RequestOffer, User

    rnd = random.Random(5)
    demo.generate_synthetic(session, activities, now, 8)
    org = session.scalars(select(Organisation).where(Organisation.name == "Synthetic")).one()
    ids = list(session.scalars(select(Activity.id).where(Activity.organisation_id == org.id)))
    session.execute(update(Activity).where(Activity.id.in_(ids[::10])).values(status="pending"))
    people = {}
    for role in ("organiser", "coordinator", "admin", "buddy", "professional"):
        people[role] = User(
            email=f"{role}@bench.example",
            display_name=role.capitalize(),
            role=role,
            organisation_id=org.id if role == "organiser" else None,
            preferred_locale="nl",
            active=True,
            session_version=1,
            created_at=now,
        )
        session.add(people[role])
    session.flush()
    modes = ("buddy", "buddy", "professional", "welcomer")
    for n in range(requests):
        mode = modes[n % len(modes)]
        request = AccompanimentRequest(
            origin="professional" if mode != "buddy" else "family",
            mode=mode,
            status=rnd.choice(("new", "new", "offered", "confirmed")),
            activity_id=rnd.choice(ids),
            session_starts_at=now + timedelta(hours=rnd.randint(-72, 24 * 40)),
            reference=f"SYN-{n:05d}",
            token_hash=token_hash(f"bench-{n}"),
            locale="nl",
            language=rnd.choice(("ar", "uk", "nl", "tr")),
            family_name="Amal",
            contact_channel="phone",
            contact_value="+32470123456",
            adults=1,
            children=rnd.randint(0, 3),
            consent_at=now,
            consent_version=CONSENT_VERSION,
            referrer_id=people["professional"].id if mode != "buddy" else None,
            seat_booked=False,
            followups_done=0,
            created_at=now,
            updated_at=now,
        )
        if n % 7 == 0:
            request.offers.append(
                RequestOffer(buddy_id=people["buddy"].id, status="open", created_at=now)
            )
        session.add(request)
    for n in range(300):
        session.add(
            AuditEvent(
                at=now - timedelta(minutes=n),
                actor_id=people["admin"].id,
                action="activity_published",
                object_type="activity",
                object_id=rnd.choice(ids),
                detail="",
            )
        )


def staff_pages(
    workdir: Path, activities: int = 5000, requests: int = 2000, rounds: int = 50
) -> dict[str, Any]:
    """The staff pages (DESIGN §8: p95 ≤ 100 ms) in process with the test client, signed in as
    the organiser of `activities` activities, the coordinator and the admin, with `requests`
    open requests on SQLite. `staff_pages_p95_ms` is the slowest page's p95 over `rounds`."""
    url = f"sqlite:///{workdir / 'staff.sqlite'}"
    app = create_app({"DATABASE_URL": url, "PAGE_CACHE": "off"})
    upgrade(url)
    database: Database = app.extensions["meegaan_db"]
    now = datetime.now(UTC).replace(tzinfo=None)
    with app.app_context(), database.session() as session, session.begin():
        _staff_data(session, activities, requests, now)
    with database.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    per_page: dict[str, float] = {}
    with app.app_context():
        for role, urls in _STAFF_PAGES.items():
            client = app.test_client()
            with database.session() as session:
                user_id = session.scalar(select(User.id).where(User.role == role))
            with client.session_transaction() as cookie:
                cookie.update(uid=user_id, ver=1, seen=now.isoformat())
            for page in urls:
                timings = []
                for i in range(rounds + 3):
                    start = time.perf_counter()
                    response = client.get(page)
                    elapsed = (time.perf_counter() - start) * 1000
                    assert response.status_code == 200, (role, page, response.status_code)
                    if i >= 3:  # the first answers warm the template and statement caches
                        timings.append(elapsed)
                per_page[f"{role} {page}"] = round(_percentile(timings, 95), 1)
    database.engine.dispose()
    worst = max(per_page, key=lambda k: per_page[k])
    print(
        f"staff pages, SQLite, {activities} activities in one organisation, {requests} open "
        f"requests, {rounds} requests per page: p95 per page (ms) "
        + ", ".join(f"{k} {v}" for k, v in per_page.items())
        + f"; slowest {worst}",
        flush=True,
    )
    return {"staff_pages_p95_ms": per_page[worst]}


def _search_keys(prefix: str, figures: dict[str, float]) -> dict[str, float]:
    """search_10k_median_ms, search_10k_p95_ms (the mix), then per case
    search_10k_two_tags_p95_ms …; `prefix` carries `_postgres` for PostgreSQL."""
    keys = {f"{prefix}_median_ms": figures["median_ms"], f"{prefix}_p95_ms": figures["p95_ms"]}
    for name in _CASES:
        for stat in ("median_ms", "p95_ms"):
            keys[f"{prefix}_{name}_{stat}"] = figures[f"{name}_{stat}"]
    return keys


def run(
    sizes: list[int],
    queries: int,
    postgres_url: str | None = None,
    http_seconds: int = 10,
    staff_only: bool = False,
) -> None:
    """SQLite always; PostgreSQL too when a server URL is given (keys with `_postgres`); with
    `staff_only`, only the staff pages."""
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="meegaan-bench-") as tmp:
        workdir = Path(tmp)
        report.update(staff_pages(workdir))
        if staff_only:
            print(json.dumps(report))
            return
        for size in sizes:
            key = f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"
            url = f"sqlite:///{workdir / f'bench-{size}.sqlite'}"
            report.update(_search_keys(f"search_{key}", bench_size(size, queries, url, "SQLite")))
            if postgres_url:
                with scratch_postgres_database(postgres_url, "meegaan_bench") as pg_url:
                    figures = bench_size(size, queries, pg_url, "PostgreSQL")
                report.update(_search_keys(f"search_{key}_postgres", figures))
        if http_seconds:
            report.update(_http(workdir, sizes, http_seconds))
        weight = page_weight(workdir, f"sqlite:///{workdir / f'bench-{sizes[0]}.sqlite'}")
        print(
            f"page weight (brotli, tiles excepted): results {weight['page_results_kb']} KB, "
            f"with map {weight['page_results_map_kb']} KB, with a map of "
            f"{weight['map_markers']} results {weight['page_results_map_200_kb']} KB",
            flush=True,
        )
        report.update(weight)
    print(json.dumps(report))

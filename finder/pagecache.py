"""Rendered public pages, cached in process or in Redis, and the listings version that makes
every change to what families can see invalidate them all at once, on every machine.

The version lives in the database (`site_state`), raised in the same transaction as the change
by a flush hook: any process reads it with one indexed query, so no cache can outlive an edit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session

from .models import (
    Activity,
    ActivityTranslation,
    HolidayPeriod,
    Occurrence,
    Organisation,
    SiteState,
)

log = logging.getLogger(__name__)

LISTINGS = "listings"
# What families see of these tables: a change to any of them changes some public page.
WATCHED = (Activity, ActivityTranslation, Occurrence, Organisation, HolidayPeriod)


class PageCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int) -> None: ...


class MemoryCache:
    """A least-recently-used store with expiry, for one process, bounded in bytes."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_bytes
        self.size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._data[key]
                self.size -= len(value)
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: int) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self._data[key] = (time.monotonic() + ttl, value)
            self.size += len(value)
            while self.size > self._max and self._data:
                _key, (_expires, dropped) = self._data.popitem(last=False)
                self.size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.size = 0


# Bytes Redis spends per kept page besides the page itself: its key and expiry, its entries in
# the index and the size table below, the allocator's rounding (680 measured by used_memory
# over 2,000 pages of 8 KB on Redis 7.0).
PAGE_OVERHEAD = 700

# Keeps one page within the budget, in one round trip: the oldest pages make room (every page
# lives the same time, so the oldest is also the nearest to its end). A page's size is counted
# when it is kept and forgotten when it makes room, so a page Redis has already expired still
# counts until then: the count is never below what Redis holds. KEYS: the page, the index
# (page -> order kept), the sizes (page -> bytes, and "=total", "=seq"). One Redis, not a cluster:
# the pages that make room are not among KEYS.
KEEP = """
local page, index, sizes = KEYS[1], KEYS[2], KEYS[3]
local name, value, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local budget, overhead, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local size = #value + overhead
if size > budget then return 0 end
local total = tonumber(redis.call('HGET', sizes, '=total') or '0')
local function forget(other)
  total = total - tonumber(redis.call('HGET', sizes, other) or '0')
  redis.call('HDEL', sizes, other)
  redis.call('ZREM', index, other)
end
forget(name)
while total + size > budget do
  local oldest = redis.call('ZRANGE', index, 0, 0)
  if #oldest == 0 then total = 0 break end
  redis.call('UNLINK', prefix .. oldest[1])
  forget(oldest[1])
end
redis.call('SET', page, value, 'PX', ttl)
redis.call('ZADD', index, redis.call('HINCRBY', sizes, '=seq', 1), name)
redis.call('HSET', sizes, name, size, '=total', total + size)
-- the bookkeeping outlives no page: an idle cache leaves nothing behind
redis.call('PEXPIRE', index, ttl)
redis.call('PEXPIRE', sizes, ttl)
return 1
"""


class RedisCache:
    """Shared by every process and machine that uses the same Redis, within a budget in bytes.

    While Redis does not answer, pages are kept in this process (`fallback`) and Redis is left
    alone for `retry_seconds` at a time: no visitor waits for it or gets an error, and a kept
    page is as right as one from Redis (its key holds the listings version, read from the
    database). The outage is logged once, and so is the recovery."""

    def __init__(
        self,
        url: str,
        max_bytes: int,
        fallback: MemoryCache,
        retry_seconds: float,
        prefix: str = "meegaan:page:",
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One immediate retry reconnects a pooled connection that a restarted Redis closed;
        # redis-py's default (10 retries with back-off) would hold every visitor in an outage.
        self._redis = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 1)
        )
        self._keep = self._redis.register_script(KEEP)
        self._failures = (redis.RedisError, OSError)
        self._prefix = prefix
        self._bookkeeping = [prefix + "=index", prefix + "=sizes"]
        self._max = max_bytes
        self._fallback = fallback
        self._retry_seconds = retry_seconds
        self._down = False
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        if self._down and time.monotonic() < self._retry_at:
            return self._fallback.get(key)
        try:
            value = self._redis.get(self._prefix + key)
        except self._failures as exc:
            self._lost(exc)
            return self._fallback.get(key)
        if self._down:
            self._back()
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl: int) -> None:
        if self._down and time.monotonic() < self._retry_at:
            self._fallback.set(key, value, ttl)
            return
        try:
            self._keep(
                keys=[self._prefix + key, *self._bookkeeping],
                args=[key, value, ttl * 1000, self._max, PAGE_OVERHEAD, self._prefix],
            )
        except self._failures as exc:
            self._lost(exc)
            self._fallback.set(key, value, ttl)
            return
        if self._down:
            self._back()

    def _lost(self, exc: Exception) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + self._retry_seconds
            if not self._down:
                self._down = True
                log.warning(
                    "Redis does not answer (%s): family pages are kept in this process "
                    "until it does (tried again every %g s)",
                    exc,
                    self._retry_seconds,
                )

    def _back(self) -> None:
        with self._lock:
            if self._down:
                self._down = False
                self._fallback.clear()  # Redis holds the pages again; free this memory
                log.warning("Redis answers again: family pages are kept in Redis")


VERSION_SQL = f"SELECT version, changed_at FROM site_state WHERE name = '{LISTINGS}'"


def _version_of(row: Any) -> tuple[int, datetime]:
    if row is None:
        return 0, datetime(2026, 1, 1)
    changed = row[1]
    if isinstance(changed, str):  # SQLite through a plain cursor keeps datetimes as text
        changed = datetime.fromisoformat(changed)
    return int(row[0]), changed


def listings_version(session: Session) -> tuple[int, datetime]:
    """The current version of what families see, and when it last changed (in the session's
    transaction, as plain SQL on its connection: a fifth of the ORM's time)."""
    return _version_of(session.connection().exec_driver_sql(VERSION_SQL).first())


class VersionReader:
    """`listings_version` for the front cache: one plain query on a pooled connection, without
    an ORM session (about 20 µs on SQLite, one round trip on PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self) -> tuple[int, datetime]:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(VERSION_SQL)
            row = cursor.fetchone()
            cursor.close()
        finally:
            connection.close()  # back to the pool, which ends the read
        return _version_of(row)


def bump(session: Session) -> None:
    session.execute(
        update(SiteState)
        .where(SiteState.name == LISTINGS)
        .values(
            version=SiteState.version + 1,
            changed_at=datetime.now(UTC).replace(tzinfo=None).replace(microsecond=0),
        )
        .execution_options(synchronize_session=False)
    )


def _changed(session: Session) -> bool:
    for obj in session.new | session.deleted:
        if isinstance(obj, WATCHED):
            return True
    return any(
        isinstance(obj, WATCHED) and session.is_modified(obj, include_collections=False)
        for obj in session.dirty
    )


@event.listens_for(Session, "before_flush")
def _bump_on_change(session: Session, _context: Any, _instances: Any) -> None:
    """Raise the version in the flush that writes the change (same transaction)."""
    if _changed(session) and not session.info.get("bumping"):
        session.info["bumping"] = True
        try:
            with session.no_autoflush:
                bump(session)
        finally:
            session.info["bumping"] = False

"""Rendered public pages, cached in process or in Redis, and the listings version that makes
every change to what families can see invalidate them all at once, on every machine.

The version lives in the database (`site_state`), raised in the same transaction as the change
by a flush hook: any process reads it with one indexed query, so no cache can outlive an edit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from .models import (
    Activity,
    ActivityTranslation,
    HolidayPeriod,
    Occurrence,
    Organisation,
    SiteState,
)

LISTINGS = "listings"
# What families see of these tables: a change to any of them changes some public page.
WATCHED = (Activity, ActivityTranslation, Occurrence, Organisation, HolidayPeriod)


class PageCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int) -> None: ...


class MemoryCache:
    """A bounded LRU with expiry, for one process."""

    def __init__(self, max_entries: int = 1000) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: int) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)


class RedisCache:
    """Shared by every process and machine that uses the same Redis."""

    def __init__(self, url: str, prefix: str = "meegaan:page:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5)
        self._prefix = prefix

    def get(self, key: str) -> bytes | None:
        try:
            value = self._redis.get(self._prefix + key)
        except OSError:  # redis.ConnectionError is an OSError: serve uncached, never fail
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl: int) -> None:
        with contextlib.suppress(OSError):
            self._redis.set(self._prefix + key, value, ex=ttl)


def listings_version(session: Session) -> tuple[int, datetime]:
    """The current version of what families see, and when it last changed."""
    row = session.execute(
        select(SiteState.version, SiteState.changed_at).where(SiteState.name == LISTINGS)
    ).one_or_none()
    if row is None:
        return 0, datetime(2026, 1, 1)
    return int(row.version), row.changed_at


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

"""Rate limits for public and sign-in forms: in memory by default, in Redis when configured;
and the growing wait after wrong passwords for one account from one address."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter

# No X-RateLimit-* headers on every form's answer (Flask-Limiter would also put the window's
# reset in a Retry-After of answers that were not limited): a refusal says when to come back
# itself (retry_after and errors.py).
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)
log = logging.getLogger(__name__)
T = TypeVar("T")


@limiter.request_filter
def _reading() -> bool:
    """Every limit is on a form's POST; a page read is let through without looking (the
    limiter's checks cost a results page 0.2 ms for nothing)."""
    return request.method in ("GET", "HEAD")


def retry_after() -> int:
    """Seconds until the limit that refused this request lets it through again."""
    limit = limiter.current_limit
    if limit is None:
        return 60
    return max(1, math.ceil(limit.reset_at - time.time()))


def refused(response: Response) -> bool:
    """Count a form's POST toward a limit only when it was refused (a wrong password, a form
    with errors): people who get in, or whose request went through, never use up a limit."""
    return response.status_code >= 400


# Wrong passwords for one account from one address: the first LOGIN_FREE_FAILURES are free, then
# each next try waits twice as long as the one before (5 s, 10 s, 20 s … at most 15 minutes).
# Nobody can lock an account: the owner, from another address, is never held up by someone
# else's guesses, and from the same address waits seconds, not a quarter of an hour.
FIRST_WAIT_SECONDS = 5
LONGEST_WAIT_SECONDS = 15 * 60
FAILURES_FORGOTTEN_AFTER = 3600


def _keys(email: str) -> tuple[str, str]:
    who = hashlib.sha256(
        f"{email.strip().lower()[:254]}|{get_remote_address()}".encode()
    ).hexdigest()[:32]
    return f"meegaan/login-failures/{who}", f"meegaan/login-wait/{who}"


# While the limits' store (Redis) does not answer, wrong passwords are counted in this
# process's memory, as Flask-Limiter does for its own limits; Redis is tried again after a pause.
_memory = MemoryStorage()
_STORE_RETRY_SECONDS = 2.0
_store_down_until = 0.0


def _with_store(work: Callable[[Storage], T]) -> T:
    global _store_down_until
    if time.monotonic() >= _store_down_until:
        try:
            result = work(limiter.storage)
        except Exception:
            if _store_down_until == 0.0:
                log.warning("sign-in waits are counted in memory: the limits' store is away")
            _store_down_until = time.monotonic() + _STORE_RETRY_SECONDS
        else:
            if _store_down_until:
                log.warning("sign-in waits are counted in the limits' store again")
                _store_down_until = 0.0
            return result
    return work(_memory)


def login_wait(email: str) -> int:
    """Seconds this account must wait before its next try from this address (0: go ahead)."""
    _, wait_key = _keys(email)

    def wait(storage: Storage) -> int:
        if storage.get(wait_key) <= 0:
            return 0
        return max(1, math.ceil(storage.get_expiry(wait_key) - time.time()))

    return _with_store(wait)


def login_failed(email: str) -> int:
    """Count a wrong password; returns the seconds to wait before the next try."""
    failures_key, wait_key = _keys(email)
    free = current_app.config["LOGIN_FREE_FAILURES"]

    def count(storage: Storage) -> int:
        failures = storage.incr(failures_key, FAILURES_FORGOTTEN_AFTER)
        if failures <= free:
            return 0
        wait = min(FIRST_WAIT_SECONDS * 2 ** min(failures - free - 1, 20), LONGEST_WAIT_SECONDS)
        storage.clear(wait_key)
        storage.incr(wait_key, wait)
        return int(wait)

    return _with_store(count)


def login_succeeded(email: str) -> None:
    failures_key, wait_key = _keys(email)

    def forget(storage: Storage) -> None:
        storage.clear(failures_key)
        storage.clear(wait_key)

    _with_store(forget)


# --- quotas of forms that were accepted ---------------------------------------------------------
# A family's come-along form is limited by what abuse looks like (the same contact asking again
# and again, one activity flooded, a burst from one connection), never by a shared address
# alone: families send from a community centre's wifi, and a volunteer helps several families
# on one tablet. Only forms that were accepted count; a limit shows the form again, as typed.


@dataclass(frozen=True)
class Quota:
    """One limit ("3 per day", a setting) on one thing (a contact, an activity, an address)."""

    kind: str  # what it limits: names the message and the key
    limit: str
    subject: str  # the contact, activity or address (hashed into the key)

    def key(self) -> str:
        digest = hashlib.sha256(self.subject.encode()).hexdigest()[:32]
        return f"meegaan/quota/{self.kind}/{digest}"


def quota_exhausted(quotas: list[Quota]) -> tuple[Quota, int] | None:
    """The first quota that is used up, with the seconds until it frees up; None: go ahead."""

    def check(storage: Storage) -> tuple[Quota, int] | None:
        window = FixedWindowRateLimiter(storage)
        for quota in quotas:
            item = parse(quota.limit)
            if not window.test(item, quota.key()):
                reset = window.get_window_stats(item, quota.key()).reset_time
                return quota, max(1, math.ceil(reset - time.time()))
        return None

    return _with_store(check)


def spend(quotas: list[Quota]) -> None:
    """Count an accepted form against each of its quotas."""

    def hit(storage: Storage) -> None:
        window = FixedWindowRateLimiter(storage)
        for quota in quotas:
            window.hit(parse(quota.limit), quota.key())

    _with_store(hit)

"""Rate limits for public and sign-in forms: in memory by default, in Redis when configured;
the growing wait after wrong passwords; quotas of accepted come-along forms."""

from __future__ import annotations

import hashlib
import ipaddress
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
def client_address() -> str:
    """Who sends the request, for every limit: the address, or for IPv6 its /64 network (one
    household or phone gets a whole /64 and can pick any address in it)."""
    address = get_remote_address()
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(found, ipaddress.IPv6Address):
        if found.ipv4_mapped:
            return str(found.ipv4_mapped)
        return str(ipaddress.ip_network(f"{found}/64", strict=False))
    return str(found)


limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=False)
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


# Wrong passwords, counted twice. For one account from one address: the first
# LOGIN_FREE_FAILURES are free, then each next try waits twice as long as the one before (5 s,
# 10 s, 20 s … at most 15 minutes). For one account from everywhere (a guesser who changes
# address): past LOGIN_ACCOUNT_FREE_FAILURES an hour, the same growing wait for every browser
# except those the account signed in from before (`known`, a signed cookie). Nobody can lock
# an account: its owner, on their own device, is never held up by someone else's guesses.
FIRST_WAIT_SECONDS = 5
LONGEST_WAIT_SECONDS = 15 * 60
FAILURES_FORGOTTEN_AFTER = 3600


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def account_digest(email: str) -> str:
    return _digest(email.strip().lower()[:254])


def _scopes(email: str, known: bool) -> list[tuple[str, int]]:
    """(key, free failures) of each count that applies to this try."""
    account = account_digest(email)
    cfg = current_app.config
    scopes = [(f"{account}/{_digest(client_address())}", cfg["LOGIN_FREE_FAILURES"])]
    if not known:
        scopes.append((account, cfg["LOGIN_ACCOUNT_FREE_FAILURES"]))
    return scopes


def _wait_after(failures: int, free: int) -> int:
    if failures <= free:
        return 0
    return int(min(FIRST_WAIT_SECONDS * 2 ** min(failures - free - 1, 20), LONGEST_WAIT_SECONDS))


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


def login_wait(email: str, known: bool = False) -> int:
    """Seconds this try must wait (0: go ahead)."""

    def wait(storage: Storage) -> int:
        longest = 0
        for key, _free in _scopes(email, known):
            wait_key = f"meegaan/login-wait/{key}"
            if storage.get(wait_key) > 0:
                left = math.ceil(storage.get_expiry(wait_key) - time.time())
                longest = max(longest, left, 1)
        return longest

    return _with_store(wait)


def login_failed(email: str, known: bool = False) -> int:
    """Count a wrong password; returns the seconds to wait before the next try."""
    account_scope = account_digest(email)

    def count(storage: Storage) -> int:
        longest = 0
        # The account's count goes up from every browser; only unknown ones wait on it.
        for key, free in _scopes(email, known=False):
            failures = storage.incr(f"meegaan/login-failures/{key}", FAILURES_FORGOTTEN_AFTER)
            wait = _wait_after(failures, free)
            if wait:
                storage.clear(f"meegaan/login-wait/{key}")
                storage.incr(f"meegaan/login-wait/{key}", wait)
                if not (known and key == account_scope):
                    longest = max(longest, wait)
        return longest

    return _with_store(count)


def login_succeeded(email: str) -> None:
    """Forget this address's wrong tries for the account (not the account's own count: a
    guesser elsewhere keeps waiting)."""
    key = _scopes(email, known=True)[0][0]

    def forget(storage: Storage) -> None:
        storage.clear(f"meegaan/login-failures/{key}")
        storage.clear(f"meegaan/login-wait/{key}")

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
    """The used-up quota that frees up last, with the seconds until then (the honest wait:
    every used-up quota must have freed up); None: go ahead."""

    def check(storage: Storage) -> tuple[Quota, int] | None:
        window = FixedWindowRateLimiter(storage)
        longest: tuple[Quota, int] | None = None
        for quota in quotas:
            item = parse(quota.limit)
            if not window.test(item, quota.key()):
                reset = window.get_window_stats(item, quota.key()).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                if longest is None or wait > longest[1]:
                    longest = (quota, wait)
        return longest

    return _with_store(check)


def spend(quotas: list[Quota]) -> None:
    """Count an accepted form against each of its quotas."""

    def hit(storage: Storage) -> None:
        window = FixedWindowRateLimiter(storage)
        for quota in quotas:
            window.hit(parse(quota.limit), quota.key())

    _with_store(hit)

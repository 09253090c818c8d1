"""HTTP caching of the families' pages: which pages may be kept (`cached_page`), the front
cache that keeps them (web/frontcache.py), and ETag/Last-Modified with 304 answers on every
public page, cache or no cache; pages are revalidated on every visit so an edit shows at once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, g, request, session

from ..pagecache import MemoryCache, PageCache, RedisCache, listings_version
from .common import db
from .frontcache import KEEPING, MARK, FrontCache

F = TypeVar("F", bound=Callable[..., Any])
# Public pages answered with ETag/Last-Modified and 304 when nothing changed.
CONDITIONAL = {
    "public.home",
    "public.results",
    "public.results_map",
    "public.detail",
    "api.activities",
    "api.activity",
}


def init_app(app: Flask) -> None:
    app.after_request(_conditional)  # runs after _mark (Flask runs them in reverse)
    kind = app.config["PAGE_CACHE"]
    backend: PageCache | None = None
    if kind == "redis" or (kind == "auto" and app.config["REDIS_URL"]):
        backend = RedisCache(
            app.config["REDIS_URL"],
            max_bytes=int(app.config["PAGE_CACHE_REDIS_MB"] * 1024 * 1024),
            fallback=MemoryCache(app.config["PAGE_CACHE_MB"] * 1024 * 1024),
            retry_seconds=app.config["PAGE_CACHE_REDIS_RETRY_SECONDS"],
        )
    elif kind in ("memory", "auto"):
        backend = MemoryCache(app.config["PAGE_CACHE_MB"] * 1024 * 1024)
    if backend is not None:
        app.extensions["meegaan_page_cache"] = backend
        app.wsgi_app = FrontCache(app, app.wsgi_app, backend)  # type: ignore[method-assign]
        app.after_request(_mark)


def cached_page(view: F) -> F:
    """This page is the same for every visitor without an account or a message waiting, so
    the front cache may keep it (under a key with the parameters it reads, the language, the
    listings version and the date; see frontcache.py). It must not carry a form token."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.page_cacheable = True
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _mark(response: Response) -> Response:
    """Tell the front cache it may keep this page; only when it asked (a page it lets through,
    as for a strange session or address, is answered as without a cache)."""
    if (
        request.environ.get(KEEPING)
        and g.get("page_cacheable")
        and g.get("user") is None
        and "_flashes" not in session
    ):
        response.headers[MARK] = "1"
    return response


def _conditional(response: Response) -> Response:
    """ETag and Last-Modified on public pages; a 304 when the browser's copy is still right
    (the front cache does the same for the pages it keeps)."""
    if (
        request.method != "GET"
        or request.endpoint not in CONDITIONAL
        or response.status_code != 200
        or response.direct_passthrough
        or MARK in response.headers  # the front cache keeps it and answers conditionals
    ):
        return response
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32], weak=True)
    if "listings_version" not in g:
        g.listings_version = listings_version(db())
    response.last_modified = g.listings_version[1]
    response.headers["Cache-Control"] = "no-cache"  # keep it, but ask each time (a 304 is tiny)
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    if request.if_none_match or request.if_modified_since:
        response.make_conditional(request)
    return response

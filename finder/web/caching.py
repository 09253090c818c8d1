"""HTTP caching of the families' pages: rendered results kept for a minute under a key that
holds every parameter, the language and the listings version; ETag/Last-Modified with 304
answers; public pages revalidated on every visit so that an edit shows at once."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, make_response, request, session
from flask_wtf.csrf import generate_csrf

from ..pagecache import MemoryCache, PageCache, RedisCache, listings_version
from ..schedule import to_local
from ..security import csp_nonce
from .common import db, locale_code, now_utc

F = TypeVar("F", bound=Callable[..., Any])
NONCE_MARK = "__MEEGAAN_NONCE__"
CSRF_MARK = b"__MEEGAAN_CSRF__"
_CSRF = re.compile(rb'(name="csrf_token"(?: type="hidden")? value=")[^"]+(")')
# Public pages answered with ETag/Last-Modified and 304 when nothing changed.
CONDITIONAL = {"public.home", "public.results", "public.detail", "api.activities", "api.activity"}


def _backend() -> PageCache | None:
    app = current_app
    backend: PageCache | None = app.extensions.get("meegaan_page_cache")
    return backend


def init_app(app: Flask) -> None:
    kind = app.config["PAGE_CACHE"]
    if kind == "redis" or (kind == "auto" and app.config["REDIS_URL"]):
        app.extensions["meegaan_page_cache"] = RedisCache(app.config["REDIS_URL"])
    elif kind in ("memory", "auto"):
        app.extensions["meegaan_page_cache"] = MemoryCache(app.config["PAGE_CACHE_ENTRIES"])
    app.after_request(_conditional)


def _version() -> tuple[int, Any]:
    if "listings_version" not in g:
        g.listings_version = listings_version(db())
    found: tuple[int, Any] = g.listings_version
    return found


def cached_page(view: F) -> F:
    """Serve a family's GET page from the cache when nothing it shows can have changed.

    The page's form token, if it has one, is stored masked and put back for each visitor.

    Only for visitors without a session message or staff account (their pages differ); the
    key holds the endpoint, every query parameter, the language, the listings version and the
    date ("today" becomes "tomorrow"); a page lives PAGE_CACHE_SECONDS at most, so a session
    that just ended leaves the list within that time. The CSP nonce is put back fresh.
    """

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        backend = _backend()
        if backend is None or g.get("user") is not None or "_flashes" in session:
            return view(*args, **kwargs)
        version, _changed = _version()
        today = to_local(now_utc()).date().isoformat()  # "today" and "tomorrow" change at midnight
        params = sorted(request.args.items(multi=True))
        raw_key = repr((request.endpoint, kwargs, params, locale_code(), version, today))
        key = hashlib.sha256(raw_key.encode()).hexdigest()
        ttl = current_app.config["PAGE_CACHE_SECONDS"]
        hit = backend.get(key)
        if hit is not None:
            status, _, body = hit.partition(b"\n")
            body = body.replace(NONCE_MARK.encode(), csp_nonce().encode())
            if CSRF_MARK in body:  # this visitor's own form token, as an uncached page has
                body = body.replace(CSRF_MARK, generate_csrf().encode())
            response = make_response(body)
            response.status_code = int(status)
            response.mimetype = (
                "application/json" if request.path.startswith("/api/") else ("text/html")
            )
            response.headers["X-Cache"] = "hit"
            return response
        response = make_response(view(*args, **kwargs))
        if response.status_code in (200, 400) and not response.direct_passthrough:
            body = response.get_data()
            if "csp_nonce" in g:
                body = body.replace(g.csp_nonce.encode(), NONCE_MARK.encode())
            body = _CSRF.sub(rb"\1" + CSRF_MARK + rb"\2", body)
            backend.set(key, str(response.status_code).encode() + b"\n" + body, ttl)
            response.headers["X-Cache"] = "miss"
        return response

    return wrapped  # type: ignore[return-value]


def _conditional(response: Response) -> Response:
    """ETag (of the page without its per-visit nonce and form token) and Last-Modified on
    public pages; a 304 when the browser's copy is still right."""
    if (
        request.method != "GET"
        or request.endpoint not in CONDITIONAL
        or response.status_code != 200
        or response.direct_passthrough
    ):
        return response
    body = response.get_data()
    canonical = _CSRF.sub(rb"\1-\2", body)
    if "csp_nonce" in g:
        canonical = canonical.replace(g.csp_nonce.encode(), b"-")
    response.set_etag(hashlib.sha256(canonical).hexdigest()[:32], weak=True)
    _version_number, changed = _version()
    response.last_modified = changed
    response.headers["Cache-Control"] = "no-cache"  # keep it, but ask each time (a 304 is tiny)
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    response.make_conditional(request)
    return response

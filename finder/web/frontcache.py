"""The front cache (DESIGN §8, issue #8): families' pages answered before Flask is involved.

A hit has to cost about as much as a "hello world": the page is kept compressed (gzip and
brotli) with its ETag, under a key that holds the host, the path, the parameters the page
reads (an address with others is not kept), the language chosen exactly as the page would
choose it (`choose_locale`), the listings version (one small query per request, so an edit
anywhere shows on the very next request, on every machine), the local date and the build of
the code. Only visitors without an account, a message waiting or anything else in their
session are answered here; every other request goes to Flask untouched.

A miss is rendered by Flask; it is kept only when the page said it may be (`cached_page`:
public page, no staff, no message) and it sets no cookie but the language one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import brotli
from flask import Flask
from werkzeug.datastructures import Headers, LanguageAccept
from werkzeug.http import (
    HTTP_STATUS_CODES,
    http_date,
    is_resource_modified,
    parse_accept_header,
    parse_cookie,
)

from ..pagecache import PageCache, VersionReader
from ..resources import TRANSLATIONS
from ..schedule import to_local
from ..security import page_headers
from .common import LANG_COOKIE, choose_locale, lang_cookie
from .params import REPEATED_PARAMETERS, SEARCH_PARAMETERS

# The pages families land on: home, results and their map, detail (with or without slug) and
# the JSON API.
PAGES = re.compile(r"/(?:activities(?:/\d+(?:-[^/.]*)?|/map)?|api/v1/activities(?:/\d+)?)?\Z")
# Set by Flask on a response that may be kept (see caching.cached_page); never sent out.
MARK = "X-Meegaan-Cacheable"
# In the environ of a request the front cache would keep: only then does Flask set MARK.
KEEPING = "meegaan.keeping"
# What each page reads from its address (DESIGN §7, web/params.py): the search pages their
# parameters, the others only the language. A page is kept under these alone, as the handler
# reads them; an address with another parameter, or with a one-valued parameter twice, is
# answered as without a cache: junk parameters cannot fill the cache, and `?where=1000&where=9000`
# (Flask reads 1000) never shares a page with `?where=9000&where=1000`.
SEARCH_PATHS = frozenset({"/activities", "/activities/map", "/api/v1/activities"})
SEARCH_PARAMS = SEARCH_PARAMETERS | {"lang"}
PAGE_PARAMS = frozenset({"lang"})
# Read with getlist: every value counts, in its order (the API echoes `tags` as given; the
# search form always sends them in one order, so this costs no hits).
LIST_PARAMS = REPEATED_PARAMETERS
VARY = "Accept-Encoding, Accept-Language, Cookie"
# Keys an anonymous visitor's session may hold: a form token (after a form page), nothing else.
ANONYMOUS_SESSION = {"csrf_token"}

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


class Page:
    """A kept page: status, type, ETag, Last-Modified, and its body twice compressed."""

    __slots__ = ("br", "content_type", "etag", "gzip", "last_modified", "status")

    def __init__(
        self, status: int, content_type: str, etag: str, last_modified: str, gz: bytes, br: bytes
    ) -> None:
        self.status, self.content_type = status, content_type
        self.etag, self.last_modified = etag, last_modified
        self.gzip, self.br = gz, br

    @classmethod
    def of(cls, status: int, content_type: str, body: bytes, changed: datetime) -> Page:
        return cls(
            status,
            content_type,
            hashlib.sha256(body).hexdigest()[:32],
            http_date(changed),
            gzip.compress(body, compresslevel=6, mtime=0),
            brotli.compress(body, mode=brotli.MODE_TEXT, quality=5),
        )

    def dump(self) -> bytes:
        head = [self.status, self.content_type, self.etag, self.last_modified, len(self.gzip)]
        return json.dumps(head).encode() + b"\n" + self.gzip + self.br

    @classmethod
    def load(cls, blob: bytes) -> Page:
        head, _, rest = blob.partition(b"\n")
        status, content_type, etag, last_modified, split = json.loads(head)
        return cls(status, content_type, etag, last_modified, rest[:split], rest[split:])


def build_id(*folders: Path) -> str:
    """Changes when the code, templates, assets or catalogs change: a kept page never outlives
    a new release, even in a Redis that several releases share."""
    digest = hashlib.sha256()
    for folder in folders:
        for path, _dirs, files in sorted(os.walk(folder)):
            for name in sorted(files):
                if name.endswith((".py", ".html", ".txt", ".css", ".js", ".mo", ".svg")):
                    stat = os.stat(os.path.join(path, name))
                    digest.update(f"{path}/{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def page_arguments(
    path: str, args: list[tuple[str, str]]
) -> tuple[tuple[str, str | tuple[str, ...]], ...] | None:
    """The parameters the page at `path` reads, by name, or None when the address holds
    anything else or a one-valued parameter more than once."""
    known = SEARCH_PARAMS if path in SEARCH_PATHS else PAGE_PARAMS
    found: dict[str, list[str]] = {}
    for name, value in args:
        if name not in known:
            return None
        found.setdefault(name, []).append(value)
    arguments: list[tuple[str, str | tuple[str, ...]]] = []
    for name in sorted(found):
        values = found[name]
        if name in LIST_PARAMS:
            arguments.append((name, tuple(values)))
        elif len(values) > 1:
            return None
        else:
            arguments.append((name, values[0]))
    return tuple(arguments)


def _encoding(accepted: str) -> str:
    """brotli, else gzip, else none, as the browser's Accept-Encoding allows."""
    allowed = set()
    for part in accepted.lower().split(","):
        name, _, params = part.strip().partition(";")
        if params.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue
        allowed.add(name.strip())
    return "br" if "br" in allowed else "gzip" if "gzip" in allowed or "*" in allowed else ""


class FrontCache:
    """WSGI middleware around the Flask app (installed by caching.init_app)."""

    def __init__(self, app: Flask, inner: Callable[..., Any], backend: PageCache) -> None:
        cfg = app.config
        self.app, self.inner, self.backend = app, inner, backend
        self.version = VersionReader(app.extensions["meegaan_db"].engine)
        self.languages = list(cfg["LANGUAGES"])
        self.ttl = int(cfg["PAGE_CACHE_SECONDS"])
        self.build = build_id(Path(app.root_path), TRANSLATIONS)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or not PAGES.match(
            environ.get("PATH_INFO", "")
        ):
            return self.inner(environ, start_response)
        cookies = parse_cookie(environ)
        if not self._anonymous(cookies.get(self.app.config["SESSION_COOKIE_NAME"])):
            return self.inner(environ, start_response)
        args = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        arguments = page_arguments(environ.get("PATH_INFO", ""), args)
        if arguments is None:
            return self.inner(environ, start_response)
        asked = next((value for name, value in args if name == "lang"), "")
        accept = parse_accept_header(environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept)
        locale = choose_locale(asked, None, cookies.get(LANG_COOKIE, ""), accept, self.languages)
        try:
            version, changed = self.version()
        except Exception:  # the database is away: let the app answer (and log) as it would
            return self.inner(environ, start_response)
        now = self.app.config.get("NOW") or datetime.now(UTC).replace(tzinfo=None)
        raw_key = repr(
            (
                self.build,
                environ.get("wsgi.url_scheme"),
                environ.get("HTTP_HOST", ""),
                environ.get("PATH_INFO"),
                arguments,
                locale or self.app.config["DEFAULT_LOCALE"],
                version,
                to_local(now).date().isoformat(),  # "today" becomes "tomorrow" at midnight
            )
        )
        key = hashlib.sha256(raw_key.encode()).hexdigest()
        secure = environ.get("wsgi.url_scheme") == "https"
        cookie = lang_cookie(asked, cookies.get(LANG_COOKIE), self.languages, secure)
        blob = self.backend.get(key)
        if blob is not None:
            return self._answer(environ, start_response, Page.load(blob), "hit", cookie)
        return self._render(environ, start_response, key, changed, cookie)

    def _anonymous(self, session_cookie: str | None) -> bool:
        if not session_cookie:
            return True
        serializer: Any = self.app.session_interface.get_signing_serializer(self.app)  # type: ignore[attr-defined]
        try:
            data = serializer.loads(
                session_cookie, max_age=int(self.app.permanent_session_lifetime.total_seconds())
            )
        except Exception:  # forged, expired or unreadable: Flask decides what it means
            return False
        return isinstance(data, dict) and set(data) <= ANONYMOUS_SESSION

    def _render(
        self,
        environ: Environ,
        start_response: StartResponse,
        key: str,
        changed: datetime,
        cookie: str,
    ) -> Iterable[bytes]:
        """Let Flask render the page; keep it when it may be kept, then answer like a hit."""
        inner_environ = dict(environ)
        inner_environ["REQUEST_METHOD"] = "GET"  # a HEAD must not keep an empty page
        inner_environ[KEEPING] = True
        for name in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE"):
            inner_environ.pop(name, None)  # the page itself, not a 304
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        result = self.inner(inner_environ, capture)
        try:
            chunks.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        headers = Headers(captured["headers"])
        status = int(captured["status"].split(" ", 1)[0])
        body = b"".join(chunks)
        keep = (
            headers.pop(MARK, None) is not None
            and status in (200, 400)
            # the language cookie is set again on every answer; any other cookie is personal
            and all(c.startswith(LANG_COOKIE + "=") for c in headers.getlist("Set-Cookie"))
        )
        if not keep:
            start_response(captured["status"], list(headers.items()))
            return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
        encoding = headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            body = brotli.decompress(body)
        page = Page.of(status, headers.get("Content-Type", "text/html"), body, changed)
        self.backend.set(key, page.dump(), self.ttl)
        return self._answer(environ, start_response, page, "miss", cookie)

    def _answer(
        self,
        environ: Environ,
        start_response: StartResponse,
        page: Page,
        state: str,
        cookie: str,
    ) -> Iterable[bytes]:
        secure = environ.get("wsgi.url_scheme") == "https"
        headers = page_headers(self.app, False, secure)
        headers += [("Cache-Control", "no-cache"), ("Vary", VARY), ("X-Cache", state)]
        if cookie:
            headers.append(("Set-Cookie", cookie))
        if page.status == 200:
            headers += [("ETag", f'W/"{page.etag}"'), ("Last-Modified", page.last_modified)]
            if not is_resource_modified(environ, etag=page.etag, last_modified=page.last_modified):
                start_response("304 Not Modified", headers)
                return [b""]
        encoding = _encoding(environ.get("HTTP_ACCEPT_ENCODING", ""))
        if encoding == "br":
            body = page.br
        elif encoding == "gzip":
            body = page.gzip
        else:
            body = gzip.decompress(page.gzip)
        headers.append(("Content-Type", page.content_type))
        if encoding:
            headers.append(("Content-Encoding", encoding))
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{page.status} {HTTP_STATUS_CODES[page.status]}", headers)
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

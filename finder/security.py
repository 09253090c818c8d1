"""Security headers: a strict Content-Security-Policy (no inline script at all: every script is
one of our static files, data travels in JSON data blocks), and friends."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict


def _tile_origin(tile_url: str) -> str:
    parts = urlsplit(tile_url.replace("{s}", "a"))
    if not parts.scheme:
        return ""
    host = parts.hostname or ""
    if "{s}" in tile_url:
        host = "*." + host.split(".", 1)[1] if "." in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def content_security_policy(tile_url: str) -> str:
    tiles = _tile_origin(tile_url)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: {tiles}".strip(),
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


def page_headers(app: Flask, secret: bool, secure: bool) -> list[tuple[str, str]]:
    """The security headers of a page; also sent by the front cache (web/frontcache.py).

    A page reached by a secret link (status, invitation, reset, offer, confirmation) never
    sends its address on and is never stored; the others send only our origin to other sites.
    """
    policy = app.extensions.get("meegaan_csp")
    if policy is None:  # the same for every page: built once
        policy = app.extensions["meegaan_csp"] = content_security_policy(app.config["MAP_TILE_URL"])
    headers = [
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer" if secret else "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "geolocation=(self), camera=(), microphone=(), payment=(), usb=()"),
    ]
    if secret:
        headers.append(("Cache-Control", "no-store"))
    if secure:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def _headers(response: Response) -> Response:
    secret = "token" in (request.view_args or {})
    for name, value in page_headers(current_app, secret, request.is_secure):
        response.headers.setdefault(name, value)
    return response


# Never kept from what people type: NUL (PostgreSQL cannot store it) and the bidi embeddings and
# overrides U+202A–U+202E, which can make a text read differently from what it is. Isolates
# (U+2066–U+2069), which cannot spoof the text around them, stay.
_UNSAFE = dict.fromkeys(map(ord, "\x00\u202a\u202b\u202c\u202d\u202e"))


def clean_text(value: str) -> str:
    return value.translate(_UNSAFE)


def _clean_input() -> None:
    """Strip those characters from every query and form value before any view reads them."""
    for name in ("args", "form"):
        data: MultiDict[str, str] = getattr(request, name)
        if any(clean_text(v) != v for values in data.listvalues() for v in values):
            request.__dict__[name] = ImmutableMultiDict(
                [(k, clean_text(v)) for k, v in data.items(multi=True)]
            )
            request.__dict__.pop("values", None)


def init_app(app: Flask) -> None:
    app.before_request(_clean_input)
    app.after_request(_headers)

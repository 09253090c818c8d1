"""Security headers: a strict Content-Security-Policy with a per-request nonce, and friends."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    nonce: str = g.csp_nonce
    return nonce


def _tile_origin(tile_url: str) -> str:
    parts = urlsplit(tile_url.replace("{s}", "a"))
    if not parts.scheme:
        return ""
    host = parts.hostname or ""
    if "{s}" in tile_url:
        host = "*." + host.split(".", 1)[1] if "." in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def content_security_policy(nonce: str, tile_url: str) -> str:
    tiles = _tile_origin(tile_url)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
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


def _headers(response: Response) -> Response:
    h = response.headers
    if response.status_code != 304:  # a 304 keeps the policy (and nonce) of the copy it revives
        h.setdefault(
            "Content-Security-Policy",
            content_security_policy(csp_nonce(), current_app.config["MAP_TILE_URL"]),
        )
    h.setdefault("X-Content-Type-Options", "nosniff")
    # A page reached by a secret link (status, invitation, reset, offer, confirmation) never
    # sends its address on; the others send only our origin to other sites.
    secret = "token" in (request.view_args or {})
    h.setdefault("Referrer-Policy", "no-referrer" if secret else "strict-origin-when-cross-origin")
    if secret:
        h.setdefault("Cache-Control", "no-store")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault(
        "Permissions-Policy", "geolocation=(self), camera=(), microphone=(), payment=(), usb=()"
    )
    if request.is_secure:
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
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
    app.jinja_env.globals["csp_nonce"] = csp_nonce

"""Rate limits for public and sign-in forms: in memory by default, in Redis when configured."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


@limiter.request_filter
def _reading() -> bool:
    """Every limit is on a form's POST; a page read is let through without looking (the
    limiter's checks cost a results page 0.2 ms for nothing)."""
    return request.method in ("GET", "HEAD")


def submitted_email() -> str:
    """Limit sign-in attempts per account as well as per address."""
    return "email:" + request.form.get("email", "").strip().lower()[:254]

"""Settings: one object read from the environment, with safe defaults for `make run`."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .db import SQLITE_BUSY_SECONDS

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def _float_list(value: str) -> list[float]:
    return [float(x) for x in value.split(",") if x.strip()]


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def _trusted_hosts(listed: str, public_base_url: str, development: bool) -> list[str] | None:
    """The host names this instance answers to: TRUSTED_HOSTS when set, else the host of
    PUBLIC_BASE_URL in production (any on a developer's machine). A request for another host
    is refused before any link is built from it."""
    hosts = [h.strip() for h in listed.split(",") if h.strip()]
    if hosts:
        return hosts
    host = urlsplit(public_base_url).hostname
    if development or not host:
        return None
    return [host]


def from_env(instance_path: str) -> dict[str, Any]:
    """Every tunable with its default; the README's configuration table lists the same names."""
    env = os.environ.get
    development = env("MEEGAAN_ENV", "production") == "development"
    return {
        "ENVIRONMENT": "development" if development else "production",
        # Empty: a random key per process on a developer's machine; production refuses to start
        # (settings.refuse_unsafe), since every worker must sign and read the same cookies.
        "SECRET_KEY": env("SECRET_KEY", ""),
        "DATABASE_URL": env("DATABASE_URL")
        or f"sqlite:///{Path(instance_path) / 'meegaan.sqlite'}",
        "SQLITE_BUSY_SECONDS": float(env("SQLITE_BUSY_SECONDS", str(SQLITE_BUSY_SECONDS))),
        "DEFAULT_LOCALE": "nl",
        # Interface languages, Dutch first; a new one needs a catalog in translations/ too.
        "LANGUAGES": ["nl", "fr", "en", "ar", "uk", "tr", "ru", "fa"],
        "TIMEZONE": "Europe/Brussels",
        "DEFAULT_RADIUS_KM": float(env("DEFAULT_RADIUS_KM", "5")),
        "MAX_RADIUS_KM": float(env("MAX_RADIUS_KM", "100")),
        "WIDEN_STEPS_KM": _float_list(env("WIDEN_STEPS_KM", "10,20,50")),
        "MIN_RESULTS": int(env("MIN_RESULTS", "3")),
        "PER_PAGE": int(env("PER_PAGE", "20")),
        "MAX_PER_PAGE": 100,
        "STAFF_PER_PAGE": int(env("STAFF_PER_PAGE", "50")),
        "OCCURRENCE_WEEKS": int(env("OCCURRENCE_WEEKS", "8")),
        "LOW_COST_MAX_EUR": float(env("LOW_COST_MAX_EUR", "5")),
        "MAP_TILE_URL": env("MAP_TILE_URL", DEFAULT_TILE_URL),
        "MAP_TILE_ATTRIBUTION": env("MAP_TILE_ATTRIBUTION", DEFAULT_TILE_ATTRIBUTION),
        "MAP_MAX_MARKERS": int(env("MAP_MAX_MARKERS", "200")),
        # From this many results on, nearby pins are grouped (leaflet.markercluster).
        "MAP_CLUSTER_FROM": int(env("MAP_CLUSTER_FROM", "50")),
        # The site's address: every link in a mail or on a slip is built from it, never from the
        # request's Host header. Required in production.
        "PUBLIC_BASE_URL": env("PUBLIC_BASE_URL", "").rstrip("/"),
        "TRUSTED_HOSTS": _trusted_hosts(
            env("TRUSTED_HOSTS", ""), env("PUBLIC_BASE_URL", ""), development
        ),
        # How many proxies in front set X-Forwarded-For/-Proto/-Host (nginx: 1). 0 trusts none:
        # a visitor could otherwise pick their own address and escape every rate limit.
        "PROXY_COUNT": int(env("PROXY_COUNT", "0")),
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_MIMETYPES": [
            "text/html",
            "text/css",
            "text/calendar",
            "application/javascript",
            "text/javascript",
            "application/json",
            "image/svg+xml",
        ],
        "COMPRESS_MIN_SIZE": 300,
        # Pages answer conditional requests before they are compressed (web/caching.py, and
        # send_file for static files); a second evaluation after compressing found nothing.
        "COMPRESS_EVALUATE_CONDITIONAL_REQUEST": False,
        "SEND_FILE_MAX_AGE_DEFAULT": 3600,
        # No form needs more; a 10 MB description is refused before it is read.
        "MAX_CONTENT_LENGTH": 256 * 1024,
        # Staff sessions: secure cookies except on a developer's plain-http machine.
        "SESSION_COOKIE_SECURE": _flag(env("SESSION_COOKIE_SECURE"), not development),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_IDLE_MINUTES": int(env("SESSION_IDLE_MINUTES", "60")),
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        # Rate limits (Flask-Limiter syntax); memory by default, Redis with REDIS_URL.
        "RATELIMIT_STORAGE_URI": env("REDIS_URL", "memory://"),
        # While Redis does not answer, each process counts in memory (and Flask-Limiter logs it
        # and tries Redis again now and then); short timeouts so no form post waits long for it.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        "REDIS_URL": env("REDIS_URL", ""),
        # Rendered family pages: "auto" (Redis with REDIS_URL, else in process), "memory",
        # "redis" or "off"; a listing change invalidates them at once on every machine.
        "PAGE_CACHE": env("PAGE_CACHE", "auto"),
        "PAGE_CACHE_SECONDS": int(env("PAGE_CACHE_SECONDS", "60")),
        "PAGE_CACHE_MB": int(env("PAGE_CACHE_MB", "64")),
        # The pages kept in Redis, all machines together (the oldest make room); while Redis
        # does not answer, pages are kept in process and Redis is tried again this often.
        "PAGE_CACHE_REDIS_MB": float(env("PAGE_CACHE_REDIS_MB", "128")),
        "PAGE_CACHE_REDIS_RETRY_SECONDS": float(env("PAGE_CACHE_REDIS_RETRY_SECONDS", "5")),
        "LOGIN_LIMIT_PER_ADDRESS": env("LOGIN_LIMIT_PER_ADDRESS", "20 per 10 minutes"),
        # Wrong passwords for one account from one address before each next try waits, growing
        # from 5 seconds to 15 minutes (web/limits.py); never a lock.
        "LOGIN_FREE_FAILURES": int(env("LOGIN_FREE_FAILURES", "5")),
        # Wrong passwords for one account from all addresses together in an hour, before
        # browsers it never signed in from wait too (a guesser who keeps changing address).
        "LOGIN_ACCOUNT_FREE_FAILURES": int(env("LOGIN_ACCOUNT_FREE_FAILURES", "20")),
        # Outgoing mail (the outbox worker: flask --app finder outbox-send).
        "SMTP_HOST": env("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": int(env("SMTP_PORT", "25")),
        "SMTP_USERNAME": env("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": env("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _flag(env("SMTP_STARTTLS"), False),
        "MAIL_FROM": env("MAIL_FROM", "Meegaan <noreply@meegaan.invalid>"),
        # Geocoding of activity addresses (Nominatim's usage policy: a real user agent, 1 req/s).
        "GEOCODER_ENABLED": _flag(env("GEOCODER_ENABLED"), True),
        "NOMINATIM_DOMAIN": env("NOMINATIM_DOMAIN", "nominatim.openstreetmap.org"),
        "NOMINATIM_SCHEME": env("NOMINATIM_SCHEME", "https"),
        "GEOCODER_USER_AGENT": env("GEOCODER_USER_AGENT", "meegaan/0.1 (+https://meegaan.invalid)"),
        "GEOCODER_TIMEOUT": float(env("GEOCODER_TIMEOUT", "3")),
        # Freshness of listings (flask --app finder freshness-check, daily).
        "CONFIRM_ASK_DAYS": int(env("CONFIRM_ASK_DAYS", "60")),
        "STALE_DAYS": int(env("STALE_DAYS", "90")),
        "PAUSE_DAYS": int(env("PAUSE_DAYS", "120")),
        "REPORT_LIMIT": env("REPORT_LIMIT", "5 per hour"),
        # Accompaniment requests (DESIGN §6). DATA_KEYS: Fernet keys, newest first, that encrypt
        # families' details; unset, a key file in the instance folder is made and used.
        "DATA_KEYS": [k.strip() for k in env("DATA_KEYS", "").split(",") if k.strip()],
        "REQUEST_PURGE_DAYS": int(env("REQUEST_PURGE_DAYS", "90")),
        "REQUEST_EXPIRE_DAYS": int(env("REQUEST_EXPIRE_DAYS", "30")),
        "FOLLOWUP_DAYS": [int(x) for x in env("FOLLOWUP_DAYS", "28,91").split(",") if x.strip()],
        # Accepted come-along forms (refused ones never count): from one connection (a burst;
        # a community centre's wifi is shared), from one phone number or e-mail address, for
        # one activity from one connection. A limit shows the form again as typed, with an
        # honest wait.
        "COME_ALONG_LIMIT": env("COME_ALONG_LIMIT", "10 per 10 minutes"),
        "COME_ALONG_LIMIT_PER_CONTACT": env("COME_ALONG_LIMIT_PER_CONTACT", "3 per day"),
        "COME_ALONG_LIMIT_PER_ACTIVITY": env("COME_ALONG_LIMIT_PER_ACTIVITY", "20 per day"),
        "ANSWER_DAYS": int(env("ANSWER_DAYS", "3")),  # a coordinator answers a family within
        "PHONE_REGION": env("PHONE_REGION", "BE"),
        # Ask the DNS whether an e-mail domain receives mail (needs the network).
        "EMAIL_CHECK_DNS": _flag(env("EMAIL_CHECK_DNS"), False),
        # One account per role with a known password, printed by `make run`: never in production.
        "DEMO_ACCOUNTS": development,
    }


class UnsafeSettings(RuntimeError):
    """Production refuses to start with settings that would put people at risk."""


def unsafe_settings(config: dict[str, Any]) -> list[str]:
    """What a production instance must not run with, each naming the variable to set."""
    problems = []
    if len(config.get("SECRET_KEY") or "") < 32:
        problems.append(
            "SECRET_KEY is not set (or shorter than 32 characters). Every worker and machine "
            "must sign cookies and links with the same key: "
            'python -c "import secrets; print(secrets.token_hex(32))"'
        )
    base = urlsplit(config.get("PUBLIC_BASE_URL") or "")
    if not base.scheme or not base.hostname:
        problems.append(
            "PUBLIC_BASE_URL is not set: the links in mails and on slips are built from it, "
            "never from a visitor's Host header (e.g. PUBLIC_BASE_URL=https://meegaan.example)"
        )
    elif base.scheme != "https" and not _loopback(base.hostname):
        problems.append(
            f"PUBLIC_BASE_URL must start with https:// (it is {base.scheme}://): "
            "links to reset a password must not travel in the clear"
        )
    return problems


def _loopback(host: str) -> bool:
    """Where plain http is no risk: a benchmark or audit on the machine itself."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

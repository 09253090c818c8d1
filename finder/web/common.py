"""What every blueprint shares: the request's database session, locale, clock and settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, has_request_context, request, url_for
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import Session
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import dump_cookie
from werkzeug.routing import IntegerConverter, Map

from ..accompaniment import Links, RequestSettings
from ..db import Database
from ..editing import EditSettings
from ..freshness import FreshnessSettings, confirm_stamp
from ..geo import GeocoderSettings
from ..models import AccompanimentRequest, Activity, RequestOffer
from ..notify import SmtpSettings
from ..paging import MAX_SEARCH_CHARS
from ..search import SearchSettings
from ..text import slugify
from .i18n import locale_code as locale_code  # the page's language; kept in i18n.py

LANG_COOKIE = "lang"


# Every id is a database INTEGER (PostgreSQL's is 32 bits): a larger number in an address is
# "not found", never a database error.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: a positive number that fits the database, written one way
    only (no leading zeros, no digits of other scripts): one address per page."""

    regex = r"[1-9][0-9]*"

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def parse_id(value: str | None) -> int | None:
    """An id from a form or query value, or None when it is not one."""
    if value is None or not value.strip().isascii() or not value.strip().isdigit():
        return None
    number = int(value.strip())
    return number if 1 <= number <= MAX_ID else None


def list_args() -> tuple[str, int, int]:
    """A staff list's search text, page number (a bad one is page 1) and rows per page, from
    `?q=…&page=…`."""
    search = request.args.get("q", "").strip()[:MAX_SEARCH_CHARS]
    number = parse_id(request.args.get("page")) or 1
    return search, number, int(current_app.config["STAFF_PER_PAGE"])


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
F = TypeVar("F", bound=Callable[..., Any])


def db() -> Session:
    """The request's session, opened on first use and closed at teardown. A request that writes
    (a form sent, or a page marked `writes`) gets a session that writes: on SQLite it queues for
    the write lock instead of failing when another request wrote first; pages that only read stay
    free of it, as many at once as come."""
    if "db" not in g:
        database: Database = current_app.extensions["meegaan_db"]
        g.db = database.session(write=_writes())
    session: Session = g.db
    return session


def _writes() -> bool:
    if not has_request_context():
        return True  # a command: its work is to write
    if request.method not in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "writes", False))


def writes(view: F) -> F:
    """Marks a page that writes although it is only read (a GET that logs who looked)."""
    view.writes = True  # type: ignore[attr-defined]
    return view


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def now_utc() -> datetime:
    """The current time as naive UTC; tests may pin it with the NOW setting."""
    pinned = current_app.config.get("NOW")
    if pinned is not None:
        return pinned
    return datetime.now(UTC).replace(tzinfo=None)


def choose_locale(
    asked: str, page: str | None, cookie: str, accept: LanguageAccept, languages: list[str]
) -> str | None:
    """?lang= first (shared links keep their language), then the language of the page (a
    family's status page), the cookie, Accept-Language; None leaves it to the default.
    Also used by the front cache, which must choose exactly as the page would."""
    for candidate in (asked, page, cookie):
        if candidate in languages:
            return candidate
    found: str | None = accept.best_match(languages)
    return found


def lang_cookie(asked: str | None, current: str | None, languages: list[str], secure: bool) -> str:
    """The Set-Cookie value that remembers a language chosen with ?lang=, or "" when the
    cookie already says so (shared by the pages and the front cache)."""
    if not asked or asked not in languages or current == asked:
        return ""
    return dump_cookie(
        LANG_COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True, secure=secure
    )


def select_locale() -> str:
    """?lang= first (shared links keep their language), then the cookie, Accept-Language, Dutch."""
    cfg = current_app.config
    found = choose_locale(
        request.args.get("lang", ""),
        g.get("page_locale"),  # a family's status page: the language they asked in
        request.cookies.get(LANG_COOKIE, ""),
        request.accept_languages,
        cfg["LANGUAGES"],
    )
    return found or cfg["DEFAULT_LOCALE"]


def search_settings(for_map: bool = False) -> SearchSettings:
    """Search as the configuration sets it. A list needs its page only; a map (`for_map`)
    needs the first MAP_MAX_MARKERS matches in order."""
    cfg = current_app.config
    return SearchSettings(
        min_results=cfg["MIN_RESULTS"],
        widen_steps_km=tuple(cfg["WIDEN_STEPS_KM"]),
        horizon_weeks=cfg["OCCURRENCE_WEEKS"],
        keep_matches=cfg["MAP_MAX_MARKERS"] if for_map else 0,
    )


def freshness_settings() -> FreshnessSettings:
    cfg = current_app.config
    return FreshnessSettings(
        ask_after_days=cfg["CONFIRM_ASK_DAYS"],
        stale_after_days=cfg["STALE_DAYS"],
        pause_after_days=cfg["PAUSE_DAYS"],
        horizon_weeks=cfg["OCCURRENCE_WEEKS"],
    )


# Where commands build links on a developer's machine without PUBLIC_BASE_URL (`make run`).
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute link for a mail, a slip or a QR code, always on PUBLIC_BASE_URL: never on
    the Host header of the request that caused it, which anyone can set (a reset mail for the
    admin's address must not point at another site). Production requires PUBLIC_BASE_URL; on a
    developer's machine without it, the request's own address."""
    app = current_app
    base = app.config["PUBLIC_BASE_URL"]
    if not base:
        if has_request_context():
            return url_for(endpoint, _external=True, **values)
        base = DEVELOPMENT_BASE_URL
    cached = app.extensions.get("meegaan_public_urls")
    if cached is None or cached[0] != base:
        parts = urlsplit(base)
        adapter = app.url_map.bind(
            parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
        )
        cached = app.extensions["meegaan_public_urls"] = (base, adapter)
    if has_request_context():
        app.inject_url_defaults(endpoint, values)  # the page's language, as url_for adds it
    return str(cached[1].build(endpoint, values, force_external=True))


def public_activity_url(activity: Activity, **values: Any) -> str:
    """An activity's page for a mail, on PUBLIC_BASE_URL (its title's slug as url_for takes it:
    unquoted; `Activity.slug` is already quoted for the address)."""
    slug = slugify(activity.title)
    return public_url("public.detail", activity_id=activity.id, slug=slug, **values)


def confirm_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="confirm-activity")


def confirm_link(activity: Activity) -> str:
    """The "still correct?" link of a mail: signed, no account needed, used once."""
    token = confirm_serializer().dumps([activity.id, confirm_stamp(activity)])
    return public_url("editor.confirm", token=token)


def edit_settings() -> EditSettings:
    cfg = current_app.config
    return EditSettings(
        geocoder=GeocoderSettings(
            enabled=cfg["GEOCODER_ENABLED"],
            domain=cfg["NOMINATIM_DOMAIN"],
            scheme=cfg["NOMINATIM_SCHEME"],
            user_agent=cfg["GEOCODER_USER_AGENT"],
            timeout=cfg["GEOCODER_TIMEOUT"],
        ),
        low_cost_max_eur=cfg["LOW_COST_MAX_EUR"],
        horizon_weeks=cfg["OCCURRENCE_WEEKS"],
    )


def smtp_settings() -> SmtpSettings:
    cfg = current_app.config
    return SmtpSettings(
        host=cfg["SMTP_HOST"],
        port=cfg["SMTP_PORT"],
        sender=cfg["MAIL_FROM"],
        username=cfg["SMTP_USERNAME"],
        password=cfg["SMTP_PASSWORD"],
        starttls=cfg["SMTP_STARTTLS"],
    )


def request_settings() -> RequestSettings:
    cfg = current_app.config
    return RequestSettings(
        purge_days=cfg["REQUEST_PURGE_DAYS"],
        followup_days=tuple(cfg["FOLLOWUP_DAYS"]),
        phone_region=cfg["PHONE_REGION"],
        check_dns=cfg["EMAIL_CHECK_DNS"],
        horizon_weeks=cfg["OCCURRENCE_WEEKS"],
        answer_days=cfg["ANSWER_DAYS"],
        expire_days=cfg["REQUEST_EXPIRE_DAYS"],
    )


def offer_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="buddy-offer")


class WebLinks(Links):
    """The absolute links that go into the mails about a request."""

    def status(self, raw: str, locale: str) -> str:
        return public_url("come_along.status", token=raw, lang=locale)

    def staff(self, request: AccompanimentRequest, locale: str) -> str:
        return public_url("requests.detail", request_id=request.id, lang=locale)

    def offer(self, offer: RequestOffer, locale: str) -> str:
        token = offer_serializer().dumps(offer.id)
        return public_url("requests.offer_link", token=token, lang=locale)

    def people(self, locale: str) -> str:
        return public_url("manage.users", lang=locale)

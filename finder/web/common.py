"""What every blueprint shares: the request's database session, locale, clock and settings."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, g, request, url_for
from flask_babel import get_locale
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import Session

from ..db import Database
from ..editing import EditSettings
from ..freshness import FreshnessSettings
from ..geo import GeocoderSettings
from ..models import Activity
from ..search import SearchSettings

LANG_COOKIE = "lang"


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        database: Database = current_app.extensions["meegaan_db"]
        g.db = database.session()
    session: Session = g.db
    return session


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


def locale_code() -> str:
    return str(get_locale() or current_app.config["DEFAULT_LOCALE"])


def select_locale() -> str:
    """?lang= first (shared links keep their language), then the cookie, Accept-Language, Dutch."""
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang", "")
    if asked in languages:
        return asked
    cookie = request.cookies.get(LANG_COOKIE, "")
    if cookie in languages:
        return cookie
    best = request.accept_languages.best_match(languages)
    return best or current_app.config["DEFAULT_LOCALE"]


def search_settings() -> SearchSettings:
    cfg = current_app.config
    return SearchSettings(
        min_results=cfg["MIN_RESULTS"],
        widen_steps_km=tuple(cfg["WIDEN_STEPS_KM"]),
        horizon_weeks=cfg["OCCURRENCE_WEEKS"],
    )


def freshness_settings() -> FreshnessSettings:
    cfg = current_app.config
    return FreshnessSettings(
        ask_after_days=cfg["CONFIRM_ASK_DAYS"],
        stale_after_days=cfg["STALE_DAYS"],
        pause_after_days=cfg["PAUSE_DAYS"],
        horizon_weeks=cfg["OCCURRENCE_WEEKS"],
    )


def confirm_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="confirm-activity")


def confirm_link(activity: Activity) -> str:
    """The "still correct?" link of a mail: signed, no account needed."""
    token = confirm_serializer().dumps(activity.id)
    return url_for("editor.confirm", token=token, _external=True)


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

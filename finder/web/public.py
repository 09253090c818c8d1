"""The families' pages: home, results (list then map), activity detail and its calendar file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from .. import freshness
from ..activities import published, upcoming_sessions
from ..geo import gazetteer
from ..ics import activity_calendar
from ..mapview import MapData, MapPoint, build_map
from ..models import Activity, Occurrence
from ..schedule import to_local
from ..search import Pin, SearchResult, map_pins, search
from ..text import slugify
from .api import error_response
from .caching import cached_page
from .common import db, locale_code, now_utc, public_activity_url, search_settings
from .i18n import gettext as _
from .limits import limiter
from .params import parse_search
from .present import (
    Words,
    activity_url,
    speech_parts,
    texts,
    words_now,
)

bp = Blueprint("public", __name__)

DETAIL_SESSIONS = 5


@lru_cache(maxsize=1)
def _places() -> tuple[bytes, str]:
    """The where field's suggestions as JSON (every locality, municipality and other name the
    search knows), and their fingerprint."""
    body = json.dumps(gazetteer().display_names(), ensure_ascii=False).encode()
    return body, hashlib.sha256(body).hexdigest()[:10]


def places_url() -> str:
    return url_for("public.places", v=_places()[1], lang=None)


@bp.get("/places.json")
def places() -> Response:
    """Town names for the where field, fetched by the search form's script on first use and
    kept by the browser for a year (the address carries the list's fingerprint): 17 KB less
    on every search page."""
    body, version = _places()
    response = current_app.response_class(body, mimetype="application/json")
    if request.args.get("v") == version:
        response.cache_control.public = True
        response.cache_control.max_age = 365 * 24 * 3600
        response.cache_control.immutable = True
    return response


@bp.get("/")
@cached_page
def home() -> str:
    return render_template("home.html", values={"when": "any", "tags": []})


def _point(pin: Pin, words: Words) -> MapPoint:
    """A pin with its popup's words: the next session and the distance."""
    return MapPoint(
        lat=pin.lat,
        lon=pin.lon,
        title=pin.title,
        url=words.address(pin.id, pin.slug),
        detail=f"{words.session(pin.next_session)} · {words.distance(pin.distance_km)}",
    )


def _map_for(result: SearchResult) -> MapData:
    """The map of the first MAP_MAX_MARKERS matches, as plain pins (one query)."""
    cfg = current_app.config
    pins = map_pins(db(), result.matches[: cfg["MAP_MAX_MARKERS"]], locale_code())
    words = words_now()
    points = [_point(p, words) for p in pins]
    place = result.query.place
    return build_map(
        points,
        (place.lat, place.lon),
        cfg["MAP_TILE_URL"],
        cfg["MAP_TILE_ATTRIBUTION"],
        home=(place.lat, place.lon),
        cluster_from=cfg["MAP_CLUSTER_FROM"],
    )


@bp.get("/activities")
@cached_page
def results() -> tuple[str, int]:
    parsed = parse_search(request.args)
    if parsed.query is None:
        return render_template(
            "results.html", result=None, errors=parsed.errors, values=parsed.values
        ), 400
    settings = replace(search_settings(), next_per_result=1)  # a card shows one session
    result = search(db(), parsed.query, now_utc(), settings, locale=locale_code())
    return render_template("results.html", result=result, errors=[], values=parsed.values), 200


@bp.get("/activities/map")
@cached_page
def results_map() -> Response:
    """The results page's map as JSON (static/js/map.js fetches it when the map comes near the
    screen): a family who reads only the list downloads no pins and no Leaflet, and the list
    page is built without them. The same parameters as the results page; the map does not
    depend on the page number."""
    parsed = parse_search(request.args)
    if parsed.query is None:
        first = parsed.errors[0]
        return error_response(400, first.code, first.message, first.suggestions, first.field)
    settings = search_settings(for_map=True)
    result = search(db(), parsed.query, now_utc(), settings, with_hits=False)
    return jsonify(_map_for(result).data)


def _published(activity_id: int) -> Activity:
    activity = published(db(), activity_id)
    if activity is None:
        abort(404)
    return activity


@bp.get("/activities/<int:activity_id>")
@bp.get("/activities/<int:activity_id>-<slug>")
@cached_page
def detail(activity_id: int, slug: str | None = None) -> str | BaseResponse:
    activity = _published(activity_id)
    if slug is not None and slug != slugify(activity.title):
        # One address per page: an old title's link, or any text after the id, moves to the
        # activity's own (search engines and shared links end up in one place).
        return redirect(activity_url(activity), 301)
    sessions = upcoming_sessions(
        db(), activity, now_utc(), DETAIL_SESSIONS, current_app.config["OCCURRENCE_WEEKS"]
    )
    share_url = activity_url(activity, external=True)
    t = texts(activity)
    return render_template(
        "detail.html",
        speech=speech_parts(activity, t, sessions),
        activity=activity,
        t=t,
        sessions=sessions,
        share_url=share_url,
    )


@bp.route("/activities/<int:activity_id>/report", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REPORT_LIMIT"], methods=["POST"])
def report(activity_id: int) -> BaseResponse | tuple[str, int]:
    """A family says a session did not take place. No account, nothing about them stored."""
    activity = _published(activity_id)
    recent = recent_sessions(activity)
    raw = request.form.get("session_date", "")
    if request.method == "GET":
        return render_template("report.html", activity=activity, recent=recent, chosen=""), 200
    day = None
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            day = None
        today = to_local(now_utc()).date()
        if day is None or not today - timedelta(days=30) <= day <= today:
            error = _("Choose one of the days in the list, or “Another day”.")
            return render_template(
                "report.html", activity=activity, recent=recent, chosen=raw, error=error
            ), 400
    freshness.report_not_happening(db(), activity, day, now_utc(), public_activity_url(activity))
    db().commit()
    flash(_("Thank you. We told the organiser."))
    return redirect(activity_url(activity))


def recent_sessions(activity: Activity) -> list[date]:
    """Local dates of the sessions of the last two weeks that have ended, newest first."""
    now = now_utc()
    rows = db().scalars(
        select(Occurrence.starts_at)
        .where(
            Occurrence.activity_id == activity.id,
            Occurrence.ends_at <= now,
            Occurrence.starts_at >= now - timedelta(days=14),
        )
        .order_by(Occurrence.starts_at.desc())
    )
    return [to_local(r).date() for r in rows]


@bp.get("/activities/<int:activity_id>.ics")
def calendar(activity_id: int) -> Response:
    """One event: the session asked for (`?session=<start>`, a family's chosen date), else the
    next one. Not twenty weekly events a phone's calendar cannot take back in one go."""
    activity = _published(activity_id)
    coming = upcoming_sessions(
        db(), activity, now_utc(), DETAIL_SESSIONS * 4, current_app.config["OCCURRENCE_WEEKS"]
    )
    asked = request.args.get("session", "")
    chosen = [s for s in coming if s.starts_at.isoformat() == asked]
    sessions = chosen or coming[:1]
    t = texts(activity)
    location = ", ".join(
        x for x in (activity.street, f"{activity.postcode} {activity.municipality}") if x
    )
    description = "\n\n".join(
        x
        for x in (
            t["summary"],
            t["welcome_instructions"],
            _("Organised by %(name)s", name=activity.organisation.name),
        )
        if x
    )
    body = activity_calendar(
        activity,
        sessions,
        t["title"],
        description,
        location,
        activity_url(activity, external=True),
        now_utc(),
        request.host,
    )
    filename = f"meegaan-{activity.id}.ics"
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/robots.txt")
def robots() -> Response:
    """Search engines may list activities; staff pages and private links stay out."""
    body = (
        "User-agent: *\nDisallow: /manage/\nDisallow: /r/\nDisallow: /invite/\nDisallow: /reset/\n"
    )
    return Response(body, mimetype="text/plain")


@bp.app_template_global("search_url")
def search_url(values: dict[str, Any], endpoint: str = "public.results", **changes: Any) -> str:
    """The results URL of this search with some parameters changed (paging, fewer filters)."""
    params = {k: v for k, v in values.items() if v not in ("", None, [])}
    if "tags" in params:
        params["tag"] = params.pop("tags")
    params.update(changes)
    return url_for(endpoint, **{k: v for k, v in params.items() if v not in ("", None)})


@bp.app_template_global("map_url")
def map_url(values: dict[str, Any]) -> str:
    """Where map.js fetches the map of this search: every page of the list has the same map."""
    return search_url(values, "public.results_map", page=None, per_page=None)

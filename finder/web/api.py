"""JSON API (DESIGN §7): the same search as the HTML pages, in a stable shape."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..activities import published, upcoming_sessions
from ..search import search
from .caching import cached_page
from .common import db, locale_code, now_utc, search_settings
from .i18n import gettext as _
from .params import parse_search
from .present import listing, place_name, result_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error_response(
    status: int,
    code: str,
    message: str,
    suggestions: list[str] | None = None,
    field: str | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    if suggestions is not None:
        body["suggestions"] = suggestions
    response = jsonify({"error": body})
    response.status_code = status
    return response


@bp.get("/activities")
@cached_page
def activities() -> Response:
    parsed = parse_search(request.args)
    if parsed.query is None:
        first = parsed.errors[0]
        return error_response(400, first.code, first.message, first.suggestions, first.field)
    q = parsed.query
    result = search(db(), q, now_utc(), search_settings(), locale=locale_code())
    return jsonify(
        {
            "query": {
                "where": parsed.values["where"] or None,
                "place": {
                    "name": place_name(q.place),
                    "postcode": q.place.postcode,
                    "lat": round(q.place.lat, 5),
                    "lon": round(q.place.lon, 5),
                },
                "radius_km": q.radius_km,
                "widened_to_km": result.widened_to_km,
                "when": q.when,
                "category": q.category,
                "tags": list(q.tags),
                "lang_spoken": q.lang_spoken,
                "q": q.q,
                "order": q.order,
            },
            "count": result.count,
            "page": q.page,
            "per_page": q.per_page,
            "results": [
                result_json(h.listing, h.distance_km, h.next_sessions) for h in result.hits
            ],
        }
    )


@bp.get("/activities/<int:activity_id>")
@cached_page
def activity(activity_id: int) -> Response:
    found = published(db(), activity_id)
    if found is None:
        return error_response(
            404, "not_found", _("This activity does not exist or is no longer listed.")
        )
    sessions = upcoming_sessions(db(), found, now_utc(), 5, current_app.config["OCCURRENCE_WEEKS"])
    return jsonify(result_json(listing(found), None, sessions))

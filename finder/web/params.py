"""Search parameters (DESIGN §7): parsed and checked once, for the HTML pages and the API."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from flask import current_app
from werkzeug.datastructures import MultiDict

from .. import taxonomy
from ..geo import AmbiguousPlace, Place, UnknownPlace, gazetteer
from ..search import ORDERS, SearchQuery
from .i18n import gettext as _

MAX_WHERE = 100
MAX_Q = 100
# Coordinates from the browser must lie in or near Belgium.
LAT_RANGE = (49.3, 51.7)
LON_RANGE = (2.4, 6.5)


@dataclass
class ParamError:
    code: str
    field: str
    message: str
    suggestions: list[str] = dataclasses.field(default_factory=list)


@dataclass
class ParsedSearch:
    query: SearchQuery | None
    errors: list[ParamError]
    values: dict[str, object]  # what the person typed, to show back in the form


def _float(value: str) -> float | None:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _int(value: str) -> int | None:
    return int(value) if value.strip().isdigit() and len(value.strip()) < 7 else None


# Every parameter parse_search reads (DESIGN §7); only `tag` may be given more than once. The
# front cache keys a search page on these alone (web/frontcache.py).
SEARCH_PARAMETERS = frozenset(
    {
        "where",
        "lat",
        "lon",
        "radius_km",
        "when",
        "category",
        "tag",
        "lang_spoken",
        "q",
        "order",
        "page",
        "per_page",
    }
)
REPEATED_PARAMETERS = frozenset({"tag"})


def parse_search(args: MultiDict[str, str]) -> ParsedSearch:
    cfg = current_app.config
    errors: list[ParamError] = []
    where = args.get("where", "").strip()
    q = args.get("q", "").strip()
    tags = [t for t in args.getlist("tag") if t]
    values: dict[str, object] = {
        "where": where[: MAX_WHERE * 3],
        "radius_km": args.get("radius_km", ""),
        "when": args.get("when", "any"),
        "category": args.get("category", ""),
        "tags": tags,
        "lang_spoken": args.get("lang_spoken", ""),
        "q": q[: MAX_Q * 3],
        "order": args.get("order", "soonest"),
        "lat": args.get("lat", ""),
        "lon": args.get("lon", ""),
    }

    radius = float(cfg["DEFAULT_RADIUS_KM"])
    raw_radius = args.get("radius_km", "").strip()
    if raw_radius:
        parsed = _float(raw_radius)
        if parsed is None or not 0.5 <= parsed <= cfg["MAX_RADIUS_KM"]:
            errors.append(
                ParamError(
                    "bad_radius",
                    "radius_km",
                    _(
                        "The distance must be a number of kilometres between %(min)s and %(max)s.",
                        min="0.5",
                        max=f"{cfg['MAX_RADIUS_KM']:g}",
                    ),
                )
            )
        else:
            radius = parsed

    when = values["when"] or "any"
    if when not in taxonomy.WHEN_CHOICES:
        errors.append(
            ParamError(
                "bad_when", "when", _("Choose when: any time, today, this week or this weekend.")
            )
        )
    category = args.get("category", "").strip() or None
    if category and category not in taxonomy.CATEGORY_BY_SLUG:
        errors.append(
            ParamError("unknown_category", "category", _("We do not know this kind of activity."))
        )
    filter_slugs = {t.slug for t in taxonomy.FILTER_TAGS}
    unknown = [t for t in tags if t not in filter_slugs]
    if unknown:
        errors.append(
            ParamError(
                "unknown_tag", "tag", _("We do not know this filter: %(tag)s.", tag=unknown[0][:40])
            )
        )
    lang_spoken = args.get("lang_spoken", "").strip() or None
    if lang_spoken and lang_spoken not in taxonomy.LANGUAGES:
        errors.append(
            ParamError("unknown_language", "lang_spoken", _("We do not know this language."))
        )
    if len(q) > MAX_Q:
        errors.append(
            ParamError(
                "too_long",
                "q",
                _("Use at most %(max)d characters for the words you search.", max=MAX_Q),
            )
        )
    order = values["order"] or "soonest"
    if order not in ORDERS:
        errors.append(
            ParamError("bad_order", "order", _("Choose the order: soonest first or nearest first."))
        )
    page = _int(args.get("page", "1") or "1")
    if page is None or page < 1:
        errors.append(ParamError("bad_page", "page", _("The page number must be 1 or more.")))
    per_page = _int(args.get("per_page", str(cfg["PER_PAGE"])) or str(cfg["PER_PAGE"]))
    if per_page is None or not 1 <= per_page <= cfg["MAX_PER_PAGE"]:
        errors.append(
            ParamError(
                "bad_per_page",
                "per_page",
                _("Show between 1 and %(max)d results per page.", max=cfg["MAX_PER_PAGE"]),
            )
        )

    place = _place(args, where, errors)
    if errors or place is None:
        return ParsedSearch(None, errors, values)
    query = SearchQuery(
        place=place,
        radius_km=radius,
        when=str(when),
        category=category,
        tags=tuple(tags),
        lang_spoken=lang_spoken,
        q=q or None,
        order=str(order),
        page=page or 1,
        per_page=per_page or cfg["PER_PAGE"],
    )
    return ParsedSearch(query, errors, values)


def _place(args: MultiDict[str, str], where: str, errors: list[ParamError]) -> Place | None:
    raw_lat, raw_lon = args.get("lat", "").strip(), args.get("lon", "").strip()
    if raw_lat or raw_lon:
        lat, lon = _float(raw_lat), _float(raw_lon)
        if (
            lat is None
            or lon is None
            or not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1])
        ):
            errors.append(
                ParamError(
                    "bad_location",
                    "where",
                    _("We could not use your location. Type a postcode or a town instead."),
                )
            )
            return None
        return gazetteer().at(lat, lon)
    if not where:
        errors.append(
            ParamError("missing_place", "where", _("Type a postcode or the name of your town."))
        )
        return None
    if len(where) > MAX_WHERE:
        errors.append(
            ParamError(
                "too_long",
                "where",
                _(
                    "This is too long for a place. "
                    "Type a postcode or a town, for example 9000 or Gent."
                ),
            )
        )
        return None
    try:
        return gazetteer().resolve(where)
    except AmbiguousPlace as exc:
        errors.append(
            ParamError(
                "ambiguous_place",
                "where",
                _("There is more than one “%(where)s”. Which one do you mean?", where=where),
                exc.suggestions,
            )
        )
        return None
    except UnknownPlace as exc:
        errors.append(
            ParamError(
                "unknown_place",
                "where",
                _(
                    "We do not know the place “%(where)s”. Check the spelling or type a postcode.",
                    where=where,
                ),
                exc.suggestions,
            )
        )
        return None

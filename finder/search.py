"""Search (DESIGN §5): a typed query in, ranked activities out.

The only place that knows how search works, used alike by the HTML pages, the JSON API
and the benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    DateTime,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    event,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, aliased

from . import schedule, taxonomy
from .db import PlainStatement
from .geo import KM_PER_DEGREE_LAT, Place, bands_between, bounding_box, distance_km
from .models import Activity, ActivityTranslation, Occurrence, Organisation
from .schedule import Window, when_window
from .text import fold

ORDERS = ("soonest", "nearest")
# A session starts and ends on the same day (the editor has one date, a start and an end time),
# so one that has not ended started less than a day ago. Past sessions are kept (reports,
# history): with this bound the next-session lookup seeks straight to today in the index
# instead of reading an activity's whole past first, however long it has been listed.
LONGEST_SESSION = timedelta(hours=24)


@dataclass(frozen=True)
class SearchQuery:
    place: Place
    radius_km: float = 5.0
    when: str = "any"
    category: str | None = None
    tags: tuple[str, ...] = ()
    lang_spoken: str | None = None
    q: str | None = None
    order: str = "soonest"
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class SearchSettings:
    """Tunables of search, from the app's configuration (or the benchmark's)."""

    min_results: int = 3
    widen_steps_km: tuple[float, ...] = (10.0, 20.0, 50.0)
    horizon_weeks: int = 8
    next_per_result: int = 3
    # Matches kept in order, beyond the page: a map shows this many. A list needs none (0).
    keep_matches: int = 200


class Listing(NamedTuple):
    """What a result card and the JSON API show of an activity, its texts in one language.

    A page of results loads these as plain rows (`load_hits`): as ORM activities, with every
    column and every translation, they cost a page more than the search itself.
    `web.present.listing` makes one from an `Activity` (the editor's preview, one activity's
    JSON), by the same rule: the translation in the asked language when the activity has one
    and was not written in it; a translation without a summary keeps the original's.
    A named tuple: a page makes 20 of them, or 100, and a frozen dataclass took three times
    as long to make.
    """

    id: int
    title: str  # in `text_language`
    summary: str
    text_language: str
    slug: str  # of the original title, whatever the language (`Activity.slug`)
    category: str
    street: str
    postcode: str
    municipality: str
    lat: float
    lon: float
    cost_type: str
    cost_amount: Decimal | None
    cost_note: str
    tags_mask: int
    languages: str  # ",nl,ar," as stored
    last_confirmed_at: datetime | None
    created_at: datetime | None
    organisation_id: int | None
    organisation_name: str

    @property
    def language_codes(self) -> list[str]:
        return [c for c in self.languages.split(",") if c]


@dataclass
class Hit:
    listing: Listing
    distance_km: float
    next_sessions: list[schedule.Session] = field(default_factory=list)


# Activity id, distance in km, next session start (as stored: sortable, not parsed).
Match = tuple[int, float, Any]


@dataclass
class SearchResult:
    query: SearchQuery
    hits: list[Hit]  # the requested page, with listings loaded
    count: int
    radius_km: float
    widened_to_km: float | None
    matches: list[Match]  # the first `keep_matches` matches, in order (for the map)
    window: Window

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.query.per_page))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _in_window(start: Any, end: Any = None, since: Any = None) -> tuple[Any, ...]:
    """A session still to come in the window [start, end): not ended, not cancelled.

    `since` is `start - LONGEST_SESSION`, given apart when `start` is a bound parameter.
    """
    return (
        # skip the activity's history
        Occurrence.starts_at > (start - LONGEST_SESSION if since is None else since),
        *([Occurrence.starts_at < end] if end is not None else []),
        Occurrence.ends_at > start,
        Occurrence.cancelled.is_(False),
    )


def _first_of(column: Any, start: Any, end: Any = None, since: Any = None) -> Any:
    """`column` of the activity's first session to come in the window, for a correlated query."""
    return (
        select(column)
        .where(Occurrence.activity_id == Activity.id, *_in_window(start, end, since))
        .order_by(Occurrence.starts_at, Occurrence.ends_at.desc())
        .limit(1)
        .correlate(Activity)
        .scalar_subquery()
    )


def store_next_sessions(session: Session, now_utc: datetime, ids: list[int] | None = None) -> int:
    """Write on each activity its next session as of `now_utc` (`Activity.next_starts_at`).

    For the activities given, or else for those whose stored session has ended or was never
    worked out (the scheduled `next-sessions` command). Returns the number of activities written.
    """
    stmt = update(Activity).values(
        next_starts_at=_first_of(Occurrence.starts_at, now_utc),
        next_ends_at=_first_of(Occurrence.ends_at, now_utc),
        next_checked_at=now_utc,
    )
    if ids is not None:
        stmt = stmt.where(Activity.id.in_(ids))
    else:
        stmt = stmt.where(
            or_(
                Activity.next_checked_at.is_(None),
                Activity.next_checked_at > now_utc,
                Activity.next_ends_at <= now_utc,
            )
        )
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


@event.listens_for(Session, "before_flush")
def _forget_next_on_change(session: Session, _context: Any, _instances: Any) -> None:
    """A session added, changed or deleted through the ORM: the activity's stored next session
    may be wrong now, so search looks it up among the sessions until it is stored again."""
    ids = {
        obj.activity_id if obj.activity_id is not None else obj.activity.id
        for obj in session.new | session.dirty | session.deleted
        if isinstance(obj, Occurrence) and (obj.activity_id is not None or obj.activity is not None)
    } - {None}
    if ids:
        with session.no_autoflush:
            session.execute(
                update(Activity)
                .where(Activity.id.in_(ids))
                .values(next_checked_at=None)
                .execution_options(synchronize_session=False)
            )


def _next_start(start: Any, end: Any, since: Any) -> Any:
    """The start of an activity's next session in the window, or NULL.

    The stored next session answers when it was worked out before the window opened and has
    not ended when it opens: no session can come before it then. Otherwise (it has ended, a
    session changed since, or the window opens later, as "this weekend" on a Monday) the
    sessions are looked up, for that activity alone.
    """
    stored_holds = and_(
        Activity.next_checked_at <= start,
        or_(Activity.next_ends_at.is_(None), Activity.next_ends_at > start),
    )
    stored = case((Activity.next_starts_at < end, Activity.next_starts_at), else_=None)
    return case((stored_holds, stored), else_=_first_of(Occurrence.starts_at, start, end, since))


# What a search's SQL depends on besides its values: one statement is built per shape and kept
# (building it took longer than running it on a city's worth of activities); the values go in
# as bound parameters.
Shape = tuple[str, bool, bool, bool, int]  # order, category, tags, language, number of words


def _param(name: str, type_: Any) -> Any:
    return bindparam(name, type_=type_)


def _window_binds() -> tuple[Any, Any, Any]:
    """The window's start, end and `since` as bound parameters (see `_window_params`)."""
    return _param("start", DateTime()), _param("end", DateTime()), _param("since", DateTime())


def _window_params(window: Window) -> dict[str, Any]:
    return {"start": window.start, "end": window.end, "since": window.start - LONGEST_SESSION}


@lru_cache(maxsize=256)
def _ranked_statement(shape: Shape) -> PlainStatement:
    order_by, category, tags, lang_spoken, words = shape
    lat0, lon0, kx = _param("lat0", Float()), _param("lon0", Float()), _param("kx", Float())
    # The next session's start as the database stores it: parsing thousands of SQLite date
    # strings would cost more than the query, and ISO strings sort like the dates they are.
    next_start = _next_start(*_window_binds())
    dlat, dlon = Activity.lat - lat0, (Activity.lon - lon0) * kx
    stmt = select(
        Activity.id,
        Activity.lat,
        Activity.lon,
        type_coerce(next_start, String).label("next"),
        (dlat * dlat + dlon * dlon).label("dist2"),
    ).where(
        Activity.status == "published",
        # A short range of the search index per band of latitude around the place
        # (`geo.bands_between`), between the box's longitudes: not one band of latitude as
        # high as the box that runs across the country. At 100,000 activities Brussels read
        # 16,484 index entries and reads 8,393 now (7,572 in its box); Kortrijk 13,349 and
        # now 1,610 (1,285); Zutendaal 10,027 and now 569 (535).
        Activity.lat_band.in_(bindparam("bands", expanding=True)),
        Activity.lat.between(_param("min_lat", Float()), _param("max_lat", Float())),
        Activity.lon.between(_param("min_lon", Float()), _param("max_lon", Float())),
        dlat * dlat + dlon * dlon <= _param("r2", Float()),
    )
    if category:
        stmt = stmt.where(Activity.category == _param("category", String()))
    if tags:
        mask = _param("mask", Integer())
        stmt = stmt.where(Activity.tags_mask.op("&")(mask) == mask)
    if lang_spoken:
        stmt = stmt.where(Activity.languages.like(_param("lang", String()), escape="\\"))
    for i in range(words):
        stmt = stmt.where(Activity.search_text.like(_param(f"word{i}", String()), escape="\\"))
    # The matches are worked out once, into a temporary table (MATERIALIZED: the "next
    # session" expression runs once per match), then counted and cut from there. A window
    # count over them cost more: 7.3 against 5.2 ms for Gent at 100,000 activities on SQLite,
    # about the same on PostgreSQL (where both spill a little past the default work_mem for
    # Brussels at 1,000,000: 60,000 matches).
    matches = stmt.cte("matches").prefix_with("MATERIALIZED")
    total = select(func.count(matches.c.next)).scalar_subquery()  # those with a session to come
    ranked_rows = select(
        matches.c.id, matches.c.lat, matches.c.lon, matches.c.next, total.label("total")
    ).where(matches.c.next.is_not(None))
    order = (
        (matches.c.dist2, matches.c.next, matches.c.id)
        if order_by == "nearest"
        else (matches.c.next, matches.c.dist2, matches.c.id)
    )
    return PlainStatement(ranked_rows.order_by(*order).limit(_param("limit", Integer())))


def _ranked(
    session: Session,
    query: SearchQuery,
    radius_km: float,
    start: datetime,
    end: datetime,
    limit: int,
) -> tuple[int, list[Match]]:
    """How many activities match, and the first `limit` of them in the asked order.

    The database counts, orders and cuts (the matches once into a temporary table, counted
    from there, then ORDER BY … LIMIT), so that a city with tens of thousands of matches sends
    back a page's worth of rows, not all of them. Distance in SQL is the equirectangular
    approximation (off by less than 0.1 % at Belgian distances); the exact great-circle
    distance is worked out for the rows returned.
    """
    lat0, lon0 = query.place.lat, query.place.lon
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat0, lon0, radius_km)
    words = fold(query.q).split() if query.q else []
    r_deg = radius_km / KM_PER_DEGREE_LAT
    params: dict[str, Any] = {
        "lat0": lat0,
        "lon0": lon0,
        "kx": math.cos(math.radians(lat0)),
        **_window_params(Window(start, end)),
        "min_lat": min_lat,
        "max_lat": max_lat,
        "min_lon": min_lon,
        "max_lon": max_lon,
        "r2": r_deg * r_deg,
        "bands": bands_between(min_lat, max_lat),
        "category": query.category,
        "mask": taxonomy.tags_to_mask(query.tags),
        "lang": f"%,{_escape_like(query.lang_spoken or '')},%",
        "limit": limit,
    }
    params.update((f"word{i}", f"%{_escape_like(w)}%") for i, w in enumerate(words))
    shape = (
        query.order,
        bool(query.category),
        bool(query.tags),
        bool(query.lang_spoken),
        len(words),
    )
    rows = _ranked_statement(shape).execute(session.connection(), params).all()
    if not rows:
        return 0, []
    ranked = [(r.id, distance_km(lat0, lon0, r.lat, r.lon), r.next) for r in rows if r.next]
    return int(rows[0].total), ranked


def search(
    session: Session,
    query: SearchQuery,
    now_utc: datetime,
    settings: SearchSettings,
    with_hits: bool = True,
    locale: str | None = None,
) -> SearchResult:
    """Find activities per DESIGN §5, widening the radius when fewer than `min_results` match.

    The page's listings have their texts in `locale` where translated. Without `with_hits`
    only the matches are found (for the map), no listing is loaded.
    """
    window = when_window(query.when, now_utc, settings.horizon_weeks)
    radius = query.radius_km
    offset = (query.page - 1) * query.per_page
    keep = max(settings.keep_matches, offset + query.per_page)
    count, found = _ranked(session, query, radius, window.start, window.end, keep)
    widened: float | None = None
    if count < settings.min_results:
        for step in settings.widen_steps_km:
            if step <= radius:
                continue
            count, found = _ranked(session, query, step, window.start, window.end, keep)
            widened = step
            if count >= settings.min_results:
                break
    page = found[offset : offset + query.per_page]
    hits = load_hits(session, page, window, settings.next_per_result, locale) if with_hits else []
    return SearchResult(query, hits, count, radius, widened, found, window)


_LISTED = (
    Activity.id,
    Activity.title,
    Activity.slug,
    Activity.summary,
    Activity.original_locale,
    Activity.category,
    Activity.street,
    Activity.postcode,
    Activity.municipality,
    Activity.lat,
    Activity.lon,
    Activity.cost_type,
    Activity.cost_amount,
    Activity.cost_note,
    Activity.tags_mask,
    Activity.languages,
    Activity.last_confirmed_at,
    Activity.created_at,
    Activity.organisation_id,
)


def _translation_in(locale: Any) -> tuple[Any, Any]:
    """An activity's translation in `locale` (a bound parameter), to outer-join: none when the
    activity was written in that language (the rule of `activities.translation_for`)."""
    translated = aliased(ActivityTranslation)
    joined = (
        (translated.activity_id == Activity.id)
        & (translated.locale == locale)
        & (Activity.original_locale != locale)
    )
    return translated, joined


@lru_cache(maxsize=1)
def _hits_statements() -> tuple[PlainStatement, PlainStatement]:
    """The page's activities as plain rows, each with its organisation's name and its
    translation in the asked language, and each one's first few sessions in the window."""
    ids: Any = bindparam("ids", expanding=True)
    translated, joined = _translation_in(_param("locale", String()))
    activities = (
        select(
            *_LISTED,
            Activity.duration_minutes,
            Organisation.name.label("organisation_name"),
            translated.title.label("translated_title"),
            translated.summary.label("translated_summary"),
        )
        .join(Organisation, Organisation.id == Activity.organisation_id)
        .outerjoin(translated, joined)
        .where(Activity.id.in_(ids))
    )
    numbered = (
        select(
            Occurrence.activity_id,
            Occurrence.starts_at,
            Occurrence.ends_at,
            func.row_number()
            .over(partition_by=Occurrence.activity_id, order_by=Occurrence.starts_at)
            .label("rank"),
        )
        .where(
            Occurrence.activity_id.in_(ids),
            *_in_window(*_window_binds()),
        )
        .subquery()
    )
    # Plain rows, not Occurrence objects: a page's 60 sessions took 0.7 ms as ORM objects.
    sessions = (
        select(numbered.c.activity_id, numbered.c.starts_at, numbered.c.ends_at)
        .where(numbered.c.rank <= _param("per_result", Integer()))
        .order_by(numbered.c.starts_at)
    )
    return PlainStatement(activities), PlainStatement(sessions)


def _listing(row: Any, locale: str | None) -> Listing:
    translated = row.translated_title is not None
    return Listing(
        id=row.id,
        title=row.translated_title if translated else row.title,
        summary=(row.translated_summary or row.summary) if translated else row.summary,
        text_language=locale if translated and locale else row.original_locale,
        slug=row.slug,
        category=row.category,
        street=row.street,
        postcode=row.postcode,
        municipality=row.municipality,
        lat=row.lat,
        lon=row.lon,
        cost_type=row.cost_type,
        cost_amount=row.cost_amount,
        cost_note=row.cost_note,
        tags_mask=row.tags_mask,
        languages=row.languages,
        last_confirmed_at=row.last_confirmed_at,
        created_at=row.created_at,
        organisation_id=row.organisation_id,
        organisation_name=row.organisation_name,
    )


def load_hits(
    session: Session,
    rows: list[Match],
    window: Window,
    next_per_result: int,
    locale: str | None = None,
) -> list[Hit]:
    """The listings of some matches (texts in `locale` where translated), each with its next
    `next_per_result` sessions in the window.

    One session each (a card shows one) is the match's own, found by the search: no query
    for it. More (the JSON API's three) are looked up.
    """
    if not rows:
        return []
    ids = [r[0] for r in rows]
    activities_stmt, sessions_stmt = _hits_statements()
    # Plain statements on the session's connection: through the ORM's execute they cost a
    # third more, and through Core's about 0.1 ms more, for nothing either adds to plain rows.
    connection = session.connection()
    listings, durations = {}, {}
    for row in activities_stmt.rows(connection, {"ids": ids, "locale": locale}):
        listings[row.id] = _listing(row, locale)
        durations[row.id] = row.duration_minutes
    sessions: dict[int, list[schedule.Session]] = {i: [] for i in ids}
    if next_per_result == 1:
        for activity_id, _distance, next_start in rows:
            if activity_id in durations:
                sessions[activity_id].append(_session_of(next_start, durations[activity_id]))
    else:
        params = {"ids": ids, "per_result": next_per_result, **_window_params(window)}
        for activity_id, starts_at, ends_at in sessions_stmt.rows(connection, params):
            sessions[activity_id].append(schedule.Session(starts_at, ends_at))
    return [Hit(listings[i], d, sessions[i]) for i, d, _ in rows if i in listings]


class Pin(NamedTuple):
    """What the map shows of a match: no full activity is loaded for it."""

    id: int
    title: str  # in the asked language when there is a translation
    slug: str  # of the original title, for the address
    lat: float
    lon: float
    distance_km: float
    next_session: schedule.Session


@lru_cache(maxsize=1)
def _pins_statement() -> PlainStatement:
    ids: Any = bindparam("ids", expanding=True)
    translated, joined = _translation_in(_param("locale", String()))
    return PlainStatement(
        select(
            Activity.id,
            Activity.title,
            Activity.slug,
            Activity.lat,
            Activity.lon,
            Activity.duration_minutes,
            translated.title.label("translated"),
        )
        .outerjoin(translated, joined)
        .where(Activity.id.in_(ids))
    )


def _session_of(next_start: Any, duration_minutes: int) -> schedule.Session:
    """A match's next session: its start as the search returns it (text on SQLite, a datetime
    on PostgreSQL), and its end as `schedule.expand` makes it, the duration later in Brussels
    time."""
    start = datetime.fromisoformat(next_start) if isinstance(next_start, str) else next_start
    local_end = schedule.to_local(start) + timedelta(minutes=duration_minutes)
    return schedule.Session(start, schedule.to_utc_naive(local_end))


def map_pins(session: Session, matches: list[Match], locale: str) -> list[Pin]:
    """The map's pins for some matches, in their order, from one plain query whatever the
    number (a city map has up to 200 pins; loading 200 activities with their relations took
    longer than the search itself). The next session is the match's own; it ends when the
    schedule says, as `schedule.expand` made it."""
    if not matches:
        return []
    rows = _pins_statement().rows(
        session.connection(), {"ids": [m[0] for m in matches], "locale": locale}
    )
    by_id = {r.id: r for r in rows}
    pins = []
    sessions: dict[tuple[Any, int], schedule.Session] = {}  # many pins share a session time
    for activity_id, distance, next_start in matches:
        r = by_id.get(activity_id)
        if r is None:
            continue
        key = (next_start, r.duration_minutes)
        next_session = sessions.get(key)
        if next_session is None:
            next_session = sessions[key] = _session_of(next_start, r.duration_minutes)
        pins.append(
            Pin(activity_id, r.translated or r.title, r.slug, r.lat, r.lon, distance, next_session)
        )
    return pins

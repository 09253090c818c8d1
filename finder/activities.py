"""Activity upkeep: derived fields (cost tags, search text) and materialised occurrences."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, Integer, bindparam, delete, select
from sqlalchemy.orm import Session, joinedload

from . import taxonomy
from .db import PlainStatement
from .models import Activity, HolidayPeriod, Occurrence
from .schedule import Session as ScheduledSession
from .schedule import expand, parse_exdates
from .search import LONGEST_SESSION, store_next_sessions
from .text import fold


def derive_fields(activity: Activity, low_cost_max_eur: float) -> None:
    """Keep the cost tags and the folded search text in step with what the organiser entered."""
    cost_masks = taxonomy.tags_to_mask(["free", "pay_what_you_can", "low_cost"])
    amount = float(activity.cost_amount) if activity.cost_amount is not None else None
    derived = taxonomy.tags_to_mask(
        taxonomy.cost_tags(activity.cost_type, amount, low_cost_max_eur)
    )
    activity.tags_mask = (activity.tags_mask & ~cost_masks) | derived
    parts: list[str] = [
        activity.title,
        activity.summary,
        activity.description,
        activity.street,
        activity.municipality,
        activity.organisation.name if activity.organisation else "",
    ]
    for tr in activity.translations:
        parts += [tr.title, tr.summary, tr.description]
    activity.search_text = " " + fold(" ".join(p for p in parts if p)) + " "


def holiday_dates(session: Session) -> set[date]:
    """Every day of every school holiday period an admin entered."""
    days: set[date] = set()
    for period in session.scalars(select(HolidayPeriod)):
        day = period.starts_on
        while day <= period.ends_on:
            days.add(day)
            day += timedelta(days=1)
    return days


def skipped_dates(session: Session, activity: Activity) -> set[date]:
    """The days an activity does not happen: its exceptions, and school holidays if it says so."""
    days = parse_exdates(activity.exdates)
    if activity.skip_school_holidays:
        days |= holiday_dates(session)
    return days


def refresh_occurrences(session: Session, activity: Activity, now_utc: datetime, weeks: int) -> int:
    """Replace the activity's future sessions by those its schedule gives for the coming weeks.

    Sessions already cancelled one by one stay cancelled. Returns the number of sessions stored.
    """
    if activity.id is None:
        session.flush()
    cancelled = set(
        session.scalars(
            select(Occurrence.starts_at).where(
                Occurrence.activity_id == activity.id, Occurrence.cancelled.is_(True)
            )
        )
    )
    session.execute(
        delete(Occurrence).where(
            Occurrence.activity_id == activity.id, Occurrence.ends_at > now_utc
        )
    )
    if activity.status != "published":
        store_next_sessions(session, now_utc, [activity.id])
        return 0
    sessions = expand(
        activity.rrule,
        activity.dtstart_local,
        activity.duration_minutes,
        skipped_dates(session, activity),
        now_utc,
        now_utc + timedelta(weeks=weeks),
    )
    session.add_all(
        Occurrence(
            activity_id=activity.id,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            cancelled=s.starts_at in cancelled,
        )
        for s in sessions
    )
    session.flush()
    store_next_sessions(session, now_utc, [activity.id])
    return len(sessions)


def refresh_all(session: Session, now_utc: datetime, weeks: int) -> int:
    """Refresh every published activity's sessions (the nightly CLI command)."""
    total = 0
    for activity in session.scalars(select(Activity).where(Activity.status == "published")):
        total += refresh_occurrences(session, activity, now_utc, weeks)
    return total


@lru_cache(maxsize=1)
def _published_statement() -> Any:
    return (
        select(Activity)
        .where(Activity.id == bindparam("id"), Activity.status == "published")
        .options(joinedload(Activity.organisation), joinedload(Activity.translations))
    )


def published(session: Session, activity_id: int) -> Activity | None:
    """A published activity with its organisation and translations, in one round trip (the
    statement is built once: building it took about as long as running it)."""
    found: Activity | None = (
        session.scalars(_published_statement(), {"id": activity_id}).unique().one_or_none()
    )
    return found


@lru_cache(maxsize=1)
def _stored_sessions_statement() -> PlainStatement:
    since, now = bindparam("since", type_=DateTime()), bindparam("now", type_=DateTime())
    return PlainStatement(
        select(Occurrence.starts_at, Occurrence.ends_at)
        .where(
            Occurrence.activity_id == bindparam("activity_id", type_=Integer()),
            # Past sessions are kept: seek to today in the index instead of reading the
            # activity's whole history (no session lasts longer than LONGEST_SESSION).
            Occurrence.starts_at > since,
            Occurrence.ends_at > now,
            Occurrence.cancelled.is_(False),
        )
        .order_by(Occurrence.starts_at)
        .limit(bindparam("limit", type_=Integer()))
    )


def upcoming_sessions(
    session: Session, activity: Activity, now_utc: datetime, limit: int, horizon_weeks: int
) -> list[ScheduledSession]:
    """The next `limit` sessions that have not ended: stored ones first (they know about
    cancellations), then, for a fortnightly or monthly rule, what the schedule gives beyond the
    materialised weeks. Their starts and ends only, as plain rows: the detail page took 0.8 ms
    to load five sessions as ORM objects."""
    if session.autoflush:  # as the ORM does before its own queries (nothing to do, mostly)
        session.flush()
    params = {
        "activity_id": activity.id,
        "since": now_utc - LONGEST_SESSION,
        "now": now_utc,
        "limit": limit,
    }
    stored = [
        ScheduledSession(starts_at, ends_at)
        for starts_at, ends_at in _stored_sessions_statement().rows(session.connection(), params)
    ]
    if len(stored) < limit and activity.rrule and activity.status == "published":
        horizon = now_utc + timedelta(weeks=horizon_weeks)
        later = expand(
            activity.rrule,
            activity.dtstart_local,
            activity.duration_minutes,
            skipped_dates(session, activity),
            horizon,
            horizon + timedelta(days=400),
        )
        stored += [s for s in later if s.starts_at >= horizon][: limit - len(stored)]
    return stored


def translation_for(activity: Activity, locales: Iterable[str]) -> dict[str, str] | None:
    """The activity's texts in the first wanted locale it has, or None for the original."""
    wanted = list(locales)
    if activity.original_locale in wanted[:1]:
        return None
    by_locale = {t.locale: t for t in activity.translations}
    for loc in wanted:
        if loc == activity.original_locale:
            return None
        tr = by_locale.get(loc)
        if tr:
            return {
                "locale": tr.locale,
                "title": tr.title,
                "summary": tr.summary or activity.summary,
                "description": tr.description or activity.description,
                "welcome_instructions": tr.welcome_instructions or activity.welcome_instructions,
            }
    return None

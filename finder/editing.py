"""Organisers keep their activities right: saving with checks, publishing, pausing, duplicating.

Who may change what is decided here (`may_edit`), so every route and the CLI use one rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from . import taxonomy
from .accounts import audit
from .activities import derive_fields, refresh_occurrences
from .geo import GeocoderSettings, gazetteer, in_belgium, locate
from .models import Activity, ActivityTranslation, User
from .paging import Page, like_pattern, paginate
from .schedule import Recurrence, ScheduleError, to_rrule
from .text import one_line

MAX_TEXT = {
    "title": 200,
    "summary": 500,
    "description": 5000,
    "welcome_instructions": 1000,
    "street": 200,
    "cost_note": 300,
    "professional_contact": 300,
}
MAX_AMOUNT_EUR = Decimal("500")
MAX_CAPACITY = 50
STATUS_ACTIONS = {"publish", "pause", "archive"}


@dataclass
class ActivityInput:
    """What the editor form holds, as plain values."""

    title: str
    category: str
    postcode: str
    first_date: date
    start_time: time
    end_time: time
    recurrence: Recurrence
    summary: str = ""
    description: str = ""
    welcome_instructions: str = ""
    street: str = ""
    lat: float | None = None
    lon: float | None = None
    cost_type: str = "free"
    cost_amount: Decimal | None = None
    cost_note: str = ""
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("nl",)
    professional_contact: str = ""
    referral_capacity: int = 2
    exceptions: tuple[date, ...] = ()
    skip_school_holidays: bool = False
    original_locale: str = "nl"


@dataclass
class EditError(ValueError):
    """Field name -> error code; the web layer words each code in the user's language."""

    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EditSettings:
    geocoder: GeocoderSettings
    low_cost_max_eur: float
    horizon_weeks: int


def may_edit(user: User, activity: Activity) -> bool:
    """Admins edit every activity; organisers those of their own organisation, nothing else."""
    if user.role == "admin":
        return True
    return (
        user.role == "organiser"
        and user.organisation_id is not None
        and activity.organisation_id == user.organisation_id
    )


def activity_page(
    session: Session, user: User, search: str, number: int, per_page: int
) -> Page[Activity]:
    """A page of the activities this user edits (an admin: all), by title, those whose title
    contains `search` when it is given; each with its organisation, in two queries."""
    query = (
        select(Activity)
        .options(selectinload(Activity.organisation))
        .order_by(Activity.title, Activity.id)
    )
    if user.role != "admin":
        query = query.where(Activity.organisation_id == user.organisation_id)
    if search.strip():
        query = query.where(func.lower(Activity.title).like(like_pattern(search), escape="\\"))
    return paginate(session, query, number, per_page)


def check(data: ActivityInput) -> str | None:
    """Every rule the form cannot express alone; raises EditError. Returns the RRULE."""
    errors: dict[str, str] = {}
    for name, limit in MAX_TEXT.items():
        if len(getattr(data, name)) > limit:
            errors[name] = "too_long"
    if not data.title.strip():
        errors["title"] = "required"
    if data.category not in taxonomy.CATEGORY_BY_SLUG:
        errors["category"] = "unknown"
    if data.postcode not in gazetteer().by_postcode:
        errors["postcode"] = "unknown_postcode"
    if (data.lat is None) != (data.lon is None):
        errors["lat"] = "both_coordinates"
    elif data.lat is not None and data.lon is not None and not in_belgium(data.lat, data.lon):
        errors["lat"] = "outside_belgium"
    if data.end_time <= data.start_time:
        errors["end_time"] = "end_before_start"
    if data.cost_type not in taxonomy.COST_TYPES:
        errors["cost_type"] = "unknown"
    elif data.cost_type == "amount":
        if data.cost_amount is None:
            errors["cost_amount"] = "amount_needed"
        elif not Decimal(0) <= data.cost_amount <= MAX_AMOUNT_EUR:
            errors["cost_amount"] = "amount_range"
    unknown_tags = (
        set(data.tags) - {t.slug for t in taxonomy.TAGS if t.group != "cost"} - {"social_tariff"}
    )
    if unknown_tags:
        errors["tags"] = "unknown"
    if not data.languages or set(data.languages) - set(taxonomy.LANGUAGES):
        errors["languages"] = "language_needed"
    if not 0 <= data.referral_capacity <= MAX_CAPACITY:
        errors["referral_capacity"] = "capacity_range"
    rule = None
    try:
        rule = to_rrule(data.recurrence, data.first_date)
    except ScheduleError as exc:
        errors["recurrence"] = exc.code
    if errors:
        raise EditError(errors)
    return rule


def apply(activity: Activity, data: ActivityInput, rule: str | None) -> None:
    """Copy checked input onto an activity (new or existing); no status or place change."""
    entry = gazetteer().by_postcode[data.postcode]
    activity.title = one_line(data.title).strip()
    activity.summary = one_line(data.summary).strip()
    activity.description = data.description.strip()
    activity.welcome_instructions = data.welcome_instructions.strip()
    activity.category = data.category
    activity.original_locale = data.original_locale
    activity.street = one_line(data.street).strip()
    activity.postcode = data.postcode
    activity.municipality = entry.municipality_nl
    activity.rrule = rule
    activity.dtstart_local = datetime.combine(data.first_date, data.start_time)
    start = datetime.combine(data.first_date, data.start_time)
    activity.duration_minutes = int(
        (datetime.combine(data.first_date, data.end_time) - start) / timedelta(minutes=1)
    )
    activity.exdates = ",".join(sorted(d.isoformat() for d in set(data.exceptions)))
    activity.skip_school_holidays = data.skip_school_holidays
    activity.cost_type = data.cost_type
    activity.cost_amount = data.cost_amount if data.cost_type == "amount" else None
    activity.cost_note = one_line(data.cost_note).strip()
    activity.tags_mask = taxonomy.tags_to_mask(data.tags)
    activity.languages = "," + ",".join(data.languages) + ","
    activity.professional_contact = one_line(data.professional_contact).strip()
    activity.referral_capacity = data.referral_capacity


def save(
    session: Session,
    user: User,
    activity: Activity | None,
    data: ActivityInput,
    publish: bool,
    settings: EditSettings,
    now_utc: datetime,
) -> Activity:
    """Create or update an activity for the user's organisation, then refresh its sessions.

    Publishing puts a verified organisation's activity online at once; an unverified
    organisation's waits in the moderation queue (`pending`).
    """
    rule = check(data)
    if activity is None:
        if user.organisation is None:
            raise EditError({"organisation": "organisation_needed"})
        activity = Activity(organisation=user.organisation, status="draft", created_at=now_utc)
        session.add(activity)
    elif not may_edit(user, activity):
        raise PermissionError("not your organisation's activity")
    moved = activity.postcode != data.postcode or activity.street != data.street.strip()
    apply(activity, data, rule)
    if data.lat is not None and data.lon is not None:
        activity.lat, activity.lon, activity.location_precision = data.lat, data.lon, "exact"
    elif moved or activity.lat is None:
        with session.no_autoflush:  # the new activity has no place yet: do not insert it early
            place = locate(session, data.street, data.postcode, settings.geocoder, now_utc)
        activity.lat, activity.lon, activity.location_precision = (
            place.lat,
            place.lon,
            place.precision,
        )
    if publish:
        activity.status = "published" if activity.organisation.verified else "pending"
        activity.last_confirmed_at = now_utc
    activity.updated_at = now_utc
    derive_fields(activity, settings.low_cost_max_eur)
    session.flush()
    refresh_occurrences(session, activity, now_utc, settings.horizon_weeks)
    audit(session, user, "activity_saved", "activity", activity.id, now_utc, activity.status)
    return activity


def set_status(
    session: Session,
    user: User,
    activity: Activity,
    action: str,
    settings: EditSettings,
    now_utc: datetime,
) -> None:
    """Publish (or send for moderation), pause or archive; sessions follow at once."""
    if not may_edit(user, activity) or action not in STATUS_ACTIONS:
        raise PermissionError(action)
    if action == "publish":
        activity.status = "published" if activity.organisation.verified else "pending"
        activity.last_confirmed_at = now_utc
    else:
        activity.status = "paused" if action == "pause" else "archived"
    activity.updated_at = now_utc
    refresh_occurrences(session, activity, now_utc, settings.horizon_weeks)
    audit(session, user, f"activity_{action}", "activity", activity.id, now_utc)


def duplicate(session: Session, user: User, activity: Activity, now_utc: datetime) -> Activity:
    """A draft copy, texts and translations included, for a similar activity."""
    if not may_edit(user, activity):
        raise PermissionError("duplicate")
    columns = [
        c.key
        for c in Activity.__table__.columns
        if c.key not in ("id", "status", "created_at", "updated_at", "last_confirmed_at")
    ]
    copy = Activity(**{k: getattr(activity, k) for k in columns})
    copy.status = "draft"
    copy.created_at = copy.updated_at = now_utc
    copy.translations = [
        ActivityTranslation(
            locale=t.locale,
            title=t.title,
            summary=t.summary,
            description=t.description,
            welcome_instructions=t.welcome_instructions,
        )
        for t in activity.translations
    ]
    session.add(copy)
    session.flush()
    audit(session, user, "activity_duplicated", "activity", copy.id, now_utc, str(activity.id))
    return copy

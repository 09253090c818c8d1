"""Typed SQLAlchemy 2 models of DESIGN §4: activities and their sessions, staff accounts, mail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from .db import Base
from .geo import band_of
from .text import url_slug
from .vault import EncryptedText

ACTIVITY_STATUSES = ("draft", "pending", "published", "paused", "archived")
LOCATION_PRECISIONS = ("exact", "postcode", "municipality")


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(50), default="community_centre")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(300))
    street: Mapped[str] = mapped_column(String(200), default="", server_default="")
    postcode: Mapped[str] = mapped_column(String(4), default="", server_default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    activities: Mapped[list[Activity]] = relationship(back_populates="organisation")


class Activity(Base):
    """A recurring or one-off low-threshold activity at a place.

    Times are stored as naive UTC; the schedule (`rrule`, `dtstart_local`) is wall-clock time in
    Europe/Brussels so that "every Wednesday 14:00" stays 14:00 across daylight saving.
    """

    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft','pending','published','paused','archived')", name="status_known"
        ),
        CheckConstraint(
            "location_precision IN ('exact','postcode','municipality')", name="precision_known"
        ),
        CheckConstraint(
            "cost_type IN ('free','pay_what_you_can','amount')", name="cost_type_known"
        ),
        # Search (DESIGN §5): the published activities of the few search bands around a place,
        # each read between two longitudes, with everything search filters and ranks on read
        # from the index itself (index-only on PostgreSQL once vacuumed; covering on SQLite).
        Index(
            "ix_activity_search_band",
            "status",
            "lat_band",
            "lon",
            "lat",
            "tags_mask",
            "category",
            "next_checked_at",
            "next_ends_at",
            "next_starts_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    original_locale: Mapped[str] = mapped_column(String(8), default="nl")
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    welcome_instructions: Mapped[str] = mapped_column(Text, default="")
    street: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(4))
    municipality: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    # The search band of `lat` (`geo.band_of`), kept in step on every insert and update.
    lat_band: Mapped[int] = mapped_column(Integer)
    # The title's slug for the detail page's address (`text.url_slug`), kept in step on every
    # insert and update: a page of cards or a map of 200 pins need not work out 200 of them.
    slug: Mapped[str] = mapped_column(String(400), default="")
    location_precision: Mapped[str] = mapped_column(String(16), default="exact")
    rrule: Mapped[str | None] = mapped_column(Text)  # RFC 5545 RRULE; NULL for a one-off
    dtstart_local: Mapped[datetime] = mapped_column(DateTime)  # first session, Europe/Brussels
    duration_minutes: Mapped[int] = mapped_column(Integer, default=120)
    exdates: Mapped[str] = mapped_column(Text, default="")  # ISO dates, comma-separated
    # Skip the school holiday periods an admin keeps in HolidayPeriod.
    skip_school_holidays: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    cost_type: Mapped[str] = mapped_column(String(20), default="free")
    cost_amount: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    cost_note: Mapped[str] = mapped_column(String(300), default="")
    tags_mask: Mapped[int] = mapped_column(Integer, default=0)
    languages: Mapped[str] = mapped_column(String(200), default=",nl,")  # ",nl,ar," for LIKE
    professional_contact: Mapped[str] = mapped_column(String(300), default="")
    referral_capacity: Mapped[int] = mapped_column(Integer, default=2)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    last_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the "still correct?" mail went out for the current confirmation (None: not yet).
    confirm_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    search_text: Mapped[str] = mapped_column(Text, default="")  # folded title, summary, place …
    # The first session (not cancelled) that had not ended at `next_checked_at`, kept by
    # `search.store_next_sessions` so that search need not look it up among the sessions of
    # every match. A change to the sessions sets `next_checked_at` back to NULL: search then
    # looks it up again, until the next store.
    next_starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_ends_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    organisation: Mapped[Organisation] = relationship(back_populates="activities")
    translations: Mapped[list[ActivityTranslation]] = relationship(
        back_populates="activity", cascade="all, delete-orphan"
    )
    occurrences: Mapped[list[Occurrence]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="Occurrence.starts_at"
    )

    @property
    def language_codes(self) -> list[str]:
        return [c for c in self.languages.split(",") if c]


@event.listens_for(Activity, "before_insert")
@event.listens_for(Activity, "before_update")
def _keep_derived_columns(_mapper: Any, _connection: Any, activity: Activity) -> None:
    if activity.lat is not None:
        activity.lat_band = band_of(activity.lat)
    if activity.title is not None:
        activity.slug = url_slug(activity.title)


class ActivityTranslation(Base):
    __tablename__ = "activity_translation"
    __table_args__ = (UniqueConstraint("activity_id", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    welcome_instructions: Mapped[str] = mapped_column(Text, default="")

    activity: Mapped[Activity] = relationship(back_populates="translations")


class Occurrence(Base):
    """One dated session, materialised from the schedule so that date filters are range queries."""

    __tablename__ = "occurrence"
    __table_args__ = (
        # Covers the search's "next session" lookup without reading the table.
        Index("ix_occurrence_activity_start", "activity_id", "starts_at", "ends_at", "cancelled"),
        Index("ix_occurrence_start", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    ends_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)

    activity: Mapped[Activity] = relationship(back_populates="occurrences")


ROLES = ("professional", "organiser", "buddy", "coordinator", "admin")


class User(Base):
    """A staff account. Families never have one. The e-mail address is stored lowercased."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (
        CheckConstraint(
            "role IN ('professional','organiser','buddy','coordinator','admin')", name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # None until invited sets one
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    preferred_locale: Mapped[str] = mapped_column(String(8), default="nl")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by "sign out everywhere" and by a password change: older sessions stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    organisation: Mapped[Organisation | None] = relationship()


class UserToken(Base):
    """A single-use link sent by e-mail (invitation or password reset); only its hash is kept."""

    __tablename__ = "user_token"
    __table_args__ = (CheckConstraint("purpose IN ('invite','reset')", name="purpose_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class Outbox(Base):
    """An e-mail, written in the same transaction as the change that causes it.

    Recipient, subject and bodies are encrypted at rest (a family's address, first name and
    status link are in them); the bodies are emptied once the mail is delivered.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending','sent','failed')", name="outbox_status_known"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(EncryptedText)
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(EncryptedText)
    body_text: Mapped[str | None] = mapped_column(EncryptedText)  # None once delivered
    body_html: Mapped[str | None] = mapped_column(EncryptedText)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)  # never the recipient's address
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A mail about a family's request: erased with the request's personal details.
    request_id: Mapped[int | None] = mapped_column(Integer, index=True)


class AuditEvent(Base):
    """Who changed what, when: the audit log of staff actions."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User | None] = relationship()


class GeocodeCache(Base):
    """Addresses already geocoded by Nominatim, so each is asked once."""

    __tablename__ = "geocode_cache"

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(400), unique=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ActivityReport(Base):
    """A family's "this was not happening" about a session: alerts the organiser, counts
    towards the listing's reliability. Nothing about the family is stored."""

    __tablename__ = "activity_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), index=True
    )
    session_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)

    activity: Mapped[Activity] = relationship()


class HolidayPeriod(Base):
    """A school holiday period (Flemish calendar), kept by an admin from the published calendar;
    activities marked "not during school holidays" skip it."""

    __tablename__ = "holiday_period"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="holiday_ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date] = mapped_column(Date)


REQUEST_ORIGINS = ("family", "professional")
REQUEST_MODES = ("buddy", "professional", "welcomer")
REQUEST_STATUSES = ("new", "offered", "matched", "confirmed", "done", "cancelled")
OPEN_STATUSES = ("new", "offered", "matched", "confirmed")
OUTCOMES = ("went", "did_not_go", "will_go_again", "on_own", "helps_out")
CONTACT_CHANNELS = ("phone", "sms", "whatsapp", "email")


class AccompanimentRequest(Base):
    """A family's buddy request or a professional's "go together" referral (DESIGN §6).

    The family's details are encrypted at rest and erased `purge_due_at`; what remains (activity,
    mode, counts, outcome, dates) feeds the anonymous figures.
    """

    __tablename__ = "accompaniment_request"
    __table_args__ = (
        CheckConstraint("origin IN ('family','professional')", name="request_origin_known"),
        CheckConstraint("mode IN ('buddy','professional','welcomer')", name="request_mode_known"),
        CheckConstraint(
            "status IN ('new','offered','matched','confirmed','done','cancelled')",
            name="request_status_known",
        ),
        Index("ix_request_status", "status", "session_starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(12))
    mode: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), default="new")
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    # The chosen session (naive UTC); None: "any of the next times", the organiser picks one.
    session_starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    proposed_starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    locale: Mapped[str] = mapped_column(String(8))  # the language of the family's pages, mails
    language: Mapped[str] = mapped_column(String(8))  # the language the family speaks best
    # Personal (encrypted, purged):
    family_name: Mapped[str | None] = mapped_column(EncryptedText)
    contact_channel: Mapped[str | None] = mapped_column(String(10))
    contact_value: Mapped[str | None] = mapped_column(EncryptedText)
    note: Mapped[str | None] = mapped_column(EncryptedText)  # for whoever goes along
    share_note: Mapped[str | None] = mapped_column(EncryptedText)  # the family agreed to share
    family_key: Mapped[str | None] = mapped_column(String(64), index=True)  # keyed pseudonym
    adults: Mapped[int] = mapped_column(Integer, default=1)
    children: Mapped[int] = mapped_column(Integer, default=0)
    consent_at: Mapped[datetime] = mapped_column(DateTime)
    consent_version: Mapped[str] = mapped_column(String(20))
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    buddy_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("accompaniment_request.id"))
    # The organiser's side: who receives them, where. Free text typed about this family's
    # visit, like what to bring from the professional's referral (UiTPAS, indoor shoes, or
    # anything else): encrypted and purged with the family's details.
    organiser_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    welcomer_name: Mapped[str | None] = mapped_column(EncryptedText)
    meeting_point: Mapped[str | None] = mapped_column(EncryptedText)
    bring: Mapped[str | None] = mapped_column(EncryptedText)
    seat_booked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    outcome: Mapped[str | None] = mapped_column(String(20))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    followup_due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    followups_done: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    purge_due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    activity: Mapped[Activity] = relationship()
    referrer: Mapped[User | None] = relationship(foreign_keys=[referrer_id])
    buddy: Mapped[User | None] = relationship(foreign_keys=[buddy_id])
    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="RequestEvent.id"
    )
    offers: Mapped[list[RequestOffer]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="RequestOffer.id"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class RequestEvent(Base):
    """One step in a request's timeline: who, when, what. Never holds a family's details."""

    __tablename__ = "request_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("accompaniment_request.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_kind: Mapped[str] = mapped_column(String(12))  # family, staff, system
    action: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(200), default="")

    request: Mapped[AccompanimentRequest] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class RequestOffer(Base):
    """A coordinator offered a buddy request to one buddy; the buddy answers."""

    __tablename__ = "request_offer"
    __table_args__ = (
        UniqueConstraint("request_id", "buddy_id"),
        CheckConstraint(
            "status IN ('open','accepted','declined','withdrawn','taken')",
            name="offer_status_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("accompaniment_request.id", ondelete="CASCADE"), index=True
    )
    buddy_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)

    request: Mapped[AccompanimentRequest] = relationship(back_populates="offers")
    buddy: Mapped[User] = relationship()


class SessionLoad(Base):
    """How many referred families the organiser has confirmed for one session: the counter that
    a conditional UPDATE raises only below the activity's referral capacity."""

    __tablename__ = "session_load"
    __table_args__ = (UniqueConstraint("activity_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class BuddyProfile(Base):
    """What a buddy offers: languages, where they live and how far they go, when, how much."""

    __tablename__ = "buddy_profile"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    languages: Mapped[str] = mapped_column(String(200), default=",nl,")
    postcode: Mapped[str] = mapped_column(String(4), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    radius_km: Mapped[int] = mapped_column(Integer, default=10)
    # Weekly availability as slots "MO-am,WE-pm,SA-eve" (morning, afternoon, evening).
    availability: Mapped[str] = mapped_column(String(200), default="")
    max_open: Mapped[int] = mapped_column(Integer, default=2)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    user: Mapped[User] = relationship()

    @property
    def language_codes(self) -> list[str]:
        return [c for c in self.languages.split(",") if c]

    @property
    def slots(self) -> set[str]:
        return {s for s in self.availability.split(",") if s}


class SiteState(Base):
    """Small shared counters; `listings` rises with every change families can see, so that
    cached pages on every machine know they are stale."""

    __tablename__ = "site_state"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime)

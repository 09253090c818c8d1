"""Typed SQLAlchemy 2 models of DESIGN §4: activities and their sessions, staff accounts, mail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from .db import Base

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
        # Search prefilter: published activities in a latitude band; longitude read from the index.
        Index("ix_activity_search_box", "status", "lat", "lon"),
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
    """An e-mail, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending','sent','failed')", name="outbox_status_known"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


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

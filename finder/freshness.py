"""Listings stay right: "still correct?" mails, stale and paused listings, families' reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .accounts import audit
from .activities import refresh_occurrences
from .models import Activity, ActivityReport, AuditEvent, User
from .organisations import tell_organisers
from .search import Listing


@dataclass(frozen=True)
class FreshnessSettings:
    ask_after_days: int = 60
    stale_after_days: int = 90
    pause_after_days: int = 120
    horizon_weeks: int = 8


def stale_since(now_utc: datetime, settings: FreshnessSettings) -> datetime:
    """Listings last confirmed at or before this moment are stale: not confirmed for so long
    that families should be told (`confirmed_before`)."""
    return now_utc - timedelta(days=settings.stale_after_days)


def confirmed_before(activity: Activity | Listing, moment: datetime) -> bool:
    """Last confirmed (or, never confirmed, created) at or before `moment`."""
    confirmed = activity.last_confirmed_at or activity.created_at
    if confirmed is None:  # not saved yet (the editor's preview)
        return False
    return confirmed <= moment


def check_all(
    session: Session,
    now_utc: datetime,
    settings: FreshnessSettings,
    confirm_link: Callable[[Activity], str],
) -> dict[str, int]:
    """The daily run: ask after 60 days, pause after 120 (and tell). Returns what it did."""
    asked = paused = 0
    for activity in session.scalars(select(Activity).where(Activity.status == "published")):
        age = now_utc - (activity.last_confirmed_at or activity.created_at)
        if age >= timedelta(days=settings.pause_after_days):
            activity.status = "paused"
            activity.updated_at = now_utc
            refresh_occurrences(session, activity, now_utc, settings.horizon_weeks)
            tell_organisers(
                session, activity, "paused_stale", now_utc, link=confirm_link(activity)
            )
            audit(session, None, "activity_paused_stale", "activity", activity.id, now_utc)
            paused += 1
        elif (
            age >= timedelta(days=settings.ask_after_days) and activity.confirm_requested_at is None
        ):
            tell_organisers(
                session, activity, "still_correct", now_utc, link=confirm_link(activity)
            )
            activity.confirm_requested_at = now_utc
            asked += 1
    return {"asked": asked, "paused": paused}


def confirm_stamp(activity: Activity) -> str:
    """What a "still correct?" link is for: the confirmation it renews. Once the listing is
    confirmed (by the link, or by publishing it again in the editor) the link is spent."""
    return (activity.last_confirmed_at or activity.created_at).isoformat(timespec="seconds")


def paused_for_age(session: Session, activity: Activity) -> bool:
    """Paused by the daily check for want of confirmation, not by its organiser on purpose
    (whose pause a link in an old mail must never undo)."""
    if activity.status != "paused":
        return False
    last = session.scalar(
        select(AuditEvent.action)
        .where(
            AuditEvent.object_type == "activity",
            AuditEvent.object_id == activity.id,
            AuditEvent.action.in_(("activity_paused_stale", "activity_pause")),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(1)
    )
    return last == "activity_paused_stale"


def confirm(
    session: Session,
    activity: Activity,
    now_utc: datetime,
    horizon_weeks: int,
    user: User | None = None,
) -> None:
    """ "Still correct": the listing is fresh again, and back online if it was paused for age
    (one its organiser paused stays paused)."""
    back_online = paused_for_age(session, activity)
    activity.last_confirmed_at = now_utc
    activity.confirm_requested_at = None
    if back_online:
        activity.status = "published" if activity.organisation.verified else "pending"
        refresh_occurrences(session, activity, now_utc, horizon_weeks)
    activity.updated_at = now_utc
    audit(session, user, "activity_confirmed", "activity", activity.id, now_utc)


def report_not_happening(
    session: Session,
    activity: Activity,
    session_date: date | None,
    now_utc: datetime,
    detail_link: str,
) -> ActivityReport:
    """A family says a session did not take place: store it and alert the organisers."""
    report = ActivityReport(activity_id=activity.id, session_date=session_date, created_at=now_utc)
    session.add(report)
    tell_organisers(
        session,
        activity,
        "family_report",
        now_utc,
        day=session_date.isoformat() if session_date else "",
        link=detail_link,
    )
    return report


def open_reports(session: Session, activity_id: int, now_utc: datetime, days: int = 90) -> int:
    """Unresolved reports of the last `days`: the listing's reliability signal."""
    return open_reports_of(session, [activity_id], now_utc, days).get(activity_id, 0)


def open_reports_of(
    session: Session, activity_ids: list[int], now_utc: datetime, days: int = 90
) -> dict[int, int]:
    """`open_reports` of many activities in one query (a page of the staff list): id → count,
    activities without open reports left out."""
    if not activity_ids:
        return {}
    rows = session.execute(
        select(ActivityReport.activity_id, func.count(ActivityReport.id))
        .where(
            ActivityReport.activity_id.in_(activity_ids),
            ActivityReport.resolved_at.is_(None),
            ActivityReport.created_at >= now_utc - timedelta(days=days),
        )
        .group_by(ActivityReport.activity_id)
    )
    return {activity_id: count for activity_id, count in rows}

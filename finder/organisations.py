"""Organisations: registered by an organiser, verified by an admin; the moderation queue of the
first listings of organisations that are not verified yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .accounts import audit
from .activities import refresh_occurrences
from .geo import gazetteer
from .models import Activity, Organisation, User
from .notify import queue_mail
from .paging import Page, paginate
from .taxonomy import N_
from .text import one_line

KINDS = {
    "community_centre": N_("Community centre"),
    "family_centre": N_("Family centre (Huis van het Kind)"),
    "food_bank": N_("Food bank or social grocery"),
    "neighbourhood_work": N_("Neighbourhood work"),
    "womens_organisation": N_("Women's organisation"),
    "school": N_("School"),
    "library": N_("Library"),
    "sports_club": N_("Sports club"),
    "youth_work": N_("Youth work"),
    "volunteer_group": N_("Volunteer group"),
    "advice_service": N_("Advice service (OCMW, CAW, union …)"),
    "other": N_("Other"),
}


@dataclass
class OrganisationInput:
    name: str
    kind: str
    street: str = ""
    postcode: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    website: str = ""


class OrganisationError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def check(data: OrganisationInput) -> None:
    errors = {}
    if not data.name.strip():
        errors["name"] = "required"
    if data.kind not in KINDS:
        errors["kind"] = "unknown"
    if data.postcode and data.postcode not in gazetteer().by_postcode:
        errors["postcode"] = "unknown_postcode"
    if data.website and not data.website.startswith(("http://", "https://")):
        errors["website"] = "website_scheme"
    if errors:
        raise OrganisationError(errors)


def _apply(org: Organisation, data: OrganisationInput) -> None:
    org.name = one_line(data.name).strip()
    org.kind = data.kind
    org.street = one_line(data.street).strip()
    org.postcode = data.postcode.strip()
    org.contact_email = data.contact_email.strip() or None
    org.contact_phone = one_line(data.contact_phone).strip() or None
    org.website = one_line(data.website).strip() or None


def register(
    session: Session, user: User, data: OrganisationInput, now_utc: datetime
) -> Organisation:
    """An organiser without an organisation registers one; it starts unverified."""
    if user.role != "organiser" or user.organisation_id is not None:
        raise PermissionError("register")
    check(data)
    org = Organisation(verified=False, created_at=now_utc)
    _apply(org, data)
    session.add(org)
    session.flush()
    user.organisation_id = org.id
    audit(session, user, "organisation_registered", "organisation", org.id, now_utc, org.name)
    return org


def update(
    session: Session, user: User, org: Organisation, data: OrganisationInput, now_utc: datetime
) -> None:
    if not (user.role == "admin" or (user.role == "organiser" and user.organisation_id == org.id)):
        raise PermissionError("update")
    check(data)
    _apply(org, data)
    audit(session, user, "organisation_updated", "organisation", org.id, now_utc)


def verify(session: Session, admin: User, org: Organisation, now_utc: datetime) -> None:
    if admin.role != "admin":
        raise PermissionError("verify")
    org.verified = True
    audit(session, admin, "organisation_verified", "organisation", org.id, now_utc, org.name)


def organisers(session: Session, activity: Activity) -> list[User]:
    """The active organisers of an activity's organisation: who hears about it."""
    return list(
        session.scalars(
            select(User).where(
                User.organisation_id == activity.organisation_id,
                User.role == "organiser",
                User.active.is_(True),
            )
        )
    )


def tell_organisers(
    session: Session, activity: Activity, template: str, now_utc: datetime, **context: Any
) -> None:
    """Queue one mail per active organiser of the activity's organisation, in their language."""
    for user in organisers(session, activity):
        queue_mail(
            session,
            user.email,
            user.preferred_locale,
            template,
            now_utc,
            name=user.display_name,
            title=activity.title,
            **context,
        )


def pending_page(session: Session, number: int, per_page: int) -> Page[Activity]:
    """A page of the moderation queue (listings waiting for a check, oldest first), each with
    its organisation."""
    query = (
        select(Activity)
        .where(Activity.status == "pending")
        .options(selectinload(Activity.organisation))
        .order_by(Activity.updated_at, Activity.id)
    )
    return paginate(session, query, number, per_page)


def moderate(
    session: Session,
    admin: User,
    activity: Activity,
    approve: bool,
    now_utc: datetime,
    horizon_weeks: int,
    link: str,
) -> None:
    """Approve a pending listing (it goes online) or send it back to its organiser as draft;
    its organisers hear which, with a `link` to the listing (approved) or the editor (back)."""
    if admin.role != "admin" or activity.status != "pending":
        raise PermissionError("moderate")
    activity.status = "published" if approve else "draft"
    activity.updated_at = now_utc
    refresh_occurrences(session, activity, now_utc, horizon_weeks)
    template = "activity_approved" if approve else "activity_sent_back"
    tell_organisers(session, activity, template, now_utc, link=link)
    audit(
        session,
        admin,
        "activity_approved" if approve else "activity_sent_back",
        "activity",
        activity.id,
        now_utc,
    )

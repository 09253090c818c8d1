"""Factories that make valid objects with sensible defaults; a test states what matters."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from finder import taxonomy
from finder.activities import derive_fields, refresh_occurrences
from finder.geo import gazetteer
from finder.models import (
    AccompanimentRequest,
    Activity,
    ActivityTranslation,
    Organisation,
    Outbox,
    RequestEvent,
    User,
)

from .conftest import NOW, _password_hash

__all__ = ["NOW", "activity", "organisation", "request", "user"]


def organisation(db: Session, **kw: Any) -> Organisation:
    org = Organisation(
        name=kw.pop("name", "Buurtcentrum Test"),
        kind=kw.pop("kind", "community_centre"),
        verified=kw.pop("verified", True),
        created_at=NOW,
        **kw,
    )
    db.add(org)
    db.flush()
    return org


def activity(
    db: Session,
    *,
    postcode: str = "9000",
    offset_km: tuple[float, float] = (0.0, 0.0),
    tags: tuple[str, ...] = ("free_drinks", "walk_in"),
    rrule: str | None = "FREQ=WEEKLY;BYDAY=WE",
    first: datetime = datetime(2026, 11, 4, 14, 0),
    translations: dict[str, dict[str, str]] | None = None,
    org: Organisation | None = None,
    **kw: Any,
) -> Activity:
    """A published weekly activity at the postcode's point, moved `offset_km` (north, east)."""
    entry = gazetteer().by_postcode[postcode]
    a = Activity(
        organisation=org or organisation(db),
        category=kw.pop("category", "coffee_chat"),
        title=kw.pop("title", "Koffiemoment"),
        summary=kw.pop("summary", "Koffie en een babbel."),
        description=kw.pop("description", ""),
        welcome_instructions=kw.pop("welcome_instructions", "Vraag naar Fatima."),
        street=kw.pop("street", "Sleepstraat 1"),
        postcode=postcode,
        municipality=entry.municipality_nl,
        lat=entry.lat + offset_km[0] / 111.32,
        lon=entry.lon + offset_km[1] / 70.0,
        location_precision="exact",
        rrule=rrule,
        dtstart_local=first,
        duration_minutes=kw.pop("duration_minutes", 120),
        exdates=kw.pop("exdates", ""),
        cost_type=kw.pop("cost_type", "free"),
        cost_amount=Decimal(str(kw["cost_amount"])) if kw.get("cost_amount") is not None else None,
        cost_note=kw.pop("cost_note", ""),
        tags_mask=taxonomy.tags_to_mask(tags),
        languages="," + ",".join(kw.pop("languages", ["nl"])) + ",",
        status=kw.pop("status", "published"),
        last_confirmed_at=NOW - timedelta(days=3),
        created_at=NOW,
        updated_at=NOW,
    )
    kw.pop("cost_amount", None)
    for key, value in kw.items():
        setattr(a, key, value)
    for locale, texts in (translations or {}).items():
        a.translations.append(ActivityTranslation(locale=locale, **texts))
    derive_fields(a, 5.0)
    db.add(a)
    db.flush()
    refresh_occurrences(db, a, NOW, 8)
    db.flush()
    return a


_numbers = itertools.count(1)


def user(db: Session, email: str, role: str, signs_in: bool = False, **kw: Any) -> User:
    """An active account; with `signs_in`, its password is conftest.PASSWORD."""
    person = User(
        email=email,
        password_hash=_password_hash() if signs_in else kw.pop("password_hash", None),
        display_name=kw.pop("display_name", role.capitalize()),
        role=role,
        preferred_locale=kw.pop("preferred_locale", "nl"),
        active=kw.pop("active", True),
        session_version=kw.pop("session_version", 1),
        created_at=kw.pop("created_at", NOW),
        **kw,
    )
    db.add(person)
    db.flush()
    return person


def request(db: Session, activity: Activity, **kw: Any) -> AccompanimentRequest:
    """A family's request for `activity` (a buddy goes along), with its "created" event."""
    from finder.accompaniment import CONSENT_VERSION, token_hash

    r = AccompanimentRequest(
        origin=kw.pop("origin", "family"),
        mode=kw.pop("mode", "buddy"),
        status=kw.pop("status", "new"),
        activity_id=activity.id,
        session_starts_at=kw.pop("session_starts_at", datetime(2026, 12, 9, 13, 0)),
        reference=kw.pop("reference", f"TST-{next(_numbers):04d}"),
        token_hash=token_hash(kw.pop("token", f"token-{next(_numbers)}")),
        locale=kw.pop("locale", "nl"),
        language=kw.pop("language", "ar"),
        family_name=kw.pop("family_name", "Amal"),
        contact_channel=kw.pop("contact_channel", "phone"),
        contact_value=kw.pop("contact_value", "+32470123456"),
        adults=1,
        children=kw.pop("children", 1),
        consent_at=NOW,
        consent_version=CONSENT_VERSION,
        welcomer_name=kw.pop("welcomer_name", None),
        meeting_point=kw.pop("meeting_point", None),
        seat_booked=False,
        followups_done=0,
        created_at=NOW,
        updated_at=NOW,
        **kw,
    )
    r.activity = activity
    r.events.append(RequestEvent(at=NOW, actor_kind="family", action="created", detail=""))
    db.add(r)
    db.flush()
    return r


def results_map(client: Any, html: str) -> dict[str, Any]:
    """The map of a results page, fetched from where static/js/map.js fetches it."""
    import re

    found = re.search(r'<div class="map" id="map" data-map-src="([^"]+)"', html)
    assert found, "no map on the page"
    response = client.get(found.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response.mimetype == "application/json"
    data: dict[str, Any] = response.get_json()
    return data


def mails_to(db: Session, address: str) -> list[Outbox]:
    """The outbox's mails to one address, oldest first. The address is encrypted at rest (a
    new IV each time), so SQL cannot compare it: the rows are opened and filtered here."""
    return [m for m in db.scalars(select(Outbox).order_by(Outbox.id)) if m.to_address == address]

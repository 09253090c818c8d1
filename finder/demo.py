"""Demo data: the curated activities of data/demo, and synthetic ones for benchmarks."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import taxonomy
from .accounts import hash_password
from .activities import derive_fields, refresh_occurrences
from .geo import band_of, gazetteer
from .models import (
    ROLES,
    Activity,
    ActivityTranslation,
    BuddyProfile,
    HolidayPeriod,
    Occurrence,
    Organisation,
    User,
)
from .resources import DATA
from .schedule import expand, to_local
from .text import fold, url_slug

DEMO_JSON = DATA / "demo" / "demo.json"


def _jitter(key: str, spread_km: float) -> tuple[float, float]:
    """A stable offset of up to `spread_km` so that activities of one postcode do not overlap."""
    digest = hashlib.sha256(key.encode()).digest()
    dx = (digest[0] / 255 - 0.5) * 2 * spread_km
    dy = (digest[1] / 255 - 0.5) * 2 * spread_km
    return dy / 111.32, dx / 70.0


def is_empty(session: Session) -> bool:
    return session.scalar(select(Activity.id).limit(1)) is None


def load_demo(session: Session, now_utc: datetime, weeks: int, low_cost_max_eur: float) -> int:
    """Load data/demo/demo.json; one-off dates are relative to today. Returns the activity count."""
    data = json.loads(DEMO_JSON.read_text(encoding="utf-8"))
    orgs: dict[str, Organisation] = {}
    for o in data["organisations"]:
        org = Organisation(
            name=o["name"],
            kind=o["kind"],
            contact_email=o["contact_email"],
            contact_phone=o["contact_phone"],
            website=o["website"],
            verified=o["verified"],
            created_at=now_utc,
        )
        session.add(org)
        orgs[o["key"]] = org
    today = to_local(now_utc).date()
    for period in data.get("school_holidays", []):
        session.add(
            HolidayPeriod(
                name=period["name"],
                starts_on=date.fromisoformat(period["from"]),
                ends_on=date.fromisoformat(period["to"]),
            )
        )
    session.flush()
    gaz = gazetteer()
    for a in data["activities"]:
        entry = gaz.by_postcode[a["postcode"]]
        dlat, dlon = _jitter(a["title"] + a["street"], 0.9)
        hh, mm = (int(x) for x in a["start_time"].split(":"))
        first = (
            today + timedelta(days=a["in_days"])
            if "in_days" in a
            else date.fromisoformat(a["first_date"])
        )
        activity = Activity(
            organisation=orgs[a["org"]],
            category=a["category"],
            original_locale="nl",
            title=a["title"],
            summary=a["summary"],
            description=a["description"],
            welcome_instructions=a["welcome_instructions"],
            street=a["street"],
            postcode=a["postcode"],
            municipality=entry.municipality_nl,
            lat=round(entry.lat + dlat, 6),
            lon=round(entry.lon + dlon, 6),
            location_precision="exact",
            rrule=a["rrule"],
            dtstart_local=datetime.combine(first, time(hh, mm)),
            duration_minutes=a["duration_minutes"],
            exdates=",".join(a.get("exdates", [])),
            skip_school_holidays=a.get("skip_school_holidays", False),
            cost_type=a["cost_type"],
            cost_amount=Decimal(str(a["cost_amount"])) if a["cost_amount"] is not None else None,
            cost_note=a["cost_note"],
            tags_mask=taxonomy.tags_to_mask(a["tags"]),
            languages="," + ",".join(a["languages"]) + ",",
            professional_contact=a["professional_contact"],
            referral_capacity=a["referral_capacity"],
            status="published",
            last_confirmed_at=now_utc - timedelta(days=len(a["title"]) % 40),
            created_at=now_utc,
            updated_at=now_utc,
        )
        for locale, tr in sorted(a.get("translations", {}).items()):
            activity.translations.append(
                ActivityTranslation(
                    locale=locale, title=tr.get("title", a["title"]), summary=tr.get("summary", "")
                )
            )
        derive_fields(activity, low_cost_max_eur)
        session.add(activity)
        session.flush()
        refresh_occurrences(session, activity, now_utc, weeks)
    return len(data["activities"])


DEMO_PASSWORD = "meegaan-demo"


def create_demo_accounts(session: Session, now_utc: datetime) -> list[tuple[str, str, str]]:
    """One account per role for trying Meegaan (only where DEMO_ACCOUNTS is on, never in
    production). The organiser runs the first demo organisation. Returns (role, e-mail,
    password) of the accounts made; none when accounts exist already."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return []
    first_org = session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
    password_hash = hash_password(DEMO_PASSWORD)
    made = []
    for role in ROLES:
        email = f"{role}@meegaan.example"
        user = User(
            email=email,
            password_hash=password_hash,
            display_name=f"Demo {role}",
            role=role,
            organisation_id=first_org.id if role == "organiser" and first_org else None,
            preferred_locale="nl",
            active=True,
            session_version=1,
            created_at=now_utc,
        )
        session.add(user)
        if role == "buddy":  # so that the coordinator's suggestions show someone
            gent = gazetteer().by_postcode["9000"]
            session.add(
                BuddyProfile(
                    user=user,
                    languages=",nl,ar,fr,",
                    postcode="9000",
                    lat=gent.lat,
                    lon=gent.lon,
                    radius_km=15,
                    availability="MO-pm,WE-am,WE-pm,SA-am",
                    max_open=3,
                    active=True,
                    updated_at=now_utc,
                )
            )
        made.append((role, email, DEMO_PASSWORD))
    return made


# Where synthetic activities cluster: (postcode, share of all activities).
_CITIES = [
    ("1000", 0.10),
    ("2000", 0.08),
    ("9000", 0.07),
    ("4000", 0.05),
    ("6000", 0.04),
    ("3000", 0.03),
    ("8000", 0.03),
    ("2800", 0.02),
    ("9300", 0.015),
    ("3500", 0.015),
    ("8500", 0.015),
    ("9100", 0.015),
    ("3600", 0.015),
    ("8400", 0.015),
    ("5000", 0.02),
]
_SCHEDULES = [
    "FREQ=WEEKLY;BYDAY=WE",
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=WEEKLY;BYDAY=SA",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
    "FREQ=MONTHLY;BYDAY=1SA",
    "FREQ=MONTHLY;BYDAY=-1WE",
    "FREQ=WEEKLY;BYDAY=TH,FR",
]
_WORDS = [
    "koffie",
    "speelhoek",
    "café",
    "taal",
    "koken",
    "wandelen",
    "naaien",
    "sport",
    "tuin",
    "baby",
    "huiswerk",
    "buurt",
    "ontmoeting",
    "soep",
    "muziek",
    "fiets",
    "voorlezen",
]


def generate_synthetic(
    session: Session, count: int, now_utc: datetime, weeks: int, seed: int = 7
) -> None:
    """Insert `count` published activities spread over Belgium, denser in cities, in bulk."""
    rnd = random.Random(seed)
    gaz = gazetteer()
    entries = gaz.entries
    org = Organisation(name="Synthetic", kind="other", verified=True, created_at=now_utc)
    session.add(org)
    session.flush()
    city_weight = sum(w for _, w in _CITIES)
    filter_tags = [t.slug for t in taxonomy.FILTER_TAGS if t.group != "cost"]
    today = to_local(now_utc).date()
    expanded: dict[tuple[str, int], list[tuple[datetime, datetime]]] = {}
    batch: list[dict[str, Any]] = []
    occ_batch: list[dict[str, Any]] = []
    next_id = (session.scalar(select(Activity.id).order_by(Activity.id.desc()).limit(1)) or 0) + 1

    def flush() -> None:
        if batch:
            session.execute(insert(Activity), batch)
            session.execute(insert(Occurrence), occ_batch)
            batch.clear()
            occ_batch.clear()

    for n in range(count):
        if rnd.random() < city_weight:
            postcode = rnd.choices([c for c, _ in _CITIES], weights=[w for _, w in _CITIES])[0]
            entry = gaz.by_postcode[postcode]
            spread = 6.0
        else:
            entry = rnd.choice(entries)
            spread = 3.0
        lat = entry.lat + rnd.uniform(-spread, spread) / 111.32
        lon = entry.lon + rnd.uniform(-spread, spread) / 70.0
        rule = rnd.choice(_SCHEDULES)
        hour = rnd.choice([9, 10, 13, 14, 18])
        key = (rule, hour)
        if key not in expanded:
            start = datetime.combine(today - timedelta(days=today.weekday()), time(hour))
            expanded[key] = [
                (s.starts_at, s.ends_at)
                for s in expand(rule, start, 120, [], now_utc, now_utc + timedelta(weeks=weeks))
            ]
        category = rnd.choice(taxonomy.CATEGORIES).slug
        tags = set(rnd.sample(filter_tags, rnd.randint(2, 7)))
        cost_type = rnd.choice(["free", "free", "pay_what_you_can", "amount"])
        tags |= taxonomy.cost_tags(cost_type, 3.0, 5.0)
        words = " ".join(rnd.sample(_WORDS, 3))
        title = f"{words.capitalize()} {n}"
        activity_id = next_id + n
        first = expanded[key][0] if expanded[key] else (None, None)
        batch.append(
            {
                "id": activity_id,
                "organisation_id": org.id,
                "category": category,
                "original_locale": "nl",
                "title": title,
                "summary": words,
                "description": "",
                "welcome_instructions": "",
                "street": "",
                "postcode": entry.postcode,
                "municipality": entry.municipality_nl,
                "lat": lat,
                "lon": lon,
                "lat_band": band_of(lat),
                "slug": url_slug(title),
                "location_precision": "postcode",
                "rrule": rule,
                "dtstart_local": datetime.combine(today, time(hour)),
                "duration_minutes": 120,
                "exdates": "",
                "cost_type": cost_type,
                "cost_amount": Decimal("3") if cost_type == "amount" else None,
                "cost_note": "",
                "tags_mask": taxonomy.tags_to_mask(tags),
                "languages": "," + ",".join(rnd.sample(list(taxonomy.LANGUAGES), 2)) + ",",
                "professional_contact": "",
                "referral_capacity": 2,
                "status": "published",
                "last_confirmed_at": now_utc,
                "created_at": now_utc,
                "updated_at": now_utc,
                "search_text": " " + fold(f"{title} {words} {entry.municipality_nl}") + " ",
                "next_starts_at": first[0],
                "next_ends_at": first[1],
                "next_checked_at": now_utc,
            }
        )
        occ_batch.extend(
            {"activity_id": activity_id, "starts_at": s, "ends_at": e, "cancelled": False}
            for s, e in expanded[key]
        )
        if len(batch) >= 5000:
            flush()
    flush()

"""Going along (DESIGN §6): families' buddy requests and professionals' referrals share one
lifecycle. Every change is a RequestEvent, atomic where people race (one buddy wins, a session's
referral capacity is never oversold) and queues the mails it implies. Knows nothing of Flask."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import phonenumbers
from babel.dates import format_datetime
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from .accounts import audit
from .activities import upcoming_sessions
from .geo import distance_km
from .models import (
    CONTACT_CHANNELS,
    OPEN_STATUSES,
    OUTCOMES,
    AccompanimentRequest,
    Activity,
    BuddyProfile,
    Occurrence,
    Outbox,
    RequestEvent,
    RequestOffer,
    SessionLoad,
    User,
)
from .notify import queue_mail
from .paging import Page, like_pattern, paginate
from .schedule import to_local
from .taxonomy import LANGUAGES
from .text import one_line
from .vault import vault

# Bump when the consent text the family reads changes; each request keeps the version it saw.
CONSENT_VERSION = "2026-11"
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
MAX_PEOPLE = 12
T = TypeVar("T")


@dataclass(frozen=True)
class RequestSettings:
    purge_days: int = 90
    followup_days: tuple[int, ...] = (28, 91)
    phone_region: str = "BE"
    check_dns: bool = False
    horizon_weeks: int = 8
    answer_days: int = 3
    # An open request closes by itself this many days after its date (twice as long after it
    # was made, for "any of the next times"), so that no family's details stay forever.
    expire_days: int = 30


class RequestError(Exception):
    """Bad input or a step that is not possible now; `errors` maps a field to a message code."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


class Conflict(Exception):
    """Someone else changed the request at the same moment; the caller shows it again."""


@dataclass
class FamilyInput:
    """What a family or a professional tells about the family. `session` is an ISO UTC start
    time of one of the next sessions, or "any"."""

    session: str
    name: str
    channel: str
    contact: str
    language: str
    adults: int | None
    children: int | None
    note: str = ""
    share_note: str = ""
    bring: str = ""
    consent: bool = False
    contact_required: bool = True


@dataclass
class Checked:
    starts_at: datetime | None
    contact: str | None
    channel: str | None


# --- reading ---------------------------------------------------------------------------------


def bookable_sessions(
    session: Session, activity: Activity, now_utc: datetime, limit: int = 6, horizon_weeks: int = 8
) -> list[datetime]:
    """Start times (naive UTC) of the next sessions a family can still choose."""
    return [
        s.starts_at
        for s in upcoming_sessions(session, activity, now_utc, limit + 1, horizon_weeks)
        if s.starts_at > now_utc
    ][:limit]


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def find_by_token(session: Session, raw: str) -> AccompanimentRequest | None:
    if not raw or len(raw) > 100:
        return None
    return session.scalar(
        select(AccompanimentRequest).where(AccompanimentRequest.token_hash == token_hash(raw))
    )


def session_text(starts_at: datetime | None, locale: str) -> str:
    """A session's day and time in the recipient's language, Brussels time."""
    if starts_at is None:
        return ""
    return format_datetime(to_local(starts_at), "EEEE d MMMM y, HH:mm", locale=locale)


# --- checking input --------------------------------------------------------------------------


def normalise_contact(channel: str, value: str, settings: RequestSettings) -> str:
    """A phone number in E.164 (+32475123456) or a normalised e-mail address; raises
    RequestError with the code of what is wrong."""
    value = value.strip()
    if channel == "email":
        try:
            checked = validate_email(value, check_deliverability=settings.check_dns)
        except EmailNotValidError as exc:
            raise RequestError({"contact": "email_invalid"}) from exc
        return str(checked.normalized)
    try:
        number = phonenumbers.parse(value, settings.phone_region)
    except phonenumbers.NumberParseException as exc:
        raise RequestError({"contact": "phone_invalid"}) from exc
    if not phonenumbers.is_valid_number(number):
        raise RequestError({"contact": "phone_invalid"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_input(
    session: Session,
    activity: Activity,
    data: FamilyInput,
    now_utc: datetime,
    settings: RequestSettings,
) -> Checked:
    """Every rule at once, so the form can show all problems together."""
    errors: dict[str, str] = {}
    starts_at = None
    if data.session != "any":
        try:
            starts_at = datetime.fromisoformat(data.session).replace(tzinfo=None)
        except ValueError:
            errors["session"] = "session_unknown"
        else:
            errors.update(_check_session(session, activity, starts_at, now_utc, settings))
    if not data.name.strip():
        errors["name"] = "name_needed"
    elif len(data.name.strip()) > 60:
        errors["name"] = "too_long"
    contact = channel = None
    if data.contact.strip() or data.contact_required:
        if data.channel not in CONTACT_CHANNELS:
            errors["channel"] = "channel_needed"
        elif not data.contact.strip():
            errors["contact"] = "contact_needed"
        else:
            try:
                contact, channel = (
                    normalise_contact(data.channel, data.contact, settings),
                    (data.channel),
                )
            except RequestError as exc:
                errors.update(exc.errors)
    if data.language not in LANGUAGES:
        errors["language"] = "language_needed"
    if data.adults is None or not 1 <= data.adults <= MAX_PEOPLE:
        errors["adults"] = "adults_range"
    if data.children is None or not 0 <= data.children <= MAX_PEOPLE:
        errors["children"] = "children_range"
    if len(data.note) > 500:
        errors["note"] = "too_long"
    if len(data.share_note) > 500:
        errors["share_note"] = "too_long"
    if len(data.bring) > 300:
        errors["bring"] = "too_long"
    if not data.consent:
        errors["consent"] = "consent_needed"
    if errors:
        raise RequestError(errors)
    return Checked(starts_at=starts_at, contact=contact, channel=channel)


def _check_session(
    session: Session,
    activity: Activity,
    starts_at: datetime,
    now_utc: datetime,
    settings: RequestSettings,
) -> dict[str, str]:
    if starts_at <= now_utc:
        return {"session": "session_past"}
    cancelled = session.scalar(
        select(Occurrence.id).where(
            Occurrence.activity_id == activity.id,
            Occurrence.starts_at == starts_at,
            Occurrence.cancelled.is_(True),
        )
    )
    if cancelled is not None:
        return {"session": "session_cancelled"}
    if starts_at not in bookable_sessions(session, activity, now_utc, 12, settings.horizon_weeks):
        return {"session": "session_unknown"}
    return {}


# --- creating --------------------------------------------------------------------------------


def _new_reference(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        code = f"{code[:3]}-{code[3:]}"
        exists = session.scalar(
            select(AccompanimentRequest.id).where(AccompanimentRequest.reference == code)
        )
        if exists is None:
            return code


def _event(
    request: AccompanimentRequest,
    action: str,
    now_utc: datetime,
    actor: User | None = None,
    detail: str = "",
    kind: str | None = None,
) -> None:
    request.events.append(
        RequestEvent(
            at=now_utc,
            actor_id=actor.id if actor else None,
            actor_kind=kind or ("staff" if actor else "family"),
            action=action,
            detail=detail[:200],
        )
    )


def create(
    session: Session,
    activity: Activity,
    data: FamilyInput,
    checked: Checked,
    mode: str,
    locale: str,
    now_utc: datetime,
    links: Links,
    referrer: User | None = None,
    previous: AccompanimentRequest | None = None,
) -> tuple[AccompanimentRequest, str]:
    """Store a new request and tell who must act. Returns it with the raw status token (shown
    once to the family or the professional; only its hash is kept)."""
    raw = secrets.token_urlsafe(24)
    request = AccompanimentRequest(
        origin="professional" if referrer else "family",
        mode=mode,
        status="new",
        activity_id=activity.id,
        session_starts_at=checked.starts_at,
        reference=_new_reference(session),
        token_hash=token_hash(raw),
        locale=locale,
        language=data.language,
        family_name=one_line(data.name).strip(),
        contact_channel=checked.channel,
        contact_value=checked.contact,
        note=data.note.strip() or None,
        share_note=data.share_note.strip() or None,
        family_key=vault().pseudonym(checked.contact) if checked.contact else None,
        adults=data.adults or 1,
        children=data.children or 0,
        consent_at=now_utc,
        consent_version=CONSENT_VERSION,
        referrer_id=referrer.id if referrer else None,
        previous_id=previous.id if previous else None,
        welcomer_name=None,
        meeting_point=None,
        bring=one_line(data.bring).strip() or None,
        seat_booked=False,
        followups_done=0,
        created_at=now_utc,
        updated_at=now_utc,
    )
    request.activity = activity
    if previous is not None and previous.family_key:
        request.family_key = previous.family_key
    session.add(request)
    _event(request, "created", now_utc, referrer, detail=mode)
    session.flush()
    _mail_staff(session, request, "new_request", now_utc, links, organisers=True)
    if mode == "buddy":
        _mail_coordinators(session, request, "new_buddy_request", now_utc, links)
    _mail_family(
        session, request, "received", now_utc, links, status_link=links.status(raw, locale)
    )
    return request, raw


def new_token(request: AccompanimentRequest) -> str:
    """A fresh status link for the family; the old one stops working."""
    raw = secrets.token_urlsafe(24)
    request.token_hash = token_hash(raw)
    return raw


# --- the lifecycle ---------------------------------------------------------------------------


def _recompute(request: AccompanimentRequest) -> None:
    if request.status in ("done", "cancelled"):
        return
    if request.mode == "buddy" and request.buddy_id is None:
        has_offer = any(o.status == "open" for o in request.offers)
        request.status = "offered" if has_offer else "new"
    elif request.organiser_confirmed_at is None:
        request.status = "matched" if request.mode == "buddy" else "new"
    else:
        request.status = "confirmed"


def _require_open(request: AccompanimentRequest) -> None:
    if not request.is_open:
        raise RequestError({"request": "closed"})


def book_seat(session: Session, activity: Activity, starts_at: datetime) -> bool:
    """Take one referral place in a session, or say it is full. A conditional UPDATE on a
    counter row: two confirmations at once never both take the last place."""
    try:
        with session.begin_nested():
            session.add(SessionLoad(activity_id=activity.id, starts_at=starts_at, booked=0))
    except IntegrityError:
        pass  # the row exists already
    result = session.execute(
        update(SessionLoad)
        .where(
            SessionLoad.activity_id == activity.id,
            SessionLoad.starts_at == starts_at,
            SessionLoad.booked < activity.referral_capacity,
        )
        .values(booked=SessionLoad.booked + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _release_seat(session: Session, request: AccompanimentRequest) -> None:
    if request.seat_booked and request.session_starts_at is not None:
        session.execute(
            update(SessionLoad)
            .where(
                SessionLoad.activity_id == request.activity_id,
                SessionLoad.starts_at == request.session_starts_at,
                SessionLoad.booked > 0,
            )
            .values(booked=SessionLoad.booked - 1)
        )
    request.seat_booked = False


def places_left(session: Session, activity: Activity, starts_at: datetime) -> int:
    booked = session.scalar(
        select(SessionLoad.booked).where(
            SessionLoad.activity_id == activity.id, SessionLoad.starts_at == starts_at
        )
    )
    return max(0, activity.referral_capacity - (booked or 0))


def confirm(
    session: Session,
    request: AccompanimentRequest,
    organiser: User,
    starts_at: datetime,
    welcomer: str,
    meeting_point: str,
    now_utc: datetime,
    links: Links,
    settings: RequestSettings,
) -> None:
    """The organiser expects the family at this session and names who receives them."""
    _require_open(request)
    errors: dict[str, str] = {}
    if not welcomer.strip():
        errors["welcomer"] = "welcomer_needed"
    elif len(welcomer) > 100:
        errors["welcomer"] = "too_long"
    if len(meeting_point) > 300:
        errors["meeting_point"] = "too_long"
    if not errors:
        errors.update(_check_session(session, request.activity, starts_at, now_utc, settings))
    if errors:
        raise RequestError(errors)
    if request.seat_booked and request.session_starts_at != starts_at:
        _release_seat(session, request)
    if not request.seat_booked:
        if not book_seat(session, request.activity, starts_at):
            raise RequestError({"session": "session_full"})
        request.seat_booked = True
    changed_date = request.session_starts_at != starts_at
    request.session_starts_at = starts_at
    request.proposed_starts_at = None
    request.welcomer_name = one_line(welcomer).strip()
    request.meeting_point = one_line(meeting_point).strip() or None
    request.organiser_confirmed_at = now_utc
    request.updated_at = now_utc
    _recompute(request)
    _event(request, "confirmed", now_utc, organiser, detail=starts_at.isoformat())
    news = "confirmed_new_date" if changed_date else "confirmed"
    _mail_staff(session, request, news, now_utc, links, referrer=True, buddy=True)
    _mail_family(session, request, news, now_utc, links)


def propose_date(
    session: Session,
    request: AccompanimentRequest,
    organiser: User,
    starts_at: datetime,
    now_utc: datetime,
    links: Links,
    settings: RequestSettings,
) -> None:
    """The organiser cannot take them that day and suggests another session."""
    _require_open(request)
    errors = _check_session(session, request.activity, starts_at, now_utc, settings)
    if errors:
        raise RequestError(errors)
    request.proposed_starts_at = starts_at
    request.updated_at = now_utc
    _event(request, "date_proposed", now_utc, organiser, detail=starts_at.isoformat())
    _mail_staff(session, request, "date_proposed", now_utc, links, referrer=True, buddy=True)
    _mail_family(session, request, "date_proposed", now_utc, links)


def change_date(
    session: Session,
    request: AccompanimentRequest,
    starts_at: datetime | None,
    now_utc: datetime,
    links: Links,
    settings: RequestSettings,
    actor: User | None = None,
) -> int | None:
    """The family (or their professional) picks another session; the organiser confirms again
    unless it is the date the organiser proposed. Returns how many people were told (None:
    it was already that date)."""
    _require_open(request)
    if starts_at is not None:
        errors = _check_session(session, request.activity, starts_at, now_utc, settings)
        if errors:
            raise RequestError(errors)
    if starts_at == request.session_starts_at:
        return None
    _release_seat(session, request)
    accepted_proposal = starts_at is not None and starts_at == request.proposed_starts_at
    request.session_starts_at = starts_at
    request.proposed_starts_at = None
    request.organiser_confirmed_at = None
    request.reminder_sent_at = None
    request.updated_at = now_utc
    if (
        accepted_proposal
        and starts_at is not None
        and request.welcomer_name
        and book_seat(session, request.activity, starts_at)
    ):
        request.seat_booked = True
        request.organiser_confirmed_at = now_utc
    _recompute(request)
    _event(
        request,
        "date_changed",
        now_utc,
        actor,
        detail=starts_at.isoformat() if starts_at else "any",
    )
    return _mail_staff(
        session,
        request,
        "date_changed",
        now_utc,
        links,
        organisers=True,
        referrer=True,
        buddy=True,
        skip=actor,
    )


def cancel(
    session: Session,
    request: AccompanimentRequest,
    now_utc: datetime,
    links: Links,
    settings: RequestSettings,
    actor: User | None = None,
) -> int:
    """Cancel the request; returns how many people who help were told."""
    _require_open(request)
    _release_seat(session, request)
    for offer in request.offers:
        if offer.status == "open":
            offer.status, offer.answered_at = "withdrawn", now_utc
    request.status = "cancelled"
    _close(request, now_utc, settings)
    _event(request, "cancelled", now_utc, actor)
    told = _mail_staff(
        session,
        request,
        "cancelled",
        now_utc,
        links,
        organisers=True,
        referrer=True,
        buddy=True,
        skip=actor,
    )
    if actor is not None:
        _mail_family(session, request, "cancelled", now_utc, links)
    return told


def _close(request: AccompanimentRequest, now_utc: datetime, settings: RequestSettings) -> None:
    request.closed_at = now_utc
    request.purge_due_at = now_utc + timedelta(days=settings.purge_days)
    request.updated_at = now_utc


# --- buddies ---------------------------------------------------------------------------------


def offer(
    session: Session,
    request: AccompanimentRequest,
    coordinator: User,
    buddy: User,
    now_utc: datetime,
    links: Links,
) -> RequestOffer:
    _require_open(request)
    if request.mode != "buddy" or request.buddy_id is not None:
        raise RequestError({"request": "not_matchable"})
    if buddy.role != "buddy" or not buddy.active:
        raise RequestError({"buddy": "not_a_buddy"})
    existing = next((o for o in request.offers if o.buddy_id == buddy.id), None)
    if existing is not None and existing.status == "declined":
        raise RequestError({"buddy": "declined_before"})
    if existing is None:
        existing = RequestOffer(buddy_id=buddy.id, status="open", created_at=now_utc)
        request.offers.append(existing)
    existing.status = "open"
    request.updated_at = now_utc
    _recompute(request)
    _event(request, "offered", now_utc, coordinator, detail=buddy.display_name)
    session.flush()
    queue_mail(
        session,
        buddy.email,
        buddy.preferred_locale,
        "request_news",
        now_utc,
        request_id=request.id,
        **_mail_context(request, "offered", buddy.preferred_locale, buddy.display_name),
        link=links.offer(existing, buddy.preferred_locale),
    )
    return existing


def accept(
    session: Session, offer_id: int, buddy: User, now_utc: datetime, links: Links
) -> AccompanimentRequest:
    """The buddy says yes. Exactly one buddy wins a request: the conditional UPDATE takes it only
    while no buddy has it; a loser gets RequestError("taken")."""
    current = session.get(RequestOffer, offer_id)
    if current is None or current.buddy_id != buddy.id:
        raise RequestError({"offer": "unknown"})
    if current.status != "open":
        raise RequestError({"offer": "taken" if current.status == "taken" else "answered"})
    won = session.execute(
        update(AccompanimentRequest)
        .where(
            AccompanimentRequest.id == current.request_id,
            AccompanimentRequest.buddy_id.is_(None),
            AccompanimentRequest.status.in_(("new", "offered")),
        )
        .values(
            buddy_id=buddy.id,
            status="matched",
            updated_at=now_utc,
            version=AccompanimentRequest.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise RequestError({"offer": "taken"})
    request = session.get_one(AccompanimentRequest, current.request_id)
    session.refresh(request)
    for o in request.offers:
        if o.id == offer_id:
            o.status, o.answered_at = "accepted", now_utc
        elif o.status == "open":
            o.status, o.answered_at = "taken", now_utc
    _recompute(request)
    _event(request, "matched", now_utc, buddy, detail=buddy.display_name)
    _mail_staff(session, request, "matched", now_utc, links, organisers=True, referrer=True)
    _mail_coordinators(session, request, "matched", now_utc, links)
    _mail_family(session, request, "matched", now_utc, links)
    return request


def decline(
    session: Session, offer_id: int, buddy: User, now_utc: datetime, links: Links
) -> AccompanimentRequest:
    current = session.get(RequestOffer, offer_id)
    if current is None or current.buddy_id != buddy.id:
        raise RequestError({"offer": "unknown"})
    if current.status != "open":
        raise RequestError({"offer": "answered"})
    current.status, current.answered_at = "declined", now_utc
    request = current.request
    request.updated_at = now_utc
    _recompute(request)
    _event(request, "offer_declined", now_utc, buddy, detail=buddy.display_name)
    _mail_coordinators(session, request, "offer_declined", now_utc, links)
    return request


@dataclass
class Suggestion:
    buddy: User
    profile: BuddyProfile
    score: float
    reasons: list[str] = field(default_factory=list)
    distance_km: float | None = None
    open_requests: int = 0


SLOT_PARTS = (("am", 0, 12), ("pm", 12, 18), ("eve", 18, 24))
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def slot_of(starts_at: datetime) -> str:
    local = to_local(starts_at)
    part = next(name for name, lo, hi in SLOT_PARTS if lo <= local.hour < hi)
    return f"{WEEKDAY_CODES[local.weekday()]}-{part}"


def open_load(session: Session, buddy_ids: Sequence[int]) -> dict[int, int]:
    """Requests each buddy carries now: matched and not closed, plus offers not yet answered."""
    load = dict.fromkeys(buddy_ids, 0)
    for buddy_id, count in session.execute(
        select(AccompanimentRequest.buddy_id, func.count())
        .where(
            AccompanimentRequest.buddy_id.in_(buddy_ids),
            AccompanimentRequest.status.in_(OPEN_STATUSES),
        )
        .group_by(AccompanimentRequest.buddy_id)
    ):
        if buddy_id is not None:
            load[buddy_id] += count
    for buddy_id, count in session.execute(
        select(RequestOffer.buddy_id, func.count())
        .where(RequestOffer.buddy_id.in_(buddy_ids), RequestOffer.status == "open")
        .group_by(RequestOffer.buddy_id)
    ):
        load[buddy_id] += count
    return load


def suggest_buddies(
    session: Session, request: AccompanimentRequest, now_utc: datetime, limit: int = 10
) -> list[Suggestion]:
    """Active buddies ranked for this request, each with the reasons (codes) shown to the
    coordinator: the same buddy as last time first, then language, distance, time, load."""
    rows = session.execute(
        select(User, BuddyProfile)
        .join(BuddyProfile, BuddyProfile.user_id == User.id)
        .where(User.role == "buddy", User.active.is_(True), BuddyProfile.active.is_(True))
    ).all()
    if not rows:
        return []
    load = open_load(session, [u.id for u, _ in rows])
    declined = {o.buddy_id for o in request.offers if o.status == "declined"}
    earlier: set[int] = set()
    if request.family_key:
        earlier = set(
            session.scalars(
                select(AccompanimentRequest.buddy_id).where(
                    AccompanimentRequest.family_key == request.family_key,
                    AccompanimentRequest.id != request.id,
                    AccompanimentRequest.buddy_id.is_not(None),
                )
            )
        )
    if request.previous_id is not None:
        prev = session.get(AccompanimentRequest, request.previous_id)
        if prev is not None and prev.buddy_id is not None:
            earlier.add(prev.buddy_id)
    activity = request.activity
    when = request.session_starts_at
    if when is None:
        upcoming = bookable_sessions(session, activity, now_utc, 3)
        slots = {slot_of(s) for s in upcoming}
    else:
        slots = {slot_of(when)}
    suggestions = []
    for user, profile in rows:
        if user.id in declined:
            continue
        s = Suggestion(buddy=user, profile=profile, score=0.0, open_requests=load[user.id])
        if user.id in earlier:
            s.score += 100
            s.reasons.append("same_buddy")
        if request.language in profile.language_codes:
            s.score += 40
            s.reasons.append("language")
        elif request.locale in profile.language_codes:
            s.score += 20
            s.reasons.append("page_language")
        if profile.lat is not None and profile.lon is not None:
            s.distance_km = distance_km(profile.lat, profile.lon, activity.lat, activity.lon)
            if s.distance_km <= profile.radius_km:
                s.score += 20 - min(s.distance_km, 20)
                s.reasons.append("near")
            else:
                s.score -= 20
                s.reasons.append("far")
        if slots & profile.slots:
            s.score += 20
            s.reasons.append("available")
        if load[user.id] >= profile.max_open:
            s.score -= 50
            s.reasons.append("full")
        else:
            s.score -= 5 * load[user.id]
        suggestions.append(s)
    suggestions.sort(key=lambda s: (-s.score, s.open_requests, s.buddy.display_name))
    return suggestions[:limit]


# --- afterwards ------------------------------------------------------------------------------


def record_outcome(
    session: Session,
    request: AccompanimentRequest,
    actor: User,
    outcome: str,
    now_utc: datetime,
    settings: RequestSettings,
) -> None:
    if outcome not in OUTCOMES:
        raise RequestError({"outcome": "unknown"})
    if request.status == "cancelled":
        raise RequestError({"request": "closed"})
    if request.session_starts_at is None or request.session_starts_at > now_utc:
        raise RequestError({"outcome": "too_early"})
    request.outcome = outcome
    request.status = "done"
    _close(request, now_utc, settings)
    request.followups_done = 0
    request.followup_due_at = (
        request.session_starts_at + timedelta(days=settings.followup_days[0])
        if outcome != "did_not_go" and settings.followup_days
        else None
    )
    _event(request, "outcome", now_utc, actor, detail=outcome)


def answer_followup(
    session: Session,
    request: AccompanimentRequest,
    actor: User,
    answer: str,
    now_utc: datetime,
    settings: RequestSettings,
) -> None:
    """ "Does the family still go?" — still_goes, stopped, or helps_out."""
    if answer not in ("still_goes", "stopped", "helps_out"):
        raise RequestError({"followup": "unknown"})
    if request.status != "done":
        raise RequestError({"request": "not_done"})
    request.followups_done += 1
    _event(request, "followup_answered", now_utc, actor, detail=answer)
    if answer == "helps_out":
        request.outcome = "helps_out"
    if answer != "stopped" and request.followups_done < len(settings.followup_days):
        assert request.session_starts_at is not None
        request.followup_due_at = request.session_starts_at + timedelta(
            days=settings.followup_days[request.followups_done]
        )
    else:
        request.followup_due_at = None
    request.updated_at = now_utc


def go_again(
    session: Session,
    request: AccompanimentRequest,
    actor: User,
    now_utc: datetime,
    links: Links,
    settings: RequestSettings,
) -> tuple[AccompanimentRequest, str]:
    """One click for the next accompanied visit: the same family, activity, mode and person
    going along, at the next session."""
    if request.status != "done" or request.purged_at is not None:
        raise RequestError({"request": "not_done"})
    upcoming = bookable_sessions(session, request.activity, now_utc, 1, settings.horizon_weeks)
    if not upcoming or request.activity.status != "published":
        raise RequestError({"session": "no_sessions"})
    data = FamilyInput(
        session=upcoming[0].isoformat(),
        name=request.family_name or "",
        channel=request.contact_channel or "",
        contact=request.contact_value or "",
        language=request.language,
        adults=request.adults,
        children=request.children,
        note=request.note or "",
        share_note=request.share_note or "",
        bring=request.bring or "",
        consent=True,
    )
    checked = Checked(upcoming[0], request.contact_value, request.contact_channel)
    again, raw = create(
        session,
        request.activity,
        data,
        checked,
        request.mode,
        request.locale,
        now_utc,
        links,
        referrer=request.referrer,
        previous=request,
    )
    again.origin = request.origin
    if request.mode == "buddy" and request.buddy is not None:
        if actor.id == request.buddy_id:
            again.buddy_id = actor.id
            _recompute(again)
            _event(again, "matched", now_utc, actor, detail=actor.display_name)
        else:
            session.flush()
            offer(session, again, actor, request.buddy, now_utc, links)
    return again, raw


# --- scheduled work --------------------------------------------------------------------------


def tick(
    session: Session, now_utc: datetime, settings: RequestSettings, links: Links
) -> dict[str, int]:
    """Reminders the day before, follow-ups, erasing what is due. Safe to run every hour, on
    several machines at once: each step claims its rows with a conditional UPDATE."""
    done = {"reminders": 0, "followups": 0, "expired": 0, "purged": 0}
    soon = session.scalars(
        select(AccompanimentRequest.id).where(
            AccompanimentRequest.status.in_(("matched", "confirmed")),
            AccompanimentRequest.reminder_sent_at.is_(None),
            AccompanimentRequest.session_starts_at > now_utc,
            AccompanimentRequest.session_starts_at <= now_utc + timedelta(hours=30),
        )
    ).all()
    for request_id in soon:
        if _claim(session, request_id, AccompanimentRequest.reminder_sent_at, now_utc):
            request = session.get_one(AccompanimentRequest, request_id)
            _mail_staff(session, request, "reminder", now_utc, links, only=_goers(session, request))
            _mail_family(session, request, "reminder", now_utc, links)
            _event(request, "reminder_sent", now_utc, kind="system")
            done["reminders"] += 1
    due = session.scalars(
        select(AccompanimentRequest).where(
            AccompanimentRequest.status == "done",
            AccompanimentRequest.followup_due_at <= now_utc,
        )
    ).all()
    for request in due:
        stamp = request.followup_due_at
        claimed = session.execute(
            update(AccompanimentRequest)
            .where(
                AccompanimentRequest.id == request.id,
                AccompanimentRequest.followup_due_at == stamp,
            )
            .values(followup_due_at=None, version=AccompanimentRequest.version + 1)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(request)
            _mail_staff(
                session, request, "followup", now_utc, links, only=_followers(session, request)
            )
            _event(request, "followup_asked", now_utc, kind="system")
            done["followups"] += 1
    done["expired"] = expire(session, now_utc, settings)
    done["purged"] = purge(session, now_utc)
    return done


def _claim(session: Session, request_id: int, column: object, now_utc: datetime) -> bool:
    result = session.execute(
        update(AccompanimentRequest)
        .where(AccompanimentRequest.id == request_id, column.is_(None))  # type: ignore[attr-defined]
        .values({column: now_utc, "version": AccompanimentRequest.version + 1})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def expire(session: Session, now_utc: datetime, settings: RequestSettings) -> int:
    """Close the requests left open long after their date (nobody recorded how it went) and
    the undated ones nobody took up, so their details are erased in time."""
    after = timedelta(days=settings.expire_days)
    stale = session.scalars(
        select(AccompanimentRequest).where(
            AccompanimentRequest.status.in_(OPEN_STATUSES),
            or_(
                AccompanimentRequest.session_starts_at < now_utc - after,
                (AccompanimentRequest.session_starts_at.is_(None))
                & (AccompanimentRequest.created_at < now_utc - 2 * after),
            ),
        )
    ).all()
    for request in stale:
        for o in request.offers:
            if o.status == "open":
                o.status, o.answered_at = "withdrawn", now_utc
        request.status = "cancelled"
        _close(request, now_utc, settings)
        _event(request, "expired", now_utc, kind="system")
    return len(stale)


PERSONAL_COLUMNS = (
    "family_name",
    "contact_value",
    "note",
    "share_note",
    "family_key",
    "token_hash",
    # Free text others typed about the family's visit: who receives them, where, what to bring.
    "welcomer_name",
    "meeting_point",
    "bring",
)


def purge(session: Session, now_utc: datetime) -> int:
    """Erase the family's details of every closed request whose time has come, and the mails
    about it; what stays (activity, dates, mode, counts, outcome) holds nobody's identity."""
    due = session.scalars(
        select(AccompanimentRequest.id).where(
            AccompanimentRequest.purge_due_at <= now_utc,
            AccompanimentRequest.purged_at.is_(None),
        )
    ).all()
    for request_id in due:
        session.execute(
            update(AccompanimentRequest)
            .where(AccompanimentRequest.id == request_id)
            .values(
                {c: None for c in PERSONAL_COLUMNS}
                | {
                    "contact_channel": None,
                    "purged_at": now_utc,
                    "version": AccompanimentRequest.version + 1,
                }
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(delete(Outbox).where(Outbox.request_id == request_id))
        session.add(
            RequestEvent(
                request_id=request_id, at=now_utc, actor_kind="system", action="purged", detail=""
            )
        )
    return len(due)


def atomically(session: Session, work: Callable[[], T], attempts: int = 5) -> T:
    """Run `work` and commit; when another transaction changed the same rows at the same moment
    (a stale version, or SQLite busy), roll back and run it again on fresh data."""
    for attempt in range(attempts):
        try:
            result = work()
            session.commit()
            return result
        except (StaleDataError, OperationalError) as exc:
            session.rollback()
            if isinstance(exc, OperationalError) and not _busy(exc):
                raise
            if attempt == attempts - 1:
                raise Conflict() from exc
            session.expire_all()
            time.sleep(0.02 * (attempt + 1))
    raise Conflict()


def _busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


# --- who may see what ------------------------------------------------------------------------


def role_in(request: AccompanimentRequest, user: User) -> str | None:
    """How this user is involved in the request, or None (then they see nothing of it)."""
    if user.role == "professional" and request.referrer_id == user.id:
        return "referrer"
    if user.role == "buddy":
        if request.buddy_id == user.id:
            return "buddy"
        if any(o.buddy_id == user.id and o.status == "open" for o in request.offers):
            return "offered"
        return None
    if user.role == "coordinator" and request.mode == "buddy":
        return "coordinator"
    if user.role == "organiser" and request.activity.organisation_id == user.organisation_id:
        return "organiser"
    return None


def records_outcome(request: AccompanimentRequest, involvement: str | None) -> bool:
    """Who may say how the visit went: whoever went along (the organiser when its welcomer
    received the family), and the coordinator of a buddy request."""
    return involvement in ("buddy", "referrer", "coordinator") or (
        involvement == "organiser" and request.mode == "welcomer"
    )


def sees_contact(involvement: str | None) -> bool:
    """Name and contact: whoever must reach the family. The organiser gets the first name and
    what the family agreed to share, never the contact."""
    return involvement in ("referrer", "buddy", "coordinator")


def _visible(user: User) -> Select[AccompanimentRequest] | None:
    """The requests this user is involved in (as `role_in` says), unordered; None: none."""
    query = select(AccompanimentRequest)
    if user.role == "professional":
        return query.where(AccompanimentRequest.referrer_id == user.id)
    if user.role == "buddy":
        offered = select(RequestOffer.request_id).where(
            RequestOffer.buddy_id == user.id, RequestOffer.status == "open"
        )
        return query.where(
            or_(AccompanimentRequest.buddy_id == user.id, AccompanimentRequest.id.in_(offered))
        )
    if user.role == "coordinator":
        return query.where(AccompanimentRequest.mode == "buddy")
    if user.role == "organiser":
        return query.join(Activity).where(Activity.organisation_id == user.organisation_id)
    return None


def request_page(
    session: Session, user: User, open_ones: bool, search: str, number: int, per_page: int
) -> Page[AccompanimentRequest]:
    """A page of the open (or the closed) requests this user is involved in, the next session
    first; those whose activity title or reference code contains `search` when it is given.
    Each with its activity, in three queries."""
    query = _visible(user)
    if query is None:
        return Page(items=[], number=1, per_page=per_page, total=0)
    r = AccompanimentRequest
    states = r.status.in_(OPEN_STATUSES)
    query = query.where(states if open_ones else ~states)
    if search.strip():
        if user.role != "organiser":  # the organiser's query joins the activity already
            query = query.join(Activity)
        pattern = like_pattern(search)
        query = query.where(
            or_(
                func.lower(Activity.title).like(pattern, escape="\\"),
                func.lower(r.reference).like(pattern, escape="\\"),
            )
        )
    query = query.options(selectinload(r.activity)).order_by(
        r.session_starts_at.is_(None), r.session_starts_at, r.id.desc()
    )
    return paginate(session, query, number, per_page)


def request_summary(session: Session, user: User) -> dict[str, Counter[str]]:
    """How many of this user's requests are in each state and have each outcome: two GROUP BYs,
    never the rows."""
    visible = _visible(user)
    if visible is None:
        return {"status": Counter(), "outcome": Counter()}
    ids = visible.with_only_columns(AccompanimentRequest.id, maintain_column_froms=True)
    r = AccompanimentRequest
    by_status = session.execute(
        select(r.status, func.count(r.id)).where(r.id.in_(ids)).group_by(r.status)
    )
    by_outcome = session.execute(
        select(r.outcome, func.count(r.id))
        .where(r.id.in_(ids), r.outcome.is_not(None))
        .group_by(r.outcome)
    )
    return {
        "status": Counter({status: count for status, count in by_status}),
        "outcome": Counter({outcome: count for outcome, count in by_outcome if outcome}),
    }


def waiting_for(session: Session, user: User, now_utc: datetime) -> int:
    """How many open requests wait for this user to act: to confirm, to find a buddy, to
    answer an offer, or to say how a visit that took place went. One COUNT, whatever the
    number of requests (the dashboard shows it on every visit)."""
    r = AccompanimentRequest
    past = r.session_starts_at < now_utc
    not_past = or_(r.session_starts_at.is_(None), r.session_starts_at >= now_utc)
    query = select(func.count(r.id)).where(r.status.in_(OPEN_STATUSES))
    # The same involvement as `role_in`, as SQL: what each role must do next.
    if user.role == "professional":
        query = query.where(r.referrer_id == user.id, past)
    elif user.role == "buddy":
        offered = select(RequestOffer.request_id).where(
            RequestOffer.buddy_id == user.id, RequestOffer.status == "open"
        )
        query = query.where(
            or_(
                and_(r.buddy_id == user.id, past),
                and_(or_(r.buddy_id.is_(None), r.buddy_id != user.id), r.id.in_(offered)),
            )
        )
    elif user.role == "coordinator":
        query = query.where(r.mode == "buddy", r.status == "new")
    elif user.role == "organiser" and user.organisation_id is not None:
        query = (
            query.join(Activity)
            .where(Activity.organisation_id == user.organisation_id)
            .where(
                or_(
                    and_(past, r.mode == "welcomer"),
                    and_(r.organiser_confirmed_at.is_(None), not_past),
                )
            )
        )
    else:
        return 0
    return session.scalar(query) or 0


def log_access(
    session: Session, user: User, request: AccompanimentRequest, now_utc: datetime
) -> None:
    """A staff member saw a family's details: the audit log keeps who and when."""
    audit(session, user, "request_personal_viewed", "request", request.id, now_utc)


# --- mail ------------------------------------------------------------------------------------


class Links:
    """Absolute links for mails; the web layer gives the real ones."""

    def status(self, raw: str, locale: str) -> str:
        raise NotImplementedError

    def staff(self, request: AccompanimentRequest, locale: str) -> str:
        raise NotImplementedError

    def offer(self, offer: RequestOffer, locale: str) -> str:
        raise NotImplementedError

    def people(self, locale: str) -> str:
        """Where an admin invites staff (/manage/users)."""
        raise NotImplementedError


def _mail_context(
    request: AccompanimentRequest, news: str, locale: str, name: str
) -> dict[str, object]:
    activity = request.activity
    return {
        "news": news,
        "name": name,
        "title": activity.title,
        "reference": request.reference,
        "when": session_text(request.session_starts_at, locale),
        "proposed": session_text(request.proposed_starts_at, locale),
        "address": ", ".join(
            x for x in (activity.street, f"{activity.postcode} {activity.municipality}") if x
        ),
        "welcomer": request.welcomer_name,
        "meeting_point": request.meeting_point,
        "mode": request.mode,
        "outcome": request.outcome or "",
    }


def _followers(session: Session, request: AccompanimentRequest) -> list[User]:
    """Who is asked, weeks later, whether the family still goes: the buddy, else the
    professional who referred them, else the organisers who received them."""
    if request.mode == "buddy" and request.buddy is not None:
        return [request.buddy]
    if request.referrer is not None:
        return [request.referrer]
    return _organisers(session, request)


def _goers(session: Session, request: AccompanimentRequest) -> list[User]:
    """Whoever goes along: the buddy, the professional, or the organisers' welcomer."""
    if request.mode == "buddy":
        return [request.buddy] if request.buddy else []
    if request.mode == "professional":
        return [request.referrer] if request.referrer else []
    return _organisers(session, request)


def _organisers(session: Session, request: AccompanimentRequest) -> list[User]:
    return list(
        session.scalars(
            select(User).where(
                User.organisation_id == request.activity.organisation_id,
                User.role == "organiser",
                User.active.is_(True),
            )
        )
    )


def _mail_staff(
    session: Session,
    request: AccompanimentRequest,
    news: str,
    now_utc: datetime,
    links: Links,
    organisers: bool = False,
    referrer: bool = False,
    buddy: bool = False,
    skip: User | None = None,
    only: list[User] | None = None,
) -> int:
    """One mail per person involved (each in their language), never to `skip`; `only`
    names the people instead of the flags. Returns how many were told."""
    people: list[User] = []
    if only is not None:
        people = only
    else:
        if organisers:
            people += _organisers(session, request)
        if referrer and request.referrer is not None:
            people.append(request.referrer)
        if buddy and request.buddy is not None:
            people.append(request.buddy)
    seen: set[int] = set()
    for user in people:
        if user.id in seen or (skip is not None and user.id == skip.id) or not user.active:
            continue
        seen.add(user.id)
        queue_mail(
            session,
            user.email,
            user.preferred_locale,
            "request_news",
            now_utc,
            request_id=request.id,
            **_mail_context(request, news, user.preferred_locale, user.display_name),
            link=links.staff(request, user.preferred_locale),
        )
    return len(seen)


def _mail_coordinators(
    session: Session, request: AccompanimentRequest, news: str, now_utc: datetime, links: Links
) -> None:
    coordinators = list(
        session.scalars(select(User).where(User.role == "coordinator", User.active.is_(True)))
    )
    if coordinators:
        _mail_staff(session, request, news, now_utc, links, only=coordinators)
    elif news == "new_buddy_request":
        _tell_admins_nobody_coordinates(session, request, now_utc, links)


def has_coordinator(session: Session) -> bool:
    """Whether anyone can answer a family's buddy request now."""
    found = session.scalar(
        select(User.id).where(User.role == "coordinator", User.active.is_(True)).limit(1)
    )
    return found is not None


def _tell_admins_nobody_coordinates(
    session: Session, request: AccompanimentRequest, now_utc: datetime, links: Links
) -> None:
    """A family asked for a buddy and no coordinator can answer: the admins hear it (nothing
    about the family, whose details only a coordinator may see), with where to invite one."""
    admins = session.scalars(select(User).where(User.role == "admin", User.active.is_(True)))
    for admin in admins:
        queue_mail(
            session,
            admin.email,
            admin.preferred_locale,
            "no_coordinator",
            now_utc,
            name=admin.display_name,
            title=request.activity.title,
            link=links.people(admin.preferred_locale),
        )


def _mail_family(
    session: Session,
    request: AccompanimentRequest,
    news: str,
    now_utc: datetime,
    links: Links,
    status_link: str = "",
) -> None:
    """Only to a family that gave an e-mail address; the others are phoned by whoever goes
    along. The status link can only be in the first mail: afterwards only its hash exists."""
    if request.contact_channel != "email" or not request.contact_value:
        return
    queue_mail(
        session,
        request.contact_value,
        request.locale,
        "request_news",
        now_utc,
        request_id=request.id,
        **_mail_context(request, f"family_{news}", request.locale, request.family_name or ""),
        link=status_link,
    )

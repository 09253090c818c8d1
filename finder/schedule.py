"""Schedules: RRULE expansion in Europe/Brussels wall-clock time, exceptions, and occurrences."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

TZ = ZoneInfo("Europe/Brussels")


class Timed(Protocol):
    """A stored Occurrence or a computed Session: anything with a start and an end."""

    @property
    def starts_at(self) -> datetime: ...

    @property
    def ends_at(self) -> datetime: ...


@dataclass(frozen=True)
class Session:
    starts_at: datetime  # naive UTC, as stored
    ends_at: datetime


def to_utc_naive(local: datetime) -> datetime:
    """A Brussels wall-clock time (naive or aware) as naive UTC."""
    aware = local if local.tzinfo else local.replace(tzinfo=TZ)
    return aware.astimezone(UTC).replace(tzinfo=None)


def to_local(utc_naive: datetime) -> datetime:
    return utc_naive.replace(tzinfo=UTC).astimezone(TZ)


def parse_exdates(text: str) -> set[date]:
    return {date.fromisoformat(x.strip()) for x in text.split(",") if x.strip()}


def expand(
    rrule: str | None,
    dtstart_local: datetime,
    duration_minutes: int,
    exdates: Iterable[date],
    window_start: datetime,
    window_end: datetime,
) -> list[Session]:
    """The sessions that end after window_start and start before window_end (both naive UTC).

    The rule runs in Brussels wall-clock time, so a 14:00 session stays at 14:00 local time on
    both sides of a daylight-saving change.
    """
    start = dtstart_local.replace(tzinfo=TZ)
    length = timedelta(minutes=duration_minutes)
    skip = set(exdates)
    if rrule:
        rule = rrulestr(rrule, dtstart=start)
        lo = (window_start - length).replace(tzinfo=UTC).astimezone(TZ)
        hi = window_end.replace(tzinfo=UTC).astimezone(TZ)
        starts = rule.between(lo, hi, inc=True)
    else:
        starts = [start]
    sessions = []
    for local_start in starts:
        # dateutil keeps the tzinfo and wall-clock fields; normalise to get the right offset.
        local_start = local_start.replace(tzinfo=TZ)
        if local_start.date() in skip:
            continue
        begins = to_utc_naive(local_start)
        ends = to_utc_naive(local_start + length)
        if ends > window_start and begins < window_end:
            sessions.append(Session(begins, ends))
    return sessions


@dataclass(frozen=True)
class Window:
    start: datetime  # naive UTC
    end: datetime


def when_window(when: str, now_utc: datetime, horizon_weeks: int) -> Window:
    """The time window of a `when` choice (DESIGN §7), in naive UTC, computed in Brussels time."""
    local_now = to_local(now_utc)
    midnight = datetime.combine(local_now.date(), time(0), tzinfo=TZ)
    horizon = now_utc + timedelta(weeks=horizon_weeks)
    if when == "today":
        end = to_utc_naive(midnight + timedelta(days=1))
        return Window(now_utc, end)
    if when == "week":
        return Window(now_utc, to_utc_naive(midnight + timedelta(days=7)))
    if when == "weekend":
        weekday = local_now.weekday()  # Monday 0 … Sunday 6
        if weekday >= 5:
            start = now_utc
            monday = midnight + timedelta(days=7 - weekday)
        else:
            start = to_utc_naive(midnight + timedelta(days=5 - weekday))
            monday = midnight + timedelta(days=7 - weekday)
        return Window(start, to_utc_naive(monday))
    return Window(now_utc, horizon)


WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
REPEATS = ("weekly", "fortnightly", "monthly", "once")
WEEKS_OF_MONTH = (1, 2, 3, 4, -1)  # -1: the last one


@dataclass(frozen=True)
class Recurrence:
    """How an organiser says when an activity happens; the RRULE is derived from it."""

    repeat: str = "weekly"
    weekdays: tuple[str, ...] = ()  # weekly and fortnightly
    week_of_month: int = 1  # monthly: 1–4, or -1 for the last
    monthly_day: str = "SA"
    until: date | None = None


class ScheduleError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def to_rrule(rec: Recurrence, first: date) -> str | None:
    """The RFC 5545 rule of a recurrence (None for a one-off), checked for sense."""
    if rec.repeat not in REPEATS:
        raise ScheduleError("repeat_unknown")
    if rec.until is not None and rec.until < first:
        raise ScheduleError("until_before_first")
    if rec.repeat == "once":
        return None
    if rec.repeat in ("weekly", "fortnightly"):
        days = [d for d in WEEKDAYS if d in rec.weekdays]
        if not days:
            raise ScheduleError("weekday_needed")
        parts = ["FREQ=WEEKLY"] + (["INTERVAL=2"] if rec.repeat == "fortnightly" else [])
        parts.append("BYDAY=" + ",".join(days))
    else:
        if rec.week_of_month not in WEEKS_OF_MONTH or rec.monthly_day not in WEEKDAYS:
            raise ScheduleError("monthly_day_needed")
        parts = ["FREQ=MONTHLY", f"BYDAY={rec.week_of_month}{rec.monthly_day}"]
    if rec.until is not None:
        # RFC 5545: with a zoned DTSTART, UNTIL is in UTC. The last local day counts whole.
        last = to_utc_naive(datetime.combine(rec.until, time(23, 59, 59)))
        parts.append(f"UNTIL={last:%Y%m%dT%H%M%S}Z")
    return ";".join(parts)


def from_rrule(rrule: str | None) -> Recurrence:
    """The recurrence of a rule made by `to_rrule` (for the editor to show it back)."""
    if not rrule:
        return Recurrence(repeat="once")
    fields = dict(part.split("=", 1) for part in rrule.removeprefix("RRULE:").split(";"))
    until = None
    if "UNTIL" in fields:
        until = to_local(datetime.strptime(fields["UNTIL"][:15], "%Y%m%dT%H%M%S")).date()
    byday = fields.get("BYDAY", "")
    if fields.get("FREQ") == "MONTHLY":
        nth, day = byday[:-2], byday[-2:]
        return Recurrence("monthly", week_of_month=int(nth or 1), monthly_day=day, until=until)
    repeat = "fortnightly" if fields.get("INTERVAL") == "2" else "weekly"
    return Recurrence(repeat, weekdays=tuple(byday.split(",")) if byday else (), until=until)

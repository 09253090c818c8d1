"""Calendar export: an activity's next sessions as an iCalendar (.ics) file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from icalendar import Calendar, Event

from .models import Activity
from .schedule import Timed


def activity_calendar(
    activity: Activity,
    sessions: Sequence[Timed],
    title: str,
    description: str,
    location: str,
    url: str,
    now_utc: datetime,
    host: str,
) -> bytes:
    """One VEVENT per coming session; icalendar escapes commas, semicolons and newlines."""
    cal = Calendar()
    cal.add("prodid", "-//Meegaan//meegaan//")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    for s in sessions:
        ev = Event()
        ev.add("uid", f"activity-{activity.id}-{s.starts_at:%Y%m%dT%H%M}@{host}")
        ev.add("dtstamp", now_utc.replace(tzinfo=UTC))
        ev.add("dtstart", s.starts_at.replace(tzinfo=UTC))
        ev.add("dtend", s.ends_at.replace(tzinfo=UTC))
        ev.add("summary", title)
        ev.add("description", description)
        ev.add("location", location)
        ev.add("geo", (activity.lat, activity.lon))
        ev.add("url", url)
        cal.add_component(ev)
    return bytes(cal.to_ical())

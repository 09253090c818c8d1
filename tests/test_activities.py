"""activities.py: the sessions an activity page shows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from finder.activities import upcoming_sessions
from finder.models import Occurrence

from . import factories as f
from .conftest import NOW


def test_upcoming_sessions_after_a_long_history_start_with_the_one_under_way(db: Session) -> None:
    a = f.activity(db, title="Al jaren elke week", rrule=None)
    for week in range(1, 80):
        start = NOW - timedelta(weeks=week)
        db.add(Occurrence(activity_id=a.id, starts_at=start, ends_at=start + timedelta(hours=2)))
    under_way = NOW - timedelta(hours=3)
    db.add(Occurrence(activity_id=a.id, starts_at=under_way, ends_at=NOW + timedelta(hours=1)))
    ended = NOW - timedelta(hours=5)
    db.add(Occurrence(activity_id=a.id, starts_at=ended, ends_at=NOW - timedelta(hours=1)))
    db.flush()
    sessions = upcoming_sessions(db, a, NOW, 5, 8)
    assert sessions[0].starts_at == under_way
    assert all(s.ends_at > NOW for s in sessions)
    assert [s.starts_at for s in sessions] == sorted(s.starts_at for s in sessions)

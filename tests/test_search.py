"""search.py: every filter, combinations, widening, ordering, accents, paging."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from finder.geo import gazetteer
from finder.search import SearchQuery, SearchSettings, map_pins, search

from . import factories as f
from .conftest import NOW

SETTINGS = SearchSettings(min_results=3, widen_steps_km=(10.0, 20.0, 50.0), horizon_weeks=8)


def run(db: Session, where: str = "9000", **kw: object):  # type: ignore[no-untyped-def]
    return search(db, SearchQuery(place=gazetteer().resolve(where), **kw), NOW, SETTINGS)  # type: ignore[arg-type]


def titles(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.activity.title for h in result.hits]


@pytest.fixture()
def three_near(db: Session) -> None:
    for i in range(3):
        f.activity(db, title=f"Near {i}", offset_km=(0.5 * i, 0))


def test_finds_published_activity_near_the_postcode(db: Session) -> None:
    f.activity(db, title="Koffie Dampoort")
    result = run(db)
    assert titles(result) == ["Koffie Dampoort"]
    assert result.count == 1
    assert result.hits[0].distance_km < 0.1


def test_leaves_out_unpublished_activities(db: Session, three_near: None) -> None:
    f.activity(db, title="Draft", status="draft")
    f.activity(db, title="Paused", status="paused")
    assert "Draft" not in titles(run(db)) and "Paused" not in titles(run(db))


def test_each_tag_filter_requires_the_tag(db: Session, three_near: None) -> None:
    f.activity(db, title="With play corner", tags=("play_corner", "children"))
    assert titles(run(db, tags=("play_corner",))) == ["With play corner"]
    assert titles(run(db, tags=("play_corner", "children"))) == ["With play corner"]
    assert titles(run(db, tags=("play_corner", "women_only"), radius_km=50)) == []


def test_cost_tags_follow_the_cost_type(db: Session) -> None:
    f.activity(db, title="Free one", cost_type="free")
    f.activity(db, title="Pwyc", cost_type="pay_what_you_can")
    f.activity(db, title="Cheap", cost_type="amount", cost_amount=2.5)
    f.activity(db, title="Dear", cost_type="amount", cost_amount=12)
    assert titles(run(db, tags=("free",))) == ["Free one"]
    assert titles(run(db, tags=("pay_what_you_can",))) == ["Pwyc"]
    assert sorted(titles(run(db, tags=("low_cost",)))) == ["Cheap", "Free one", "Pwyc"]


def test_category_and_language_filters(db: Session, three_near: None) -> None:
    f.activity(db, title="Taalcafé", category="language_homework", languages=["nl", "ar", "uk"])
    assert titles(run(db, category="language_homework")) == ["Taalcafé"]
    assert titles(run(db, lang_spoken="uk")) == ["Taalcafé"]
    assert titles(run(db, lang_spoken="tr", radius_km=50)) == []


def test_text_search_ignores_case_and_accents(db: Session, three_near: None) -> None:
    f.activity(db, title="Café De Zon", summary="Naaien en babbelen")
    assert titles(run(db, q="cafe")) == ["Café De Zon"]
    assert titles(run(db, q="CAFÉ naaien")) == ["Café De Zon"]
    assert titles(run(db, q="cafe zwemmen", radius_km=50)) == []


def test_text_search_matches_translations(db: Session, three_near: None) -> None:
    f.activity(db, title="Koffiemoment", translations={"en": {"title": "Coffee morning"}})
    assert titles(run(db, q="coffee")) == ["Koffiemoment"]


def test_text_search_never_passes_wildcards_to_sql(db: Session, three_near: None) -> None:
    assert run(db, q="zz%").count == 0
    assert run(db, q="%' OR 1=1 --").count == 0
    assert run(db, q="%").count == 3  # punctuation alone is no search words at all


def test_orders_by_next_session_then_distance(db: Session) -> None:
    f.activity(db, title="Thursday near", rrule="FREQ=WEEKLY;BYDAY=TH")
    f.activity(db, title="Wednesday far", offset_km=(3, 0))
    f.activity(db, title="Wednesday near", offset_km=(1, 0))
    assert titles(run(db)) == ["Wednesday near", "Wednesday far", "Thursday near"]
    assert titles(run(db, order="nearest")) == ["Thursday near", "Wednesday near", "Wednesday far"]


def test_widens_radius_when_fewer_than_three_results(db: Session) -> None:
    f.activity(db, title="Close", offset_km=(1, 0))
    f.activity(db, title="Twelve km", offset_km=(12, 0))
    f.activity(db, title="Fifteen km", offset_km=(0, 15))
    result = run(db, radius_km=5)
    assert result.widened_to_km == 20
    assert sorted(titles(result)) == ["Close", "Fifteen km", "Twelve km"]


def test_does_not_widen_when_enough_results(db: Session, three_near: None) -> None:
    f.activity(db, title="Far", offset_km=(9, 0))
    result = run(db, radius_km=5)
    assert result.widened_to_km is None
    assert "Far" not in titles(result)


def test_when_today_week_weekend(db: Session, three_near: None) -> None:
    # NOW is Wednesday 2 December 2026, 09:00 in Brussels.
    f.activity(db, title="Saturday", rrule="FREQ=WEEKLY;BYDAY=SA", first=datetime(2026, 11, 7, 10))
    f.activity(
        db, title="Monthly", rrule="FREQ=MONTHLY;BYDAY=-1MO", first=datetime(2026, 11, 30, 10)
    )
    today = titles(run(db, when="today"))
    assert "Saturday" not in today and "Near 0" in today
    assert "Saturday" in titles(run(db, when="week"))
    assert "Monthly" not in titles(run(db, when="week", radius_km=50))
    weekend = titles(run(db, when="weekend"))
    assert weekend == ["Saturday"]


def test_cancelled_sessions_are_skipped(db: Session) -> None:
    a = f.activity(db, title="Cancelled today")
    a.occurrences[0].cancelled = True
    db.flush()
    result = run(db, when="today", radius_km=50)
    assert "Cancelled today" not in titles(result)


def test_pages_results_and_counts_the_total(db: Session) -> None:
    for i in range(5):
        f.activity(db, title=f"A{i}", offset_km=(0.2 * i, 0))
    first = run(db, order="nearest", per_page=2, page=1)
    third = run(db, order="nearest", per_page=2, page=3)
    assert first.count == 5 and first.pages == 3
    assert titles(first) == ["A0", "A1"] and titles(third) == ["A4"]


def test_hits_carry_their_next_sessions(db: Session, three_near: None) -> None:
    hit = run(db).hits[0]
    assert len(hit.next_sessions) == 3
    starts = [s.starts_at for s in hit.next_sessions]
    assert starts == sorted(starts) and starts[0] >= NOW.replace(hour=0)


def test_map_pins_follow_the_matches_in_the_visitors_language(db: Session) -> None:
    f.activity(db, title="Koffiemoment", translations={"ar": {"title": "لقاء القهوة"}})
    f.activity(db, title="Speelhoek", offset_km=(0.5, 0))
    result = run(db)
    for locale, expected in [("ar", "لقاء القهوة"), ("nl", "Koffiemoment"), ("fr", "Koffiemoment")]:
        pins = map_pins(db, result.matches, result.window, locale)
        assert [p.id for p in pins] == [m[0] for m in result.matches]  # same order
        by_title = {p.original_title: p for p in pins}
        assert by_title["Koffiemoment"].title == expected
        assert by_title["Speelhoek"].title == "Speelhoek"
    hits = {h.activity.id: h for h in result.hits}
    for pin in map_pins(db, result.matches, result.window, "nl"):
        first = hits[pin.id].next_sessions[0]
        assert pin.next_session is not None
        assert (pin.next_session.starts_at, pin.next_session.ends_at) == (
            first.starts_at,
            first.ends_at,
        )
        assert pin.distance_km == hits[pin.id].distance_km
    assert map_pins(db, [], result.window, "nl") == []


def test_a_long_history_and_a_session_under_way(db: Session) -> None:
    """Past sessions stay in the database; the next one is still found, and a session that
    began three hours ago and has not ended counts as the next one."""
    from datetime import timedelta

    from finder.models import Occurrence

    a = f.activity(db, title="Al jaren elke week")
    for week in range(1, 80):
        start = NOW - timedelta(weeks=week)
        db.add(Occurrence(activity_id=a.id, starts_at=start, ends_at=start + timedelta(hours=2)))
    db.add(
        Occurrence(
            activity_id=a.id,
            starts_at=NOW - timedelta(hours=3),
            ends_at=NOW + timedelta(hours=1),
        )
    )
    db.flush()
    result = run(db)
    hit = next(h for h in result.hits if h.activity.id == a.id)
    assert hit.next_sessions[0].starts_at == NOW - timedelta(hours=3)
    assert result.count == 1
    pins = map_pins(db, result.matches, result.window, "nl")
    assert pins[0].next_session is not None
    assert pins[0].next_session.starts_at == NOW - timedelta(hours=3)

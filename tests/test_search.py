"""search.py: every filter, combinations, widening, ordering, accents, paging."""

from __future__ import annotations

from dataclasses import replace
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
    return [h.listing.title for h in result.hits]


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


def test_an_activity_that_moves_is_found_where_it_is_now(db: Session) -> None:
    """Search reads the search band stored on each activity: it follows the address on
    insert and on every change, also a move of a few metres into the next band."""
    from finder.geo import band_of

    def found(lat: float, lon: float, radius_km: float) -> list[str]:
        place = replace(gazetteer().resolve("9000"), lat=lat, lon=lon)
        query = SearchQuery(place=place, radius_km=radius_km)
        return titles(search(db, query, NOW, replace(SETTINGS, min_results=0)))

    a = f.activity(db, title="Moves")
    assert a.lat_band == band_of(a.lat)
    gent = (a.lat, a.lon)
    assert found(*gent, 2) == ["Moves"]
    antwerpen = gazetteer().by_postcode["2000"]
    a.lat, a.lon = antwerpen.lat, antwerpen.lon
    db.flush()
    assert found(*gent, 2) == []
    assert found(antwerpen.lat, antwerpen.lon, 2) == ["Moves"]
    # Just across the edge of a band (1/50 degree of latitude), searched from the other side.
    edge = (band_of(a.lat) + 1) / 50
    a.lat = edge + 0.0001
    db.flush()
    assert a.lat_band == band_of(a.lat) == band_of(edge - 0.0001) + 1
    assert found(edge - 0.0001, a.lon, 0.1) == ["Moves"]
    assert found(edge - 0.0011, a.lon, 0.1) == []  # 122 m away


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


def test_one_session_per_hit_is_the_first_of_the_looked_up_ones(
    db: Session, three_near: None
) -> None:
    query = SearchQuery(place=gazetteer().resolve("9000"))
    one = search(db, query, NOW, replace(SETTINGS, next_per_result=1)).hits
    three = search(db, query, NOW, SETTINGS).hits
    assert [h.listing.id for h in one] == [h.listing.id for h in three]
    for a, b in zip(one, three, strict=True):
        assert len(a.next_sessions) == 1 and len(b.next_sessions) == 3
        assert (a.next_sessions[0].starts_at, a.next_sessions[0].ends_at) == (
            b.next_sessions[0].starts_at,
            b.next_sessions[0].ends_at,
        )


def test_listings_have_their_texts_in_the_asked_language_where_translated(db: Session) -> None:
    f.activity(
        db,
        title="Koffiemoment",
        summary="Koffie en een babbel.",
        translations={
            "ar": {"title": "لقاء القهوة", "summary": "قهوة ودردشة."},
            "fr": {"title": "Café"},
        },
    )
    f.activity(db, title="Coin de jeu", summary="Jouer.", original_locale="fr", offset_km=(0.5, 0))
    query = SearchQuery(place=gazetteer().resolve("9000"), order="nearest")

    def texts(locale: str | None) -> list[tuple[str, str, str, str]]:
        hits = search(db, query, NOW, SETTINGS, locale=locale).hits
        return [
            (h.listing.title, h.listing.summary, h.listing.text_language, h.listing.slug)
            for h in hits
        ]

    assert texts("ar") == [
        ("لقاء القهوة", "قهوة ودردشة.", "ar", "koffiemoment"),
        ("Coin de jeu", "Jouer.", "fr", "coin-de-jeu"),
    ]
    assert texts("fr")[0] == ("Café", "Koffie en een babbel.", "fr", "koffiemoment")
    assert (
        texts("nl")
        == texts(None)
        == [
            ("Koffiemoment", "Koffie en een babbel.", "nl", "koffiemoment"),
            ("Coin de jeu", "Jouer.", "fr", "coin-de-jeu"),
        ]
    )


def test_map_pins_follow_the_matches_in_the_visitors_language(db: Session) -> None:
    f.activity(db, title="Koffiemoment", translations={"ar": {"title": "لقاء القهوة"}})
    f.activity(db, title="Speelhoek", offset_km=(0.5, 0))
    result = run(db)
    for locale, expected in [("ar", "لقاء القهوة"), ("nl", "Koffiemoment"), ("fr", "Koffiemoment")]:
        pins = map_pins(db, result.matches, locale)
        assert [p.id for p in pins] == [m[0] for m in result.matches]  # same order
        by_title = {p.slug: p for p in pins}
        assert by_title["koffiemoment"].title == expected
        assert by_title["speelhoek"].title == "Speelhoek"
    hits = {h.listing.id: h for h in result.hits}
    for pin in map_pins(db, result.matches, "nl"):
        first = hits[pin.id].next_sessions[0]
        assert pin.next_session is not None
        assert (pin.next_session.starts_at, pin.next_session.ends_at) == (
            first.starts_at,
            first.ends_at,
        )
        assert pin.distance_km == hits[pin.id].distance_km
    assert map_pins(db, [], "nl") == []


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
    hit = next(h for h in result.hits if h.listing.id == a.id)
    assert hit.next_sessions[0].starts_at == NOW - timedelta(hours=3)
    assert result.count == 1
    pins = map_pins(db, result.matches, "nl")
    assert pins[0].next_session is not None
    assert pins[0].next_session.starts_at == NOW - timedelta(hours=3)


def _sessions_stored_as_of(db: Session, when: datetime | None) -> None:
    """Store every activity's next session as of `when`, or forget it (None)."""
    from sqlalchemy import select, update

    from finder.models import Activity
    from finder.search import store_next_sessions

    if when is None:
        db.execute(update(Activity).values(next_checked_at=None))
    else:
        store_next_sessions(db, when, list(db.scalars(select(Activity.id))))


def test_the_stored_next_session_gives_what_the_sessions_give(db: Session) -> None:
    """Search reads an activity's next session from the activity when it can. For every window
    and every moment (before the store, just after, when the stored session has ended, days
    later) it finds exactly what looking the sessions up finds."""
    from datetime import timedelta

    from finder.models import Occurrence

    f.activity(db, title="Wednesday")  # 13:00–15:00 UTC today
    saturday = f.activity(db, title="Saturday", rrule="FREQ=WEEKLY;BYDAY=SA", offset_km=(0.3, 0))
    early = NOW - timedelta(hours=3)  # over at NOW, under way two hours before
    db.add(Occurrence(activity_id=saturday.id, starts_at=early, ends_at=NOW - timedelta(hours=1)))
    f.activity(db, title="Once", rrule=None, first=datetime(2026, 12, 5, 10), offset_km=(0.6, 0))
    f.activity(db, title="Monthly", rrule="FREQ=MONTHLY;BYDAY=-1MO", offset_km=(0.9, 0))
    cancelled = f.activity(db, title="First cancelled", offset_km=(1.2, 0))
    cancelled.occurrences[0].cancelled = True
    running = f.activity(db, title="Under way", rrule=None, first=datetime(2026, 11, 20, 9))
    db.add(Occurrence(activity_id=running.id, starts_at=NOW, ends_at=NOW + timedelta(hours=9)))
    db.flush()
    moments = [NOW - timedelta(hours=2), NOW, NOW + timedelta(hours=6), NOW + timedelta(days=3)]
    for moment in moments:
        for when in ("any", "today", "week", "weekend"):
            for order in ("soonest", "nearest"):
                query = SearchQuery(
                    place=gazetteer().resolve("9000"), when=when, order=order, radius_km=50
                )
                _sessions_stored_as_of(db, None)
                looked_up = search(db, query, moment, SETTINGS)
                _sessions_stored_as_of(db, NOW)
                stored = search(db, query, moment, SETTINGS)
                assert (stored.count, stored.matches) == (looked_up.count, looked_up.matches), (
                    moment,
                    when,
                    order,
                )
    assert looked_up.count > 0  # the comparisons were not all empty


def test_search_reads_the_stored_next_session(db: Session) -> None:
    """Proof that the stored session is what search uses: a stored value it could not have
    found among the sessions comes back as the match's next session."""
    from datetime import timedelta

    from sqlalchemy import update

    from finder.models import Activity

    a = f.activity(db, title="Wednesday")
    planted = datetime(2026, 12, 3, 17, 0)
    db.execute(
        update(Activity)
        .where(Activity.id == a.id)
        .values(
            next_starts_at=planted,
            next_ends_at=planted + timedelta(hours=1),
            next_checked_at=NOW - timedelta(hours=1),
        )
    )
    (match,) = run(db).matches
    assert str(match[2]).startswith("2026-12-03 17:00")
    db.execute(update(Activity).values(next_checked_at=None))  # forgotten: looked up again
    (match,) = run(db).matches
    assert str(match[2]).startswith("2026-12-02 13:00")


def test_the_stored_next_session_follows_every_change_to_the_sessions(db: Session) -> None:
    """Refreshing the sessions stores the next one; a session changed any other way makes
    the activity forget it (search looks it up) until `store_next_sessions` runs again, which
    then rewrites only what is forgotten or over."""
    from datetime import timedelta

    from finder.models import Activity, Occurrence
    from finder.search import store_next_sessions

    a = f.activity(db, title="Wednesday")
    b = f.activity(db, title="Saturday", rrule="FREQ=WEEKLY;BYDAY=SA")
    db.refresh(a)
    assert (a.next_starts_at, a.next_ends_at, a.next_checked_at) == (
        datetime(2026, 12, 2, 13, 0),
        datetime(2026, 12, 2, 15, 0),
        NOW,
    )
    a.occurrences[0].cancelled = True
    db.flush()
    db.refresh(a)
    assert a.next_checked_at is None
    db.add(Occurrence(activity_id=b.id, starts_at=NOW, ends_at=NOW + timedelta(hours=1)))
    db.flush()
    db.refresh(b)
    assert b.next_checked_at is None
    assert store_next_sessions(db, NOW) == 2
    db.refresh(a)
    db.refresh(b)
    assert a.next_starts_at == datetime(2026, 12, 9, 13, 0)
    assert b.next_starts_at == NOW
    assert store_next_sessions(db, NOW) == 0  # nothing over, nothing forgotten
    # Once b's session is over, only b is written again.
    assert store_next_sessions(db, NOW + timedelta(hours=2)) == 1
    db.refresh(b)
    assert b.next_starts_at == datetime(2026, 12, 5, 13, 0)
    # An activity taken off the site keeps no next session.
    a.status = "paused"
    from finder.activities import refresh_occurrences

    refresh_occurrences(db, a, NOW, 8)
    db.refresh(a)
    assert a.next_starts_at is None and a.next_checked_at == NOW
    assert db.get(Activity, a.id) is a


def test_a_renamed_activity_is_linked_by_its_new_name(db: Session) -> None:
    """Cards and pins link with the slug the activity stores; a new title stores a new one."""
    a = f.activity(db, title="Koffieochtend")
    assert run(db).hits[0].listing.slug == "koffieochtend"
    a.title = "Café & taart in de Brugse Poort"
    db.flush()
    result = run(db)
    assert result.hits[0].listing.slug == "cafe-taart-in-de-brugse-poort"
    assert map_pins(db, result.matches, "nl")[0].slug == "cafe-taart-in-de-brugse-poort"

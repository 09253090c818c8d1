"""The activity editor: create, preview in plain words, publish, bad input, who may touch what."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from finder.models import Activity, ActivityReport, AuditEvent, Occurrence, Organisation
from finder.schedule import to_local

from . import factories as f
from .conftest import AuthActions, csrf_token

FORM = {
    "title": "Koffie & babbel",
    "category": "coffee_chat",
    "summary": "Koffie drinken met buren.",
    "description": "Eerste lijn.\nTweede lijn.",
    "welcome_instructions": "Bel aan bij de zijdeur, vraag naar Fatima.",
    "street": "Sleepstraat 12",
    "postcode": "9000",
    "lat": "",
    "lon": "",
    "repeat": "weekly",
    "weekdays": ["WE"],
    "week_of_month": "1",
    "monthly_day": "SA",
    "first_date": "2026-11-04",
    "until": "",
    "start_time": "14:00",
    "end_time": "16:00",
    "exceptions": "23-12-2026\n2026-12-30",
    "cost_type": "free",
    "cost_amount": "",
    "cost_note": "",
    "tags": ["free_drinks", "walk_in", "welcomer"],
    "languages": ["nl", "ar"],
    "professional_contact": "Fatima, 09 123 45 67",
    "referral_capacity": "2",
}


def post(client: FlaskClient, url: str, action: str, **changes: Any):  # type: ignore[no-untyped-def]
    data = {**FORM, **changes, "action": action, "csrf_token": csrf_token(client, url)}
    return client.post(url, data=data)


@pytest.fixture()
def organiser(client: FlaskClient, auth: AuthActions, staff: dict[str, Any]) -> dict[str, Any]:
    auth.login("organiser@example.be")
    return staff


def test_preview_shows_the_schedule_in_plain_words_and_saves_nothing(
    client: FlaskClient, organiser: dict[str, Any], db: Session
) -> None:
    page = post(client, "/manage/activities/new?lang=en", "preview")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert "Every Wednesday, \u206614:00–16:00\u2069." in html
    assert "Starting Wednesday 4 November 2026." in html
    assert "Not on Wednesday 23 December 2026 and Wednesday 30 December 2026." in html
    assert 'class="card"' in html and "Koffie &amp; babbel" in html
    assert db.scalar(select(Activity).where(Activity.title == "Koffie & babbel")) is None


def test_a_line_break_posted_in_a_title_is_stored_as_a_space(
    client: FlaskClient, organiser: dict[str, Any], db: Session
) -> None:
    """A raw POST can put a line break in a single-line field; in a mail's subject it would
    end the header (and stopped all mail): it is stored as a space."""
    page = post(
        client,
        "/manage/activities/new?lang=en",
        "publish",
        title="Koffie\r\nBcc: evil@example.be",
        summary="Een\u2028zin",
        street="Sleepstraat\n12",
    )
    assert page.status_code == 302
    a = db.scalars(select(Activity).order_by(Activity.id.desc())).first()
    assert a is not None
    assert (a.title, a.summary, a.street) == (
        "Koffie Bcc: evil@example.be",
        "Een zin",
        "Sleepstraat 12",
    )
    assert a.description == "Eerste lijn.\nTweede lijn."  # a text area keeps its lines


def test_publish_puts_it_online_with_sessions_and_a_family_finds_it(
    client: FlaskClient, organiser: dict[str, Any], db: Session
) -> None:
    page = post(client, "/manage/activities/new?lang=en", "publish")
    assert page.status_code == 302
    a = db.scalar(select(Activity).where(Activity.title == "Koffie & babbel"))
    assert a is not None and a.status == "published" and a.rrule == "FREQ=WEEKLY;BYDAY=WE"
    assert a.location_precision == "postcode"  # no network here: the gazetteer's point
    assert a.exdates == "2026-12-23,2026-12-30" and a.duration_minutes == 120
    starts = db.scalars(select(Occurrence.starts_at).where(Occurrence.activity_id == a.id)).all()
    assert len(starts) == 6  # 8 weeks of Wednesdays from 2 December, minus two exceptions
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "activity_saved")) is not None
    results = client.get("/activities?where=9000&tag=welcomer&lang=en").get_data(as_text=True)
    assert "Koffie &amp; babbel" in results
    detail = client.get(f"/activities/{a.id}?lang=en").get_data(as_text=True)
    assert "Eerste lijn.\nTweede lijn." in detail or "Eerste lijn.<br>" in detail


def test_unverified_organisation_waits_for_moderation(
    client: FlaskClient, organiser: dict[str, Any], db: Session
) -> None:
    organiser["organisation"].verified = False
    db.flush()
    post(client, "/manage/activities/new?lang=en", "publish")
    a = db.scalar(select(Activity).where(Activity.title == "Koffie & babbel"))
    assert a is not None and a.status == "pending"
    assert "Koffie" not in client.get("/activities?where=9000").get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"end_time": "13:00"}, "end_time", "The end time must be after the start time."),
        ({"postcode": "9999"}, "postcode", "We do not know this postcode."),
        ({"postcode": "90"}, "postcode", "A Belgian postcode has 4 digits."),
        ({"lat": "48.85", "lon": "2.35"}, "lat", "These coordinates are not in Belgium."),
        ({"lat": "51.05"}, "lat", "Type both latitude and longitude, or neither."),
        ({"cost_type": "amount", "cost_amount": "-2"}, "cost_amount", "between 0 and 500 euro"),
        ({"cost_type": "amount"}, "cost_amount", "Type the price"),
        ({"description": "x" * 10_000}, "description", "Use at most 5000 characters."),
        ({"weekdays": []}, "weekdays", "Tick at least one day."),
        ({"until": "2026-10-01"}, "weekdays", "The last date must be after the first date."),
        ({"exceptions": "kerstmis"}, "exceptions", "We do not understand these dates: kerstmis."),
        ({"languages": []}, "languages", "Tick at least one language."),
        ({"title": ""}, "title", "Give the activity a name."),
        ({"referral_capacity": "-1"}, "referral_capacity", "Choose a number from 0 to 50."),
        # Decimal reads these as numbers no comparison or database can hold: never a 500.
        ({"cost_type": "amount", "cost_amount": "NaN"}, "cost_amount", "Type a number"),
        ({"cost_type": "amount", "cost_amount": "sNaN"}, "cost_amount", "Type a number"),
        ({"cost_type": "amount", "cost_amount": "Infinity"}, "cost_amount", "Type a number"),
        ({"lat": "sNaN", "lon": "3.7"}, "lat", "Type a number"),
        ({"lat": "51.05", "lon": "NaN"}, "lon", "Type a number"),
    ],
)
def test_bad_input_is_refused_next_to_its_field_keeping_what_was_typed(
    client: FlaskClient,
    organiser: dict[str, Any],
    db: Session,
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    page = post(client, "/manage/activities/new?lang=en", "publish", **changes)
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert f'id="{field}-error"' in html and message in html
    assert 'value="Sleepstraat 12"' in html or changes.get("street")  # nothing typed is lost
    assert db.scalar(select(Activity).where(Activity.title == "Koffie & babbel")) is None


def test_editing_shows_the_saved_schedule_back(
    client: FlaskClient, organiser: dict[str, Any], db: Session
) -> None:
    post(
        client,
        "/manage/activities/new",
        "draft",
        repeat="monthly",
        week_of_month="-1",
        monthly_day="WE",
    )
    a = db.scalar(select(Activity).where(Activity.title == "Koffie & babbel"))
    assert a is not None and a.status == "draft" and a.rrule == "FREQ=MONTHLY;BYDAY=-1WE"
    html = client.get(f"/manage/activities/{a.id}?lang=en").get_data(as_text=True)
    assert "On the last Wednesday of the month, \u206614:00–16:00\u2069." in html
    assert re.search(r'<option selected value="-1">|<option value="-1" selected>', html)


def test_duplicate_pause_and_archive(
    client: FlaskClient, organiser: dict[str, Any], db: Session
) -> None:
    a = f.activity(db, org=organiser["organisation"], title="Origineel")
    token = csrf_token(client, "/manage/activities/")
    copy_page = client.post(f"/manage/activities/{a.id}/duplicate", data={"csrf_token": token})
    assert copy_page.status_code == 302
    copies = db.scalars(select(Activity).where(Activity.title == "Origineel")).all()
    assert sorted(c.status for c in copies) == ["draft", "published"]
    client.post(f"/manage/activities/{a.id}/status", data={"csrf_token": token, "action": "pause"})
    db.refresh(a)
    assert a.status == "paused"
    assert (
        db.scalar(
            select(Occurrence).where(Occurrence.activity_id == a.id, Occurrence.ends_at > f.NOW)
        )
        is None
    )
    client.post(
        f"/manage/activities/{a.id}/status", data={"csrf_token": token, "action": "archive"}
    )
    db.refresh(a)
    assert a.status == "archived"


def test_an_organiser_never_touches_another_organisations_activity(
    client: FlaskClient, organiser: dict[str, Any], db: Session
) -> None:
    other = Organisation(name="Elders", kind="other", verified=True, created_at=f.NOW)
    db.add(other)
    db.flush()
    theirs = f.activity(db, org=other, title="Van een ander")
    token = csrf_token(client, "/manage/activities/")
    assert client.get(f"/manage/activities/{theirs.id}").status_code == 404
    assert post(client, f"/manage/activities/{theirs.id}", "publish").status_code in (400, 404)
    for path, data in (
        (f"/manage/activities/{theirs.id}/duplicate", {}),
        (f"/manage/activities/{theirs.id}/status", {"action": "archive"}),
    ):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 404
    db.refresh(theirs)
    assert theirs.title == "Van een ander" and theirs.status == "published"
    listing = client.get("/manage/activities/").get_data(as_text=True)
    assert "Van een ander" not in listing


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (None, 302),
        ("professional", 403),
        ("buddy", 403),
        ("coordinator", 403),
        ("organiser", 200),
        ("admin", 200),
    ],
)
def test_editor_is_for_organisers_and_admins(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], role: str | None, status: int
) -> None:
    if role:
        auth.login(f"{role}@example.be")
    for url in ("/manage/activities/", "/manage/activities/new"):
        assert client.get(url).status_code == status


def test_a_huge_post_is_refused_kindly(client: FlaskClient, organiser: dict[str, Any]) -> None:
    page = post(client, "/manage/activities/new?lang=en", "publish", description="x" * 10_000_000)
    assert page.status_code == 413
    assert "This is too much text for one form." in page.get_data(as_text=True)


def test_not_during_school_holidays_skips_the_periods_an_admin_keeps(
    client: FlaskClient, organiser: dict[str, Any], db: Session, app: Flask
) -> None:
    admin = app.test_client()
    AuthActions(admin).login("admin@example.be")
    admin.post(
        "/manage/holidays",
        data={
            "csrf_token": csrf_token(admin, "/manage/holidays"),
            "name": "Kerstvakantie 2026",
            "starts_on": "2026-12-21",
            "ends_on": "2027-01-03",
        },
    )
    preview = post(
        client, "/manage/activities/new?lang=en", "preview", exceptions="", skip_school_holidays="y"
    ).get_data(as_text=True)
    assert "Not during school holidays." in preview
    post(client, "/manage/activities/new", "publish", exceptions="", skip_school_holidays="y")
    a = db.scalar(select(Activity).where(Activity.title == "Koffie & babbel"))
    assert a is not None and a.skip_school_holidays
    days = {to_local(o.starts_at).date() for o in a.occurrences}
    assert date(2026, 12, 16) in days and date(2027, 1, 6) in days
    assert date(2026, 12, 23) not in days and date(2026, 12, 30) not in days
    bad = admin.post(
        "/manage/holidays?lang=en",
        data={
            "csrf_token": csrf_token(admin, "/manage/holidays"),
            "name": "Verkeerd",
            "starts_on": "2027-02-20",
            "ends_on": "2027-02-10",
        },
    )
    assert bad.status_code == 400 and "The last date must be after the first date." in bad.get_data(
        as_text=True
    )


def _activities(db: Session, org: Organisation, titles: list[str]) -> list[Activity]:
    """Drafts with one session each: enough for the list, quick to make by the dozen."""
    return [
        f.activity(db, org=org, title=title, status="draft", rrule=None) for title in titles
    ]


def _statements(app: Flask, client: FlaskClient, url: str) -> tuple[int, str]:
    """The SQL statements one page costs, and the page."""
    engine = app.extensions["meegaan_db"].engine
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        html = client.get(url).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen), html


def test_the_activity_list_costs_the_same_queries_for_3_or_30_activities(
    app: Flask, client: FlaskClient, db: Session, organiser: dict[str, Any]
) -> None:
    org = organiser["organisation"]
    few = _activities(db, org, [f"Activiteit {i:02d}" for i in range(3)])
    for a in few:
        db.add(ActivityReport(activity_id=a.id, created_at=f.NOW))
    db.flush()
    small, html = _statements(app, client, "/manage/activities/?lang=en")
    assert html.count("1 family said a session did not take place") == 3
    more = _activities(db, org, [f"Activiteit {i:02d}" for i in range(3, 30)])
    for a in more:
        db.add(ActivityReport(activity_id=a.id, created_at=f.NOW))
    db.flush()
    large, html = _statements(app, client, "/manage/activities/?lang=en")
    assert html.count("1 family said a session did not take place") == 30
    assert large == small


def test_the_activity_list_pages_and_finds_by_title(
    app: Flask,
    client: FlaskClient,
    db: Session,
    organiser: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "STAFF_PER_PAGE", 4)
    org = organiser["organisation"]
    _activities(db, org, [f"Koffie {i}" for i in range(7)] + ["Café_Noord", "Cafe Zuid"])
    f.activity(db, title="Koffie elders", status="draft", rrule=None)  # another organisation
    first = client.get("/manage/activities/?lang=en").get_data(as_text=True)
    assert "Page 1 of 3" in first and 'name="q"' in first
    assert "Cafe Zuid" in first and "Koffie 6" not in first  # by title
    last = client.get("/manage/activities/?page=3&lang=en").get_data(as_text=True)
    assert "Koffie 6" in last and "Koffie elders" not in last and 'rel="next"' not in last
    found = client.get("/manage/activities/?q=KOFFIE&lang=en").get_data(as_text=True)
    assert "7 activities found" in found and "Page 1 of 2" in found
    assert "Koffie elders" not in found
    nxt = re.search(r'rel="next" href="([^"]+)"', found)
    assert nxt and "q=KOFFIE" in nxt.group(1).replace("&amp;", "&")  # the search stays on
    underscore = client.get("/manage/activities/?q=%C3%A9_&lang=en").get_data(as_text=True)
    assert "Café_Noord" in underscore and "Cafe Zuid" not in underscore  # _ is no wildcard
    assert "No activity has this in its title." in client.get(
        "/manage/activities/?q=zzz&lang=en"
    ).get_data(as_text=True)
    assert client.get("/manage/activities/?page=x").status_code == 200

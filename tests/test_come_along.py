"""A family asks someone to come along, without an account, and follows its private link."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from finder.models import AccompanimentRequest, Outbox, RequestEvent

from . import factories as f
from .conftest import csrf_token

FIRST = datetime(2026, 12, 2, 13, 0)  # Wednesday 14:00 in Brussels: today's session
NEXT = datetime(2026, 12, 9, 13, 0)


def form(client: FlaskClient, activity_id: int, **changes: Any) -> dict[str, Any]:
    data = {
        "csrf_token": csrf_token(client, f"/activities/{activity_id}/come-along"),
        "session": NEXT.isoformat(),
        "name": "Amal",
        "channel": "whatsapp",
        "contact": "0470 12 34 56",
        "language": "ar",
        "adults": "1",
        "children": "2",
        "note": "Ik kom met een buggy.",
        "consent": "y",
        "website": "",
    }
    data.update(changes)
    return data


@pytest.fixture()
def limits_reset(app: Flask) -> Any:
    from finder.web.limits import limiter

    limiter.reset()
    yield
    limiter.reset()


def test_the_detail_page_offers_to_ask_someone_to_come_along(
    client: FlaskClient, db: Session
) -> None:
    a = f.activity(db)
    html = client.get(f"/activities/{a.id}?lang=en").get_data(as_text=True)
    assert f'href="/activities/{a.id}/come-along?lang=en"' in html
    page = client.get(f"/activities/{a.id}/come-along?lang=en").get_data(as_text=True)
    assert "Ask someone to come along" in page
    assert f'value="{FIRST.isoformat()}"' in page and 'value="any"' in page
    assert "We erase them 90 days after your question is closed." in page


def test_a_family_asks_and_follows_the_status_link(
    client: FlaskClient, db: Session, staff: dict[str, Any], limits_reset: None
) -> None:
    a = f.activity(db, org=staff["organisation"])
    response = client.post(f"/activities/{a.id}/come-along?lang=ar", data=form(client, a.id))
    assert response.status_code == 302
    location = response.headers["Location"]
    token = re.search(r"/r/([^?]+)", location).group(1)  # type: ignore[union-attr]
    r = db.scalar(select(AccompanimentRequest))
    assert r is not None
    assert r.status == "new" and r.mode == "buddy" and r.origin == "family"
    assert r.contact_value == "+32470123456" and r.locale == "ar" and r.language == "ar"
    assert r.session_starts_at == NEXT and r.children == 2
    assert r.token_hash != token and len(r.token_hash or "") == 64
    # Encrypted at rest: the database itself never holds the name, number or note.
    raw = db.execute(
        text("SELECT family_name, contact_value, note FROM accompaniment_request")
    ).one()
    assert "Amal" not in raw[0] and "470" not in raw[1] and "buggy" not in raw[2]
    # The coordinator and the organiser are told; the mails carry no personal details.
    mails = db.scalars(select(Outbox)).all()
    assert {m.to_address for m in mails} == {"coordinator@example.be", "organiser@example.be"}
    assert all("Amal" not in m.body_text and "470" not in m.body_text for m in mails)
    page = client.get(location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert 'lang="ar" dir="rtl"' in html and r.reference in html and "<svg" in html
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Write a first name or a nickname."),
        ({"contact": "12"}, "contact", "This phone number is not complete or not right."),
        ({"channel": "email", "contact": "amal@nowhere"}, "contact", "cannot exist"),
        ({"channel": "email", "contact": "amal@example.invalid"}, "contact", "cannot exist"),
        ({"adults": "0"}, "adults", "Choose a number from 1 to 12."),
        ({"children": "veel"}, "children", "Choose a number from 0 to 12."),
        ({"consent": ""}, "consent", "Tick the box to agree."),
        ({"language": ""}, "language", "Choose a language."),
        ({"session": "2026-11-25T13:00:00"}, "session", "This date has passed."),
        ({"session": "2026-12-10T13:00:00"}, "session", "Choose one of the dates."),
    ],
)
def test_bad_input_gets_a_clear_message_and_keeps_what_was_typed(
    client: FlaskClient,
    db: Session,
    limits_reset: None,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    a = f.activity(db)
    response = client.post(
        f"/activities/{a.id}/come-along?lang=en", data=form(client, a.id, **changes)
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    assert f'id="{field}-error"' in html
    assert db.scalar(select(AccompanimentRequest)) is None
    for name, value in (("note", "Ik kom met een buggy."), ("name", "Amal")):
        if name not in changes:
            assert value in html


def test_a_cancelled_session_is_refused_with_the_next_dates(
    client: FlaskClient, db: Session, limits_reset: None
) -> None:
    a = f.activity(db)
    cancelled = next(o for o in a.occurrences if o.starts_at == NEXT)
    cancelled.cancelled = True
    db.flush()
    response = client.post(f"/activities/{a.id}/come-along?lang=en", data=form(client, a.id))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "This session is cancelled." in html
    assert 'value="2026-12-16T13:00:00"' in html


def test_a_belgian_or_international_number_is_normalised(
    client: FlaskClient, db: Session, limits_reset: None
) -> None:
    a = f.activity(db)
    for typed in ("+32 470/12.34.56", "0031 6 12345678"):
        client.post(f"/activities/{a.id}/come-along", data=form(client, a.id, contact=typed))
    stored_numbers = [r.contact_value for r in db.scalars(select(AccompanimentRequest))]
    assert stored_numbers == ["+32470123456", "+31612345678"]


def test_the_honeypot_stores_nothing(client: FlaskClient, db: Session, limits_reset: None) -> None:
    a = f.activity(db)
    response = client.post(
        f"/activities/{a.id}/come-along", data=form(client, a.id, website="http://spam")
    )
    assert response.status_code == 200
    assert db.scalar(select(AccompanimentRequest)) is None


def test_families_on_one_shared_connection_are_never_locked_out(
    client: FlaskClient, db: Session, limits_reset: None
) -> None:
    """A community centre's wifi, a volunteer's tablet: eight families in an hour from one
    address all get their question sent, and forms refused for a typo never count."""
    a = f.activity(db)
    for _ in range(10):  # a wrong number, again and again
        refused = client.post(
            f"/activities/{a.id}/come-along", data=form(client, a.id, contact="0470 12")
        )
        assert refused.status_code == 400
    for i in range(8):
        sent = client.post(
            f"/activities/{a.id}/come-along",
            data=form(client, a.id, name=f"Gezin {i}", contact=f"0470 12 34 {i:02d}"),
        )
        assert sent.status_code == 302, i
    assert len(db.scalars(select(AccompanimentRequest)).all()) == 8


def test_the_same_contact_asking_again_and_again_waits_with_everything_kept(
    client: FlaskClient, db: Session, app: Flask, limits_reset: None
) -> None:
    a = f.activity(db)
    allowed = int(app.config["COME_ALONG_LIMIT_PER_CONTACT"].split()[0])
    for _ in range(allowed):
        sent = client.post(f"/activities/{a.id}/come-along", data=form(client, a.id))
        assert sent.status_code == 302
    again = client.post(
        f"/activities/{a.id}/come-along?lang=uk",
        data=form(client, a.id, name="Оксана", contact="+32 470 12 34 56"),  # the same number
    )
    assert again.status_code == 429
    wait = int(again.headers["Retry-After"])
    assert 0 < wait <= 24 * 3600
    html = again.get_data(as_text=True)
    assert 'lang="uk"' in html and 'value="Оксана"' in html and "Ik kom met een buggy." in html
    assert "зачекайте" in html.lower()  # an honest wait, in the family's language
    assert len(db.scalars(select(AccompanimentRequest)).all()) == allowed


def test_a_burst_from_one_connection_waits_minutes_not_an_hour(
    client: FlaskClient, db: Session, app: Flask, limits_reset: None
) -> None:
    a = f.activity(db)
    burst = int(app.config["COME_ALONG_LIMIT"].split()[0])
    for i in range(burst):
        data = form(client, a.id, contact=f"0470 55 66 {i:02d}")
        assert client.post(f"/activities/{a.id}/come-along", data=data).status_code == 302
    data = form(client, a.id, name="Laatste", contact="0470 99 99 99")
    blocked = client.post(f"/activities/{a.id}/come-along?lang=en", data=data)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) <= 600
    html = blocked.get_data(as_text=True)
    assert "Many questions were sent from this connection just now" in html
    assert 'value="Laatste"' in html and 'value="0470 99 99 99"' in html
    # Another connection is not held up by this one.
    other = client.application.test_client()
    elsewhere = other.post(
        f"/activities/{a.id}/come-along",
        data=form(other, a.id, contact="0470 88 88 88"),
        environ_base={"REMOTE_ADDR": "192.0.2.44"},
    )
    assert elsewhere.status_code == 302


def test_unknown_status_links_all_look_the_same(client: FlaskClient, db: Session) -> None:
    for token in ("x", "a" * 32, "a" * 500):
        assert client.get(f"/r/{token}").status_code == 404


def test_the_family_changes_the_date_then_cancels(
    client: FlaskClient, db: Session, staff: dict[str, Any], limits_reset: None
) -> None:
    a = f.activity(db, org=staff["organisation"])
    location = client.post(
        f"/activities/{a.id}/come-along?lang=en", data=form(client, a.id)
    ).headers["Location"]
    token = re.search(r"/r/([^?]+)", location).group(1)  # type: ignore[union-attr]
    page = client.get(location).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    bad = client.post(f"/r/{token}/date?lang=en", data={"csrf_token": csrf, "session": "nonsense"})
    assert bad.status_code == 400 and "Choose one of the dates." in bad.get_data(as_text=True)
    moved = client.post(
        f"/r/{token}/date", data={"csrf_token": csrf, "session": "2026-12-16T13:00:00"}
    )
    assert moved.status_code == 302
    r = db.scalar(select(AccompanimentRequest))
    assert r is not None and r.session_starts_at == datetime(2026, 12, 16, 13, 0)
    status_page = client.get(f"/r/{token}").get_data(as_text=True)
    assert f"/activities/{a.id}.ics?session=2026-12-16T13:00:00" in status_page  # their day
    confirm = client.get(f"/r/{token}/cancel?lang=en")
    assert "Do you want to cancel your question?" in confirm.get_data(as_text=True)
    assert confirm.headers["Referrer-Policy"] == "no-referrer"
    assert client.post(f"/r/{token}/cancel", data={"csrf_token": csrf}).status_code == 302
    db.refresh(r)
    assert r.status == "cancelled" and r.purge_due_at is not None
    actions = [e.action for e in db.scalars(select(RequestEvent).order_by(RequestEvent.id))]
    assert actions == ["created", "date_changed", "cancelled"]
    html = client.get(f"/r/{token}?lang=en").get_data(as_text=True)
    assert "Your question is cancelled" in html and "Cancel my question" not in html


def test_state_changing_family_routes_need_the_csrf_token(
    client: FlaskClient, db: Session, limits_reset: None
) -> None:
    a = f.activity(db)
    data = form(client, a.id)
    data.pop("csrf_token")
    assert client.post(f"/activities/{a.id}/come-along", data=data).status_code == 400
    assert client.post("/r/whatever/cancel").status_code == 400


@pytest.mark.parametrize("lang", ["nl", "ar", "uk"])
def test_the_form_starts_in_the_familys_language_with_number_pads(
    client: FlaskClient, db: Session, lang: str
) -> None:
    a = f.activity(db)
    html = client.get(f"/activities/{a.id}/come-along?lang={lang}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{lang}">|<option value="{lang}" selected', html)
    for field in ("adults", "children"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', html)
        assert tag and 'inputmode="numeric"' in tag.group(0), field


@pytest.mark.parametrize("organiser_account", [True, False])
def test_a_changed_date_says_only_who_was_really_told(
    client: FlaskClient, db: Session, staff: dict[str, Any], limits_reset: None,
    organiser_account: bool,
) -> None:
    """"We told the others" only when someone got a mail: most organisations have no account."""
    org = staff["organisation"] if organiser_account else f.organisation(db)
    a = f.activity(db, org=org)
    location = client.post(
        f"/activities/{a.id}/come-along?lang=en", data=form(client, a.id)
    ).headers["Location"]
    token = re.search(r"/r/([^?]+)", location).group(1)  # type: ignore[union-attr]
    page = client.get(location).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    moved = client.post(
        f"/r/{token}/date?lang=en",
        data={"csrf_token": csrf, "session": "2026-12-16T13:00:00"},
        follow_redirects=True,
    ).get_data(as_text=True)
    told = "We told the people who help you." in moved
    assert told is organiser_account
    assert "The date is changed." in moved
    same = client.post(
        f"/r/{token}/date?lang=en",
        data={"csrf_token": csrf, "session": "2026-12-16T13:00:00"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "This was already the date of your question." in same


@pytest.mark.parametrize("lang", ["uk", "ru"])
def test_the_promised_date_reads_right_in_slavic_languages(
    client: FlaskClient, db: Session, lang: str, staff: dict[str, Any], limits_reset: None
) -> None:
    """No "до вівторок" (a weekday after a preposition takes another case) and no double
    full stop after the year's abbreviation."""
    a = f.activity(db)
    location = client.post(
        f"/activities/{a.id}/come-along?lang={lang}", data=form(client, a.id, language=lang)
    ).headers["Location"]
    html = client.get(location).get_data(as_text=True)
    line = re.search(r"<p>(Координатор[^<]*)</p>", html)
    assert line, html
    assert "р.." not in line.group(1) and "г.." not in line.group(1)
    assert "до вівторок" not in line.group(1) and "до вторник" not in line.group(1)


def test_the_family_is_promised_a_call_only_when_a_coordinator_can_make_it(
    client: FlaskClient, db: Session, staff: dict[str, Any], limits_reset: None
) -> None:
    a = f.activity(db, org=staff["organisation"])
    for active, contact in ((True, "0470 11 11 11"), (False, "0470 22 22 22")):
        staff["coordinator"].active = active
        db.flush()
        location = client.post(
            f"/activities/{a.id}/come-along?lang=en", data=form(client, a.id, contact=contact)
        ).headers["Location"]
        html = client.get(location).get_data(as_text=True)
        assert ("The buddy coordinator contacts you" in html) is active
        assert ("nobody can answer it yet" in html) is not active


def test_a_burst_from_one_ipv6_network_counts_as_one_connection(
    client: FlaskClient, db: Session, app: Flask, monkeypatch: pytest.MonkeyPatch,
    limits_reset: None,
) -> None:
    """A phone picks any address of its /64: the burst limit counts the network."""
    monkeypatch.setitem(app.config, "COME_ALONG_LIMIT", "2 per 10 minutes")
    a = f.activity(db)
    codes = [
        client.post(
            f"/activities/{a.id}/come-along",
            data=form(client, a.id, contact=f"0470 77 66 {i:02d}"),
            environ_base={"REMOTE_ADDR": f"2001:db8:5:6::{i + 1:x}"},
        ).status_code
        for i in range(3)
    ]
    assert codes == [302, 302, 429]

"""Organisations, moderation, freshness of listings and families' reports."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.freshness import FreshnessSettings, check_all
from finder.models import Activity, ActivityReport, Organisation

from . import factories as f
from .conftest import NOW, AuthActions, csrf_token

ORG_FORM = {
    "name": "Buurthuis Nieuw",
    "kind": "community_centre",
    "street": "Kerkstraat 1",
    "postcode": "2800",
    "contact_email": "info@nieuw.example.be",
    "contact_phone": "015 12 34 56",
    "website": "https://nieuw.example.be",
}


def test_organiser_registers_an_organisation_then_admin_verifies_it(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session, app: Flask
) -> None:
    newcomer = staff["organiser"]
    newcomer.organisation_id = None
    db.flush()
    auth.login("organiser@example.be")
    assert "Register your organisation" in client.get("/manage/?lang=en").get_data(as_text=True)
    bad = client.post(
        "/manage/organisation?lang=en",
        data={
            **ORG_FORM,
            "postcode": "0000",
            "website": "nieuw.be",
            "csrf_token": csrf_token(client, "/manage/organisation"),
        },
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "We do not know this postcode." in html
    assert "A website starts with https://" in html and 'value="Buurthuis Nieuw"' in html
    ok = client.post(
        "/manage/organisation",
        data={**ORG_FORM, "csrf_token": csrf_token(client, "/manage/organisation")},
    )
    assert ok.status_code == 302
    db.refresh(newcomer)
    org = newcomer.organisation
    assert org is not None and org.name == "Buurthuis Nieuw" and not org.verified
    admin = app.test_client()
    AuthActions(admin).login("admin@example.be")
    assert "Buurthuis Nieuw" in admin.get("/manage/organisations").get_data(as_text=True)
    admin.post(
        f"/manage/organisations/{org.id}/verify",
        data={"csrf_token": csrf_token(admin, "/manage/organisations")},
    )
    db.refresh(org)
    assert org.verified


def test_moderation_queue_puts_listings_online_or_sends_them_back(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session
) -> None:
    new_org = Organisation(name="Onbekend", kind="other", verified=False, created_at=NOW)
    db.add(new_org)
    db.flush()
    first = f.activity(db, org=new_org, title="Eerste", status="pending")
    second = f.activity(db, org=new_org, title="Tweede", status="pending")
    assert "Eerste" not in client.get("/activities?where=9000").get_data(as_text=True)
    auth.login("admin@example.be")
    html = client.get("/manage/moderation?lang=en").get_data(as_text=True)
    assert "Eerste" in html and "organisation not verified yet" in html
    token = csrf_token(client, "/manage/moderation")
    client.post(f"/manage/moderation/{first.id}", data={"csrf_token": token, "decision": "approve"})
    client.post(
        f"/manage/moderation/{second.id}", data={"csrf_token": token, "decision": "send_back"}
    )
    db.refresh(first)
    db.refresh(second)
    assert (first.status, second.status) == ("published", "draft")
    assert first.occurrences  # sessions made when it went online
    # Its organisers hear which, with a link on the site's own address.
    f.user(db, "nieuw@onbekend.be", "organiser", organisation_id=new_org.id, preferred_locale="en")
    third = f.activity(db, org=new_org, title="Derde", status="pending")
    fourth = f.activity(db, org=new_org, title="Vierde", status="pending")
    client.post(f"/manage/moderation/{third.id}", data={"csrf_token": token, "decision": "approve"})
    client.post(
        f"/manage/moderation/{fourth.id}", data={"csrf_token": token, "decision": "send_back"}
    )
    online, back = f.mails_to(db, "nieuw@onbekend.be")
    assert online.subject == "“Derde” is online"
    assert f"http://localhost/activities/{third.id}-derde\n" in (online.body_text or "") + "\n"
    assert back.subject == "“Vierde” is not online yet"
    assert f"http://localhost/manage/activities/{fourth.id}\n" in (back.body_text or "") + "\n"
    assert (
        client.post(
            f"/manage/moderation/{first.id}", data={"csrf_token": token, "decision": "approve"}
        ).status_code
        == 404
    )


def _settings() -> FreshnessSettings:
    return FreshnessSettings(ask_after_days=60, stale_after_days=90, pause_after_days=120)


def test_a_listing_is_stale_from_the_very_moment_its_confirmation_is_that_old() -> None:
    from types import SimpleNamespace

    from finder.freshness import confirmed_before, stale_since

    def listing(confirmed: datetime | None, created: datetime | None = NOW) -> Any:
        return SimpleNamespace(last_confirmed_at=confirmed, created_at=created)

    def is_stale(item: Any, now: datetime, settings: FreshnessSettings) -> bool:
        return confirmed_before(item, stale_since(now, settings))

    ninety = NOW - timedelta(days=90)
    assert is_stale(listing(ninety), NOW, _settings())
    assert not is_stale(listing(ninety + timedelta(seconds=1)), NOW, _settings())
    assert is_stale(listing(None, created=ninety), NOW, _settings())  # never confirmed
    assert not is_stale(listing(None, created=None), NOW, _settings())  # a preview


def test_freshness_asks_once_marks_stale_then_pauses_and_a_click_confirms(
    client: FlaskClient, app: Flask, staff: dict[str, Any], db: Session
) -> None:
    a = f.activity(db, org=staff["organisation"], title="Verouderd Koffiemoment")
    a.last_confirmed_at = NOW - timedelta(days=61)
    db.flush()
    with app.test_request_context():
        from finder.web.common import confirm_link

        assert check_all(db, NOW, _settings(), confirm_link) == {"asked": 1, "paused": 0}
        assert check_all(db, NOW, _settings(), confirm_link) == {"asked": 0, "paused": 0}
    (mail,) = f.mails_to(db, "organiser@example.be")
    assert "Verouderd Koffiemoment" in mail.subject
    link = re.search(r"http://localhost(/\S+)", mail.body_text).group(1)  # type: ignore[union-attr]

    warning = "Not confirmed recently: check with the organiser"
    assert warning not in client.get("/activities?where=9000&lang=en").get_data(as_text=True)
    a.last_confirmed_at = NOW - timedelta(days=91)
    db.flush()
    card = client.get("/activities?where=9000&lang=en").get_data(as_text=True)
    assert warning in card
    admin = app.test_client()
    AuthActions(admin).login("admin@example.be")
    overview = admin.get("/manage/?lang=en").get_data(as_text=True)
    assert "1 activity not confirmed recently" in overview

    a.last_confirmed_at = NOW - timedelta(days=121)
    db.flush()
    with app.test_request_context():
        assert check_all(db, NOW, _settings(), confirm_link)["paused"] == 1
    assert a.status == "paused"
    assert "Verouderd Koffiemoment" not in client.get("/activities?where=9000").get_data(
        as_text=True
    )

    paused_mail = f.mails_to(db, "organiser@example.be")[-1]
    assert paused_mail.id != mail.id
    link = re.search(r"http://localhost(/\S+)", paused_mail.body_text).group(1)  # type: ignore[union-attr]
    page = client.get(link + "?lang=en")  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and a.status == "paused"
    token = csrf_token(client, link)
    client.post(link, data={"csrf_token": token})
    db.refresh(a)
    assert a.status == "published" and a.last_confirmed_at == NOW
    assert "Verouderd Koffiemoment" in client.get("/activities?where=9000").get_data(as_text=True)
    assert client.get("/manage/activities/confirm/forged-token").status_code == 404
    # The link works once: used again (or forwarded) it changes nothing.
    again = client.post(link.split("?")[0] + "?lang=en", data={"csrf_token": token})
    assert again.status_code == 404 and "already used" in again.get_data(as_text=True)


def test_a_still_correct_link_never_republishes_what_the_organiser_paused(
    client: FlaskClient, app: Flask, staff: dict[str, Any], db: Session
) -> None:
    from finder.editing import set_status
    from finder.web.common import edit_settings

    a = f.activity(db, org=staff["organisation"], title="Gepauzeerd Koffiemoment")
    a.last_confirmed_at = NOW - timedelta(days=61)
    db.flush()
    with app.test_request_context():
        from finder.web.common import confirm_link

        assert check_all(db, NOW, _settings(), confirm_link)["asked"] == 1
        set_status(db, staff["organiser"], a, "pause", edit_settings(), NOW)  # on purpose
    db.flush()
    (mail,) = f.mails_to(db, "organiser@example.be")
    link = re.search(r"http://localhost(/\S+)", mail.body_text).group(1)  # type: ignore[union-attr]
    page = client.get(link.split("?")[0] + "?lang=en")
    assert page.status_code == 200 and "Your organisation paused this activity" in page.text
    assert "Yes, it is still correct" not in page.text
    client.post(link, data={"csrf_token": csrf_token(client, "/login")})  # a forged POST
    db.refresh(a)
    assert a.status == "paused"


def test_family_reports_a_session_that_did_not_happen(
    client: FlaskClient, staff: dict[str, Any], db: Session
) -> None:
    from finder.web.limits import limiter

    limiter.reset()
    a = f.activity(
        db,
        org=staff["organisation"],
        title="Speelhoek",
        first=NOW.replace(hour=0) - timedelta(days=14),
    )  # Wednesdays, last week too
    a.occurrences  # noqa: B018
    detail = client.get(f"/activities/{a.id}?lang=en").get_data(as_text=True)
    assert "Was it not happening?" in detail and 'name="csrf_token"' not in detail
    assert f'href="/activities/{a.id}/report?lang=en"' in detail
    html = client.get(f"/activities/{a.id}/report?lang=en").get_data(as_text=True)
    assert "Tell the organiser it did not take place" in html and "Speelhoek" in html
    day = re.search(r'<option value="(\d{4}-\d\d-\d\d)"', html)
    token = csrf_token(client, f"/activities/{a.id}/report")
    data = {"csrf_token": token, "session_date": day.group(1) if day else ""}
    page = client.post(f"/activities/{a.id}/report?lang=en", data=data)
    assert page.status_code == 302
    report = db.scalar(select(ActivityReport).where(ActivityReport.activity_id == a.id))
    assert report is not None
    (mail,) = f.mails_to(db, "organiser@example.be")
    assert "Speelhoek" in mail.subject
    # A day that is not one of the list: said in plain words, on the same form.
    wrong = client.post(
        f"/activities/{a.id}/report?lang=en",
        data={"csrf_token": token, "session_date": "2020-01-01"},
    )
    assert wrong.status_code == 400
    answer = wrong.get_data(as_text=True)
    assert "Choose one of the days in the list" in answer
    assert client.post(f"/activities/{a.id}/report", data={}).status_code == 400  # no CSRF token
    for _ in range(5):
        client.post(f"/activities/{a.id}/report", data={"csrf_token": token})
    assert client.post(f"/activities/{a.id}/report", data={"csrf_token": token}).status_code == 429
    limiter.reset()


@pytest.mark.parametrize("url", ["/manage/organisations", "/manage/moderation"])
@pytest.mark.parametrize(
    ("role", "status"), [("organiser", 403), ("professional", 403), ("admin", 200)]
)
def test_admin_pages_are_for_admins_only(
    client: FlaskClient,
    auth: AuthActions,
    staff: dict[str, Any],
    url: str,
    role: str,
    status: int,
) -> None:
    auth.login(f"{role}@example.be")
    assert client.get(url).status_code == status


def test_pending_activity_is_not_reachable_by_families(
    client: FlaskClient, staff: dict[str, Any], db: Session
) -> None:
    a = f.activity(db, org=staff["organisation"], status="pending")
    assert client.get(f"/activities/{a.id}").status_code == 404
    assert client.get(f"/api/v1/activities/{a.id}").status_code == 404
    assert db.get(Activity, a.id) is not None


def test_the_organiser_sees_how_many_families_reported_a_listing(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session
) -> None:
    a = f.activity(db, org=staff["organisation"], title="Gemeld")
    db.add(ActivityReport(activity_id=a.id, session_date=None, created_at=NOW))
    db.add(
        ActivityReport(activity_id=a.id, session_date=None, created_at=NOW - timedelta(days=200))
    )
    db.flush()
    auth.login("organiser@example.be")
    html = client.get("/manage/activities/?lang=en").get_data(as_text=True)
    assert "1 family said a session did not take place" in html  # the old one no longer counts


def test_a_still_correct_link_mailed_before_links_were_single_use_works_once(
    client: FlaskClient, app: Flask, staff: dict[str, Any], db: Session
) -> None:
    from finder.web.common import confirm_serializer

    a = f.activity(db, org=staff["organisation"], title="Oude link")
    a.last_confirmed_at = NOW - timedelta(days=61)
    a.confirm_requested_at = NOW - timedelta(days=1)
    db.flush()
    with app.test_request_context():
        old = "/manage/activities/confirm/" + confirm_serializer().dumps(a.id)
    assert client.get(old + "?lang=en").status_code == 200
    client.post(old, data={"csrf_token": csrf_token(client, old)})
    db.refresh(a)
    assert a.last_confirmed_at == NOW and a.confirm_requested_at is None
    assert client.get(old + "?lang=en").status_code == 404  # spent


def test_a_mail_links_an_activity_of_any_script_at_its_own_address(
    client: FlaskClient, staff: dict[str, Any], db: Session
) -> None:
    """The organiser's link opens the page itself (200), not a twice-quoted slug that only a
    redirect mends."""
    from finder.web.limits import limiter

    limiter.reset()
    a = f.activity(db, org=staff["organisation"], title="قهوة الصباح")
    token = csrf_token(client, f"/activities/{a.id}/report")
    client.post(f"/activities/{a.id}/report", data={"csrf_token": token, "session_date": ""})
    limiter.reset()
    (mail,) = f.mails_to(db, "organiser@example.be")
    link = re.search(r"http://localhost(/activities/\S+)", mail.body_text or "")
    assert link, mail.body_text
    assert "%25" not in link.group(1)
    assert client.get(link.group(1)).status_code == 200

"""The staff pages of finder/web/manage.py: the dashboard and the admin's lists page and search."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from finder.models import AuditEvent

from . import factories as f
from .conftest import NOW, AuthActions


@pytest.fixture()
def admin(client: FlaskClient, auth: AuthActions, staff: dict[str, Any]) -> dict[str, Any]:
    auth.login("admin@example.be")
    return staff


@pytest.fixture()
def small_pages(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "STAFF_PER_PAGE", 3)


def rows(html: str) -> int:
    return html.count("<tr><td>")


def test_people_page_and_are_found_by_name_or_address(
    client: FlaskClient, db: Session, admin: dict[str, Any], small_pages: None
) -> None:
    for i in range(4):
        f.user(db, f"vrijwilliger{i}@example.be", "buddy", display_name=f"Vrijwilliger {i}")
    f.user(db, "an@voorbeeld.be", "buddy", display_name="Anneke")
    first = client.get("/manage/users?lang=en").get_data(as_text=True)
    assert "Page 1 of 4" in first and 'name="q"' in first and 'rel="next"' in first
    found = client.get("/manage/users?q=vrijwilliger&lang=en").get_data(as_text=True)
    assert "4 people found" in found and "Anneke" not in found and "Page 1 of 2" in found
    by_address = client.get("/manage/users?q=voorbeeld.be&lang=en").get_data(as_text=True)
    assert "Anneke" in by_address and "1 person found" in by_address


def test_organisations_page_and_are_found_by_name(
    client: FlaskClient, db: Session, admin: dict[str, Any], small_pages: None
) -> None:
    for name in ("Buurtwerk Noord", "Buurtwerk Zuid", "Voedselbank Oost", "Speelpunt West"):
        f.organisation(db, name=name, verified=False)
    first = client.get("/manage/organisations?lang=en").get_data(as_text=True)
    assert rows(first) == 3 and "Page 1 of 2" in first  # 5 with the staff's own
    assert "Buurtwerk Noord" in first  # not verified first
    found = client.get("/manage/organisations?q=buurtwerk&lang=en").get_data(as_text=True)
    assert rows(found) == 2 and "2 organisations found" in found


def test_moderation_and_audit_log_page(
    client: FlaskClient, db: Session, admin: dict[str, Any], small_pages: None
) -> None:
    org = f.organisation(db, name="Nieuw Buurtcentrum", verified=False)
    for i in range(4):
        f.activity(db, org=org, title=f"Wacht {i}", status="pending", rrule=None)
    for i in range(7):
        db.add(AuditEvent(at=NOW, action=f"step_{i}", object_type="test", detail=""))
    db.flush()
    queue = client.get("/manage/moderation?lang=en").get_data(as_text=True)
    assert "4 activities to check" in queue and queue.count('class="card"') == 3
    assert "Nieuw Buurtcentrum" in queue and 'rel="next"' in queue
    rest = client.get("/manage/moderation?page=2&lang=en").get_data(as_text=True)
    assert rest.count('class="card"') == 1
    log = client.get("/manage/audit?lang=en").get_data(as_text=True)
    assert rows(log) == 3 and "step_6" in log and "Page 1 of " in log  # the newest first


def test_the_dashboard_names_a_few_activities_and_links_to_all(
    app: Flask, db: Session, staff: dict[str, Any]
) -> None:
    client = app.test_client()
    AuthActions(client).login("organiser@example.be")
    for i in range(12):
        f.activity(db, org=staff["organisation"], title=f"Act {i:02d}", rrule=None)
    html = client.get("/manage/?lang=en").get_data(as_text=True)
    assert "Act 09" in html and "Act 10" not in html and "All 12 activities" in html

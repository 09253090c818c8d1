"""Who may open and change what: every /manage route for every role and for a visitor."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from finder.models import ROLES, HolidayPeriod, Organisation, RequestOffer

from . import factories as f
from .conftest import AuthActions, csrf_token

ALL = set(ROLES)
EDITORS = {"organiser", "admin"}
ADMIN = {"admin"}
INVOLVED = {"professional", "organiser", "buddy", "coordinator"}  # in a request
GOERS = {"professional", "buddy", "coordinator"}
# endpoint -> (method, roles that may use it). A new /manage route must be added here.
MATRIX: dict[str, tuple[str, set[str]]] = {
    "manage.dashboard": ("GET", ALL),
    "manage.users": ("GET", {"organiser", "admin"}),
    "manage.change_user": ("POST", ADMIN),
    "manage.audit_log": ("GET", ADMIN),
    "manage.organisation": ("GET", {"organiser"}),
    "manage.organisations_list": ("GET", ADMIN),
    "manage.verify_organisation": ("POST", ADMIN),
    "manage.moderation": ("GET", ADMIN),
    "manage.moderate": ("POST", ADMIN),
    "manage.holidays": ("GET", ADMIN),
    "manage.delete_holiday": ("POST", ADMIN),
    "manage.retry_failed_mails": ("POST", ADMIN),
    "editor.index": ("GET", EDITORS),
    "editor.new": ("GET", EDITORS),
    "editor.edit": ("GET", EDITORS),
    "editor.duplicate": ("POST", EDITORS),
    "editor.status": ("POST", EDITORS),
    "requests.index": ("GET", ALL),
    "requests.detail": ("GET", INVOLVED),
    "requests.confirm": ("POST", {"organiser"}),
    "requests.offer": ("POST", {"coordinator"}),
    "requests.cancel": ("POST", {"professional", "coordinator"}),
    "requests.outcome": ("POST", GOERS),  # and the organiser when a welcomer receives them
    "requests.followup": ("POST", GOERS),
    "requests.again": ("POST", GOERS),
    "requests.new_link": ("POST", {"professional"}),
    "requests.new_referral": ("GET", {"professional"}),
    "requests.buddy_profile": ("GET", {"buddy"}),
    "requests.answer_offer": ("POST", {"buddy"}),
}
# Reached with a signed link from a mail instead of an account (tested in test_stewardship
# and test_requests).
TOKEN_ROUTES = {"editor.confirm", "requests.offer_link"}


def test_the_matrix_covers_every_staff_route(app: Flask) -> None:
    staff_routes = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/manage")
    }
    assert staff_routes == set(MATRIX) | TOKEN_ROUTES


@pytest.fixture()
def objects(staff: dict[str, Any], db: Session) -> dict[str, int]:
    org = staff["organisation"]
    other = Organisation(name="Te verifiëren", kind="other", verified=False, created_at=f.NOW)
    db.add(other)
    db.flush()
    own = f.activity(db, org=org, title="Eigen activiteit")
    pending = f.activity(db, org=other, title="Wacht", status="pending")
    holiday = HolidayPeriod(name="Kerst", starts_on=date(2026, 12, 21), ends_on=date(2027, 1, 3))
    db.add(holiday)
    db.flush()
    # Requests for an activity of their own: the editor's routes pause `own` meanwhile.
    visited = f.activity(db, org=org, title="Koffie met buddy")
    people = {"referrer_id": staff["professional"].id, "buddy_id": staff["buddy"].id}
    past = datetime(2026, 11, 25, 13, 0)
    requests = {
        name: f.request(db, visited, **people, **kw).id
        for name, kw in {
            "detail": {"status": "matched"},
            "confirm": {"status": "matched"},
            "cancel": {"status": "matched"},
            "outcome": {"status": "matched", "session_starts_at": past},
            "followup": {"status": "done", "outcome": "went", "session_starts_at": past},
            "again": {"status": "done", "outcome": "went", "session_starts_at": past},
            "new_link": {"status": "matched"},
        }.items()
    }
    offered = f.request(db, visited, referrer_id=staff["professional"].id)
    offered.offers.append(RequestOffer(buddy_id=staff["buddy"].id, status="open", created_at=f.NOW))
    unmatched = f.request(db, visited, referrer_id=staff["professional"].id)
    db.flush()
    return {
        **{f"request_{k}": v for k, v in requests.items()},
        "request_offer": unmatched.id,
        "offer_id": offered.offers[0].id,
        "activity_id": own.id,
        "pending_id": pending.id,
        "user_id": staff["buddy"].id,
        "org_id": other.id,
        "holiday_id": holiday.id,
    }


def _url(endpoint: str, ids: dict[str, int]) -> str:
    from flask import url_for

    args = {
        "manage.change_user": {"user_id": ids["user_id"]},
        "manage.verify_organisation": {"org_id": ids["org_id"]},
        "manage.moderate": {"activity_id": ids["pending_id"]},
        "manage.delete_holiday": {"period_id": ids["holiday_id"]},
        "editor.edit": {"activity_id": ids["activity_id"]},
        "editor.duplicate": {"activity_id": ids["activity_id"]},
        **{
            f"requests.{name}": {"request_id": ids[f"request_{name}"]}
            for name in ("detail", "confirm", "offer", "cancel", "outcome", "followup", "again")
        },
        "requests.new_link": {"request_id": ids["request_new_link"]},
        "requests.answer_offer": {"offer_id": ids["offer_id"], "answer": "accept"},
        "editor.status": {"activity_id": ids["activity_id"]},
    }.get(endpoint, {})
    return url_for(endpoint, **args).split("?")[0]


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_staff_route_for_every_role(
    app: Flask, client: FlaskClient, auth: AuthActions, objects: dict[str, int], role: str | None
) -> None:
    if role:
        assert auth.login(f"{role}@example.be").status_code == 302
    token = csrf_token(client, "/manage/" if role else "/login")
    forms = {
        "manage.change_user": {"role": "buddy", "active": "1"},
        "manage.moderate": {"decision": "send_back"},
        "editor.status": {"action": "pause"},
        "requests.confirm": {"session": "2026-12-09T13:00:00", "welcomer": "Fatima"},
        "requests.offer": {"buddy_id": str(objects["user_id"])},
        "requests.outcome": {"outcome": "went"},
        "requests.followup": {"answer": "still_goes"},
    }
    outcomes = {}
    with app.test_request_context():
        urls = {endpoint: _url(endpoint, objects) for endpoint in MATRIX}
    for endpoint, (method, allowed) in sorted(MATRIX.items(), key=lambda kv: kv[1][0]):
        if method == "GET":
            page = client.get(urls[endpoint])
        else:
            page = client.post(
                urls[endpoint], data={"csrf_token": token, **forms.get(endpoint, {})}
            )
        if role is None:
            expected = "login"
            got = (
                "login"
                if page.status_code == 302 and "/login" in page.headers["Location"]
                else page.status_code
            )
        elif role in allowed:
            expected = "ok"
            got = (
                "ok"
                if page.status_code in (200, 302)
                and "/login" not in page.headers.get("Location", "")
                else page.status_code
            )
        else:
            expected, got = 403, page.status_code
        outcomes[endpoint] = (expected, got)
    wrong = {k: v for k, v in outcomes.items() if v[0] != v[1]}
    assert wrong == {}


def test_a_refusal_says_so_in_the_users_language(
    client: FlaskClient, auth: AuthActions, staff: dict[str, Any]
) -> None:
    auth.login("buddy@example.be")
    page = client.get("/manage/audit?lang=en")
    assert page.status_code == 403
    assert "You may not open this page with your account." in page.get_data(as_text=True)

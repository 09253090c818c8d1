"""Hostile text in every field an organiser, a professional or a family can fill, then every
place that shows it: list, detail, map data, .ics, JSON, mails, the slip, the staff pages.
It must be shown as text, never run, never break the page (and never crash the database)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from finder.models import AccompanimentRequest, Activity, Outbox

from . import factories as f
from .conftest import AuthActions, csrf_token
from .test_editor import FORM

HOSTILE = [
    '<script>alert("x1")</script>',
    '"><img src=x onerror=alert("x2")>',
    "' onmouseover='alert(3)' data-x='",
    'javascript:alert("x4")',
    '<svg onload=alert("x5")><a href="javascript:alert(6)">',
    "\u202eevil\u202c \u2066isolated\u2069",
    "Lang" + "woord" * 40,
    "nul\x00byte",
    "'; DROP TABLE activity; --",
    "{{ 7*7 }} {% raw %} ${7*7} %(title)s",
    "</textarea></script></style><b>vet</b>",
]
# What a payload is shown as, once escaped; the raw forms must never appear.
RAW_MARKERS = [
    '<script>alert("x1")',
    "<img src=x onerror",
    "onmouseover='alert(3)'",
    '<svg onload=alert("x5")',
    "<b>vet</b>",
]


class _Tags(HTMLParser):
    """Every start tag and attribute of a page, as the browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith(("javascript:", "data:text")):
                self.problems.append(f"<{tag} {name}={value}>")
        if tag == "script" and "src" not in names and dict(attrs).get("type") != "application/json":
            self.problems.append("<script> that would run inline")
        if tag in ("img", "svg", "iframe", "object", "embed") and "data-x" in names:
            self.problems.append(f"<{tag}> from a payload")
        if tag == "b":
            self.problems.append("<b> from a payload")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies.append(data)


def assert_inert(html: str, where: str) -> None:
    parser = _Tags()
    parser.feed(html)
    assert parser.problems == [], (where, parser.problems)
    for marker in RAW_MARKERS:
        assert marker not in html, (where, marker)
    for body in parser.script_bodies:  # a payload closing our script would end it early
        assert "alert(" not in body or "\\u003c" in body or "&lt;" in body, (where, body[:200])


def _payload(i: int, limit: int = 150) -> str:
    return HOSTILE[i % len(HOSTILE)][:limit]


@pytest.fixture()
def hostile_world(
    app: Flask, client: FlaskClient, auth: AuthActions, staff: dict[str, Any], db: Session
) -> dict[str, Any]:
    """An organiser's activity, a family's request and a professional's referral, every text
    field filled with a hostile string; the organiser confirms with hostile words too."""
    from finder.web.limits import limiter

    limiter.reset()
    org = staff["organisation"]
    org.name = HOSTILE[1]
    org.website = HOSTILE[3]
    org.contact_phone = HOSTILE[2][:40]
    auth.login("organiser@example.be")
    fields = [
        "title",
        "summary",
        "description",
        "welcome_instructions",
        "street",
        "cost_note",
        "professional_contact",
    ]
    data = {**FORM, "exceptions": "", "action": "publish"}
    for i, name in enumerate(fields):
        data[name] = _payload(i, 200 if name != "street" else 190)
    data["title"] = HOSTILE[0] + " " + HOSTILE[8]
    data["csrf_token"] = csrf_token(client, "/manage/activities/new")
    saved = client.post("/manage/activities/new", data=data)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    activity = db.scalar(select(Activity).order_by(Activity.id.desc()))
    assert activity is not None and activity.status == "published"
    assert "\x00" not in activity.welcome_instructions  # NUL stripped, the rest kept as typed
    auth.logout()
    # A family asks, every field hostile.
    family = app.test_client()
    url = f"/activities/{activity.id}/come-along"
    asked = family.post(
        url + "?lang=ar",
        data={
            "csrf_token": csrf_token(family, url),
            "session": "any",
            "name": HOSTILE[1][:60],
            "channel": "email",
            "contact": "amal@example.be",
            "language": "ar",
            "adults": "1",
            "children": "0",
            "note": " ".join(HOSTILE)[:500],
            "consent": "y",
            "website": "",
        },
    )
    assert asked.status_code == 302, asked.get_data(as_text=True)[:300]
    status_url = asked.headers["Location"]
    # A professional refers, every field hostile.
    pro = app.test_client()
    AuthActions(pro).login("professional@example.be")
    ref_url = f"/manage/referrals/new?activity_id={activity.id}"
    slip = pro.post(
        ref_url,
        data={
            "csrf_token": csrf_token(pro, ref_url),
            "mode": "welcomer",
            "session": "any",
            "name": HOSTILE[4][:60],
            "language": "fa",
            "locale": "fa",
            "adults": "1",
            "children": "1",
            "channel": "",
            "contact": "",
            "share_note": HOSTILE[0],
            "bring": HOSTILE[9],
            "note": HOSTILE[10],
            "consent": "y",
        },
    )
    assert slip.status_code == 200, slip.get_data(as_text=True)[:300]
    referral = db.scalar(
        select(AccompanimentRequest).where(AccompanimentRequest.origin == "professional")
    )
    assert referral is not None
    organiser = app.test_client()
    AuthActions(organiser).login("organiser@example.be")
    starts = re.search(
        r'<option value="([0-9T:-]+)"',
        organiser.get(f"/manage/requests/{referral.id}").get_data(as_text=True),
    )
    assert starts is not None
    confirmed = organiser.post(
        f"/manage/requests/{referral.id}/confirm",
        data={
            "csrf_token": csrf_token(organiser, "/manage/"),
            "session": starts.group(1),
            "welcomer": HOSTILE[1][:100],
            "meeting_point": HOSTILE[4],
            "action": "confirm",
        },
    )
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)[:500]
    return {
        "activity": activity,
        "status_url": status_url,
        "slip": slip.get_data(as_text=True),
        "referral": referral,
        "family": family,
        "pro": pro,
        "organiser": organiser,
    }


def test_hostile_text_is_shown_as_text_everywhere(
    app: Flask, client: FlaskClient, hostile_world: dict[str, Any], db: Session
) -> None:
    w = hostile_world
    a: Activity = w["activity"]
    pages = {
        "results": client.get("/activities?where=9000&lang=nl"),
        "results ar": client.get("/activities?where=9000&lang=ar&q=" + HOSTILE[8]),
        "search for a payload": client.get("/activities?where=9000&q=" + HOSTILE[0]),
        "detail": client.get(f"/activities/{a.id}?lang=nl"),
        "come along": client.get(f"/activities/{a.id}/come-along?lang=fa"),
        "status": w["family"].get(w["status_url"]),
        "organiser's request": w["organiser"].get(f"/manage/requests/{w['referral'].id}"),
        "organiser's requests": w["organiser"].get("/manage/requests"),
        "organiser's activities": w["organiser"].get("/manage/activities/"),
        "editor": w["organiser"].get(f"/manage/activities/{a.id}"),
        "referrer's request": w["pro"].get(f"/manage/requests/{w['referral'].id}"),
    }
    for name, page in pages.items():
        assert page.status_code in (200, 400), (name, page.status_code)
        assert_inert(page.get_data(as_text=True), name)
    assert_inert(w["slip"], "slip")
    detail = pages["detail"].get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x1&#34;)&lt;/script&gt;" in detail  # shown, as text
    assert 'href="javascript:' not in detail and "nieuw.be" not in detail
    assert "{{ 7*7 }}" in pages["status"].get_data(as_text=True) or "49" not in detail
    # The map's data: every payload stays a JSON string, drawn with textContent by map.js.
    results = pages["results"].get_data(as_text=True)
    assert "</script><b>" not in results and "&lt;script&gt;" in results
    assert any(p[2] == a.title for p in f.results_map(client, results)["points"])
    # JSON: the same strings, as data.
    api = client.get(f"/api/v1/activities/{a.id}")
    assert api.status_code == 200 and json.loads(api.get_data())["title"].startswith("<script>")
    # The calendar file: one event per session, the text folded and escaped by icalendar.
    from icalendar import Calendar

    calendar = Calendar.from_ical(client.get(f"/activities/{a.id}.ics").get_data())
    events = calendar.walk("VEVENT")
    assert events and all(str(e["SUMMARY"]) == a.title for e in events)  # text, whole
    assert len(calendar.walk("VCALENDAR")) == 1
    # Mails: the HTML part escapes, the plain part is plain.
    for mail in db.scalars(select(Outbox)):
        assert_inert(mail.body_html, f"mail to {mail.to_address}: {mail.subject}")
        assert "\n" not in mail.subject and "\r" not in mail.subject
    htmls = " ".join(m.body_html for m in db.scalars(select(Outbox)))
    assert "&lt;script&gt;" in htmls and "&amp;lt;" not in htmls  # escaped once, readable


def test_null_bytes_and_overrides_never_reach_the_database(
    client: FlaskClient, hostile_world: dict[str, Any], db: Session
) -> None:
    for r in db.scalars(select(AccompanimentRequest)):
        for text in (r.family_name, r.note, r.share_note, r.bring, r.welcomer_name):
            assert "\x00" not in (text or "") and "\u202e" not in (text or "")
    # A search with a NUL in it is simply a search.
    assert client.get("/activities?where=9000&q=nul%00byte").status_code == 200
    assert client.get("/api/v1/activities?where=9000&q=%00").status_code in (200, 400)

"""axe-core, injected into Debian's Chromium: zero violations on every public and staff page,
in Dutch and in Arabic, at 360 px and at 1280 px, forms included with their errors showing;
and not one Content-Security-Policy violation on any of them.

axe comes from npm (node_modules/axe-core, installed by make test) and is added as an init
script, which the page's Content-Security-Policy does not block; every rule axe runs by
default counts, and what it finds is fixed in the product, never by leaving a rule out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select

from finder import accompaniment as acc
from finder import accounts
from finder.models import (
    Activity,
    BuddyProfile,
    Occurrence,
    Organisation,
    RequestOffer,
    User,
)

from . import show_map

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "een zin die ik onthoud"
WIDTHS = (360, 1280)
LANGS = ("nl", "ar")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Links(acc.Links):
    def status(self, raw: str, locale: str) -> str:
        return f"/r/{raw}"

    def staff(self, request: Any, locale: str) -> str:
        return f"/manage/requests/{request.id}"

    def offer(self, offer: RequestOffer, locale: str) -> str:
        return f"/manage/offers/{offer.id}"

    def people(self, locale: str) -> str:
        return "/manage/users"


@pytest.fixture(scope="module")
def world(live_app: Flask) -> dict[str, Any]:
    """One account per role, a buddy profile, and a family's request with an open offer."""
    database = live_app.extensions["meegaan_db"]
    now = _now()
    with database.session() as s, s.begin():
        org = s.scalar(select(Organisation).where(Organisation.verified.is_(True)).limit(1))
        assert org is not None
        activity = next(
            a
            for a in s.scalars(
                select(Activity)
                .where(Activity.status == "published", Activity.organisation_id == org.id)
                .order_by(Activity.id)
            )
            if s.scalar(
                select(Occurrence.id).where(
                    Occurrence.activity_id == a.id, Occurrence.starts_at > now
                )
            )
        )
        people = {}
        for role in ("professional", "organiser", "buddy", "coordinator", "admin"):
            email = f"a11y-{role}@example.be"
            user = s.scalar(select(User).where(User.email == email))
            if user is None:
                user = User(
                    email=email,
                    password_hash=accounts.hash_password(PASSWORD),
                    display_name=f"Axe {role}",
                    role=role,
                    organisation_id=org.id if role == "organiser" else None,
                    preferred_locale="nl",
                    active=True,
                    session_version=1,
                    created_at=now,
                )
                s.add(user)
                s.flush()
            people[role] = user
        if s.get(BuddyProfile, people["buddy"].id) is None:
            s.add(
                BuddyProfile(
                    user_id=people["buddy"].id,
                    languages=",nl,ar,",
                    postcode="9000",
                    lat=51.05,
                    lon=3.72,
                    radius_km=20,
                    availability="WE-pm",
                    max_open=3,
                    active=True,
                    updated_at=now,
                )
            )
        data = acc.FamilyInput(
            session="any",
            name="Amal",
            channel="phone",
            contact="0470 12 34 56",
            language="ar",
            adults=1,
            children=2,
            note="Met de buggy",
            consent=True,
        )
        checked = acc.check_input(s, activity, data, now, acc.RequestSettings())
        request, token = acc.create(
            s, activity, data, checked, "buddy", "ar", now, _Links(), people["professional"]
        )
        offer = acc.offer(s, request, people["coordinator"], people["buddy"], now, _Links())
        s.flush()
        return {
            "activity": activity.id,
            "request": request.id,
            "token": token,
            "offer": offer.id,
            "emails": {role: u.email for role, u in people.items()},
        }


def _axe(page: Page) -> list[dict[str, Any]]:
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "id": v["id"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:5]],
        }
        for v in violations
    ]


@pytest.fixture(scope="module")
def contexts(browser: Browser, live_server: str, world: dict[str, Any]) -> Iterator[Any]:
    """A browser context per (role, width): signed in once, axe injected in every page."""
    made: dict[tuple[str, int], BrowserContext] = {}
    script = AXE.read_text()

    def get(role: str, width: int) -> BrowserContext:
        key = (role, width)
        if key not in made:
            context = browser.new_context(viewport={"width": width, "height": 900}, locale="nl-BE")
            context.add_init_script(script=script)
            if role != "family":
                page = context.new_page()
                page.goto(f"{live_server}/login?lang=en")
                page.get_by_label("E-mail address").fill(world["emails"][role])
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/manage/**")
                page.close()
            made[key] = context
        return made[key]

    yield get
    for context in made.values():
        context.close()


def _submit(selector: str = "form.panel button[type=submit]") -> Callable[[Page], None]:
    """Send a form as it is (empty or half-filled) so that its errors show."""

    def act(page: Page) -> None:
        page.locator(selector).first.click()
        page.wait_for_load_state("load")

    return act


def _report_a_wrong_day(page: Page) -> None:
    """Send the "it did not take place" form with a day that is not in its list."""
    page.evaluate(
        """() => {
          const form = document.querySelector('form.panel');
          form.querySelectorAll('[name=session_date]').forEach((el) => el.remove());
          const day = document.createElement('input');
          Object.assign(day, {type: 'hidden', name: 'session_date', value: '2020-01-01'});
          form.appendChild(day);
        }"""
    )
    page.locator("form.panel button[type=submit]").click()
    page.wait_for_load_state("load")


def _refer(page: Page) -> None:
    """Send a complete referral: the page with the family's link and the printable slips."""
    page.locator("input[name=name]").fill("Olena")
    page.locator("select[name=language]").select_option("uk")
    page.locator("input[name=consent]").check()
    page.locator("form.panel button[type=submit]").click()
    page.wait_for_selector("article.slip")


# (name, role, path, action after loading). {a} activity, {r} request, {t} token, {o} offer.
PAGES: list[tuple[str, str, str, Callable[[Page], None] | None]] = [
    ("home", "family", "/", None),
    ("results with map", "family", "/activities?where=9000", show_map),
    ("results with grouped pins", "family", "/activities?where=9000&radius_km=100", show_map),
    ("results: unknown place", "family", "/activities?where=Gentt", None),
    ("detail", "family", "/activities/{a}", None),
    ("come along", "family", "/activities/{a}/come-along", None),
    ("come along with errors", "family", "/activities/{a}/come-along", _submit()),
    ("it did not take place", "family", "/activities/{a}/report", None),
    ("it did not take place, wrong day", "family", "/activities/{a}/report", _report_a_wrong_day),
    ("status", "family", "/r/{t}", None),
    ("cancel", "family", "/r/{t}/cancel", None),
    ("not found", "family", "/does-not-exist", None),
    ("login", "family", "/login", None),
    ("login with errors", "family", "/login", _submit("form button[type=submit]")),
    ("reset", "family", "/reset", None),
    ("dashboard", "organiser", "/manage/", None),
    ("activities", "organiser", "/manage/activities/", None),
    ("activities searched", "organiser", "/manage/activities/?q=koffie", None),
    ("editor", "organiser", "/manage/activities/new", None),
    ("editor with errors", "organiser", "/manage/activities/new", _submit("button[value=preview]")),
    ("organisation", "organiser", "/manage/organisation", None),
    ("people", "organiser", "/manage/users", None),
    ("request for the organiser", "organiser", "/manage/requests/{r}", None),
    ("requests", "coordinator", "/manage/requests", None),
    ("request for the coordinator", "coordinator", "/manage/requests/{r}", None),
    ("offer", "buddy", "/manage/requests/{r}", None),
    ("buddy profile", "buddy", "/manage/buddy-profile", None),
    ("buddy profile with errors", "buddy", "/manage/buddy-profile", _submit()),
    ("referral", "professional", "/manage/referrals/new?activity_id={a}", None),
    ("referral with errors", "professional", "/manage/referrals/new?activity_id={a}", _submit()),
    ("referral sent, with slips", "professional", "/manage/referrals/new?activity_id={a}", _refer),
    ("request for the referrer", "professional", "/manage/requests/{r}", None),
    ("admin dashboard", "admin", "/manage/", None),
    ("all activities, page 2 (search box, pages)", "admin", "/manage/activities/?page=2", None),
    ("figures", "admin", "/manage/requests", None),
    ("audit", "admin", "/manage/audit", None),
    ("moderation", "admin", "/manage/moderation", None),
    ("organisations", "admin", "/manage/organisations", None),
    ("holidays", "admin", "/manage/holidays", None),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("width", WIDTHS)
def test_axe_finds_nothing_on_any_page(
    contexts: Any, live_server: str, world: dict[str, Any], width: int, lang: str
) -> None:
    found: dict[str, Any] = {}
    csp: list[str] = []  # Chromium reports every blocked script or style in the console
    for name, role, path, action in PAGES:
        url = path.format(
            a=world["activity"], r=world["request"], t=world["token"], o=world["offer"]
        )
        page = contexts(role, width).new_page()
        page.on(
            "console",
            lambda m, name=name: (
                csp.append(f"{name}: {m.text}") if "Content Security Policy" in m.text else None
            ),
        )
        try:
            page.goto(f"{live_server}{url}{'&' if '?' in url else '?'}lang={lang}")
            if action is not None:
                action(page)
            violations = _axe(page)
            if violations:
                found[name] = violations
        finally:
            page.close()
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)
    assert csp == []

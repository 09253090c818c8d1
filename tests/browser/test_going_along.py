"""Going along, in Chromium: a family without JavaScript asks in Arabic, a professional refers
with a welcomer and prints the slip, a coordinator matches and a buddy accepts on a phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from finder import accounts
from finder.models import AccompanimentRequest, Activity, BuddyProfile, Occurrence, User

pytestmark = pytest.mark.browser
PASSWORD = "een zin die ik onthoud"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _activity_with_sessions(app: Flask) -> int:
    """A published demo activity with at least two sessions to come."""
    database = app.extensions["meegaan_db"]
    with database.session() as session:
        for activity in session.scalars(
            select(Activity).where(Activity.status == "published").order_by(Activity.id)
        ):
            upcoming = session.scalars(
                select(Occurrence).where(
                    Occurrence.activity_id == activity.id,
                    Occurrence.starts_at > _now(),
                    Occurrence.cancelled.is_(False),
                )
            ).all()
            if len(upcoming) >= 2 and activity.referral_capacity >= 1:
                return activity.id
    raise AssertionError("no demo activity with sessions")


def _user(app: Flask, email: str, role: str, name: str, **profile: Any) -> int:
    database = app.extensions["meegaan_db"]
    with database.session() as session, session.begin():
        existing = session.scalar(select(User).where(User.email == email))
        if existing is not None:
            return existing.id
        user = User(
            email=email,
            password_hash=accounts.hash_password(PASSWORD),
            display_name=name,
            role=role,
            preferred_locale="en",
            active=True,
            session_version=1,
            created_at=_now(),
        )
        session.add(user)
        session.flush()
        if profile:
            session.add(BuddyProfile(user_id=user.id, updated_at=_now(), **profile))
        return user.id


def _login(page: Page, server: str, email: str) -> None:
    page.goto(f"{server}/login?lang=en")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Overview")).to_be_visible()


def _errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_a_family_without_javascript_asks_in_arabic_and_follows_the_status_link(
    page_no_js: Page, live_app: Flask, live_server: str
) -> None:
    page = page_no_js
    activity_id = _activity_with_sessions(live_app)
    page.goto(f"{live_server}/activities/{activity_id}?lang=ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("link", name="اطلب من شخص أن يذهب معك").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("اطلب من شخص أن يذهب معك")
    page.locator("input[name=name]").fill("أمل")
    page.locator("input[name=channel][value=whatsapp]").check()
    page.locator("input[name=contact]").fill("0470 12")  # not complete
    page.locator("select[name=language]").select_option("ar")
    page.locator("input[name=children]").fill("2")
    page.locator("textarea[name=note]").fill("آتي مع عربة أطفال")
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="إرسال طلبي").click()
    # A clear message in Arabic; nothing typed is lost.
    expect(page.locator("#contact-error")).to_contain_text("رقم الهاتف هذا غير كامل")
    expect(page.locator("input[name=name]")).to_have_value("أمل")
    expect(page.locator("textarea[name=note]")).to_have_value("آتي مع عربة أطفال")
    expect(page.locator("input[name=consent]")).to_be_checked()
    page.locator("input[name=contact]").fill("0470 12 34 56")
    page.get_by_role("button", name="إرسال طلبي").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("طلبك للذهاب معًا")
    expect(page.get_by_role("heading", name="نبحث عن مرافق")).to_be_visible()
    link = page.locator("input[readonly]").input_value()
    assert re.search(r"/r/[\w-]{20,}", link)
    code = page.locator(".reference .code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}", code)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Later, from the saved link: the same page, and the family can cancel.
    page.goto(link)
    expect(page.locator(".reference .code")).to_have_text(code)
    page.get_by_role("link", name="إلغاء طلبي").click()
    page.get_by_role("button", name="نعم، ألغِ الطلب").click()
    expect(page.get_by_role("heading", name="أُلغي طلبك")).to_be_visible()


def test_a_professional_refers_with_a_welcomer_and_prints_the_slip(
    browser: Browser, live_app: Flask, live_server: str
) -> None:
    _user(live_app, "pro@example.be", "professional", "Sara")
    activity_id = _activity_with_sessions(live_app)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    errors = _errors(page)
    _login(page, live_server, "pro@example.be")
    page.goto(f"{live_server}/activities/{activity_id}?lang=en")
    page.get_by_role("link", name="Go there together with a family").click()
    page.get_by_label("A welcomer of the organiser receives them").check()
    page.get_by_label("First name or nickname of the family").fill("Olena")
    page.get_by_label("Language the family speaks best").select_option("uk")
    page.get_by_label("Language of the slip and the family's page").select_option("uk")
    page.get_by_label("What the family wants the organiser to know (optional)").fill(
        "First time in a group"
    )
    page.get_by_role("button", name="Send the referral").click()
    expect(page.locator("#consent-error")).to_be_visible()  # consent not given yet
    expect(page.get_by_label("First name or nickname of the family")).to_have_value("Olena")
    page.get_by_label("The family agreed that Meegaan keeps these details").check()
    page.get_by_role("button", name="Send the referral").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("is sent")
    slips = page.locator("article.slip")
    expect(slips).to_have_count(2)
    expect(slips.nth(0)).to_have_attribute("lang", "uk")
    expect(slips.nth(0)).to_contain_text("Ми йдемо туди разом")
    expect(slips.nth(1)).to_contain_text("We gaan er samen naartoe")
    expect(page.locator(".slip-map .leaflet-container")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator(".no-print")).to_be_hidden()
    pdf = page.pdf(prefer_css_page_size=True)
    pages = re.findall(rb"/Type\s*/Page(?!s)", pdf)
    assert pdf.startswith(b"%PDF") and len(pages) >= 2  # one A6 slip per language, the map
    assert not [e for e in errors if "Content Security Policy" in e]
    context.close()
    database = live_app.extensions["meegaan_db"]
    with database.session() as session:
        r = session.scalar(
            select(AccompanimentRequest).where(AccompanimentRequest.mode == "welcomer")
        )
        assert r is not None and r.locale == "uk" and r.share_note == "First time in a group"


def test_a_coordinator_matches_and_a_buddy_accepts_on_a_phone(
    browser: Browser, live_app: Flask, live_server: str, page: Page
) -> None:
    _user(live_app, "coord@example.be", "coordinator", "Cora")
    _user(
        live_app,
        "bea@example.be",
        "buddy",
        "Bea",
        languages=",nl,ar,",
        postcode="9000",
        lat=51.05,
        lon=3.72,
        radius_km=100,
        availability="",
        max_open=3,
        active=True,
    )
    activity_id = _activity_with_sessions(live_app)
    # A family asks (through the form, as families do).
    family = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    fp = family.new_page()
    fp.goto(f"{live_server}/activities/{activity_id}/come-along?lang=en")
    fp.get_by_label("Your first name or a nickname").fill("Yusuf")
    fp.get_by_label("Phone call").check()
    fp.get_by_label("Phone number or e-mail address").fill("+32 470 98 76 54")
    fp.get_by_label("Which language do you speak best?").select_option("ar")
    fp.locator("input[name=consent]").check()
    fp.get_by_role("button", name="Send my question").click()
    code = fp.locator(".reference .code").inner_text()
    family.close()
    # The coordinator, at a desk, offers it to Bea.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    cp = desk.new_page()
    _login(cp, live_server, "coord@example.be")
    cp.goto(f"{live_server}/manage/requests?lang=en")
    cp.get_by_role("link", name=re.compile(code)).click()
    suggestion = cp.locator(".suggestions li.panel").filter(has_text="Bea")
    expect(suggestion).to_contain_text("Speaks the family's language")
    suggestion.get_by_role("button", name="Offer to Bea").click()
    expect(cp.get_by_text("Offered to Bea.")).to_be_visible()
    desk.close()
    # Bea, on her phone, says yes and only then sees who and how to reach them.
    errors = _errors(page)
    _login(page, live_server, "bea@example.be")
    page.goto(f"{live_server}/manage/requests?lang=en")
    page.get_by_role("link", name=re.compile(code)).click()
    expect(page.get_by_text("Yusuf")).to_have_count(0)
    page.get_by_role("button", name="Yes, I go along").click()
    expect(page.get_by_text("Thank you! You go along.")).to_be_visible()
    expect(page.get_by_text("Yusuf")).to_be_visible()
    expect(page.get_by_role("link", name="+32470987654")).to_have_attribute(
        "href", "tel:+32470987654"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not [e for e in errors if "Content Security Policy" in e]

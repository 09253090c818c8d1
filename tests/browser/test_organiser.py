"""An invited organiser's first listing, in Chromium: from the invitation to a family's search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from finder import accounts
from finder.models import Organisation, User
from finder.schedule import to_local

pytestmark = pytest.mark.browser


def _invite(app: Flask) -> str:
    """An organiser account of a verified demo organisation, and its invitation token."""
    database = app.extensions["meegaan_db"]
    now = datetime.now(UTC).replace(tzinfo=None)
    with database.session() as session, session.begin():
        org = session.scalar(select(Organisation).where(Organisation.verified.is_(True)).limit(1))
        assert org is not None
        user = User(
            email="nieuw@example.be",
            display_name="Nora",
            role="organiser",
            organisation_id=org.id,
            preferred_locale="en",
            active=True,
            session_version=1,
            created_at=now,
        )
        session.add(user)
        session.flush()
        return accounts.issue_token(session, user, "invite", now)


def test_invited_organiser_publishes_a_weekly_activity_that_a_family_finds(
    browser: Browser, live_app: Flask, live_server: str
) -> None:
    token = _invite(live_app)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server}/invite/{token}?lang=en")
    page.get_by_label("New password").fill("een zin die ik onthoud")
    page.get_by_label("Type the same password again").fill("een zin die ik onthoud")
    page.get_by_role("button", name="Save my password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello Nora")

    page.get_by_role("link", name="Add an activity").first.click()
    today = to_local(datetime.now(UTC).replace(tzinfo=None)).date()
    next_week = today + timedelta(days=7)
    page.get_by_label("Name of the activity").fill("Soepmoment Zuidpark")
    page.get_by_label("Kind of activity").select_option("cooking_eating")
    page.get_by_label("In one sentence: what happens?").fill("Samen soep eten.")
    page.get_by_label("Street and number").fill("Zuidparklaan 3")
    page.get_by_label("Postcode").fill("9000")
    page.get_by_label("Every week", exact=True).check()
    page.locator("#weekdays").get_by_label(today.strftime("%A"), exact=True).check()
    page.get_by_label("First date").fill(today.isoformat())
    page.get_by_label("From", exact=True).fill("10:00")
    page.get_by_label("Until", exact=True).fill("11:30")
    page.get_by_label("Not on these dates (optional)").fill(next_week.strftime("%d-%m-%Y"))
    page.locator("#tags").get_by_label("Free drinks").check()
    page.get_by_role("button", name="Show what families will see").click()

    preview = page.locator("#preview-title + p")
    expect(preview).to_contain_text(f"Every {today.strftime('%A')}")
    expect(preview).to_contain_text("10:00–11:30")
    expect(page.get_by_text(f"Not on {next_week.strftime('%A')}")).to_be_visible()
    expect(page.get_by_label("Name of the activity")).to_have_value("Soepmoment Zuidpark")

    page.get_by_role("button", name="Save and publish").click()
    expect(page.get_by_text("Saved. The activity is online.")).to_be_visible()

    # The point is the postcode's (no network here); dragging the pin corrects it.
    before = page.get_by_label("Latitude (optional)").input_value()
    pin = page.locator("#pin-map .leaflet-marker-icon")
    expect(pin).to_be_visible()
    box = pin.bounding_box()
    assert box is not None
    pin.drag_to(page.locator("#pin-map"), target_position={"x": 40, "y": 40})
    after = page.get_by_label("Latitude (optional)").input_value()
    assert after and after != before
    page.get_by_role("button", name="Save and publish").click()
    expect(page.get_by_text("Saved. The activity is online.")).to_be_visible()

    family = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    search = family.new_page()
    search.goto(f"{live_server}/activities?where=9000&q=soepmoment&lang=en")
    card = search.locator("li.card", has_text="Soepmoment Zuidpark")
    expect(card).to_be_visible()
    expect(card.get_by_text("Free drinks")).to_be_visible()
    family.close()
    context.close()
    assert errors == []  # no CSP violation on the staff pages either

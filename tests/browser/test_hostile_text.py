"""Hostile text in a live listing, in Chromium: nothing runs (no dialog, no CSP report of an
inline script), the page keeps its shape at 360 px, the map popup shows the text."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser

from .. import factories as f
from ..test_injection import HOSTILE
from . import show_map

pytestmark = pytest.mark.browser


def test_nothing_hostile_runs_in_the_browser(
    browser: Browser, live_app: Flask, live_server: str
) -> None:
    database = live_app.extensions["meegaan_db"]
    with database.session() as s, s.begin():
        org = f.organisation(s, name=HOSTILE[1])
        a = f.activity(
            s,
            org=org,
            title=HOSTILE[0],
            summary=HOSTILE[4],
            description="\n".join(HOSTILE),
            welcome_instructions=HOSTILE[6],
            street=HOSTILE[2][:100],
            cost_note=HOSTILE[10],
        )
        activity_id = a.id
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    for path in (
        f"/activities/{activity_id}?lang=ar",
        f"/activities/{activity_id}/come-along?lang=nl",
        "/activities?where=9000&q=alert&lang=nl",
    ):
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        assert page.locator("h1").count() == 1
    # The map popup of the hostile listing: its title, as text.
    show_map(page)
    assert page.locator(".leaflet-interactive").count() == 1
    page.locator(".leaflet-interactive").first.click(force=True)
    assert page.locator(".leaflet-popup-content").inner_text().startswith(HOSTILE[0])
    assert dialogs == []
    assert [e for e in errors if "Content Security Policy" in e] == []
    context.close()

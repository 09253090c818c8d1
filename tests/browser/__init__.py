"""Browser tests (Playwright driving Debian's Chromium)."""

from __future__ import annotations

from playwright.sync_api import Page


def show_map(page: Page) -> None:
    """Scroll to the results map, as a family does, and wait until map.js has drawn it (it
    loads Leaflet and the pins only then)."""
    page.locator("#map").scroll_into_view_if_needed()
    page.wait_for_selector("#map.leaflet-container .leaflet-interactive, #map .marker-cluster")

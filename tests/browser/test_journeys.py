"""A family's journey in Chromium at 360 px: search 9000, tick free drinks, open a result."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from . import show_map

pytestmark = pytest.mark.browser


def _watch(page: Page, base: str) -> tuple[list[str], list[str]]:
    """Collect requests to other hosts and console errors (CSP violations show up there)."""
    foreign: list[str] = []
    errors: list[str] = []
    own = urlsplit(base).netloc
    page.on(
        "request",
        lambda r: (
            foreign.append(r.url)
            if urlsplit(r.url).scheme in ("http", "https") and urlsplit(r.url).netloc != own
            else None
        ),
    )
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return foreign, errors


def _no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _search_free_drinks(page: Page, base: str) -> None:
    page.goto(f"{base}/?lang=en")
    page.get_by_label("Where? Postcode or town").fill("9000")
    page.get_by_text("What matters to you?").click()
    page.get_by_text("Free drinks", exact=True).first.click()
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/activities?**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Activities near Gent")


def test_search_filter_and_open_with_javascript(page: Page, live_server: str) -> None:
    foreign, errors = _watch(page, live_server)
    _search_free_drinks(page, live_server)
    assert "tag=free_drinks" in page.url
    cards = page.locator("li.card")
    count = cards.count()
    assert count >= 3
    expect(cards.first.get_by_text("Free drinks")).to_be_visible()
    _no_horizontal_scroll(page)
    # The map shows every match (up to MAP_MAX_MARKERS), the list pages through them.
    found = int(page.locator("#results-title").inner_text().split()[0])
    assert found >= count
    show_map(page)
    markers = page.locator(".leaflet-overlay-pane path.leaflet-interactive")
    expect(markers).to_have_count(min(found, 200))
    markers.last.dispatch_event("click")  # as a tap; another pin or an animation may overlap
    expect(page.locator(".leaflet-popup-content a")).to_be_visible()
    title = cards.first.locator("h3 a").inner_text()
    cards.first.locator("h3 a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_role("link", name="Add the next time to my calendar")).to_be_visible()
    _no_horizontal_scroll(page)
    assert foreign == [] and errors == []


def test_same_journey_without_javascript(page_no_js: Page, live_server: str) -> None:
    page = page_no_js
    foreign, _errors = _watch(page, live_server)
    _search_free_drinks(page, live_server)
    cards = page.locator("li.card")
    assert cards.count() >= 3
    expect(page.locator("[data-locate]")).to_be_hidden()
    assert (
        page.locator(".leaflet-interactive").count() == 0
    )  # no map without JS: the list is the answer
    expect(page.locator("#map .map-note")).to_have_text(
        "The map only works with JavaScript. The list above has the same activities."
    )
    _no_horizontal_scroll(page)
    cards.first.locator("h3 a").click()
    expect(page.get_by_role("link", name="Add the next time to my calendar")).to_be_visible()
    assert foreign == []


def test_no_page_requests_another_host(page: Page, live_server: str) -> None:
    foreign, errors = _watch(page, live_server)
    for path in (
        "/",
        "/activities?where=Gent",
        "/activities?where=2060&when=week",
        "/activities?where=Gentt",
        "/activities/1",
        "/does-not-exist",
    ):
        page.goto(live_server + path + ("&" if "?" in path else "?") + "lang=nl")
        page.wait_for_load_state("networkidle")
    assert foreign == []
    # The unknown place (400) and the missing page (404) are meant; anything else (CSP) is not.
    expected = ("status of 400", "status of 404")
    assert [e for e in errors if not any(x in e for x in expected)] == []


def test_unknown_place_is_said_kindly_with_suggestions(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/?lang=en")
    page.get_by_label("Where? Postcode or town").fill("Gentt")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#where-error")).to_contain_text("We do not know the place “Gentt”")
    expect(page.get_by_label("Where? Postcode or town")).to_have_value("Gentt")
    page.locator("#where-error").get_by_role("link", name="Gent", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Activities near Gent")


def test_use_my_location(browser: Browser, live_server: str) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        geolocation={"latitude": 51.0536, "longitude": 3.7304},
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.goto(f"{live_server}/?lang=en")
    page.get_by_role("button", name="Use my location").click()
    page.wait_for_url("**/activities?**")
    assert "lat=51.0536" in page.url and "lon=3.7304" in page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Activities near Gent")
    assert page.locator("li.card").count() >= 3
    context.close()


@pytest.mark.parametrize(
    "path", ["/?lang=nl", "/activities?where=9000&lang=nl", "/activities/1?lang=nl"]
)
def test_usable_at_200_percent_zoom(browser: Browser, live_server: str, path: str) -> None:
    """A 360 px phone at 200% zoom leaves 180 CSS pixels: nothing may need sideways scrolling."""
    context = browser.new_context(viewport={"width": 180, "height": 640})
    page = context.new_page()
    page.goto(live_server + path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 180
    context.close()


def test_the_map_loads_when_a_family_scrolls_to_it(page: Page, live_server: str) -> None:
    """Leaflet and the pins cost nothing to a family who reads only the list."""
    foreign, errors = _watch(page, live_server)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(f"{live_server}/activities?where=9000&radius_km=100&lang=en")
    page.wait_for_load_state("networkidle")
    assert page.locator("li.card").count() == 20
    assert [u for u in asked if "/activities/map" in u or "leaflet" in u] == []
    expect(page.locator("#map .map-note")).to_have_text("Loading the map…")
    page.get_by_role("link", name="See these activities on a map").click()  # under the count
    assert page.url.endswith("#map-title")
    show_map(page)
    assert any("/activities/map?" in u and "lang=en" in u for u in asked)
    assert any("leaflet.js" in u for u in asked) and any("markercluster" in u for u in asked)
    expect(page.locator("#map .map-note")).to_have_count(0)
    page.locator("#map .marker-cluster").first.dispatch_event("click")  # opens the group
    page.locator(".leaflet-overlay-pane path.leaflet-interactive").first.dispatch_event("click")
    expect(page.locator(".leaflet-popup-content a")).to_be_visible()
    assert foreign == [] and errors == []


def test_a_map_that_cannot_load_says_so(page: Page, live_server: str) -> None:
    page.route("**/activities/map?**", lambda route: route.fulfill(status=503, body="busy"))
    page.goto(f"{live_server}/activities?where=9000&lang=en")
    page.locator("#map").scroll_into_view_if_needed()
    expect(page.locator("#map .map-note")).to_have_text(
        "The map could not be loaded. The list above has the same activities."
    )
    expect(page.locator("li.card").first).to_be_visible()  # the list is all there

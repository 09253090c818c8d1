"""Arabic and Ukrainian in Chromium at 360 px: direction, no overflow, the language kept."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from . import show_map

pytestmark = pytest.mark.browser

# Elements whose content is wider than their box (text sticking out), ignoring the map.
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
  .filter(el => !el.closest('.map-box') && el.clientWidth > 0
          && getComputedStyle(el).overflowX === 'visible'
          && el.scrollWidth > el.clientWidth + 1)
  .map(el => el.tagName + '.' + el.className + ': ' + (el.textContent || '').trim().slice(0, 40))"""


def _check_layout(page: Page, lang: str) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("lang", lang)
    expect(html).to_have_attribute("dir", "rtl" if lang in ("ar", "fa") else "ltr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate(OVERFLOWING) == []


@pytest.mark.parametrize(
    ("lang", "heading"), [("ar", "أنشطة قرب Gent"), ("uk", "Заходи поруч із Gent")]
)
def test_results_and_detail_pages(
    browser: Browser, live_server: str, lang: str, heading: str
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server}/activities?where=9000&tag=free_drinks&lang={lang}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    _check_layout(page, lang)
    page.locator("li.card h3 a").first.click()
    expect(page.locator("section .dates li")).not_to_have_count(0)
    _check_layout(page, lang)
    context.close()


@pytest.mark.parametrize("lang", ["ar", "uk"])
def test_language_is_kept_through_links_and_the_search_form(
    browser: Browser, live_server: str, lang: str
) -> None:
    """Without the cookie's help (cleared before every step) and with an English browser."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server}/?lang={lang}")
    context.clear_cookies()
    page.locator("#where").fill("Gent")
    page.locator("form.search button[type=submit]").click()
    page.wait_for_url("**/activities?**")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    for link in ("nav.pages a[rel=next], .order a", "li.card h3 a", "a.brand"):
        context.clear_cookies()
        page.locator(link).first.click()
        page.wait_for_load_state()
        expect(page.locator("html")).to_have_attribute("lang", lang)
    context.close()


def test_map_popup_in_arabic_is_readable(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/activities?where=9000&lang=ar")
    show_map(page)
    pins = page.locator(".leaflet-overlay-pane path.leaflet-interactive")
    pins.last.dispatch_event("click")  # as a tap; another pin or an animation may overlap
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_be_visible()
    assert popup.locator("a[dir=auto]").count() == 1
    # Leaflet pans the map to show the whole popup; wait for that to settle.
    page.wait_for_function(
        """() => {
            const r = document.querySelector('.leaflet-popup-content').getBoundingClientRect();
            return r.left >= 0 && r.right <= 360;
        }"""
    )

"""What a family's phone really downloads: every response of each public page in Chromium,
summed as transferred (compressed, headers included), against DESIGN §8's budgets; map tiles
aside. A request to any host but the app's fails the test."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Response

from . import show_map

pytestmark = pytest.mark.browser
KB = 1024
# (path, JavaScript on, scrolled to the map, budget in KB)
PAGES = [
    ("/?lang=nl", True, False, 40),
    ("/activities?where=9000&lang=nl", False, False, 40),  # the list, JavaScript off
    ("/activities?where=9000&lang=nl", True, False, 40),  # the list: no map until scrolled to
    ("/activities?where=9000&lang=nl", True, True, 120),  # with the map
    # every demo pin
    ("/activities?where=9000&radius_km=100&per_page=100&lang=ar", True, True, 120),
    ("/activities/1?lang=nl", True, False, 40),
    ("/activities/1/come-along?lang=ar", True, False, 40),
    ("/login?lang=nl", True, False, 40),
]


@pytest.mark.parametrize(("path", "js", "with_map", "budget_kb"), PAGES)
def test_page_weight_within_budget(
    browser: Browser, live_server: str, path: str, js: bool, with_map: bool, budget_kb: int
) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, java_script_enabled=js, is_mobile=True
    )
    page = context.new_page()
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r))
    page.goto(live_server + path)
    page.wait_for_load_state("networkidle")
    if with_map:
        show_map(page)
        page.wait_for_load_state("networkidle")
    own = urlsplit(live_server).netloc
    foreign = [r.url for r in responses if urlsplit(r.url).netloc != own]
    counted = [r for r in responses if not r.url.endswith("tile.png")]
    total = 0
    for r in counted:
        sizes = r.request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    html = responses[0]
    assert html.headers.get("content-encoding") in ("br", "gzip")
    context.close()
    assert foreign == []
    assert total <= budget_kb * KB, f"{path}: {total / KB:.1f} KB > {budget_kb} KB"
    shown = "with the map" if with_map else "JS on" if js else "JS off"
    print(f"{path} ({shown}): {total / KB:.1f} KB in {len(counted)} responses")


def test_results_page_with_the_place_suggestions_within_budget(
    browser: Browser, live_server: str
) -> None:
    """A family who types in the where field also downloads /places.json (every locality,
    municipality and neighbourhood name): the results page stays within its 40 KB with it."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r))
    page.goto(live_server + "/activities?where=9000&lang=nl")
    page.wait_for_load_state("networkidle")
    page.locator("#where").focus()
    page.wait_for_function("document.querySelectorAll('#places option').length > 2000")
    page.wait_for_load_state("networkidle")
    total = sum(
        r.request.sizes()["responseBodySize"] + r.request.sizes()["responseHeadersSize"]
        for r in responses
    )
    places = [r for r in responses if "/places.json" in r.url]
    context.close()
    assert len(places) == 1
    assert total <= 40 * KB, f"{total / KB:.1f} KB > 40 KB"
    print(f"results with the place suggestions: {total / KB:.1f} KB in {len(responses)} responses")

"""Keyboard only, in Chromium: the skip link comes first and is seen, focus is always visible,
the map is no trap, and every field in error names its message (aria-describedby)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from . import show_map

pytestmark = pytest.mark.browser


def _focused(page: Page) -> dict[str, str]:
    result: dict[str, str] = page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          const box = el.getBoundingClientRect();
          return {
            tag: el.tagName, text: (el.innerText || el.value || '').trim().slice(0, 40),
            id: el.id || '', cls: el.className && el.className.baseVal === undefined
              ? el.className : '',
            outline: style.outlineStyle + ' ' + style.outlineWidth,
            shadow: style.boxShadow, visible: String(box.width > 0 && box.height > 0
              && box.bottom > 0 && box.right > 0 && box.left < innerWidth),
            inMap: String(!!el.closest('.leaflet-container')),
            inFooter: String(!!el.closest('footer')),
          };
        }"""
    )
    return result


def _shows_focus(state: dict[str, str]) -> bool:
    return (not state["outline"].startswith("none") and not state["outline"].endswith(" 0px")) or (
        state["shadow"] not in ("", "none")
    )


@pytest.mark.parametrize("width", [360, 1280])
def test_the_skip_link_comes_first_and_focus_is_always_visible(
    browser: Browser, live_server: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/activities?where=9000&lang=nl")
    show_map(page)  # drawn when it comes near the screen; tabbing is faster than that
    page.evaluate("window.scrollTo(0, 0)")
    page.keyboard.press("Tab")
    first = _focused(page)
    assert first["cls"] == "skip" and first["visible"] == "true" and _shows_focus(first)
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "main"
    # Tab through the whole page: every stop shows its focus, and the map lets go.
    seen_map = reached_footer_side = False
    for _ in range(400):
        page.keyboard.press("Tab")
        state = _focused(page)
        if state["tag"] == "BODY":
            reached_footer_side = True
            break
        assert _shows_focus(state), state
        seen_map = seen_map or state["inMap"] == "true"
        if seen_map and state["inMap"] == "false":
            reached_footer_side = True
            break
    assert seen_map, "the map's controls are reachable by keyboard"
    assert reached_footer_side, "focus leaves the map again"
    context.close()


def test_fields_in_error_name_their_message(browser: Browser, live_server: str) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/activities/1/come-along?lang=ar")
    page.locator("form.panel button[type=submit]").click()
    page.wait_for_load_state("load")
    problems = page.evaluate(
        """() => [...document.querySelectorAll('[aria-invalid=true]')].flatMap(el => {
          const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
          const texts = ids.map(id => document.getElementById(id)).filter(Boolean)
            .map(d => d.innerText.trim()).filter(Boolean);
          return texts.length ? [] : [el.name || el.id];
        })"""
    )
    invalid = page.locator("[aria-invalid=true]").count()
    assert invalid >= 3 and problems == []
    # The summary's links take the keyboard straight to each field.
    page.locator(".error-summary a").first.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash").startswith("#")
    context.close()

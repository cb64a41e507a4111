"""Issue 15 on the location page, in a real browser: reached from a service search it lists only that
service, grouped by clinician, one time per link whose name holds the time it shows; it fits a phone
(390×844) and a laptop (1366×900) without sideways scrolling, in English and in Spanish, with no
axe-core violation, by keyboard and without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import NEAR_ZIP, RADIUS, Shots, World

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SIZES = [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")]
LANGUAGES = [pytest.param("en", id="en"), pytest.param("es", id="es")]
SERVICE = "primary care"
# What a Spanish page must not say: the location page's English (its data, names, stay as published).
ENGLISH = ("Next week", "Previous week", "Who can book", "Open times", "Times are", "Call ", "updated", "Showing")
_TIME = {
    "en": re.compile(r"\b\d{1,2}:\d\d\s[AP]M\s[A-Z]{2,4}\b"),
    "es": re.compile(r"\b\d{1,2}:\d\d\s[ap]\.\s?m\.\s[A-Z]{2,4}\b"),
}


# Each link's text as seen (without what is there only for those who hear the page), its whole text
# (its accessible name, having no aria-label) and its aria-label.
_SHOWN_AND_NAME = """links => links.map(a => {
  const seen = a.cloneNode(true);
  seen.querySelectorAll('.vh').forEach(hidden => hidden.remove());
  return [seen.textContent.trim(), a.textContent, a.getAttribute('aria-label')];
})"""


def _mixed_location(world: World) -> tuple[int, list[str]]:
    """A location with primary care and another service (the generated neurology), and its services."""
    answer = httpx.get(
        f"{world.discovery}/api/search",
        params={"near": NEAR_ZIP, "radius": RADIUS, "per_location": "50", "limit": "50"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()["locations"]
    for location in found:
        names = {slot.get("service") or "" for slot in location["slots"]}
        if len(names) > 1 and any(SERVICE in name.lower() for name in names):
            return int(location["pk"]), sorted(names)
    raise AssertionError(f"no location offers {SERVICE} and another service: {found}")


def _open(new_context: Callable[..., Any], size: dict[str, int], **options: Any) -> Page:
    page: Page = new_context(**options).new_page()
    page.set_viewport_size(size)
    return page


def _no_sideways_scroll(page: Page) -> None:
    sizes = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"the page scrolls sideways: {sizes} at {page.url}"
    # Nothing cut: every time link lies within the window's width.
    for box in page.locator("a[href^='/go/']").evaluate_all(
        "links => links.map(a => { const r = a.getBoundingClientRect(); return [r.left, r.right]; })"
    ):
        assert box[0] >= 0, f"a time is cut at {box}: {page.url}"
        assert box[1] <= sizes[1], f"a time is cut at {box}: {page.url}"


def _calendar_url(world: World, pk: int, **query: str) -> str:
    return f"{world.discovery}/locations/{pk}" + (("?" + urlencode(query)) if query else "")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
def test_a_service_calendar_lists_only_that_service_grouped_by_clinician(
    world: World, new_context: Callable[..., Any], shot: Shots, size: dict[str, int], language: str
) -> None:
    pk, services = _mixed_location(world)
    page = _open(new_context, size)
    # Spanish is chosen once, as the language switch does; the pages after remember it.
    page.goto(_calendar_url(world, pk, service=SERVICE, lang=language))
    expect(page.locator("html")).to_have_attribute("lang", language)
    shot(page, "service")

    # Only the service asked for: one service heading, clinicians under it, no other service's times.
    headings = page.get_by_role("heading", level=2)
    expect(headings).to_have_count(1)
    expect(headings.first).to_have_text(re.compile(SERVICE, re.I))
    expect(page.get_by_role("heading", level=3).first).to_be_visible()
    others = [name for name in services if SERVICE not in name.lower()]
    for name in others:
        expect(page.get_by_text(name, exact=True)).to_have_count(0)

    # One time per link; each link's name is its own text and holds the time it shows.
    links = page.locator("main a[href^='/go/']")
    expect(links.first).to_be_visible()
    names = links.evaluate_all(_SHOWN_AND_NAME)
    assert len({text for _visible, text, _label in names}) == len(names), "two times sound the same"
    for visible, text, label in names:
        assert label is None
        assert len(_TIME[language].findall(visible)) == 1, visible  # one time, as shown, per link
        assert visible.strip() in text, (visible, text)
    _no_sideways_scroll(page)
    assert_accessible(page)

    text = page.locator("main").inner_text()
    if language == "es":
        for words in ENGLISH:
            assert words not in text, words
        assert "Semana siguiente" in text
    else:
        assert re.search(r"Times are [A-Z][a-z]+ Time", text)
        assert re.search(r"\bToday\b|\bTomorrow\b|\b[A-Z][a-z]+day, [A-Z][a-z]+ \d{1,2}\b", text)

    # The whole place, from the page's own way out: every service again, still no sideways scroll.
    page.locator(f"a[href='/locations/{pk}']").click()
    expect(page.get_by_role("heading", level=2).first).to_be_visible()
    assert page.get_by_role("heading", level=2).count() >= len(services)
    for name in others:
        expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()
    shot(page, "every-service")
    _no_sideways_scroll(page)
    assert_accessible(page)

    # The next week keeps working (and may be empty): still within the page, still accessible.
    page.locator("nav.weeks a").last.click()
    expect(page).to_have_url(re.compile(r"from=\d{4}-\d\d-\d\d"))
    shot(page, "next-week")
    _no_sideways_scroll(page)
    assert_accessible(page)


def test_the_calendar_works_by_keyboard_without_javascript(
    world: World, new_context: Callable[..., Any], shot: Shots
) -> None:
    pk, _services = _mixed_location(world)
    page = _open(new_context, PHONE, java_script_enabled=False)
    page.goto(_calendar_url(world, pk, service=SERVICE))
    first = page.locator("main a[href^='/go/']").first
    href = first.get_attribute("href")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == href:
            break
    else:
        raise AssertionError("the first time was not reached by Tab")
    shot(page, "focused")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"^(?!.*/locations/)"))  # the time's /go/ link leads to the portal
    assert any(page.url.startswith(p.origin + "/") for p in world.providers), page.url

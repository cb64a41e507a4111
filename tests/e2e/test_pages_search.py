"""The discovery search pages in a real browser, on a phone (390×844) and a desktop (1366×900), in
English and Spanish (issue 15): results first on a phone, a compact bar with the filters behind
"Filters", one time per link named by its visible text, plain messages with the way out, the /go
fallback pages that never offer the time just taken and lead back to the search, "my bookings".
axe-core checks every page state; screenshots are kept under test-artifacts/e2e."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from slotlinks.discovery.store import tables as t
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import LOCAL_ZONE, NEAR_ZIP, Shots, World
from tests.english import english_words

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
WORDS = {
    "en": {
        "zip": "ZIP code",
        "service": "Service",
        "from": "From date",
        "search": "Search",
        "filters": "Filters",
        "distance": "Distance",
        "near": f"Appointments near {NEAR_ZIP}",
        "no_match": "No open times found",
        "bookings": "My bookings",
        "back": "Back to your search",
        "taken": "This time is taken",
        "gone": "This time is no longer listed",
    },
    "es": {
        "zip": "Código postal",
        "service": "Servicio",
        "from": "Desde la fecha",
        "search": "Buscar",
        "filters": "Filtros",
        "distance": "Distancia",
        "near": f"Citas cerca de {NEAR_ZIP}",
        "no_match": "No encontramos horarios disponibles",
        "bookings": "Mis citas",
        "back": "Volver a su búsqueda",
        "taken": "Este horario ya está ocupado",
        "gone": "Este horario ya no aparece",
    },
}
# Publishers' data shown as published: names of places, services and clinicians are not our words.
_DATA = re.compile(r"Ocean State Health|Narragansett Care|Primary care visit|Neurology")


@pytest.fixture(params=[(size, lang) for size in SIZES for lang in WORDS], ids=lambda p: f"{p[0]}-{p[1]}")
def patient(request: pytest.FixtureRequest, new_context: Callable[..., Any]) -> tuple[Page, str, str]:
    """A fresh browser of the given size; the tests choose its language once with the switch's
    `?lang=`, then its cookie remembers it."""
    size, lang = request.param
    page = new_context().new_page()
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    return page, size, lang


def _tomorrow() -> str:
    return (datetime.now(LOCAL_ZONE).date() + timedelta(days=1)).isoformat()


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide at {page.viewport_size}"


def _spanish_only(page: Page, lang: str) -> None:
    if lang == "es":
        text = _DATA.sub(" ", page.locator("body").inner_text())
        assert not english_words(text), english_words(text)


def _check(page: Page, shot: Shots, lang: str, step: str) -> None:
    """Every page state: axe-core finds nothing, no sideways scroll, no English on a Spanish page."""
    assert_accessible(page)
    _no_sideways_scroll(page)
    _spanish_only(page, lang)
    shot(page, step)


def test_results_come_first_and_each_time_is_one_named_link(
    patient: tuple[Page, str, str], world: World, shot: Shots
) -> None:
    page, size, lang = patient
    words = WORDS[lang]
    page.goto(f"{world.discovery}/?lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    # The bar: place, service (suggested from the data), date; the rest behind "Filters".
    expect(page.get_by_label(words["distance"])).to_be_hidden()
    _check(page, shot, lang, "home")
    page.get_by_label(words["zip"], exact=True).fill(NEAR_ZIP)
    service = page.get_by_label(words["service"], exact=True)
    service.fill("primary care")
    suggestions = page.locator("#service-names option")
    assert suggestions.count() >= 2
    assert any("primary care" in (o or "").lower() for o in suggestions.evaluate_all("n => n.map(o => o.value)"))
    page.get_by_label(words["from"]).fill(_tomorrow())
    page.get_by_text(words["filters"], exact=True).click()
    expect(page.get_by_label(words["distance"])).to_be_visible()
    page.get_by_label(words["distance"]).fill("50mi")
    _check(page, shot, lang, "filters-open")
    page.get_by_role("button", name=words["search"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["near"])
    summary = page.locator("p.summary")
    expect(summary).to_contain_text("primary care")
    expect(summary).to_contain_text("50")

    first = page.locator("ol.results > li").first.locator("ul.times a").first
    expect(first).to_be_visible()
    assert page.evaluate("window.scrollY") == 0
    box = first.bounding_box()
    assert box is not None
    height = SIZES[size][1]
    bottom = box["y"] + box["height"]
    (shot.folder / "first-time.txt").write_text(f"first time's bottom edge: {bottom:.0f}px of a {height}px screen\n")
    assert bottom <= height, f"the first time ends at {bottom:.0f}px of {height}"
    # One time per link, its visible text its whole name, 12-hour with the zone.
    label = first.inner_text()
    expect(first).to_have_accessible_name(label)
    pattern = r"(Tomorrow|[A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}), \d{1,2}:\d\d [AP]M E[SD]T"
    if lang == "es":
        pattern = r"(Mañana|[a-zé]{3}, \d{1,2} [a-z]{3}), \d{1,2}:\d\d [ap]\.\s?m\. E[SD]T"
    assert re.match(pattern, label), label
    # The location link keeps the search's filters; the time carries the search to /go.
    place = page.locator("ol.results > li h3 a").first
    expect(place).to_have_attribute("href", re.compile(r"^/locations/\d+\?service=primary\+care&from="))
    expect(first).to_have_attribute("href", re.compile(r"^/go/\d+\?near=" + NEAR_ZIP + "&radius=50mi&service="))
    _check(page, shot, lang, "results")


def test_plain_messages_with_the_way_out(patient: tuple[Page, str, str], world: World, shot: Shots) -> None:
    page, _size, lang = patient
    words = WORDS[lang]
    page.goto(f"{world.discovery}/search?near=abcde&lang={lang}")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("02114")
    expect(alert).not_to_contain_text("parameter")
    expect(page.get_by_label(words["zip"], exact=True)).to_have_value("abcde")
    _check(page, shot, lang, "unknown-place")

    page.goto(f"{world.discovery}/search?near={NEAR_ZIP}&radius=50mi&service=zzzz")
    expect(page.get_by_role("heading", name=words["no_match"], level=2)).to_be_visible()
    offered = page.locator("ul.suggest a")
    expect(offered.first).to_be_visible()
    _check(page, shot, lang, "no-such-service")
    name = offered.first.inner_text()
    offered.first.click()
    expect(page.get_by_label(words["service"], exact=True)).to_have_value(name)
    expect(page.locator("ol.results > li").first).to_be_visible()
    shot(page, "suggested-service")


def _a_later_slot(world: World) -> tuple[int, int]:
    """A time five days out at the first location (no other test takes one so late): (slot, location)."""
    later = (datetime.now(LOCAL_ZONE).date() + timedelta(days=5)).isoformat()
    found = httpx.get(
        f"{world.discovery}/api/search",
        params={"near": NEAR_ZIP, "radius": "50mi", "service": "primary care", "from": later, "per_location": "2"},
        timeout=30,
    ).json()
    first = found["locations"][0]
    return int(first["slots"][-1]["link"].rsplit("/", 1)[-1]), int(first["pk"])


def test_the_go_pages_never_offer_the_taken_time_and_lead_back(
    patient: tuple[Page, str, str], world: World, shot: Shots
) -> None:
    page, _size, lang = patient
    words = WORDS[lang]
    slot, _location = _a_later_slot(world)
    search = f"near={NEAR_ZIP}&radius=50mi&service=primary+care"
    with world.store.write() as conn:  # taken since the results were shown
        conn.execute(update(t.slot).where(t.slot.c.pk == slot).values(status="busy"))
    try:
        page.goto(f"{world.discovery}/go/{slot}?{search}&lang={lang}")
        expect(page.get_by_role("heading", name=words["taken"], level=1)).to_be_visible()
        offered = page.locator("ul.times a")
        expect(offered.first).to_be_visible()
        hrefs = offered.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if h.startswith(f"/go/{slot}?")], hrefs
        assert all(h.endswith("?" + search) for h in hrefs), hrefs
        _check(page, shot, lang, "taken")
    finally:
        with world.store.write() as conn:
            conn.execute(update(t.slot).where(t.slot.c.pk == slot).values(status="free"))

    page.goto(f"{world.discovery}/go/999999999?{search}")
    expect(page.get_by_role("heading", name=words["gone"], level=1)).to_be_visible()
    _check(page, shot, lang, "no-longer-listed")
    page.get_by_role("link", name=words["back"]).click()
    expect(page).to_have_url(f"{world.discovery}/search?{search}")
    expect(page.locator("ol.results > li").first).to_be_visible()


def test_my_bookings_and_status(patient: tuple[Page, str, str], world: World, shot: Shots) -> None:
    page, _size, lang = patient
    words = WORDS[lang]
    page.goto(f"{world.discovery}/my-bookings?lang={lang}")
    expect(page.get_by_role("heading", name=words["bookings"], level=1)).to_be_visible()
    _check(page, shot, lang, "no-bookings")
    # A time followed to its portal (not held there) is listed with what, with whom, where and when.
    slot, _location = _a_later_slot(world)
    page.goto(f"{world.discovery}/go/{slot}?near={NEAR_ZIP}&service=primary+care")
    expect(page).to_have_url(re.compile(r"/book/"))
    page.goto(f"{world.discovery}/my-bookings")
    entry = page.locator("ol.referrals > li").first
    expect(entry.get_by_role("heading", level=2)).to_contain_text(re.compile("primary care", re.I))
    expect(entry.locator("dl")).to_contain_text(re.compile(r"E[SD]T"))
    _check(page, shot, lang, "my-bookings")
    page.goto(f"{world.discovery}/status")
    _check(page, shot, lang, "status")


def test_the_search_works_without_javascript(new_context: Callable[..., Any], world: World, shot: Shots) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{world.discovery}/")
    page.get_by_label("ZIP code", exact=True).fill(NEAR_ZIP)
    page.get_by_label("Service", exact=True).fill("primary care")
    page.get_by_text("Filters", exact=True).click()  # a native disclosure: no script needed
    page.get_by_label("Distance").fill("50mi")
    page.get_by_label("Accepting new patients").check()
    shot(page, "filled-without-javascript")
    page.get_by_role("button", name="Search with these filters").click()
    expect(page).to_have_url(re.compile(r"/search\?.*new_patients=true"))
    expect(page.locator("ol.results > li").first).to_be_visible()
    expect(page.get_by_role("button", name="Filters (2 on)")).to_have_count(0)  # a summary, not a button
    expect(page.locator("details.filters > summary")).to_have_text("Filters (2 on)")
    shot(page, "results-without-javascript")

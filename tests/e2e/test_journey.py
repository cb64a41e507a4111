"""A patient's journey through real servers in a real browser: search on the discovery server, follow
a result's deep link into the provider's portal, hold, answer, book, and come back; the ineligible
answers that release the time; and a time another patient holds first."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import orjson
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import LOCAL_ZONE, NEAR_ZIP, RADIUS, SOURCE_ID, Shots, World

pytestmark = pytest.mark.browser

PATIENT = {"Full name": "Ada Lovelace", "Mobile phone": "401-555-0100"}
# A result's time as the discovery page writes it: `Tue, Nov 24, 9:00 AM EST`, or `Today, ...`,
# `Tomorrow, ...` (the location's local time and zone).
_WHEN = re.compile(
    r"^(?:(?P<rel>Today|Tomorrow)|(?P<wd>[A-Z][a-z]{2}), (?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2})), "
    r"(?P<time>\d{1,2}:\d\d [AP]M) E[SD]T"
)


@dataclass
class Choice:
    """A slot chosen on the results page."""

    location: str
    when: re.Match[str]
    href: str

    @property
    def day(self) -> tuple[str, str, str]:
        """(weekday, month, day of month), each as the page abbreviates it: `Tue`, `Nov`, `24`."""
        w = self.when
        if w["rel"]:
            today = datetime.now(LOCAL_ZONE).date()
            when = today + timedelta(days=0 if w["rel"] == "Today" else 1)
            return f"{when:%a}", f"{when:%b}", str(when.day)
        return w["wd"], w["mon"], w["day"]

    @property
    def portal_when(self) -> re.Pattern[str]:
        """The same time as the portal writes it: `Tuesday, November 24, 9:00 AM`."""
        wd, mon, day = self.day
        return re.compile(rf"{wd}[a-z]*, {mon}[a-z]* {day}, {re.escape(self.when['time'])}")


def search(page: Page, world: World, shot: Shots, service: str) -> None:
    """The search form, filled from the keyboard through its labels (in tab order), the distance
    behind "Filters" opened from the keyboard, submitted with Enter."""
    page.goto(world.discovery + "/")
    expect(page.get_by_role("heading", name="Find an appointment", level=1)).to_be_visible()
    expect(page.get_by_role("search", name="Find appointments")).to_be_visible()
    shot(page, "search-page")
    near = page.get_by_label("ZIP code", exact=True)
    near.focus()
    page.keyboard.type(NEAR_ZIP)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Service", exact=True)).to_be_focused()
    page.keyboard.type(service)
    # From tomorrow: a time minutes away could pass while the test books it.
    tomorrow = datetime.now(LOCAL_ZONE).date() + timedelta(days=1)
    page.get_by_label("From date").fill(tomorrow.isoformat())
    # (Tab inside a date field walks its month, day and year first.)
    page.get_by_role("button", name="Search", exact=True).focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # opens "Filters"
    page.keyboard.press("Tab")
    distance = page.get_by_label("Distance")
    expect(distance).to_be_focused()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(RADIUS)
    expect(near).to_have_value(NEAR_ZIP)
    expect(distance).to_have_value(RADIUS)
    shot(page, "search-filled")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Appointments near {NEAR_ZIP}")
    expect(page.get_by_role("heading", name=re.compile(r"^\d+ locations? with open times"))).to_be_visible()
    shot(page, "results")


def choose(page: Page, *, result: int = 0, slot: int = 0) -> Choice:
    """Picks a slot on the results page (by position: result, then slot; negative counts from the end)."""
    results = page.locator("ol.results > li")
    expect(results.first).to_be_visible()
    item = results.nth(result) if result >= 0 else results.nth(results.count() + result)
    location = item.get_by_role("heading", level=3).inner_text().strip()
    times = item.get_by_role("list", name=f"Open times at {location}").get_by_role("link")
    expect(times.first).to_be_visible()
    link = times.nth(slot) if slot >= 0 else times.nth(times.count() + slot)
    label = link.inner_text().strip()
    when = _WHEN.match(label)
    assert when, label
    href = link.get_attribute("href") or ""
    assert href.startswith("/go/"), href
    link.click()
    return Choice(location, when, href)


def check_landing(page: Page, world: World, choice: Choice, service: str) -> str:
    """The portal's landing page shows what, where and when (local), and received our handles.
    Returns the booking-referral."""
    expect(page.get_by_role("heading", name="Book this appointment", level=1)).to_be_visible()
    provider = world.provider_at(page.url)
    assert urlsplit(page.url).path.startswith("/book/"), page.url
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("source") == [SOURCE_ID], page.url
    referral = query["booking-referral"][0]
    assert len(referral) >= 16
    card = page.locator(".card")
    expect(card).to_contain_text(service)
    expect(card).to_contain_text(choice.location)
    expect(card).to_contain_text(choice.portal_when)
    expect(card).to_contain_text(re.compile(r" (EST|EDT) \(Eastern Time, local time at the location\)"))
    expect(page.locator("header").locator('a[href^="tel:"]')).to_be_visible()  # the clinic's phone, on every page
    assert choice.location.startswith(provider.name)
    expect(page.locator('input[type="hidden"][name="source"]')).to_have_value(SOURCE_ID)
    expect(page.locator('input[type="hidden"][name="booking-referral"]')).to_have_value(referral)
    return referral


def hold(page: Page) -> None:
    """Continues from the landing: the deciding questions first where the visit has any, else the details."""
    page.get_by_role("button", name="Continue with this time").click()
    heading = re.compile(r"^(A few questions first|Almost done)$")
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("holding this time for you until")


def answer_questions(page: Page, *, has_referral: bool) -> bool:
    """Answers the provider's questions when the form asks any (the neurology one is known);
    True when there were questions."""
    questions = page.get_by_role("group", name=re.compile(r"^Before your"))
    if questions.count() == 0:
        return False
    referral = questions.get_by_role("group", name=re.compile(r"Do you have a referral"))
    referral.get_by_label("Yes" if has_referral else "No", exact=True).check()
    if has_referral:
        questions.get_by_role("group", name=re.compile(r"Which condition")).get_by_label("Migraine").check()
    return True


def fill_birth_date(
    scope: Any, iso: str, names: tuple[str, str, str, str] = ("Date of birth", "Month", "Day", "Year")
) -> None:
    """Types a date of birth (YYYY-MM-DD) into the form's three labelled fields: month, day, year."""
    year, month, day = iso.split("-")
    group = scope.get_by_role("group", name=names[0])
    for label, value in zip(names[1:], (month, day, year), strict=True):
        group.get_by_label(label, exact=True).fill(value)


def fill_patient(page: Page) -> None:
    about = page.get_by_role("group", name="About you")
    for label, value in PATIENT.items():
        about.get_by_label(label, exact=True).fill(value)
    fill_birth_date(about, "1980-12-10")
    for label, value in PATIENT.items():
        expect(about.get_by_label(label, exact=True)).to_have_value(value)


def referral_outcome(world: World, page_url: str, referral: str) -> dict[str, Any]:
    """The provider's answer about our referral, asked with the secret we registered."""
    provider = world.provider_at(page_url)
    answer = httpx.get(
        f"{provider.origin}/referrals/{referral}",
        headers={"Authorization": f"Bearer {provider.secret}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_search_book_and_come_back(page: Page, world: World, shot: Shots) -> None:
    service = "Primary care visit"
    search(page, world, shot, "primary care")
    choice = choose(page)
    referral = check_landing(page, world, choice, service)
    landing_url = page.url
    shot(page, "portal-landing")

    hold(page)
    if answer_questions(page, has_referral=True):
        shot(page, "questions")
        page.get_by_role("button", name="Continue", exact=True).click()
        expect(page.get_by_role("heading", name="Almost done", level=1)).to_be_visible()
    fill_patient(page)
    shot(page, "details")
    page.get_by_role("button", name="Book this appointment").click()

    expect(page.get_by_role("heading", name="You're booked", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your appointment is confirmed")
    card = page.locator(".card")
    expect(card).to_contain_text(service)
    expect(card).to_contain_text(choice.location)
    expect(card).to_contain_text(choice.portal_when)
    ics = page.get_by_role("link", name="Add to your calendar (.ics)")
    cancel = page.get_by_role("link", name="Cancel this appointment")
    expect(ics).to_have_attribute("href", re.compile(r"/appointment\.ics\?token="))
    expect(cancel).to_have_attribute("href", re.compile(r"/cancel\?token="))
    shot(page, "confirmed")
    calendar = page.context.request.get(urljoin(page.url, ics.get_attribute("href") or ""))
    assert calendar.ok
    assert "BEGIN:VEVENT" in calendar.text()
    assert f"SUMMARY:{service}" in calendar.text()

    outcome = referral_outcome(world, landing_url, referral)
    assert outcome["outcome"] == "booked", outcome
    assert outcome["source"] == SOURCE_ID

    results_url = world.discovery + "/search?" + urlsplit(choice.href).query
    page.get_by_role("link", name="Back to your search").click()
    expect(page).to_have_url(re.compile("^" + re.escape(world.discovery + "/")))
    if world.has_back and world.has_my_referrals:
        # Back on the results the time was chosen from, which now show the booking...
        expect(page).to_have_url(results_url)
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"Appointments near {NEAR_ZIP}")
        expect(page.locator("ol.results .badge-booked").first).to_be_visible()
        shot(page, "back-on-results")
        # ...and the discovery server learnt the outcome from the portal and lists it for this browser.
        page.get_by_role("link", name="My bookings").first.click()
        expect(page.get_by_role("heading", name="My bookings", level=1)).to_be_visible()
        entry = page.locator(f"#referral-{referral}")
        expect(entry.get_by_role("heading", level=2)).to_have_text(re.compile("primary care", re.I))
        expect(entry).to_contain_text(choice.location)
        expect(entry).to_contain_text("Booked")
        _wd, mon, day = choice.day
        expect(entry).to_contain_text(re.compile(rf"{mon}[a-z]* {day}, {re.escape(choice.when['time'])} E[SD]T"))
    else:
        expect(page.get_by_role("heading", name="Find an appointment", level=1)).to_be_visible()
    shot(page, "back-on-discovery")


def test_no_referral_is_not_eligible_and_frees_the_time(page: Page, world: World, shot: Shots) -> None:
    search(page, world, shot, "neurology")
    choice = choose(page)
    referral = check_landing(page, world, choice, "Neurology")
    landing_url = page.url
    slot_id = urlsplit(landing_url).path.removeprefix("/book/")
    shot(page, "portal-landing")

    hold(page)
    expect(page.get_by_role("heading", name="A few questions first", level=1)).to_be_visible()
    assert answer_questions(page, has_referral=False), "neurology asks about a referral first"
    # Asked before anything about the patient (issue 13).
    expect(page.get_by_role("group", name="About you")).to_have_count(0)
    shot(page, "questions-answered")
    page.get_by_role("button", name="Continue", exact=True).click()

    expect(page.get_by_role("heading", name="We can't book this appointment online", level=1)).to_be_visible()
    assert_accessible(page)
    expect(page.get_by_text("Neurology visits need a referral")).to_be_visible()
    phone = page.locator("main p").filter(has_text="we will help you").locator('a[href^="tel:"]')
    expect(phone).to_be_visible()
    expect(phone).to_have_attribute("href", re.compile(r"^tel:\+?\d{10,}$"))
    expect(page.get_by_role("link", name="Back to your search")).to_be_visible()
    shot(page, "not-eligible")

    outcome = referral_outcome(world, landing_url, referral)
    assert (outcome["outcome"], outcome.get("reason")) == ("called-off", "ineligible"), outcome
    # The time is free again: in the FHIR read and in the next publication.
    fhir = world.provider_at(landing_url).fhir
    with httpx.Client(timeout=30) as client:
        read = client.get(f"{fhir}/Slot/{slot_id}")
        assert read.status_code == 200, read.text
        assert read.json()["status"] == "free"
        manifest = client.get(f"{fhir}/$bulk-publish").json()
        published = None
        for output in manifest["output"]:
            if output["type"] != "Slot":
                continue
            for line in client.get(output["url"]).content.splitlines():
                if f'"id":"{slot_id}"'.encode() in line:
                    published = orjson.loads(line)
        assert published is not None, f"slot {slot_id} is not in the publication"
        assert published["status"] == "free"


def test_a_double_clicked_continue_holds_the_time_for_the_patient(page: Page, world: World, shot: Shots) -> None:
    search(page, world, shot, "primary care")
    # The first result's last time: the other tests take its first time and the last result's.
    choice = choose(page, result=0, slot=-1)
    check_landing(page, world, choice, "Primary care visit")
    # Both clicks submit the form; the second must land on the first one's hold, not "taken".
    page.get_by_role("button", name="Continue with this time").dblclick(delay=30)
    expect(page.get_by_role("heading", name="Almost done", level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("holding this time for you until")
    shot(page, "double-clicked-continue")


def test_a_held_time_is_no_longer_available_to_another_patient(
    new_context: Callable[[], Any], world: World, shot: Shots
) -> None:
    first = new_context().new_page()
    second = new_context().new_page()
    search(first, world, shot, "primary care")
    # Not the first result's first time, which another test books.
    choice = choose(first, result=-1, slot=-1)
    check_landing(first, world, choice, "Primary care visit")
    slot_url = first.url.split("?")[0]
    # The second patient follows the same result to the portal before the first one continues...
    second.goto(world.discovery + choice.href)
    expect(second.get_by_role("heading", name="Book this appointment", level=1)).to_be_visible()
    assert second.url.split("?")[0] == slot_url
    shot(second, "second-landing")
    # ...the first one holds it...
    hold(first)
    shot(first, "first-holds")
    # ...and the second one's "Continue" finds it taken, with other times offered.
    second.get_by_role("button", name="Continue with this time").click()
    expect(second.get_by_role("heading", name="This time is no longer available", level=1)).to_be_visible()
    others = second.get_by_role("heading", name=re.compile(r"^Other times for Primary care visit at "), level=2)
    expect(others).to_be_visible()
    offered = second.locator("ul.times a")
    expect(offered.first).to_be_visible()
    expect(second.get_by_role("link", name="Back to your search")).to_be_visible()
    shot(second, "second-unavailable")
    # A third patient following the result now is told by the discovery server, before leaving it.
    third = new_context().new_page()
    third.goto(world.discovery + choice.href)
    expect(third).to_have_url(re.compile("^" + re.escape(world.discovery + "/go/")))
    expect(third.get_by_role("heading", name="This time was just taken", level=1)).to_be_visible()
    expect(third.get_by_role("heading", name=re.compile(r"^Next open times at "), level=2)).to_be_visible()
    shot(third, "third-just-taken")
    # One of the other times is bookable.
    offered.first.click()
    expect(second.get_by_role("heading", name="Book this appointment", level=1)).to_be_visible()
    assert second.url.split("?")[0] != slot_url
    assert parse_qs(urlsplit(second.url).query).get("source") == [SOURCE_ID]
    shot(second, "second-other-time")

"""The deciding questions first (issue 13), in a real browser from the search tool's results: a
patient without a referral is turned away by keyboard alone, with JavaScript off, before any field
for personal data is ever on screen; a patient with one answers, gives details and books, and
every page on the way passes axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import Shots, World
from tests.e2e.test_journey import check_landing, choose, fill_birth_date, referral_outcome, search

pytestmark = pytest.mark.browser

PERSONAL = "input[name=name], input[name^=birthDate], input[name=phone], input[name=email]"


def _no_personal_fields(page: Page) -> None:
    expect(page.locator(PERSONAL)).to_have_count(0)
    expect(page.get_by_role("group", name="About you")).to_have_count(0)


def _tab_to(page: Page, name: str, limit: int = 30) -> None:
    """Presses Tab until the button `name` has the focus: it is reachable from the keyboard."""
    button = page.get_by_role("button", name=name, exact=True)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if button.evaluate("b => b === document.activeElement"):
            return
    raise AssertionError(f"{name!r} is not reachable with Tab")


def _choose_radio(page: Page, group: str, label: str) -> None:
    """Selects a radio button from the keyboard: focus its group, then arrow to it and Space."""
    radios = page.get_by_role("group", name=re.compile(group)).get_by_role("radio")
    radios.first.focus()
    for _ in range(radios.count()):
        if page.evaluate("() => document.activeElement.labels[0].textContent.trim()") == label:
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    expect(page.get_by_role("group", name=re.compile(group)).get_by_label(label, exact=True)).to_be_checked()


def test_without_a_referral_the_patient_never_meets_a_personal_field(
    new_context: Callable[..., Any], world: World, shot: Shots
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    search(page, world, shot, "neurology")
    choice = choose(page, result=0, slot=1)
    referral = check_landing(page, world, choice, "Neurology")
    landing_url = page.url
    _no_personal_fields(page)
    _tab_to(page, "Continue with this time")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="A few questions first", level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("holding this time for you until")
    expect(page.locator("#countdown")).to_have_text("")  # no script ran: the page works without one
    _no_personal_fields(page)
    shot(page, "deciding-questions")
    _choose_radio(page, r"Do you have a referral", "No")
    _tab_to(page, "Continue")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="We can't book this appointment online", level=1)).to_be_visible()
    expect(page.get_by_text("Neurology visits need a referral")).to_be_visible()
    expect(page.locator("main p").filter(has_text="we will help you").locator('a[href^="tel:"]')).to_be_visible()
    _no_personal_fields(page)
    shot(page, "not-eligible")
    outcome = referral_outcome(world, landing_url, referral)
    assert (outcome["outcome"], outcome.get("reason")) == ("called-off", "ineligible"), outcome


def test_with_a_referral_the_patient_answers_then_books_and_every_page_passes_axe(
    page: Page, world: World, shot: Shots
) -> None:
    search(page, world, shot, "neurology")
    choice = choose(page, result=-1, slot=2)
    referral = check_landing(page, world, choice, "Neurology")
    landing_url = page.url
    assert_accessible(page)
    page.get_by_role("button", name="Continue with this time").click()

    expect(page.get_by_role("heading", name="A few questions first", level=1)).to_be_visible()
    _no_personal_fields(page)
    assert_accessible(page)
    # Continue without answering: the questions again, with their messages, still nothing personal.
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Please correct")
    _no_personal_fields(page)
    assert_accessible(page)
    shot(page, "deciding-questions-unanswered")
    _choose_radio(page, r"Do you have a referral", "Yes")
    _choose_radio(page, r"Which condition", "Migraine")
    _tab_to(page, "Continue")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Almost done", level=1)).to_be_visible()
    expect(page.locator("#countdown")).to_contain_text("left)")  # this browser runs the page's script
    answers = page.locator(".card").filter(has=page.get_by_role("heading", name="Your answers", level=2))
    expect(answers).to_contain_text("Migraine")
    expect(page.get_by_role("radio", name="Yes")).to_have_count(0)
    assert_accessible(page)
    about = page.get_by_role("group", name="About you")
    about.get_by_label("Full name", exact=True).focus()
    page.keyboard.type("Ada Lovelace")
    fill_birth_date(about, "1980-12-10")
    about.get_by_label("Mobile phone", exact=True).focus()
    page.keyboard.type("401-555-0100")
    shot(page, "details")
    _tab_to(page, "Book this appointment")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="You're booked", level=1)).to_be_visible()
    assert_accessible(page)
    shot(page, "booked")
    assert referral_outcome(world, landing_url, referral)["outcome"] == "booked"

"""The provider's booking portal in a real browser (issue 15), at a phone's size (390×844) and a
desktop's (1366×900), in English and in Spanish: every page state a patient can meet (landing, the
deciding questions, the details form with and without errors, confirmation, cancellation, the time
released, no longer available with other times, another browser's hold, an expired form) and the
staff pages pass axe-core, scroll no wider than the screen, and name the provider in their header;
a Spanish patient books and cancels meeting none of our English words. Screenshots of every state
are kept under test-artifacts/e2e."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ADMIN_TOKEN, RunningProvider, Shots, World
from tests.e2e.test_journey import fill_birth_date
from tests.english import english_words
from tests.portal.conftest import PATIENT, Browser

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
WORDS = {
    "en": {
        "continue": "Continue with this time",
        "book": "Book this appointment",
        "booked": "You're booked",
        "cancel_link": "Cancel this appointment",
        "cancel_yes": "Yes, cancel my appointment",
        "cancelled": "Your appointment is cancelled",
        "about": "About you",
        "name": "Full name",
        "phone": "Mobile phone",
        "birth": ("Date of birth", "Month", "Day", "Year"),
        "release": "Cancel and release this time",
        "released": "Time released",
        "unavailable": "This time is no longer available",
        "other_browser": "This booking was started in another browser",
        "start_again": "Please start again",
        "first": "A few questions first",
        "screen": "Continue",
        "no": "No",
        "not_eligible": "We can't book this appointment online",
        "reference": "Booking reference",
    },
    "es": {
        "continue": "Continuar con este horario",
        "book": "Reservar esta cita",
        "booked": "Su cita está reservada",
        "cancel_link": "Cancelar esta cita",
        "cancel_yes": "Sí, cancelar mi cita",
        "cancelled": "Su cita está cancelada",
        "about": "Sus datos",
        "name": "Nombre completo",
        "phone": "Teléfono celular",
        "birth": ("Fecha de nacimiento", "Mes", "Día", "Año"),
        "release": "Cancelar y liberar este horario",
        "released": "Horario liberado",
        "unavailable": "Este horario ya no está disponible",
        "other_browser": "Esta reserva se inició en otro navegador",
        "start_again": "Por favor, empiece de nuevo",
        "first": "Primero, unas preguntas",
        "screen": "Continuar",
        "no": "No",
        "not_eligible": "No podemos reservar esta cita en línea",
        "reference": "Número de reserva",
    },
}
CASES = [(size, lang) for lang in ("en", "es") for size in SIZES]


def _free_slots(provider: RunningProvider, *, questions: bool, service: str | None = None) -> list[str]:
    """Free future slots of schedules that ask no questionnaire (or, with `questions`, the neurology
    one), a few hours ahead so no test meets a slot that starts while it runs."""
    from slotlinks.provider.portal.questionnaires import questionnaire_for_schedule
    from slotlinks.provider.store import tables as t

    soon = int((datetime.now(UTC) + timedelta(hours=3)).timestamp() * 1000)
    s, sc = t.slot.c, t.schedule.c
    found: list[str] = []
    with provider.store.read() as conn:
        rows = conn.execute(
            select(s.id, s.schedule_id, sc.resource)
            .join(t.schedule, sc.id == s.schedule_id)
            .where(s.active, s.status == "free", s.booked == 0, s.start_ms > soon)
            .order_by(s.start_ms, s.id)
        ).all()
        asks: dict[str, bool] = {}
        for row in rows:
            if service is not None and service not in row.resource:
                continue
            if row.schedule_id not in asks:
                asks[row.schedule_id] = questionnaire_for_schedule(conn, row.schedule_id) is not None
            if asks[row.schedule_id] == questions:
                found.append(row.id)
    return found


def _context(new_context: Callable[..., Any], size: str) -> Page:
    width, height = SIZES[size]
    page: Page = new_context().new_page()
    page.set_viewport_size({"width": width, "height": height})
    return page


@dataclass(frozen=True)
class Patient:
    """One case's patients: each a fresh browser at the case's size, speaking its language."""

    new_context: Callable[..., Any]
    size: str
    lang: str

    def slots(
        self, provider: RunningProvider, *, questions: bool, service: str | None = None, count: int = 1
    ) -> list[str]:
        """`count` free slots of this case's own (`_free_slots`), so no two cases meet each other's."""
        first = count * CASES.index((self.size, self.lang))
        return _free_slots(provider, questions=questions, service=service)[first : first + count]

    def opens(self, provider: RunningProvider, slot_id: str) -> Page:
        """A new patient's browser opening the slot's booking page as a patient would: through the
        language switch's `?lang=`, which the portal then remembers for the pages that follow."""
        page = _context(self.new_context, self.size)
        page.goto(f"{provider.origin}/book/{slot_id}?lang={self.lang}")
        return page


@pytest.fixture
def patient(new_context: Callable[..., Any], size: str, lang: str) -> Patient:
    return Patient(new_context, size, lang)


def _check(page: Page, shot: Shots, step: str, lang: str, provider: RunningProvider | None = None) -> None:
    """One page state: axe-core finds nothing, nothing scrolls sideways, the provider is named, and a
    Spanish page shows none of our English words outside the provider's own data."""
    expect(page.locator("html")).to_have_attribute("lang", lang)
    if provider is not None:
        expect(page.locator("header .provider")).to_have_text(provider.name)
    assert_accessible(page)
    wide = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert wide <= 0, f"{step}: the page is {wide}px wider than the screen"
    if lang == "es":
        # The provider's data (its name, places, services, clinicians, the answers it lists) is shown
        # as published; everything else is ours and must be Spanish.
        text = page.evaluate(
            """() => {
              const copy = document.body.cloneNode(true);
              const data = 'script, style, .provider, .card dd, .times a, .languages';
              copy.querySelectorAll(data).forEach(n => n.remove());
              return copy.innerText;
            }"""
        )
        for slot_data in page.locator(".card dd").all_inner_texts():
            text = text.replace(slot_data, "")
        assert not english_words(text), (step, english_words(text), text)
    shot(page, step)


@pytest.mark.parametrize(("size", "lang"), CASES)
def test_a_patient_books_and_cancels(patient: Patient, world: World, shot: Shots, size: str, lang: str) -> None:
    words = WORDS[lang]
    provider = world.providers[0]
    (slot_id,) = patient.slots(provider, questions=False)
    page = patient.opens(provider, slot_id)
    expect(page.get_by_role("button", name=words["continue"])).to_be_visible()
    _check(page, shot, "landing", lang, provider)
    page.get_by_role("button", name=words["continue"]).click()

    expect(page.get_by_role("button", name=words["book"])).to_be_visible()
    _check(page, shot, "details", lang, provider)
    page.get_by_role("button", name=words["book"]).click()
    expect(page.locator(".field-error").first).to_be_visible()
    _check(page, shot, "details-errors", lang, provider)

    about = page.get_by_role("group", name=words["about"])
    about.get_by_label(words["name"], exact=True).fill("Rosa Almeida")
    about.get_by_label(words["phone"], exact=True).fill("401-555-0142")
    fill_birth_date(about, "1981-04-28", words["birth"])
    page.get_by_role("button", name=words["book"]).click()
    expect(page.get_by_role("heading", name=words["booked"], level=1)).to_be_visible()
    reference = page.locator(".reference")
    expect(reference).to_have_text(re.compile(r"^[2-9A-HJKMNP-Z]{4} [2-9A-HJKMNP-Z]{4}$"))
    assert reference.inner_text().replace(" ", "") in page.url, "the link names the booking by its reference"
    _check(page, shot, "booked", lang, provider)

    page.get_by_role("link", name=words["cancel_link"]).click()
    expect(page.get_by_role("button", name=words["cancel_yes"])).to_be_visible()
    _check(page, shot, "cancel", lang, provider)
    page.get_by_role("button", name=words["cancel_yes"]).click()
    expect(page.get_by_role("heading", name=words["cancelled"], level=1)).to_be_visible()
    _check(page, shot, "cancelled", lang, provider)


@pytest.mark.parametrize(("size", "lang"), CASES)
def test_the_pages_that_do_not_book(patient: Patient, world: World, shot: Shots, size: str, lang: str) -> None:
    words = WORDS[lang]
    provider = world.providers[1]
    held_slot, released_slot = patient.slots(provider, questions=False, count=2)
    holder = patient.opens(provider, held_slot)
    holder.get_by_role("button", name=words["continue"]).click()
    expect(holder.get_by_role("button", name=words["book"])).to_be_visible()
    hold_url = holder.url

    other = patient.opens(provider, held_slot)
    expect(other.get_by_role("heading", name=words["unavailable"], level=1)).to_be_visible()
    expect(other.locator("ul.times a").first).to_be_visible()
    expect(other.locator("ul.times a").first).to_have_text(re.compile(r"\d:\d\d\s?[AaPp]\.?\s?[Mm]\.? [A-Z]{2,4}$"))
    _check(other, shot, "unavailable", lang, provider)
    other.goto(hold_url)
    expect(other.get_by_role("heading", name=words["other_browser"], level=1)).to_be_visible()
    _check(other, shot, "other-browser", lang, provider)
    other.goto(f"{provider.origin}/book/hold/no-such-hold")
    expect(other.get_by_role("heading", name=words["start_again"], level=1)).to_be_visible()
    _check(other, shot, "expired-form", lang, provider)

    other.goto(f"{provider.origin}/book/{released_slot}")
    other.get_by_role("button", name=words["continue"]).click()
    other.get_by_role("button", name=words["release"]).click()
    expect(other.get_by_role("heading", name=words["released"], level=1)).to_be_visible()
    _check(other, shot, "released", lang, provider)


@pytest.mark.parametrize(("size", "lang"), CASES)
def test_the_deciding_questions_in_the_patients_language(
    patient: Patient, world: World, shot: Shots, size: str, lang: str
) -> None:
    words = WORDS[lang]
    provider = world.providers[0]
    (slot_id,) = patient.slots(provider, questions=True, service="Neurology")
    page = patient.opens(provider, slot_id)
    page.get_by_role("button", name=words["continue"]).click()
    expect(page.get_by_role("heading", name=words["first"], level=1)).to_be_visible()
    referral = page.get_by_role("group", name=re.compile("referral" if lang == "en" else "remisión"))
    expect(referral).to_be_visible()
    _check(page, shot, "deciding-questions", lang, provider)
    page.get_by_role("button", name=words["screen"], exact=True).click()
    expect(page.locator(".field-error").first).to_be_visible()
    _check(page, shot, "deciding-errors", lang, provider)
    referral.get_by_label(words["no"], exact=True).check()
    page.get_by_role("button", name=words["screen"], exact=True).click()
    expect(page.get_by_role("heading", name=words["not_eligible"], level=1)).to_be_visible()
    _check(page, shot, "not-eligible", lang, provider)


@pytest.mark.parametrize("size", list(SIZES))
def test_the_staff_pages(new_context: Callable[..., Any], world: World, shot: Shots, size: str) -> None:
    provider = world.providers[1]
    answer = httpx.put(
        f"{provider.origin}/admin/staff/desk-{size}",
        json={"password": "a long enough staff password 1"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code in (200, 201), answer.text
    with Browser(provider.origin) as patient:  # a booking in the list, with its cancel button
        patient.land_and_hold(_free_slots(provider, questions=False)[-1 - list(SIZES).index(size)])
        assert "You're booked" in patient.submit(action="book", **PATIENT).text
    page = _context(new_context, size)
    page.goto(f"{provider.origin}/staff/")
    expect(page.get_by_role("heading", name="Staff sign-in", level=1)).to_be_visible()
    _check(page, shot, "staff-login", "en")
    page.get_by_label("Username").fill(f"desk-{size}")
    page.get_by_label("Password").fill("a long enough staff password 1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Bookings", level=1)).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Cancel for patient")).first).to_be_visible()
    _check(page, shot, "staff-bookings", "en")

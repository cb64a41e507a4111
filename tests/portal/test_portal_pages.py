"""The portal's pages for a patient (issue 15): a header naming the provider from its own settings, a
short booking reference that opens the appointment (old links by id still do), a date of birth asked
as three labelled numbers and checked on the server, times written one way, and every page, message,
questionnaire and calendar file in Spanish for a patient who reads Spanish."""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy import select

from slotlinks.provider.demo.questionnaires import neurology_questionnaire
from slotlinks.provider.demo.spanish import in_spanish
from slotlinks.provider.portal import csrf
from slotlinks.provider.portal.questionnaires import put_questionnaire
from slotlinks.provider.portal.reference import REFERENCE_ALPHABET
from slotlinks.provider.store import tables as t
from tests.english import english_words
from tests.portal.conftest import PATIENT, Browser, Portal, first_schedule, make_slot

_REFERENCE = re.compile(r'class="reference">([A-Z0-9]{4}) ([A-Z0-9]{4})<')
_TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.S)
_ES = {"lang": "es"}


def _visible(html: str) -> str:
    return _TAGS.sub(" ", html)


def _link(page: str, part: str) -> str:
    return next(p for p in page.split('"') if part in p).replace("&amp;", "&")


def _book(browser: Browser, slot_id: str, **patient: str) -> Any:
    browser.land_and_hold(slot_id)
    return browser.submit(action="book", **{**PATIENT, **patient})


def test_the_header_names_the_provider_and_its_phone_whatever_the_host(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as browser:
        page = browser.client.get(f"/book/{slot_id}", headers={"Host": "evil.example"})
    header = page.text.split('<header class="site">', 1)[1].split("</header>", 1)[0]
    assert '<p class="provider">Test Health</p>' in header
    assert 'Questions? Call <a href="tel:' in header
    assert "evil.example" not in page.text


def test_the_booking_reference_is_short_shown_everywhere_and_opens_the_appointment(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as browser:
        done = _book(browser, slot_id)
        assert "You're booked" in done.text
        found = _REFERENCE.search(done.text)
        assert found, done.text
        reference = found[1] + found[2]
        assert set(reference) <= set(REFERENCE_ALPHABET)
        with portal.store.read() as conn:
            row = conn.execute(select(t.appointment.c.id, t.appointment.c.reference)).one()
        assert row.reference == reference
        assert row.id not in done.text, "the internal id is not what the patient reads"
        assert f"/book/appointment/{reference}?token=" in str(done.url)
        ics = browser.client.get(_link(done.text, "appointment.ics"))
        assert f"Booking reference: {found[1]} {found[2]}".encode() in ics.content
        cancel = browser.get(_link(done.text, "/cancel?token="))
        assert _REFERENCE.search(cancel.text)
        # A link sent before references existed names the appointment by its id: it still works.
        token = csrf.sign(portal.settings.portal_secret.encode(), "appointment:" + row.id)
        old = browser.get(f"/book/appointment/{row.id}", token=token)
        assert old.status_code == 200
        assert "You're booked" in old.text
        # A reference with another appointment's token opens nothing.
        assert browser.get(f"/book/appointment/{reference}", token=token).status_code == 404


def test_the_date_of_birth_is_three_labelled_numbers_checked_on_the_server(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as browser:
        form = browser.land_and_hold(slot_id).text
        for part, label in (("month", "Month"), ("day", "Day"), ("year", "Year")):
            assert f'<label for="birthDate-{part}">{label}</label>' in form
        assert "Month, day and year, like 4 28 1985." in form
        assert "YYYY" not in form
        assert 'type="date"' not in form
        wrong = browser.submit(
            action="book", **{**PATIENT, "birthDate": "", "birthDate-month": "13", "birthDate-day": "1"}
        )
        assert wrong.status_code == 422
        assert 'id="birthDate-error">Please enter your date of birth as month, day and year' in wrong.text
        assert 'name="birthDate-month" type="text" inputmode="numeric" maxlength="2" autocomplete="bday-month"' in (
            wrong.text
        )
        assert 'value="13"' in wrong.text, "the patient's typing is kept"
        booked = browser.submit(
            action="book", **{**PATIENT, "birthDate-month": "4", "birthDate-day": "8", "birthDate-year": "1985"}
        )
        assert "You're booked" in booked.text
    with portal.store.read() as conn:
        resource = orjson.loads(conn.execute(select(t.appointment.c.resource)).scalar_one())
    assert resource["contained"][0]["birthDate"] == "1985-04-08"


def test_a_spanish_patient_books_and_cancels_in_spanish(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as browser:
        pages = [browser.get(f"/book/{slot_id}", **_ES)]
        pages.append(browser.submit())
        pages.append(browser.submit(action="book", name="", phone="12"))
        assert "Escriba su nombre completo." in pages[-1].text
        done = browser.submit(action="book", **PATIENT)
        pages.append(done)
        assert "Su cita está reservada" in done.text
        ics = browser.client.get(_link(done.text, "appointment.ics")).content.decode()
        assert "Número de reserva:" in ics
        pages.append(browser.get(_link(done.text, "/cancel?token=")))
        pages.append(browser.submit(token=_link(done.text, "/cancel?token=").split("token=")[1]))
        assert "Su cita está cancelada" in pages[-1].text
        pages.append(browser.get(f"/book/{slot_id}"))  # remembered: no ?lang= needed
    for page in pages:
        assert '<html lang="es">' in page.text
        text = _visible(page.text).replace("Test Health", "")
        assert not english_words(text), (english_words(text), text)
    assert re.search(r"\d:\d\d\s[ap]\.\s?m\.", pages[0].text), "times as Spanish writes them"


def test_spanish_questionnaire_translations_are_used_when_present(portal: Portal) -> None:
    schedule_id = first_schedule(portal.store)
    with portal.store.change() as change:
        put_questionnaire(change, "Schedule", schedule_id, orjson.dumps(in_spanish(neurology_questionnaire())))
    slot_id = make_slot(portal.store, 1, schedule_id=schedule_id)
    with Browser(portal.origin) as browser:
        browser.get(f"/book/{slot_id}", **_ES)
        first = browser.submit()
        assert "Antes de su consulta de neurología" in first.text
        assert "¿Tiene una remisión de su médico para esta consulta?" in first.text
        answered = browser.submit(action="screen", **{"q-referral": "yes"})
        assert "Migraña" in answered.text or "¿Por qué afección es la consulta?" in answered.text
        stopped = browser.submit(action="screen", **{"q-referral": "no"})
        assert "Las consultas de neurología requieren una remisión" in stopped.text
    with Browser(portal.origin) as english:
        english.get(f"/book/{make_slot(portal.store, 1, 'slot-2', schedule_id)}")
        page = english.submit()
        assert "Do you have a referral for this visit from your clinician?" in page.text
        assert "remisión" not in page.text


def test_appointments_booked_before_references_get_one(db_url: str) -> None:
    from sqlalchemy import text

    from slotlinks.db import make_engine, upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine, "provider", "0004")
        with engine.begin() as conn:
            for n in range(3):
                conn.execute(
                    text(
                        "INSERT INTO appointment (id, slot_id, hold_id, state, resource, created_ms, last_updated)"
                        " VALUES (:id, 's', :hold, 'booked', '{}', 0, 0)"
                    ),
                    {"id": f"old-{n}", "hold": f"hold-{n}"},
                )
        upgrade(engine, "provider")
        with engine.connect() as conn:
            references = [row[0] for row in conn.execute(text("SELECT reference FROM appointment"))]
    finally:
        engine.dispose()
    assert len(set(references)) == 3
    assert all(len(r) == 8 and set(r) <= set(REFERENCE_ALPHABET) for r in references)

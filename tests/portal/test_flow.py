"""The portal over HTTP on SQLite and PostgreSQL: landing, hold, booking, cancellation, calling off."""

from __future__ import annotations

import orjson
from sqlalchemy import func, select

from slotlinks.provider.demo.questionnaires import neurology_questionnaire
from slotlinks.provider.portal.questionnaires import put_questionnaire
from slotlinks.provider.schedule.slots import get_slot
from slotlinks.provider.store import tables as t
from tests.portal.conftest import PATIENT, Browser, Portal, first_schedule, make_slot


def _outcome(portal: Portal, referral: str) -> tuple[str, str | None]:
    with portal.store.read() as conn:
        row = conn.execute(select(t.referral.c.outcome, t.referral.c.reason).where(t.referral.c.id == referral)).one()
    return row.outcome, row.reason


def test_landing_shows_the_slot_and_changes_nothing_but_the_referral_log(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    before = portal.store.state().version
    with Browser(portal.origin) as browser:
        page = browser.get(f"/book/{slot_id}", source="finder", **{"booking-referral": "ref-land"})
    assert page.status_code == 200
    text = page.text
    assert "November 25, 10:00 AM to 10:20 AM EST" in text  # local time at the location
    assert "Test Health" in text
    assert "tel:" in text
    assert 'name="source" value="finder"' in text
    assert 'name="booking-referral" value="ref-land"' in text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert portal.store.state().version == before, "a GET must not change the data set"
    assert _outcome(portal, "ref-land") == ("landed", None)


def test_book_then_cancel(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as browser:
        held = browser.land_and_hold(slot_id, referral="ref-book")
        assert "holding this time for you until" in held.text
        assert _outcome(portal, "ref-book") == ("held", None)
        done = browser.submit(action="book", **PATIENT)
        assert done.status_code == 200, done.text
        assert "You're booked" in done.text
        with portal.store.read() as conn:
            assert get_slot(conn, slot_id).booked == 1
            appointment = orjson.loads(conn.execute(select(t.appointment.c.resource)).scalar_one())
        assert appointment["status"] == "booked"
        assert appointment["slot"] == [{"reference": f"Slot/{slot_id}"}]
        assert _outcome(portal, "ref-book") == ("booked", None)
        ics_link = next(p for p in done.text.split('"') if "appointment.ics" in p).replace("&amp;", "&")
        ics = browser.client.get(ics_link)
        assert ics.status_code == 200
        assert b"BEGIN:VEVENT" in ics.content
        assert b"DTSTART:20261125T150000Z" in ics.content
        cancel_link = next(p for p in done.text.split('"') if "/cancel?token=" in p).replace("&amp;", "&")
        # A forged token is refused.
        assert browser.client.get(cancel_link[:-3] + "xyz").status_code == 404
        confirm = browser.get(cancel_link)
        assert "Cancel this appointment?" in confirm.text
        cancelled = browser.submit(token=cancel_link.split("token=")[1])
        assert "Your appointment is cancelled" in cancelled.text
    with portal.store.read() as conn:
        assert get_slot(conn, slot_id).booked == 0
        actions = list(conn.execute(select(t.audit_log.c.action).order_by(t.audit_log.c.id)).scalars())
    assert actions == ["hold", "book", "cancel"]
    assert _outcome(portal, "ref-book") == ("cancelled", None)


def test_taken_slot_offers_other_times(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as first, Browser(portal.origin) as second:
        second.get(f"/book/{slot_id}", source="finder", **{"booking-referral": "ref-late"})
        assert first.land_and_hold(slot_id, referral="ref-early").status_code == 200
        late = second.submit(source="finder", **{"booking-referral": "ref-late"})
        assert late.status_code == 409
        assert "This time is no longer available" in late.text
        assert "Other times" in late.text
        assert "/book/" in late.text
        again = second.get(f"/book/{slot_id}")
        assert again.status_code == 200
        assert "This time is no longer available" in again.text
    assert _outcome(portal, "ref-late") == ("called-off", "taken")


def test_unknown_slot_is_a_friendly_page(portal: Portal) -> None:
    with Browser(portal.origin) as browser:
        page = browser.get("/book/no-such-slot")
    assert page.status_code == 404
    assert "This time is no longer available" in page.text


def test_validation_messages_sit_next_to_the_fields(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as browser:
        browser.land_and_hold(slot_id)
        page = browser.submit(action="book", name="", birthDate="2030-01-01", phone="", email="not-an-email")
    assert page.status_code == 422
    assert 'id="name-error">Please enter your full name.' in page.text
    assert 'id="birthDate-error">' in page.text
    assert 'id="email-error">' in page.text
    with portal.store.read() as conn:
        assert get_slot(conn, slot_id).booked == 0


def test_ineligible_answers_release_the_hold(portal: Portal) -> None:
    schedule_id = first_schedule(portal.store)
    slot_id = make_slot(portal.store, 1, schedule_id=schedule_id)
    with portal.store.change() as change:
        put_questionnaire(change, "Schedule", schedule_id, orjson.dumps(neurology_questionnaire()))
    with Browser(portal.origin) as browser:
        held = browser.land_and_hold(slot_id, referral="ref-nope")
        assert "Do you have a referral" in held.text
        page = browser.submit(action="book", **PATIENT, **{"q-referral": "no"})
        assert "book this appointment online" in page.text
        assert "tel:" in page.text
    with portal.store.read() as conn:
        assert get_slot(conn, slot_id).booked == 0
        holds = conn.execute(select(t.hold.c.state)).scalars().all()
        assert conn.execute(select(func.count()).select_from(t.appointment)).scalar_one() == 0
    assert holds == ["released"]
    assert _outcome(portal, "ref-nope") == ("called-off", "ineligible")
    # The time is free again for the next patient.
    with Browser(portal.origin) as other:
        assert "holding this time" in other.land_and_hold(slot_id, referral="ref-next").text


def test_eligible_answers_are_kept_as_a_questionnaire_response(portal: Portal) -> None:
    schedule_id = first_schedule(portal.store)
    slot_id = make_slot(portal.store, 1, schedule_id=schedule_id)
    with portal.store.change() as change:
        put_questionnaire(change, "Schedule", schedule_id, orjson.dumps(neurology_questionnaire()))
    with Browser(portal.origin) as browser:
        browser.land_and_hold(slot_id)
        missing = browser.submit(action="book", **PATIENT, **{"q-referral": "yes"})
        assert missing.status_code == 422
        assert 'id="q-diagnosis-error"' in missing.text
        done = browser.submit(
            action="book", **PATIENT, **{"q-referral": "yes", "q-diagnosis": "http://snomed.info/sct|37796009"}
        )
        assert "You're booked" in done.text
    with portal.store.read() as conn:
        response = orjson.loads(conn.execute(select(t.appointment.c.questionnaire_response)).scalar_one())
    assert response["resourceType"] == "QuestionnaireResponse"
    answers = {i["linkId"]: i["answer"][0] for i in response["item"]}
    assert answers["referral"] == {"valueBoolean": True}
    assert answers["diagnosis"]["valueCoding"]["code"] == "37796009"


def test_csrf_is_checked_on_every_post(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as browser, Browser(portal.origin) as attacker:
        browser.get(f"/book/{slot_id}")
        token = browser.csrf
        assert browser.client.post(f"/book/{slot_id}", data={}).status_code == 403
        assert browser.client.post(f"/book/{slot_id}", data={"csrf": "forged"}).status_code == 403
        # Another browser's token does not work without that browser's cookie.
        attacker.get(f"/book/{slot_id}")
        assert attacker.client.post(f"/book/{slot_id}", data={"csrf": token}).status_code == 403
        with portal.store.read() as conn:
            assert conn.execute(select(func.count()).select_from(t.hold)).scalar_one() == 0
        held = browser.submit()
        hold_path = str(held.url.path)
        # The hold's form refuses the landing token and other browsers.
        assert browser.client.post(hold_path, data={"csrf": token, "action": "book", **PATIENT}).status_code == 403
        elsewhere = attacker.client.get(hold_path)
        assert elsewhere.status_code == 403
        assert "started in another browser" in elsewhere.text
    with portal.store.read() as conn:
        assert get_slot(conn, slot_id).booked == 0

"""What is pushed: a hold placed in the portal, a booking, a cancellation, an admin slot change and an
expired hold each reach the subscriber within seconds as an event-notification (id-only and
full-resource, held to the contract); changes in a short window coalesce; event numbers keep counting
through failed deliveries so the subscriber sees the gap; filters by state and service type."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore
from tests.portal.conftest import PATIENT, Browser, first_schedule, make_slot
from tests.push.conftest import Rig, check_notification, wait_for


def _notes_about(rig: Rig, slot_id: str) -> list[int]:
    url = f"{rig.base}/Slot/{slot_id}"
    return [n for n, focus in zip(rig.receiver.events(), rig.receiver.focus(), strict=True) if focus == url]


def test_a_hold_placed_in_the_portal_is_pushed_within_seconds_id_only(rig: Rig) -> None:
    slot_id = make_slot(rig.store, 1)
    sub_id = rig.active()
    started = time.monotonic()
    with Browser(rig.origin) as browser:
        assert "holding this time for you" in browser.land_and_hold(slot_id).text
    [note] = wait_for(lambda: rig.receiver.of("event-notification"), what="the hold's notification")
    assert note.at - started < 2.0
    check_notification(note, rig, sub_id, kind="event-notification")
    assert note.focus == [f"{rig.base}/Slot/{slot_id}"]
    assert note.event_numbers == [1]
    assert note.status["events-since-subscription-start"]["valueString"] == "1"
    [entry] = note.body["entry"][1:]
    assert entry["request"] == {"method": "PUT", "url": f"Slot/{slot_id}"}


def test_a_hold_is_pushed_with_the_slot_as_it_now_stands_full_resource(rig: Rig) -> None:
    slot_id = make_slot(rig.store, 1)
    sub_id = rig.active(content="full-resource")
    with Browser(rig.origin) as browser:
        browser.land_and_hold(slot_id)
    [note] = wait_for(lambda: rig.receiver.of("event-notification"), what="the hold's notification")
    check_notification(note, rig, sub_id, kind="event-notification", content="full-resource")
    [entry] = note.body["entry"][1:]
    assert entry["resource"]["status"] == "busy-tentative"


def test_a_booking_and_its_cancellation_are_each_pushed(rig: Rig) -> None:
    slot_id = make_slot(rig.store, 1)
    sub_id = rig.active(content="full-resource")
    with Browser(rig.origin) as browser:
        browser.land_and_hold(slot_id)
        wait_for(lambda: len(rig.receiver.events()) == 1, what="the hold")
        done = browser.submit(action="book", **PATIENT)
        assert "You're booked" in done.text
        wait_for(lambda: len(rig.receiver.events()) == 2, what="the booking")
        cancel_link = next(p for p in done.text.split('"') if "/cancel?token=" in p).replace("&amp;", "&")
        browser.get(cancel_link)
        assert "Your appointment is cancelled" in browser.submit(token=cancel_link.split("token=")[1]).text
        wait_for(lambda: len(rig.receiver.events()) == 3, what="the cancellation")
    notes = rig.receiver.of("event-notification")
    statuses = [n.body["entry"][1]["resource"]["status"] for n in notes]
    assert statuses == ["busy-tentative", "busy", "free"]
    assert rig.receiver.events() == [1, 2, 3]
    for note in notes:
        check_notification(note, rig, sub_id, kind="event-notification", content="full-resource")


def test_an_admin_slot_change_and_removal_are_pushed(rig: Rig) -> None:
    slot_id = make_slot(rig.store, 1)
    sub_id = rig.active()
    assert rig.admin("PATCH", f"/Slot/{slot_id}", {"status": "busy-unavailable"}).status_code == 200
    [note] = wait_for(lambda: rig.receiver.of("event-notification"), what="the change")
    check_notification(note, rig, sub_id, kind="event-notification")
    assert note.focus == [f"{rig.base}/Slot/{slot_id}"]
    schedule_id = first_schedule(rig.store)
    assert rig.admin("DELETE", f"/Schedule/{schedule_id}").status_code in (200, 204)
    wait_for(lambda: len(rig.receiver.of("event-notification")) >= 2, what="the removal")
    removal = [e for n in rig.receiver.of("event-notification")[1:] for e in n.body["entry"][1:]]
    assert {"method": "DELETE", "url": f"Schedule/{schedule_id}"} in [e["request"] for e in removal]


def test_an_expired_hold_is_pushed_when_its_time_passes_with_no_write(rig: Rig) -> None:
    slot_id = make_slot(rig.store, 1)
    sub_id = rig.active(content="full-resource")
    with Browser(rig.origin) as browser:
        browser.land_and_hold(slot_id)
    wait_for(lambda: rig.receiver.events() == [1], what="the hold")
    version = rig.store.state().version
    rig.clock.advance(minutes=rig.settings.hold_minutes, seconds=1)
    wait_for(lambda: rig.receiver.events() == [1, 2], what="the expiry")
    assert rig.store.state().version == version, "the expiry was learned without a write to the data set"
    note = rig.receiver.of("event-notification")[1]
    check_notification(note, rig, sub_id, kind="event-notification", content="full-resource")
    assert note.body["entry"][1]["resource"]["status"] == "free"
    time.sleep(0.5)
    assert rig.receiver.events() == [1, 2], "an expiry is pushed once"


def test_many_changes_in_a_short_window_coalesce(rig: Rig) -> None:
    slot_ids = [make_slot(rig.store, 1, slot_id=f"burst-{n}") for n in range(30)]
    rig.active(timeout=60)  # the held delivery outlasts the 29 changes, however slow the machine
    rig.receiver.hang = True  # the first notification waits on the subscriber while the rest pile up
    assert rig.admin("PATCH", f"/Slot/{slot_ids[0]}", {"status": "busy-unavailable"}).status_code == 200
    wait_for(lambda: rig.receiver.of("event-notification"), what="the first notification")
    for slot_id in slot_ids[1:]:
        assert rig.admin("PATCH", f"/Slot/{slot_id}", {"status": "busy-unavailable"}).status_code == 200
    rig.receiver.hang = False
    rig.receiver.release.set()
    wait_for(lambda: len(rig.receiver.events()) >= 30, what="all 30 events")
    notes = rig.receiver.of("event-notification")
    assert len(notes) <= 3, [n.event_numbers for n in notes]
    assert rig.receiver.events() == list(range(1, 31))
    assert set(rig.receiver.focus()) == {f"{rig.base}/Slot/{s}" for s in slot_ids}


def test_a_subscriber_answering_within_its_own_timeout_is_waited_for(rig: Rig) -> None:
    """The subscription's `backport-timeout` (10 s) is longer than the provider's default (2 s here):
    an answer after 3 s is an answer, not a failure to send again."""
    slot_id = make_slot(rig.store, 1)
    sub_id = rig.active(timeout=10)
    rig.receiver.hang = True
    answer_late = threading.Timer(3.0, rig.receiver.release.set)
    answer_late.start()
    try:
        assert rig.admin("PATCH", f"/Slot/{slot_id}", {"status": "busy-unavailable"}).status_code == 200
        wait_for(lambda: rig.receiver.release.is_set(), what="the late answer")
        time.sleep(1.0)  # a resend, had the provider given up, would come within its backoff (0.2 s)
    finally:
        answer_late.cancel()
    assert rig.receiver.events() == [1]
    assert rig.read(sub_id)["status"] == "active"


def test_event_numbers_keep_counting_through_failed_deliveries(rig: Rig) -> None:
    first, second = make_slot(rig.store, 1, slot_id="lost"), make_slot(rig.store, 1, slot_id="seen")
    sub_id = rig.active()
    rig.receiver.answer = 503
    assert rig.admin("PATCH", f"/Slot/{first}", {"status": "busy-unavailable"}).status_code == 200
    wait_for(lambda: rig.read(sub_id)["status"] == "error", what="the subscription to be in error")
    assert len(rig.receiver.of("event-notification")) == 2, "tried, retried, then given up on"
    rig.receiver.answer = 200
    assert rig.admin("PATCH", f"/Slot/{second}", {"status": "busy-unavailable"}).status_code == 200
    wait_for(lambda: rig.read(sub_id)["status"] == "active", what="the subscription to recover")
    note = rig.receiver.of("event-notification")[-1]
    assert note.event_numbers == [2], "event 1 was lost: the subscriber sees the jump"
    assert note.focus == [f"{rig.base}/Slot/{second}"]
    assert note.status["events-since-subscription-start"]["valueString"] == "2"


def _schedule_in(store: ProviderStore, state: str) -> str:
    with store.read() as conn:
        query = (
            select(t.schedule.c.id)
            .join(t.location, t.location.c.id == t.schedule.c.location_id)
            .where(t.location.c.state == state)
            .order_by(t.schedule.c.id)
        )
        return str(conn.execute(query).scalars().first())


@pytest.mark.parametrize("state", ["MA", "RI"])
def test_a_state_filter_pushes_only_that_states_slots(rig: Rig, state: str) -> None:
    ma = make_slot(rig.store, 1, slot_id="in-ma", schedule_id=_schedule_in(rig.store, "MA"))
    ri = make_slot(rig.store, 1, slot_id="in-ri", schedule_id=_schedule_in(rig.store, "RI"))
    rig.active(filters=(f"Slot?state={state}",))
    for slot_id in (ma, ri):
        assert rig.admin("PATCH", f"/Slot/{slot_id}", {"status": "busy-unavailable"}).status_code == 200
    wanted = ma if state == "MA" else ri
    wait_for(lambda: rig.receiver.events(), what="an event")
    time.sleep(0.5)
    assert rig.receiver.focus() == [f"{rig.base}/Slot/{wanted}"]


def test_a_service_type_filter_pushes_only_that_services_slots(rig: Rig) -> None:
    with rig.store.read() as conn:
        rows = conn.execute(select(t.schedule.c.id, t.schedule.c.resource).order_by(t.schedule.c.id)).all()
    import orjson

    codings = {
        row.id: {
            (c.get("system", ""), c["code"])
            for st in orjson.loads(row.resource).get("serviceType", [])
            for c in st.get("coding", [])
        }
        for row in rows
    }
    target_id, target = next((i, c) for i, c in codings.items() if c)
    system, code = sorted(target)[0]
    other_id = next(i for i, c in codings.items() if (system, code) not in c)
    wanted = make_slot(rig.store, 1, slot_id="wanted", schedule_id=target_id)
    unwanted = make_slot(rig.store, 1, slot_id="unwanted", schedule_id=other_id)
    rig.active(filters=(f"Slot?service-type={system}|{code}",))
    for slot_id in (unwanted, wanted):
        assert rig.admin("PATCH", f"/Slot/{slot_id}", {"status": "busy-unavailable"}).status_code == 200
    wait_for(lambda: rig.receiver.events(), what="an event")
    time.sleep(0.5)
    assert rig.receiver.focus() == [f"{rig.base}/Slot/{wanted}"]

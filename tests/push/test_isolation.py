"""Nothing waits on a subscriber: a subscriber that never answers slows neither bookings nor another
subscriber's notifications; heartbeats arrive at the subscription's period."""

from __future__ import annotations

import time
from itertools import pairwise

from tests.portal.conftest import PATIENT, Browser, make_slot
from tests.push.conftest import Rig, check_notification, receiving, wait_for

BOOKINGS = 4


def _book_all(rig: Rig, prefix: str) -> float:
    """Seconds taken to hold and book `BOOKINGS` fresh slots through the portal."""
    slot_ids = [make_slot(rig.store, 1, slot_id=f"{prefix}-{n}") for n in range(BOOKINGS)]
    started = time.monotonic()
    for slot_id in slot_ids:
        with Browser(rig.origin) as browser:
            browser.land_and_hold(slot_id, referral=slot_id)
            assert "You're booked" in browser.submit(action="book", **PATIENT).text
    return time.monotonic() - started


def test_a_subscriber_that_never_answers_does_not_slow_bookings(rig: Rig) -> None:
    _book_all(rig, "warm")
    alone = min(_book_all(rig, "alone-a"), _book_all(rig, "alone-b"))
    rig.active()
    rig.receiver.hang = True
    hanging = _book_all(rig, "hanging")
    assert rig.receiver.of("event-notification"), "the notification went out and is waiting on the subscriber"
    assert hanging < alone * 2 + 0.5, f"{hanging:.2f} s with a hanging subscriber, {alone:.2f} s without"


def test_a_dead_subscriber_does_not_hold_up_another(rig: Rig) -> None:
    with receiving() as healthy:
        rig.active()
        sub_id = rig.active(endpoint=healthy.url)
        rig.receiver.hang = True
        slot_id = make_slot(rig.store, 1)
        assert rig.admin("PATCH", f"/Slot/{slot_id}", {"status": "busy-unavailable"}).status_code == 200
        started = time.monotonic()
        [note] = wait_for(lambda: healthy.of("event-notification"), what="the healthy subscriber's notification")
        assert note.at - started < 1.0
        check_notification(note, rig, sub_id, kind="event-notification")


def test_heartbeats_arrive_at_the_period(rig: Rig) -> None:
    sub_id = rig.active(heartbeat=1)
    wait_for(lambda: len(rig.receiver.of("heartbeat")) >= 3, timeout=6, what="three heartbeats")
    beats = rig.receiver.of("heartbeat")
    gaps = [later.at - earlier.at for earlier, later in pairwise(beats)]
    # At the period, none skipped (a skipped beat is a gap of two periods); a busy test machine may
    # delay one beat by a fraction of a period.
    assert all(0.8 < gap < 2.0 for gap in gaps), gaps
    check_notification(beats[0], rig, sub_id, kind="heartbeat")
    assert beats[0].status["status"]["valueCode"] == "active"
    # Events count, heartbeats do not.
    assert beats[0].status["events-since-subscription-start"]["valueString"] == "0"

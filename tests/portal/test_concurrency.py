"""Never double-booked: 50 concurrent patients (threads, each its own httpx client) race for one slot
over HTTP against a real server; exactly `capacity` of them book, the rest see "no longer available"."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from slotlinks.provider.schedule.slots import get_slot
from slotlinks.provider.store import tables as t
from tests.portal.conftest import PATIENT, Browser, Portal, make_slot

ATTEMPTS = 50


def _attempt(origin: str, slot_id: str, n: int) -> str:
    with Browser(origin) as browser:
        page = browser.land_and_hold(slot_id, referral=f"race-{n}")
        if "no longer available" in page.text:
            return "unavailable"
        assert "holding this time" in page.text, page.text
        done = browser.submit(action="book", **PATIENT)
        if "You're booked" in done.text:
            return "booked"
        assert "no longer available" in done.text, done.text
        return "unavailable"


@pytest.mark.parametrize("capacity", [1, 3])
def test_fifty_concurrent_attempts_book_exactly_capacity(portal: Portal, capacity: int) -> None:
    slot_id = make_slot(portal.store, capacity)
    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        results = list(pool.map(lambda n: _attempt(portal.origin, slot_id, n), range(ATTEMPTS)))
    assert results.count("booked") == capacity
    assert results.count("unavailable") == ATTEMPTS - capacity
    with portal.store.read() as conn:
        assert get_slot(conn, slot_id).booked == capacity
        appointments = conn.execute(
            select(func.count()).select_from(t.appointment).where(t.appointment.c.slot_id == slot_id)
        ).scalar_one()
    assert appointments == capacity

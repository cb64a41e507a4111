"""The FHIR API shows holds the way the publication does: a held slot reads and searches as
`busy-tentative` while its hold lives, and as `free` again after it expires (no job involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from slotlinks.clock import FixedClock
from slotlinks.fhirapi.store import SlotQuery
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.portal.holds import place_hold
from slotlinks.provider.publication.fhirstore import ProviderFhirStore
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore, open_store
from tests.provider.conftest import small_options


def test_held_slot_is_busy_tentative_until_the_hold_expires(db_url: str) -> None:
    now = datetime.now(UTC)
    store = open_store(db_url)
    try:
        generate_provider(store, small_options(today=now.date() + timedelta(days=2), days=3))
        with store.read() as conn:
            slot_id = conn.execute(
                select(t.slot.c.id).where(t.slot.c.status == "free", t.slot.c.capacity == 1).limit(1)
            ).scalar_one()
        clock = FixedClock(now)
        held_store = ProviderStore(store.engine, clock=clock)
        place_hold(store=held_store, clock=clock, slot_id=slot_id, ttl=timedelta(minutes=10), token="x" * 32)
        fhir = ProviderFhirStore(held_store)
        tentative = SlotQuery(statuses=(frozenset({"busy-tentative"}),))

        assert fhir.read("Slot", slot_id)["status"] == "busy-tentative"  # type: ignore[index]
        assert [data["id"] for _, data in fhir.slots(tentative)] == [slot_id]
        assert fhir.count_slots(tentative) == 1

        clock.advance(minutes=11)
        assert fhir.read("Slot", slot_id)["status"] == "free"  # type: ignore[index]
        assert fhir.count_slots(tentative) == 0
    finally:
        store.dispose()

"""Holds in the publication: busy-tentative (or one less slot-capacity) in the very next publication,
and free again once the hold expires, with no job, by the clock alone (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from slotlinks.clock import FixedClock
from slotlinks.errors import SlotUnavailable
from slotlinks.provider.portal.holds import place_hold, release_hold
from slotlinks.provider.publication.render import iter_lines
from slotlinks.provider.publication.snapshots import PublicationCache
from slotlinks.provider.store.settings import PORTAL_URL_SETTING
from slotlinks.provider.store.store import ProviderStore
from slotlinks.publishing import MANIFEST_NAME
from tests.portal.conftest import make_slot

TTL = timedelta(minutes=10)


def _published(cache: PublicationCache, slot_id: str) -> dict[str, object]:
    built = cache.current()
    for path in built.directory.glob("slots-*.ndjson"):
        for line in path.read_bytes().splitlines():
            slot = orjson.loads(line)
            if slot["id"] == slot_id:
                return slot  # type: ignore[no-any-return]
    raise AssertionError(f"{slot_id} not published")


def _capacity(slot: dict[str, object]) -> int | None:
    for ext in slot["extension"]:  # type: ignore[attr-defined]
        if ext["url"].endswith("slot-capacity"):
            return int(ext["valueInteger"])
    return None


def _manifest_time(cache: PublicationCache) -> str:
    return str(orjson.loads((cache.current().directory / MANIFEST_NAME).read_bytes())["transactionTime"])


def test_hold_is_busy_tentative_then_free_after_expiry(store: ProviderStore, clock: FixedClock, tmp_path: Path) -> None:
    slot_id = make_slot(store, 1)
    cache = PublicationCache(store, "http://publisher.test/fhir", tmp_path / "cache")
    assert _published(cache, slot_id)["status"] == "free"
    hold = place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="a" * 64)
    held = _published(cache, slot_id)
    assert held["status"] == "busy-tentative"
    with pytest.raises(SlotUnavailable) as refused:
        place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="b" * 64)
    assert refused.value.reason == "taken"
    version = store.state().version
    before = _manifest_time(cache)
    clock.advance(minutes=10, seconds=1)
    # No write, no job: the clock alone frees the slot in the next publication.
    after = _published(cache, slot_id)
    assert store.state().version == version
    assert after["status"] == "free"
    assert _manifest_time(cache) > before
    assert after["meta"]["lastUpdated"] > held["meta"]["lastUpdated"]  # type: ignore[index]
    # `_since` clients learn of the expiry too.
    since_ms = int(clock().timestamp() * 1000) - 5 * 60_000
    with store.read() as conn:
        portal = store.get_setting(PORTAL_URL_SETTING, conn=conn)
        lines = [
            orjson.loads(line)
            for kind, _, _, line in iter_lines(conn, portal, since_ms=since_ms, now_ms=since_ms + 5 * 60_000)
            if kind == "Slot"
        ]
    assert [s["id"] for s in lines] == [slot_id]
    assert lines[0]["status"] == "free"
    # The expired hold can no longer be booked over someone else's: a new hold is placed.
    place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="b" * 64)
    assert _published(cache, slot_id)["status"] == "busy-tentative"
    assert hold.id


def test_capacity_counts_holds(store: ProviderStore, clock: FixedClock, tmp_path: Path) -> None:
    slot_id = make_slot(store, 3)
    cache = PublicationCache(store, "http://publisher.test/fhir", tmp_path / "cache")
    assert _capacity(_published(cache, slot_id)) == 3
    first = place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="a" * 64)
    published = _published(cache, slot_id)
    assert (published["status"], _capacity(published)) == ("free", 2)
    place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="b" * 64)
    place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="c" * 64)
    published = _published(cache, slot_id)
    assert (published["status"], _capacity(published)) == ("busy-tentative", 0)
    release_hold(store=store, clock=clock, hold_id=first.id, token="a" * 64, reason="released")
    published = _published(cache, slot_id)
    assert (published["status"], _capacity(published)) == ("free", 1)


def test_past_and_removed_slots_cannot_be_held(store: ProviderStore, clock: FixedClock) -> None:
    slot_id = make_slot(store, 1)
    clock.advance(days=2)
    with pytest.raises(SlotUnavailable) as past:
        place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="a" * 64)
    assert past.value.reason == "past"
    with pytest.raises(SlotUnavailable) as gone:
        place_hold(store=store, clock=clock, slot_id="nothing-here", ttl=TTL, token="a" * 64)
    assert gone.value.reason == "gone"


def test_the_browser_that_holds_a_slot_gets_its_hold_back_and_nothing_is_written(
    store: ProviderStore, clock: FixedClock
) -> None:
    slot_id = make_slot(store, 2)
    first = place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="a" * 64)
    version = store.state().version
    clock.advance(seconds=5)
    again = place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="a" * 64)
    assert again == first, "the same hold, expiry unchanged"
    assert store.state().version == version, "a repeated hold is no change to the data set"
    other = place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="b" * 64)
    assert other.id != first.id, "the slot's second unit is still free for another browser"
    # Once the first hold has lapsed, the same browser may hold the slot anew.
    clock.advance(minutes=11)
    renewed = place_hold(store=store, clock=clock, slot_id=slot_id, ttl=TTL, token="a" * 64)
    assert renewed.id != first.id

"""Several provider servers on one database (behind a load balancer) deliver each notification once:
only the server holding the delivery singleton collects and posts (`db.singleton`); when it stops,
another takes over and nothing is lost or sent twice. Run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from slotlinks.clock import FixedClock
from slotlinks.db.singleton import Singleton
from slotlinks.provider.app import create_app
from slotlinks.provider.store.store import ProviderStore
from tests.portal.conftest import make_slot
from tests.push.conftest import FAST, Receiver, Rig, push_settings, register_source, wait_for
from tests.servers import serve


def _changes(rig: Rig, slot_id: str, statuses: list[str]) -> None:
    """Each change in turn, once the last one's event arrived (changes close together coalesce)."""
    for status in statuses:
        seen = max(rig.receiver.events(), default=0)
        assert rig.admin("PATCH", f"/Slot/{slot_id}", {"status": status}).status_code == 200
        wait_for(lambda seen=seen: max(rig.receiver.events(), default=0) > seen, what=f"the event after {seen}")


def test_two_servers_on_one_database_send_each_event_once_and_hand_over(
    store: ProviderStore, clock: FixedClock, receiver: Receiver, tmp_path: Path
) -> None:
    slot_id = make_slot(store, 1)
    first = create_app(push_settings(tmp_path / "a"), store, delivery=FAST)
    second = create_app(push_settings(tmp_path / "b"), store, delivery=FAST)
    with serve(first) as origin_a:
        register_source(origin_a)
        rig = Rig(store, push_settings(tmp_path / "a"), origin_a, clock, receiver)
        with serve(second) as origin_b:
            sub_id = rig.active()
            _changes(rig, slot_id, ["busy-unavailable", "free", "busy-unavailable", "free"])
            # Changes through the second server, while both run.
            _changes(Rig(store, rig.settings, origin_b, clock, receiver), slot_id, ["busy-unavailable", "free"])
        # The second stopped; the first goes on alone, whichever of them was delivering.
        _changes(rig, slot_id, ["busy-unavailable", "free"])
    with serve(create_app(push_settings(tmp_path / "c"), store, delivery=FAST)) as origin_c:
        # Both earlier servers stopped: a new one takes over the work.
        _changes(Rig(store, rig.settings, origin_c, clock, receiver), slot_id, ["busy-unavailable"])
    counted = Counter(receiver.events())
    assert sorted(counted) == list(range(1, max(counted) + 1)), "no event lost"
    assert all(n == 1 for n in counted.values()), f"each event sent once: {counted}"
    assert len(receiver.of("handshake")) == 1
    assert sub_id


def test_the_singleton_is_held_by_one_holder_until_released(store: ProviderStore) -> None:
    one, two = Singleton(store.engine, "test-work"), Singleton(store.engine, "test-work")
    other = Singleton(store.engine, "other-work")
    try:
        assert one.held()
        assert one.held(), "held again by its holder"
        assert not two.held()
        assert other.held(), "another work's singleton is separate"
        one.release()
        assert two.held()
        assert not one.held()
    finally:
        for singleton in (one, two, other):
            singleton.release()

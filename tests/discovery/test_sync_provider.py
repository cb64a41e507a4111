"""Syncing generated providers served by the provider app: every resource stored with references
resolved, `_since` loads change only what changed, and a full refresh is atomic for readers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.provider.schedule.slots import set_slot_status
from slotlinks.provider.store import tables as pt
from tests.discovery.conftest import RawServer, held, run_provider, sync
from tests.discovery.test_sync_failures import feed, slot


def test_two_providers_fully_stored(store: DiscoveryStore, settings: Settings, tmp_path: Path) -> None:
    with (
        run_provider(tmp_path, "Alpha Health", seed=3) as alpha,
        run_provider(tmp_path, "Beta Care", seed=9, states=("RI",)) as beta,
    ):
        ids = {
            registry.add_publisher(store, url=p.manifest_url, name=name).id: p
            for name, p in (("alpha", alpha), ("beta", beta))
        }
        results = sync(store, settings)
    for pid, provider in ids.items():
        assert results[pid].outcome == "full", results[pid].error
        assert results[pid].bad_line_count == 0, results[pid].bad_lines[:3]
        assert not results[pid].warnings
        assert held(store, pid) == {k: v for k, v in provider.counts.items() if k in held(store, pid)}
    with store.read() as conn:
        assert conn.execute(select(t.slot.c.pk).where(t.slot.c.schedule_pk.is_(None))).first() is None
        assert conn.execute(select(t.schedule.c.pk).where(t.schedule.c.location_pk.is_(None))).first() is None
        virtual = conn.execute(select(func.count()).where(t.schedule.c.virtual)).scalar_one()
        named = conn.execute(select(func.count()).where(t.schedule.c.practitioner_text != "")).scalar_one()
        tz = conn.execute(select(func.count()).where(t.location.c.tz.is_(None))).scalar_one()
        shown = {
            (r.practitioner_text, r.practitioner_display)
            for r in conn.execute(select(t.schedule.c.practitioner_text, t.schedule.c.practitioner_display))
        }
        organizations = {
            (r.publisher_id, r.organization_text)
            for r in conn.execute(select(t.schedule.c.publisher_id, t.schedule.c.organization_text))
        }
    # Every generated Schedule has a PractitionerRole or HealthcareService actor naming the provider.
    assert organizations == set(zip(ids, ("alpha health", "beta care"), strict=True))
    # Names are shown as published and searched lower-cased.
    assert all(display.lower() == text for text, display in shown)
    assert any(display and display != display.lower() for _, display in shown)
    assert virtual > 0
    assert named > 0
    assert tz == 0


def test_since_changes_only_the_changed_slot(store: DiscoveryStore, settings: Settings, tmp_path: Path) -> None:
    with run_provider(tmp_path, "Gamma Clinic", seed=5) as provider:
        pid = registry.add_publisher(store, url=provider.manifest_url, name="gamma").id
        assert sync(store, settings)[pid].outcome == "full"
        with store.read() as conn:
            before = {(r.source_id, r.start_ms): (r.pk, r.status, r.resource) for r in conn.execute(select(t.slot))}
        with provider.store.read() as pconn:
            free = (
                pconn.execute(
                    select(pt.slot.c.id)
                    .where(pt.slot.c.status == "free", pt.slot.c.active)
                    .order_by(pt.slot.c.id)
                    .limit(2)
                )
                .scalars()
                .all()
            )
        with provider.store.change() as change:
            set_slot_status(change, free[0], "busy")
        result = sync(store, settings)[pid]
        assert result.outcome == "incremental", result.error
        assert (result.counts.added, result.counts.changed, result.counts.removed) == (0, 1, 0)
        with store.read() as conn:
            after = {(r.source_id, r.start_ms): (r.pk, r.status, r.resource) for r in conn.execute(select(t.slot))}
            unresolved = conn.execute(select(t.slot.c.pk).where(t.slot.c.schedule_pk.is_(None))).first()
        assert unresolved is None
        changed = {k for k in before if before[k] != after.get(k)}
        assert [k[0] for k in changed] == [free[0]]
        key = next(iter(changed))
        assert after[key][0] == before[key][0]
        assert after[key][1] == "busy"

        # A slot taken off the schedule comes back as busy-unavailable: gone from our store.
        with provider.store.change() as change:
            set_slot_status(change, free[1], "busy-unavailable")
        result = sync(store, settings)[pid]
        assert result.outcome == "incremental"
        assert (result.counts.added, result.counts.changed, result.counts.removed) == (0, 0, 1)
        assert held(store, pid)["Slot"] == len(before) - 1

        # Nothing changed since: nothing stored.
        result = sync(store, settings)[pid]
        assert result.outcome in ("not-modified", "incremental")
        assert (result.counts.added, result.counts.changed, result.counts.removed) == (0, 0, 0)


def test_full_refresh_is_atomic_for_readers(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    pid = registry.add_publisher(store, url=feed(raw, "p", [slot(i % 10) for i in range(5)]), name="p").id
    assert sync(store, settings)[pid].outcome == "full"
    many = [
        slot(
            i % 10,
            start=f"2026-04-{1 + i // 200:02d}T{i % 10:02d}:{(i // 10) % 20:02d}:00Z",
            end="2026-05-01T00:00:00Z",
        )
        for i in range(3000)
    ]
    feed(raw, "p", many, tx="2026-02-02T00:00:00Z")
    seen: set[int] = set()
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            with store.read() as conn:
                gen = conn.execute(select(t.publisher.c.generation).where(t.publisher.c.id == pid)).scalar_one()
                seen.add(
                    conn.execute(
                        select(func.count()).where(t.slot.c.publisher_id == pid, t.slot.c.generation == gen)
                    ).scalar_one()
                )

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = sync(store, settings)[pid]
    finally:
        done.set()
        thread.join()
    assert result.outcome == "full", result.error
    assert result.counts.removed == 5
    assert result.counts.added == 3000
    assert seen <= {5, 3000}
    assert held(store, pid)["Slot"] == 3000
    with store.read() as conn:
        generations = set(conn.execute(select(t.slot.c.generation).where(t.slot.c.publisher_id == pid)).scalars())
    assert generations == {2}


def test_run_forever_polls_and_stops(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    import asyncio

    from slotlinks.discovery.sync import SyncEngine

    pid = registry.add_publisher(store, url=feed(raw, "p"), name="p").id

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(SyncEngine(store, settings).run_forever(stop=stop, tick_seconds=0.05))
        for _ in range(200):
            if registry.get_publisher(store, pid).last_outcome:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    info = registry.get_publisher(store, pid)
    assert info.last_outcome == "full"
    assert info.slots == 3
    # Scheduled by max-age, never sooner than min_poll_seconds.
    assert info.next_poll_ms >= (info.last_success_ms or 0) + 1000 * settings.min_poll_seconds


def test_full_refresh_keeps_the_stamps_of_unchanged_rows(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    pid = registry.add_publisher(store, url=feed(raw, "p", [slot(i) for i in range(4)]), name="p").id
    assert sync(store, settings)[pid].outcome == "full"
    with store.read() as conn:
        before = dict(conn.execute(select(t.slot.c.source_id, t.slot.c.updated_ms)).all())
    changed = [slot(i) for i in range(4)]
    changed[2] = slot(2, status="busy")
    feed(raw, "p", changed, tx="2026-02-02T00:00:00Z")
    store.clock = FixedClock(datetime.fromtimestamp((max(before.values()) + 60_000) / 1000, tz=UTC))
    result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    with store.read() as conn:
        after = dict(conn.execute(select(t.slot.c.source_id, t.slot.c.updated_ms)).all())
    bumped = {key for key in after if after[key] != before[key]}
    assert len(bumped) == 1

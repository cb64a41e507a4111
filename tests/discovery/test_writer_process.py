"""A large full load hands its writes to the writer process (`batchwriter.py`): what it stores is
exactly what a load written in this process stores, and a load that fails after the hand-over leaves
nothing behind and the publisher's last good data in place."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from slotlinks.config import Settings, sqlite_url
from slotlinks.discovery import ingest, registry
from slotlinks.discovery import tables as t
from slotlinks.discovery.store import DiscoveryStore, open_store
from tests.discovery.conftest import RawServer, held, response, run_provider, sync
from tests.discovery.test_sync_failures import feed, slot


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 400 rows, so a small provider's load spans many batches and the hand-over falls
    in the middle of it."""
    monkeypatch.setattr(ingest, "_BATCH", 400)


def stored(store: DiscoveryStore, publisher_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """The publisher's current data, by type, without our own keys and stamps (pk, generation, updated_ms)."""
    s, sc, loc = t.slot.c, t.schedule.c, t.location.c
    with store.read() as conn:
        gen = conn.execute(select(t.publisher.c.generation).where(t.publisher.c.id == publisher_id)).scalar_one()
        slots = conn.execute(
            select(s.source_id, s.start_ms, s.end_ms, s.status, s.capacity, s.booking_link, s.booking_phone)
            .add_columns(s.resource, sc.source_id.label("schedule"))
            .join(t.schedule, sc.pk == s.schedule_pk, isouter=True)
            .where(s.publisher_id == publisher_id, s.generation == gen)
        )
        schedules = conn.execute(
            select(sc.source_id, sc.resource, sc.service_text, sc.codes, sc.virtual, loc.source_id)
            .join(t.location, loc.pk == sc.location_pk, isouter=True)
            .where(sc.publisher_id == publisher_id, sc.generation == gen)
        )
        return {"Slot": {tuple(r) for r in slots}, "Schedule": {tuple(r) for r in schedules}}


def at(i: int, minute: int) -> str:
    """A distinct start time for slot `i` (plus `minute`)."""
    return f"2026-03-{1 + i % 28:02d}T{8 + i // 28 % 12:02d}:{(i // 336) * 12 + minute:02d}:00Z"


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[DiscoveryStore]:
    s = open_store(sqlite_url(tmp_path / "reference.db"))
    yield s
    s.dispose()


@pytest.mark.usefixtures("small_batches")
def test_writer_process_stores_what_this_process_stores(
    store: DiscoveryStore, reference: DiscoveryStore, settings: Settings, tmp_path: Path
) -> None:
    with run_provider(tmp_path, "Alpha Health", seed=3) as provider:
        here = registry.add_publisher(reference, url=provider.manifest_url, name="alpha").id
        there = registry.add_publisher(store, url=provider.manifest_url, name="alpha").id
        in_this = sync(reference, dataclasses.replace(settings, write_process_rows=0))[here]
        in_child = sync(store, dataclasses.replace(settings, write_process_rows=1000))[there]

    assert in_this.outcome == in_child.outcome == "full", (in_this.error, in_child.error)
    assert provider.counts["Slot"] > 4 * 400  # several batches went to the child
    assert multiprocessing.active_children(), "no writer process was started"
    assert in_child.counts == in_this.counts
    assert held(store, there) == held(reference, here)
    assert held(store, there)["Slot"] == provider.counts["Slot"]
    mine, theirs = stored(store, there), stored(reference, here)
    assert mine["Slot"] == theirs["Slot"]
    assert mine["Schedule"] == theirs["Schedule"]
    assert all(row[-1] is not None for row in mine["Slot"]), "a Slot without its Schedule"


@pytest.mark.usefixtures("small_batches")
def test_failure_after_hand_over_keeps_good_data(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    settings = dataclasses.replace(settings, read_timeout=0.5, write_process_rows=500)
    many = [slot(i, id=f"s{i}", start=at(i, 0), end=at(i, 10)) for i in range(1500)]
    url = feed(raw, "p", [slot(i) for i in range(3)])
    pid = registry.add_publisher(store, url=url, name="p").id
    assert sync(store, settings)[pid].outcome == "full"

    # The next full load is long enough to reach the writer process, then breaks off.
    body = b"".join(line + b"\n" for line in many)
    feed(raw, "p", many, tx="2026-02-01T00:00:00Z")
    raw.routes["/p/slot.ndjson"] = response(200, body, length=len(body) + 500)
    failed = sync(store, settings)[pid]
    assert failed.outcome == "failed", failed.error
    assert held(store, pid)["Slot"] == 3
    with store.read() as conn:
        generations = set(conn.execute(select(t.slot.c.generation).where(t.slot.c.publisher_id == pid)).scalars())
    assert len(generations) == 1, "rows of the broken load were left behind"

    # The writer process carries on with the next load.
    feed(raw, "p", many, tx="2026-02-02T00:00:00Z")
    again = sync(store, settings)[pid]
    assert again.outcome == "full", again.error
    assert held(store, pid)["Slot"] == len(many) - again.bad_line_count

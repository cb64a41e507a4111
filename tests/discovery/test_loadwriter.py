"""Batches of full loads: written in order; on SQLite those waiting written together, a failure heard
by every load it touched, withdrawn batches never written; on PostgreSQL side by side."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from slotlinks.config import sqlite_url
from slotlinks.discovery.ingest.generation import GenerationWriter
from slotlinks.discovery.ingest.loadwriter import LoadWriter
from slotlinks.discovery.ingest.resolve import resolve_generation
from slotlinks.discovery.publishers.registry import add_publisher
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.fhir.resources import RESOURCE_DECODERS


def _schedule(sid: str) -> bytes:
    return f'{{"resourceType":"Schedule","id":"{sid}","actor":[{{"reference":"Location/l1"}}]}}'.encode()


def _slot(sid: str, schedule: str, hour: int) -> bytes:
    return (
        f'{{"resourceType":"Slot","id":"{sid}","schedule":{{"reference":"Schedule/{schedule}"}},"status":"free",'
        f'"start":"2026-03-01T{hour:02d}:00:00Z","end":"2026-03-01T{hour:02d}:30:00Z"}}'
    ).encode()


def _batch(writer: GenerationWriter, *lines: bytes) -> dict[str, list[Any]]:
    def read(item: object) -> None:
        raise AssertionError(f"not an everyday line: {item!r}")

    for raw in lines:
        if raw.startswith(b'{"resourceType":"Slot"'):
            writer.add_lines("Slot", [(1, raw)], read)
        else:
            writer.add(RESOURCE_DECODERS["Schedule"].decode(raw), raw)
    return writer.take()


def _loads(store: DiscoveryStore, count: int) -> list[GenerationWriter]:
    ids = [add_publisher(store, url=f"https://p{i}.example/$bulk-publish", name=f"p{i}").id for i in range(count)]
    return [GenerationWriter(pid, 1, 1000) for pid in ids]


@contextmanager
def _held(loads: LoadWriter) -> Iterator[threading.Event]:
    """Hold the writer's turn in another thread until the event is set."""
    release, taken = threading.Event(), threading.Event()

    def hold() -> None:
        with loads.transaction():
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(30)
    try:
        yield release
    finally:
        release.set()
        holder.join(30)


def _slots(store: DiscoveryStore) -> list[tuple[int, str, int | None]]:
    s = t.slot.c
    with store.read() as conn:
        query = select(s.publisher_id, s.source_id, s.schedule_pk).order_by(s.publisher_id, s.source_id)
        return [(int(p), str(i), pk) for p, i, pk in conn.execute(query)]


def test_batches_of_several_loads_are_all_written_in_order(store: DiscoveryStore) -> None:
    first, second = _loads(store, 2)

    async def run() -> None:
        writer = LoadWriter(store)
        async with writer.session():
            await asyncio.gather(
                writer.write(first, _batch(first, _schedule("a"))),
                writer.write(second, _batch(second, _schedule("b"), _slot("s2", "b", 9))),
            )
            # A later batch of the first load finds the Schedule its earlier batch wrote.
            await writer.write(first, _batch(first, _slot("s1", "a", 8)))

    asyncio.run(run())
    slots = _slots(store)
    assert [(p, i) for p, i, _ in slots] == [(first.publisher_id, "s1"), (second.publisher_id, "s2")]
    assert all(pk is not None for _, _, pk in slots)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[DiscoveryStore]:
    """Loads take turns at an SQLite store only."""
    store = open_store(sqlite_url(tmp_path / "discovery.db"))
    yield store
    store.dispose()


@pytest.mark.postgres
def test_on_postgresql_a_batch_is_written_while_another_load_holds_a_transaction(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        _, second = _loads(store, 2)

        async def run() -> None:
            writer = LoadWriter(store)
            async with writer.session():
                with _held(writer):  # the first load's transaction stays open meanwhile
                    await asyncio.wait_for(
                        writer.write(second, _batch(second, _schedule("b"), _slot("s2", "b", 9))), 30
                    )
                    assert [(p, i) for p, i, _ in _slots(store)] == [(second.publisher_id, "s2")]

        asyncio.run(run())
    finally:
        store.dispose()


def test_waiting_batches_share_a_transaction_and_its_failure(sqlite_store: DiscoveryStore) -> None:
    store = sqlite_store
    good, bad = _loads(store, 2)
    broken = _batch(bad, _slot("x", "a", 8))
    broken["Slot"] = [(None, *row[1:]) for row in broken["Slot"]]  # source_id may not be NULL

    async def run() -> list[BaseException | None]:
        writer = LoadWriter(store)
        async with writer.session():
            with _held(writer) as release:
                tasks = [
                    asyncio.ensure_future(writer.write(good, _batch(good, _slot("g", "a", 8)))),
                    asyncio.ensure_future(writer.write(bad, broken)),
                ]
                await asyncio.sleep(0.2)  # both wait for the turn the other thread holds
                release.set()
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    outcomes = asyncio.run(run())
    assert all(isinstance(o, Exception) for o in outcomes), outcomes
    assert _slots(store) == []  # one transaction: nothing of it is kept


def test_a_withdrawn_batch_is_never_written(sqlite_store: DiscoveryStore) -> None:
    store = sqlite_store
    (load,) = _loads(store, 1)

    async def run() -> BaseException | None:
        writer = LoadWriter(store)
        async with writer.session():
            with _held(writer) as release:
                task = asyncio.ensure_future(writer.write(load, _batch(load, _slot("w", "a", 8))))
                await asyncio.sleep(0.1)
                writer.withdraw(load)
                release.set()
                (outcome,) = await asyncio.gather(task, return_exceptions=True)
        return outcome if isinstance(outcome, BaseException) else None

    assert isinstance(asyncio.run(run()), asyncio.CancelledError)
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.slot)).scalar_one() == 0


@pytest.mark.parametrize("rows", [1, 2001, 4500])
def test_slot_batches_of_any_size_are_stored_whole(store: DiscoveryStore, rows: int) -> None:
    """SQLite gets multi-row INSERTs of at most 2,000 rows; every row arrives, with its Schedule."""
    (load,) = _loads(store, 1)
    lines = [_schedule("a"), *(_slot(f"s{i}", "a", i % 24) for i in range(rows))]

    async def run() -> None:
        writer = LoadWriter(store)
        async with writer.session():
            await writer.write(load, _batch(load, *lines))

    asyncio.run(run())
    slots = _slots(store)
    assert len(slots) == rows
    assert len({pk for _, _, pk in slots}) == 1
    assert slots[0][2] is not None


def test_written_pages_reach_the_database_file_while_loads_run(tmp_path: Path) -> None:
    """On SQLite, a load's commits are copied from the write-ahead log into the database file by a
    checkpointer of its own: the file, read without the log, holds every row once the load is done."""
    store = open_store(sqlite_url(tmp_path / "discovery.db"))
    (load,) = _loads(store, 1)

    async def run() -> None:
        writer = LoadWriter(store)
        async with writer.session():
            await writer.write(load, _batch(load, _schedule("a")))
            for hour in range(3):
                await writer.write(load, _batch(load, *(_slot(f"s{hour}-{i}", "a", hour) for i in range(50))))

    try:
        asyncio.run(run())
        with sqlite3.connect(f"file:{tmp_path / 'discovery.db'}?immutable=1", uri=True) as file_only:
            assert file_only.execute("SELECT count(*) FROM feed_slot").fetchone() == (150,)
    finally:
        store.dispose()


def test_resolving_a_load_finds_the_slots_written_before_their_schedule(store: DiscoveryStore) -> None:
    first, second = _loads(store, 2)
    with LoadWriter(store).transaction() as conn:
        first.write(conn, _batch(first, _slot("a1", "s1", 9)))  # its Schedule comes in a later batch
        first.write(conn, _batch(first, _schedule("s1"), _slot("a2", "s1", 10), _slot("a3", "nowhere", 11)))
        second.write(conn, _batch(second, _schedule("s1"), _slot("b1", "s1", 9)))
    assert (first.slots_resolved, second.slots_resolved) == (False, True)
    s = t.schedule.c
    with store.read() as conn:
        schedules = {int(p): int(pk) for p, pk in conn.execute(select(s.publisher_id, s.pk))}
    before = _slots(store)
    assert (first.publisher_id, "a1", None) in before
    with LoadWriter(store).transaction() as conn:
        resolve_generation(conn, first.publisher_id, 1, only_unresolved=first.slots_resolved)
        resolve_generation(conn, second.publisher_id, 1, only_unresolved=second.slots_resolved)
    assert _slots(store) == [
        (first.publisher_id, "a1", schedules[first.publisher_id]),
        (first.publisher_id, "a2", schedules[first.publisher_id]),
        (first.publisher_id, "a3", None),  # no such Schedule
        (second.publisher_id, "b1", schedules[second.publisher_id]),
    ]
    with LoadWriter(store).transaction() as conn:  # with nothing left to resolve anywhere, the quick check says so
        conn.execute(delete(t.slot).where(t.slot.c.schedule_pk.is_(None)))
        resolve_generation(conn, second.publisher_id, 1, only_unresolved=True)
    assert len(_slots(store)) == 3

"""Several sync workers on one database share the publishers through leases: in a round each publisher
is loaded once, by one worker, never by two at once (forced passes included); a worker killed mid-load
holds its publishers only until its leases lapse, then another finishes them whole. On one SQLite file
the same engine runs alone, and a lease it finds held (a killed process's) lapses the same way."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

import slotlinks
from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.discovery.cli import sync_command
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.discovery.sync import SyncEngine, SyncResult
from slotlinks.discovery.sync.leases import Leases
from tests.conftest import NOW
from tests.discovery.conftest import RawServer, held
from tests.discovery.test_sync_engine import gated_feed
from tests.discovery.test_sync_failures import feed
from tests.discovery.test_sync_kill import generation_rows, many_slots, serve_held_back

PUBLISHERS = 8


class InFlight:
    """Counts the downloads of each publisher's Slot file under way, and the most ever at once."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.lock = threading.Lock()

    def slow_slots(self, raw: RawServer, prefix: str, seconds: float = 0.3) -> None:
        path = f"/{prefix}/slot.ndjson"
        body = raw.routes[path]
        assert isinstance(body, bytes)

        def handler(conn: socket.socket, _target: str, _headers: dict[str, str]) -> None:
            with self.lock:
                self.now[prefix] += 1
                self.most[prefix] = max(self.most[prefix], self.now[prefix])
            try:
                time.sleep(seconds)  # long enough for the other worker to try the same publisher
                conn.sendall(body)
            finally:
                with self.lock:
                    self.now[prefix] -= 1

        raw.routes[path] = handler


def runs(store: DiscoveryStore) -> Counter[tuple[int, str]]:
    """sync_run rows by (publisher, outcome)."""
    r = t.sync_run.c
    with store.read() as conn:
        return Counter((int(p), str(o)) for p, o in conn.execute(select(r.publisher_id, r.outcome)))


def leases(store: DiscoveryStore) -> dict[int, str | None]:
    p = t.publisher.c
    with store.read() as conn:
        return {int(i): o for i, o in conn.execute(select(p.id, p.lease_owner))}


def lease_ends(store: DiscoveryStore, ids: list[int]) -> list[int]:
    p = t.publisher.c
    with store.read() as conn:
        return [int(u or 0) for u in conn.execute(select(p.lease_until_ms).where(p.id.in_(ids))).scalars()]


@pytest.fixture
def workers(pg_url: str, settings: Settings) -> Iterator[list[SyncEngine]]:
    """Two engines on one PostgreSQL database, each with its own store (connections), as two processes
    have; each polls at most two publishers at once."""
    narrow = dataclasses.replace(settings, sync_concurrency=2)
    stores = [open_store(pg_url), open_store(pg_url)]
    try:
        yield [SyncEngine(s, narrow) for s in stores]
    finally:
        for s in stores:
            s.dispose()


def served(raw: RawServer, store: DiscoveryStore, flight: InFlight) -> list[int]:
    ids = []
    for i in range(PUBLISHERS):
        url = feed(raw, f"p{i}")
        flight.slow_slots(raw, f"p{i}")
        ids.append(registry.add_publisher(store, url=url, name=f"p{i}").id)
    return ids


async def both(workers: list[SyncEngine], *, force: bool) -> list[list[SyncResult]]:
    return list(await asyncio.gather(*(w.sync_once(force=force) for w in workers)))


@pytest.mark.postgres
def test_two_workers_share_a_round_each_publisher_loaded_once(workers: list[SyncEngine], raw: RawServer) -> None:
    store = workers[0].store
    flight = InFlight()
    ids = served(raw, store, flight)

    first, second = asyncio.run(both(workers, force=False))

    assert first
    assert second
    assert sorted(r.publisher_id for r in first + second) == ids
    assert runs(store) == Counter({(pid, "full"): 1 for pid in ids})
    assert max(flight.most.values()) == 1
    assert all(held(store, pid)["Slot"] == 3 for pid in ids)
    assert set(leases(store).values()) == {None}  # all given back
    # The round is over: nothing is due, so neither worker loads anything again.
    assert asyncio.run(both(workers, force=False)) == [[], []]


@pytest.mark.postgres
def test_forced_passes_of_two_workers_poll_each_publisher_once_between_them(
    workers: list[SyncEngine], raw: RawServer
) -> None:
    """Two `slotlinks sync --once` at once: a publisher the other worker holds, or polled after this
    pass began, is the other's; none is polled again by the second worker once the first lets go."""
    store = workers[0].store
    flight = InFlight()
    ids = served(raw, store, flight)

    first, second = asyncio.run(both(workers, force=True))

    assert first
    assert second
    assert sorted(r.publisher_id for r in first + second) == ids
    assert runs(store) == Counter({(pid, "full"): 1 for pid in ids})
    assert max(flight.most.values()) == 1
    assert set(leases(store).values()) == {None}
    # A later forced pass polls every publisher again.
    again = asyncio.run(workers[0].sync_once(force=True))
    assert sorted(r.publisher_id for r in again) == ids


@pytest.mark.postgres
def test_a_killed_workers_publishers_are_finished_by_another_after_its_lease_lapses(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    slots = 25_000  # more than a batch of the load writer in the first half alone
    store = open_store(pg_url)
    release = threading.Event()
    ids = []
    try:
        for name in ("a", "b"):
            url = feed(raw, name)
            serve_held_back(raw, f"/{name}/slot.ndjson", many_slots(slots), release)
            ids.append(registry.add_publisher(store, url=url, name=name).id)
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(slotlinks.__file__).parents[1]),
            "SLOTLINKS_DISCOVERY_DB": pg_url,
            "SLOTLINKS_ALLOW_PRIVATE_NETWORKS": "1",
            "SLOTLINKS_SYNC_LEASE_SECONDS": "3",  # renewed every second: at least 2 s left when killed
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "slotlinks", "sync"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            while not all(generation_rows(store, pid).get(1) for pid in ids):
                assert proc.poll() is None, "the worker stopped before its loads were under way"
                assert time.monotonic() < deadline, "the loads never started"
                time.sleep(0.05)
            time.sleep(3.5)  # past a lease term: the worker renews its leases while it loads
            assert all(until > time.time() * 1000 for until in lease_ends(store, ids))
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        release.set()
        assert all(0 < generation_rows(store, pid)[1] < slots for pid in ids)  # half-written, unseen

        other = SyncEngine(store, dataclasses.replace(settings, sync_lease_seconds=2, read_timeout=30))
        # Its leases still hold: even a forced pass leaves the killed worker's publishers alone.
        assert asyncio.run(other.sync_once(force=True)) == []
        deadline = time.monotonic() + 10
        while True:
            results = asyncio.run(other.sync_once(force=True))
            if results:
                break
            assert time.monotonic() < deadline, "the killed worker's leases never lapsed"
            time.sleep(0.2)
        assert [(r.publisher_id, r.outcome) for r in results] == [(pid, "full") for pid in ids], results
        for pid in ids:
            assert held(store, pid)["Slot"] == slots
            assert generation_rows(store, pid) == {2: slots}  # a generation number of its own
        assert runs(store) == Counter({(pid, "full"): 1 for pid in ids})  # the killed loads recorded nothing
        assert set(leases(store).values()) == {None}
    finally:
        store.dispose()


def test_a_lease_held_elsewhere_is_left_alone_until_it_lapses(db_url: str, settings: Settings, raw: RawServer) -> None:
    """The same engine on SQLite (and PostgreSQL): a publisher whose lease a vanished worker holds is
    left out until that lease lapses; then polled, and its lease given back."""
    clock = FixedClock(NOW)
    store = open_store(db_url, clock=clock)
    try:
        pid = registry.add_publisher(store, url=feed(raw, "p"), name="p").id
        [claimed] = Leases(store, 60, owner="vanished").claim(limit=5, force=True)
        assert claimed.id == pid
        assert claimed.lease_owner == "vanished"
        engine = SyncEngine(store, settings)
        assert asyncio.run(engine.sync_once(force=True)) == []
        clock.advance(seconds=59)
        assert asyncio.run(engine.sync_once(force=True)) == []
        clock.advance(seconds=1)
        [result] = asyncio.run(engine.sync_once(force=True))
        assert (result.publisher_id, result.outcome) == (pid, "full")
        assert leases(store) == {pid: None}
        assert runs(store) == Counter({(pid, "full"): 1})
    finally:
        store.dispose()


def test_sync_takes_its_lease_from_its_option_or_the_environment_and_refuses_a_bad_one(
    tmp_path: Path, raw: RawServer
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    try:
        registry.add_publisher(store, url=feed(raw, "p"), name="p")
    finally:
        store.dispose()
    app = typer.Typer()
    app.command()(sync_command)
    env = {"SLOTLINKS_DISCOVERY_DB": url, "SLOTLINKS_ALLOW_PRIVATE_NETWORKS": "1"}
    runner = CliRunner()
    r = runner.invoke(app, ["--once", "--lease-seconds", "5"], env=env)
    assert r.exit_code == 0, r.output
    assert "full" in r.output
    for bad in (["--lease-seconds", "0"], []):
        r = runner.invoke(app, ["--once", *bad], env={**env, "SLOTLINKS_SYNC_LEASE_SECONDS": "0.1"})
        assert r.exit_code == 2, r.output
        assert "a sync lease must last between half a second and a day" in r.output
    r = runner.invoke(app, ["--once"], env={**env, "SLOTLINKS_SYNC_LEASE_SECONDS": "soon"})
    assert r.exit_code == 2, r.output
    assert "Invalid value for '--lease-seconds'" in r.output


def steal(store: DiscoveryStore, publisher_id: int) -> None:
    """What another worker does once this one's lease lapsed (it stalled): claim the publisher."""
    with store.write() as conn:
        conn.execute(update(t.publisher).where(t.publisher.c.id == publisher_id).values(lease_owner="thief"))


@pytest.mark.parametrize("lease_seconds", [0.5, 60.0])
def test_a_worker_whose_lease_was_taken_stops_and_writes_nothing(
    store: DiscoveryStore, settings: Settings, raw: RawServer, lease_seconds: float
) -> None:
    """With a short lease the worker finds out when it renews, while its file is still held back; with
    a long one, when its load is about to flip. Either way the publisher keeps its data and state and
    the thief's lease, and no run is recorded."""
    url, gate = gated_feed(raw, "p")
    pid = registry.add_publisher(store, url=url, name="p").id
    engine = SyncEngine(store, dataclasses.replace(settings, read_timeout=30.0, sync_lease_seconds=lease_seconds))

    async def scenario() -> list[SyncResult]:
        task = asyncio.create_task(engine.sync_once(force=True))
        assert await asyncio.to_thread(gate.arrived.wait, 30)
        await asyncio.to_thread(steal, store, pid)
        if lease_seconds > 1:
            gate.release.set()
        results = await asyncio.wait_for(task, 30)
        assert not gate.release.is_set() or lease_seconds > 1
        return results

    try:
        assert asyncio.run(scenario()) == []
    finally:
        gate.release.set()
    info = registry.get_publisher(store, pid)
    assert (info.generation, info.last_outcome) == (0, None)
    assert runs(store) == Counter()
    assert leases(store) == {pid: "thief"}

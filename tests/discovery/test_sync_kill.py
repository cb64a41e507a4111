"""Fault test: `slotlinks sync --once` killed with SIGKILL in the middle of a full load leaves the
previous generation served and nothing half-written: the store passes its integrity check, search
answers the old data, and once the killed process's lease lapses the next sync completes with the new
data and no leftover rows.

Deterministic: the publisher sends the first part of a big Slot file, then holds the rest back until
the test releases it; the test kills the process once the store shows batches of the new generation
(so the load is under way, not finished), and the rest of the file is only ever sent to the next sync.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
from sqlalchemy import Connection, func, select, text

import slotlinks
from slotlinks.config import Settings
from slotlinks.discovery.app import create_app
from slotlinks.discovery.ingest.partitions import partitioned
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery.conftest import RawServer, held, sync
from tests.discovery.test_sync_failures import feed, slot
from tests.servers import serve

SLOTS = 40_000  # four batches of the load writer in the first half alone


def many_slots(n: int) -> bytes:
    start = 1_772_359_200  # 2026-03-01T10:00:00Z
    lines = []
    for i in range(n):
        at = start + 600 * (i % 5000)
        line = slot(0, id=f"big{i}", start=_instant(at), end=_instant(at + 600))
        lines.append(line + b"\n")
    return b"".join(lines)


def _instant(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def serve_held_back(raw: RawServer, path: str, body: bytes, release: threading.Event) -> None:
    """Serve `body` at `path`: its first half at once, the rest only after `release` is set."""
    half = len(body) // 2

    def handler(conn: socket.socket, _target: str, _headers: dict[str, str]) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        conn.sendall(body[:half])
        if release.wait(60):
            conn.sendall(body[half:])

    raw.routes[path] = handler


def generation_rows(store: DiscoveryStore, publisher_id: int) -> dict[int, int]:
    """Slot rows of the publisher by generation, those of loads under way included (on PostgreSQL a
    load writes into a table of its own, attached to `feed_slot` only when it flips)."""
    with store.read() as conn:
        rows = conn.execute(
            select(t.slot.c.generation, func.count())
            .where(t.slot.c.publisher_id == publisher_id)
            .group_by(t.slot.c.generation)
        )
        found = {int(g): int(n) for g, n in rows}
        if partitioned(conn):
            for name in load_tables(conn, publisher_id):
                generation = int(name.rsplit("_g", 1)[1])
                if generation not in found:  # not attached yet
                    found[generation] = int(conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one())
        return found


def load_tables(conn: Connection, publisher_id: int) -> list[str]:
    """The names of the publisher's load tables (PostgreSQL), attached or not."""
    return sorted(
        conn.exec_driver_sql(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relkind = 'r' AND relname LIKE %(pattern)s",
            {"pattern": f"feed\\_slot\\_p{publisher_id}\\_g%"},
        ).scalars()
    )


def test_kill_9_mid_load_keeps_the_old_generation_served_and_the_next_sync_completes(
    store: DiscoveryStore, settings: Settings, raw: RawServer, db_url: str
) -> None:
    pid = registry.add_publisher(store, url=feed(raw, "p"), name="Held Back Health").id
    assert sync(store, settings)[pid].outcome == "full"
    old = held(store, pid)
    assert old["Slot"] == 3

    release = threading.Event()
    feed(raw, "p", tx="2026-02-01T00:00:00Z")
    serve_held_back(raw, "/p/slot.ndjson", many_slots(SLOTS), release)
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(slotlinks.__file__).parents[1]),
        "SLOTLINKS_DISCOVERY_DB": db_url,
        "SLOTLINKS_ALLOW_PRIVATE_NETWORKS": "1",
        "SLOTLINKS_SYNC_LEASE_SECONDS": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "slotlinks", "sync", "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while generation_rows(store, pid).get(2, 0) == 0:
            assert proc.poll() is None, "the sync ended before its load was under way"
            assert time.monotonic() < deadline, "the load never started"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    # Killed mid-load: the new generation is partly written, but the old one is what everyone sees.
    assert 0 < generation_rows(store, pid)[2] < SLOTS
    if db_url.startswith("sqlite"):
        with store.read() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    assert held(store, pid) == old
    assert registry.get_publisher(store, pid).last_outcome == "full"
    with serve(create_app(settings, store, background_sync=False)) as origin:
        answer = httpx.get(
            f"{origin}/api/search",
            params={"publisher": str(pid), "from": "2026-03-01", "to": "2026-03-02", "per_location": "50"},
            timeout=10,
        )
    assert answer.status_code == 200, answer.text
    [location] = orjson.loads(answer.content)["locations"]
    assert location["name"] == "Clinic"
    assert len(location["slots"]) == 3  # the old generation's, though the new one's start the same day

    # Once the killed process's lease lapses, the next sync gets the whole file and replaces the old
    # data; no row of the killed load is left.
    release.set()
    deadline = time.monotonic() + 10
    while not (results := sync(store, settings)):
        assert time.monotonic() < deadline, "the killed process's lease never lapsed"
        time.sleep(0.2)
    result = results[pid]
    assert result.outcome == "full", result.error
    assert held(store, pid)["Slot"] == SLOTS
    # A generation number of its own: never the killed load's, which might still be writing.
    assert generation_rows(store, pid) == {3: SLOTS}

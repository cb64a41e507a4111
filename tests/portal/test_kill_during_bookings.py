"""Fault test: the provider server (a real `slotlinks serve provider` process) is killed with SIGKILL
in the middle of a burst of concurrent bookings, for slots of capacity 1 and 3. Afterwards the SQLite
file passes its integrity check, no slot holds more booked appointments than its capacity (and each
slot's `booked` count is exactly its booked appointments), and the restarted server serves and books."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.schedule.slots import create_slot
from slotlinks.provider.store.store import open_store
from tests.portal.conftest import PATIENT, Browser, first_schedule
from tests.provider.conftest import small_options
from tests.servers import free_port

CAPACITIES = {**{f"one-{n}": 1 for n in range(4)}, **{f"three-{n}": 3 for n in range(4)}}
SPARE = "after-restart"  # touched by no one before the restart
PATIENTS_PER_SLOT = 4
KILL_AFTER = 6  # bookings seen by patients before the kill


def _make_provider(db_file: Path) -> None:
    """A generated provider plus hand-made slots two days ahead of the wall clock (the server runs on it)."""
    store = open_store(f"sqlite:///{db_file}")
    try:
        generate_provider(store, small_options(locations=1, days=2))
        schedule_id = first_schedule(store)
        start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
        with store.change() as change:
            for n, (slot_id, capacity) in enumerate([*CAPACITIES.items(), (SPARE, 1)]):
                begin = start + timedelta(minutes=20 * n)
                end = begin + timedelta(minutes=20)
                create_slot(change, schedule_id, begin.isoformat(), end.isoformat(), capacity=capacity, slot_id=slot_id)
    finally:
        store.dispose()


@contextmanager
def _provider(db_file: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable, "-m", "slotlinks", "serve", "provider", "--db", f"sqlite:///{db_file}",
        "--data-dir", str(db_file.parent / "data"), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    # Every patient comes from 127.0.0.1: the per-client booking limit must not be what stops them.
    env = {**os.environ, "SLOTLINKS_BOOKING_ATTEMPTS": "100000"}
    with log.open("ab") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the provider exited: {log.read_text()}"
            assert time.monotonic() < deadline, "the provider did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/fhir/$bulk-publish", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _book(origin: str, slot_id: str, n: int, booked: list[str], enough: threading.Event) -> str:
    try:
        with Browser(origin) as browser:
            page = browser.land_and_hold(slot_id, referral=f"burst-{n}")
            if "holding this time" not in page.text:
                return "unavailable"
            done = browser.submit(action="book", **PATIENT)
    except httpx.TransportError:
        return "cut"  # the server died under this patient
    if "You're booked" not in done.text:
        return "unavailable"
    booked.append(slot_id)
    if len(booked) >= KILL_AFTER:
        enough.set()
    return "booked"


def _check_store(db_file: Path) -> dict[str, int]:
    """The file's own integrity checks, and per slot: booked appointments within capacity and equal to
    the slot's count. Answers the booked appointments per slot."""
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute(
            """SELECT s.id, s.capacity, s.booked,
                      (SELECT count(*) FROM appointment a WHERE a.slot_id = s.id AND a.state = 'booked')
               FROM slot s WHERE s.id IN ({})""".format(",".join("?" * (len(CAPACITIES) + 1))),
            [*CAPACITIES, SPARE],
        ).fetchall()
    assert len(rows) == len(CAPACITIES) + 1
    for slot_id, capacity, counted, appointments in rows:
        assert appointments <= capacity, f"{slot_id}: {appointments} appointments for capacity {capacity}"
        assert counted == appointments, f"{slot_id}: the slot counts {counted}, the appointments are {appointments}"
    return {slot_id: appointments for slot_id, _, _, appointments in rows}


@pytest.mark.slow
def test_kill_9_during_a_booking_burst_overbooks_nothing(tmp_path: Path) -> None:
    db_file = tmp_path / "provider.db"
    _make_provider(db_file)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    log = tmp_path / "provider.log"
    booked: list[str] = []
    enough = threading.Event()
    attempts = [(slot_id, n) for n in range(PATIENTS_PER_SLOT) for slot_id in CAPACITIES]

    with _provider(db_file, port, log) as process, ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        futures = [pool.submit(_book, origin, slot_id, n, booked, enough) for n, (slot_id, _) in enumerate(attempts)]
        assert enough.wait(timeout=120), f"only {len(booked)} bookings before the deadline: {log.read_text()}"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        outcomes = [future.result() for future in futures]
    assert outcomes.count("booked") >= KILL_AFTER

    after_kill = _check_store(db_file)
    # Every booking a patient was told of survived the kill.
    for slot_id in set(booked):
        assert after_kill[slot_id] >= booked.count(slot_id)
    assert after_kill[SPARE] == 0

    with _provider(db_file, port, log):
        with Browser(origin) as browser:
            browser.land_and_hold(SPARE, referral="after-restart")
            done = browser.submit(action="book", **PATIENT)
            assert "You're booked" in done.text, done.text
        # What was full before the kill is still full.
        for slot_id in [s for s, capacity in CAPACITIES.items() if after_kill[s] == capacity]:
            with Browser(origin) as browser:
                page = browser.land_and_hold(slot_id, referral="too-late")
                assert "no longer available" in page.text, page.text
    after_restart = _check_store(db_file)
    assert after_restart[SPARE] == 1

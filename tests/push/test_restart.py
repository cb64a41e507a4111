"""Fault test: the provider (a real `slotlinks serve provider` process) is killed with SIGKILL while a
notification waits on the subscriber and more changes are queued behind it. The restarted provider
delivers every event, numbered without a gap, and keeps counting from where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.portal.referrals import put_source
from slotlinks.provider.schedule.slots import create_slot
from slotlinks.provider.store.store import open_store
from tests.portal.conftest import Browser, first_schedule
from tests.provider.conftest import small_options
from tests.push.conftest import SOURCE, SOURCE_SECRET, Receiver, subscription_body, wait_for
from tests.servers import free_port

SLOTS = [f"restart-{n}" for n in range(8)]
SPARE = "after-restart"  # held only once the provider is back


def _make_provider(db_file: Path) -> None:
    """A generated provider, a registered source, and slots two days ahead of the wall clock."""
    store = open_store(f"sqlite:///{db_file}")
    try:
        generate_provider(store, small_options(locations=1, days=2))
        put_source(
            store=store,
            source=SOURCE,
            body=b'{"secret": "%s", "returnUrl": "https://finder.example.org/back"}' % SOURCE_SECRET.encode(),
        )
        schedule_id = first_schedule(store)
        start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
        with store.change() as change:
            for n, slot_id in enumerate([*SLOTS, SPARE]):
                begin = start + timedelta(minutes=20 * n)
                end = begin + timedelta(minutes=20)
                create_slot(change, schedule_id, begin.isoformat(), end.isoformat(), capacity=1, slot_id=slot_id)
    finally:
        store.dispose()


@contextmanager
def _provider(db_file: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable, "-m", "slotlinks", "serve", "provider", "--db", f"sqlite:///{db_file}",
        "--data-dir", str(db_file.parent / "data"), "--host", "127.0.0.1", "--port", str(port),
        "--allow-private-networks",
    ]  # fmt: skip
    with log.open("ab") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the provider exited: {log.read_text()}"
            assert time.monotonic() < deadline, "the provider did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _hold(origin: str, slot_id: str) -> None:
    with Browser(origin) as browser:
        assert "holding this time" in browser.land_and_hold(slot_id, referral=slot_id).text


@pytest.mark.slow
def test_killing_and_restarting_the_provider_loses_no_event(tmp_path: Path, receiver: Receiver) -> None:
    db_file = tmp_path / "provider.db"
    _make_provider(db_file)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    log = tmp_path / "provider.log"
    auth = {"Authorization": f"Bearer {SOURCE_SECRET}"}

    with _provider(db_file, port, log) as process:
        made = httpx.post(f"{origin}/fhir/Subscription", json=subscription_body(receiver.url), headers=auth, timeout=10)
        assert made.status_code == 201, made.text
        sub_url = f"{origin}/fhir/Subscription/{made.json()['id']}"
        wait_for(lambda: httpx.get(sub_url, headers=auth, timeout=10).json()["status"] == "active", what="active")
        receiver.hang = True
        _hold(origin, SLOTS[0])
        wait_for(lambda: receiver.of("event-notification"), what="the first notification, left unanswered")
        for slot_id in SLOTS[1:]:
            _hold(origin, slot_id)
        time.sleep(0.5)  # long enough for the deliverer to collect them, not to deliver them
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    assert receiver.events() == [1], "only the unanswered notification left before the kill"

    receiver.hang = False
    receiver.release.set()
    with _provider(db_file, port, log):
        wanted = set(range(1, len(SLOTS) + 1))
        wait_for(lambda: set(receiver.events()) >= wanted, timeout=20, what="every event after the restart")
        assert {f.rsplit("/", 1)[1] for f in receiver.focus()} == set(SLOTS)
        _hold(origin, SPARE)
        wait_for(lambda: len(SLOTS) + 1 in receiver.events(), what="the next event, numbered on")
        assert receiver.focus()[-1].endswith(f"/Slot/{SPARE}")

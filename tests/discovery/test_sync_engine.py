"""The sync engine owns its state: a publisher it is polling is not polled again until that poll ends
(the server's background loop and its "sync now" share one engine), and loads change no process-wide
setting (collector, thread switch interval) of the server they run in."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from slotlinks.config import Settings
from slotlinks.discovery.app import create_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync import SyncEngine
from tests.discovery.conftest import ADMIN_TOKEN, RawServer
from tests.discovery.test_sync_failures import feed
from tests.servers import serve

ProcessState = tuple[float, int]  # (thread switch interval, objects frozen out of the collector)


def process_state() -> ProcessState:
    return sys.getswitchinterval(), gc.get_freeze_count()


@dataclass
class Gate:
    """Holds back a publisher's Slot file until released; notes the process state when it is asked for."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    seen: list[ProcessState] = field(default_factory=list)


def gated_feed(raw: RawServer, prefix: str) -> tuple[str, Gate]:
    url = feed(raw, prefix)
    body = raw.routes[f"/{prefix}/slot.ndjson"]
    assert isinstance(body, bytes)
    gate = Gate()

    def handler(conn: socket.socket, _path: str, _headers: dict[str, str]) -> None:
        gate.seen.append(process_state())
        gate.arrived.set()
        gate.release.wait(30)
        conn.sendall(body)

    raw.routes[f"/{prefix}/slot.ndjson"] = handler
    return url, gate


@pytest.fixture
def patient(settings: Settings) -> Settings:
    """Settings that wait for a held-back file as long as a test holds it."""
    return dataclasses.replace(settings, read_timeout=30.0)


def wait_for_outcome(store: DiscoveryStore, publisher_id: int) -> str:
    for _ in range(400):
        outcome = registry.get_publisher(store, publisher_id).last_outcome
        if outcome:
            return outcome
        time.sleep(0.05)
    raise AssertionError("the publisher was never polled")


def test_a_publisher_being_polled_is_not_polled_again_by_the_same_engine(
    store: DiscoveryStore, patient: Settings, raw: RawServer
) -> None:
    url, gate = gated_feed(raw, "slow")
    slow = registry.add_publisher(store, url=url, name="slow").id
    quick = registry.add_publisher(store, url=feed(raw, "quick"), name="quick").id
    engine = SyncEngine(store, patient)

    async def scenario() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        first = asyncio.create_task(engine.sync_once(force=True, publisher_ids=[slow]))
        assert await asyncio.to_thread(gate.arrived.wait, 30)
        second = await engine.sync_once(force=True)
        gate.release.set()
        return [(r.publisher_id, r.outcome) for r in await first], [(r.publisher_id, r.outcome) for r in second]

    first, second = asyncio.run(scenario())
    assert first == [(slow, "full")]
    assert second == [(quick, "full")]  # the slow one was still being polled: left out of the pass
    assert len(gate.seen) == 1


def test_sync_now_leaves_out_a_publisher_the_server_is_polling(
    store: DiscoveryStore, patient: Settings, raw: RawServer
) -> None:
    url, gate = gated_feed(raw, "p")
    pid = registry.add_publisher(store, url=url, name="p").id
    with serve(create_app(patient, store)) as origin:  # with its background sync
        try:
            assert gate.arrived.wait(30)
            runs = httpx.post(
                f"{origin}/admin/publishers/$sync", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
            )
        finally:
            gate.release.set()
        assert runs.status_code == 200, runs.text
        assert runs.json() == []
        assert wait_for_outcome(store, pid) == "full"
    assert len(gate.seen) == 1


def test_the_discovery_server_syncs_without_touching_its_process_settings(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    """Its loads leave the collector and the thread switch interval as they were: they are the web
    server's too."""
    url, gate = gated_feed(raw, "p")
    gate.release.set()
    pid = registry.add_publisher(store, url=url, name="p").id
    before = process_state()
    with serve(create_app(settings, store)):
        assert wait_for_outcome(store, pid) == "full"
    assert gate.seen == [before]

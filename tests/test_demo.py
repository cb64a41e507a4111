"""The quick start's main job, `slotlinks demo`, run as a real process: two generated providers and a
discovery server over them, on embedded SQLite; a patient can search across both and follow a deep
link into a provider's portal."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from slotlinks.demo import DEMO_SOURCE_ID


def three_free_ports() -> int:
    """A port whose next two are free as well (the demo takes three in a row)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + 2 > 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", base + 1))
                b.bind(("127.0.0.1", base + 2))
        except OSError:
            continue
        return base
    raise RuntimeError("no three free ports in a row")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[int]:
    port = three_free_ports()
    command = [sys.executable, "-m", "slotlinks", "demo", "--data-dir", str(tmp_path / "demo"), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else "demo exited"
            try:
                found = httpx.get(f"http://127.0.0.1:{port}/api/search", params=SEARCH, timeout=10)
                if found.status_code == 200 and {loc["publisher"]["id"] for loc in found.json()["locations"]} == {1, 2}:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the demo did not serve results from both providers within 180 s")
        yield port
    finally:
        process.terminate()
        process.communicate(timeout=30)


# Wide enough to reach both generated providers (Massachusetts and New Hampshire).
SEARCH = {"near": "02114", "radius": "150mi", "limit": "50"}


def test_demo_searches_both_providers_and_links_into_a_portal(demo: int) -> None:
    base = f"http://127.0.0.1:{demo}"
    for offset in (1, 2):
        manifest = httpx.get(f"http://127.0.0.1:{demo + offset}/fhir/$bulk-publish", timeout=10)
        assert manifest.status_code == 200
        assert {o["type"] for o in manifest.json()["output"]} >= {"Location", "Schedule", "Slot"}
    assert httpx.get(f"{base}/", timeout=10).status_code == 200
    body = httpx.get(f"{base}/api/search", params=SEARCH, timeout=10).json()
    slot = body["locations"][0]["slots"][0]
    assert slot["status"] == "free"

    go = httpx.get(slot["link"], timeout=10)
    assert go.status_code == 303
    target = go.headers["location"]
    query = parse_qs(urlsplit(target).query)
    assert query["source"] == [DEMO_SOURCE_ID]
    assert len(query["booking-referral"]) == 1
    assert urlsplit(target).port in (demo + 1, demo + 2)
    landing = httpx.get(target, timeout=10)
    assert landing.status_code == 200
    assert "<form" in landing.text

    aggregate = httpx.get(f"{base}/aggregate/$bulk-publish", timeout=10)
    assert aggregate.status_code == 200

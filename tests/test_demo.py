"""The quick start's main job, `slotlinks demo`, run as a real process: two generated providers and a
discovery server over them, on embedded SQLite; a patient can search across both and follow a deep
link into a provider's portal."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from slotlinks.demo import DEMO_SOURCE_ID


def four_free_ports() -> int:
    """A port whose next three are free as well (the demo takes four in a row: its discovery server,
    two providers and the mail catcher)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + 3 > 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b, socket.socket() as c:
                a.bind(("127.0.0.1", base + 1))
                b.bind(("127.0.0.1", base + 2))
                c.bind(("127.0.0.1", base + 3))
        except OSError:
            continue
        return base
    raise RuntimeError("no four free ports in a row")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[int]:
    port = four_free_ports()
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


def test_demo_searches_both_providers_and_links_into_a_portal(demo: int, tmp_path: Path) -> None:
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

    # The demo's first aggregate manifest writes every file of the aggregate in this request, while
    # the background sync still writes (about 1.3 s for its 98,000 Slots on an unloaded 2-CPU host);
    # a host four times slower and busy took over 10 s.
    aggregate = httpx.get(f"{base}/aggregate/$bulk-publish", timeout=60)
    assert aggregate.status_code == 200

    # Alert messages are caught as .eml files in the demo's data directory, not sent.
    asked = httpx.post(f"{base}/api/alerts", json={"email": "patient@example.com", "near": "02114"}, timeout=30)
    assert asked.status_code == 202, asked.text
    caught = list((tmp_path / "demo" / "mail").glob("*.eml"))
    assert len(caught) == 1
    message = message_from_bytes(caught[0].read_bytes(), policy=policy.default)
    assert message["Subject"] == "Please confirm your appointment alert"
    assert message["To"] == "patient@example.com"

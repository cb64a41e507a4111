"""Publication benchmark (run by hand): `python bench/publish.py [--slots 1000000]`.

Prints, for a generated provider of about `--slots` slots:
- generation time;
- export rate (slots/s) and the ratio to a baseline measured in the same run that only
  `orjson.dumps` the same number of equivalent Slot dicts to a file (target: ratio >= 0.5);
- live download rate of every file by one client, and time to first byte of a manifest and of a
  file (target: < 100 ms);
- the server's peak memory growth while 8 clients download everything at once (target: < 100 MB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import psutil

from slotlinks.config import sqlite_url
from slotlinks.provider.demo.generate import GenerateOptions, generate_provider
from slotlinks.provider.publication.snapshots import export
from slotlinks.provider.store.store import open_store

DAYS = 28


def options(locations: int, seed: int = 5) -> GenerateOptions:
    return GenerateOptions(
        name="Bench Health",
        locations=locations,
        states=("MA", "RI", "CT", "NH"),
        days=DAYS,
        seed=seed,
        portal_url="http://127.0.0.1:9/portal",
        today=datetime.now(UTC).date(),
    )


def locations_for(target: int, scratch: Path) -> int:
    probe = open_store(sqlite_url(scratch / "probe.db"))
    probe_locations = 60
    counts = generate_provider(probe, options(probe_locations))
    probe.dispose()
    # Locations vary in how many services they offer; aim a little high so the run reaches the target.
    return max(1, round(1.05 * target * probe_locations / counts["Slot"]))


def baseline_rate(n: int, path: Path) -> float:
    started = time.perf_counter()
    with open(path, "wb", buffering=1 << 20) as out:
        for i in range(n):
            slot = {
                "resourceType": "Slot",
                "id": f"sch-{i % 9999:05d}-2026112{i % 10}{i % 2400:04d}",
                "meta": {"lastUpdated": "2026-11-24T18:00:00.000Z"},
                "schedule": {"reference": f"Schedule/sch-{i % 9999:05d}"},
                "status": "free",
                "start": "2026-11-24T09:00:00-05:00",
                "end": "2026-11-24T09:20:00-05:00",
                "extension": [
                    {
                        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link",
                        "valueUrl": f"http://127.0.0.1:9/portal/book/sch-{i % 9999:05d}-20261124{i:04d}",
                    },
                    {
                        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone",
                        "valueString": "(617) 555-0142",
                    },
                ],
            }
            out.write(orjson.dumps(slot) + b"\n")
    return n / (time.perf_counter() - started)


def wait_for(url: str, deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if httpx.get(url, timeout=60).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up")


def download_all(urls: list[str]) -> int:
    total = 0
    with httpx.Client(timeout=120) as client:
        for url in urls:
            with client.stream("GET", url) as response:
                for chunk in response.iter_raw(1 << 16):
                    total += len(chunk)
    return total


def ttfb(url: str) -> float:
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        with client.stream("GET", url) as response:
            next(response.iter_raw(1))
            return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="slotlinks-bench-"))
    try:
        n_locations = locations_for(args.slots, scratch)
        db = args.db or sqlite_url(scratch / "provider.db")
        store = open_store(db)
        started = time.perf_counter()
        counts = generate_provider(store, options(n_locations))
        generation = time.perf_counter() - started
        slots = counts["Slot"]
        print(
            f"generated {slots:,} slots at {n_locations} locations in {generation:.1f} s "
            f"({slots / generation:,.0f} slots/s)"
        )

        base_rate = baseline_rate(slots, scratch / "baseline.ndjson")
        started = time.perf_counter()
        export(store, scratch / "export", "http://127.0.0.1:9/fhir")
        export_time = time.perf_counter() - started
        export_rate = slots / export_time
        store.dispose()
        print(
            f"export: {export_time:.2f} s, {export_rate:,.0f} slots/s; "
            f"baseline orjson.dumps: {base_rate:,.0f} slots/s; ratio {export_rate / base_rate:.2f} (target >= 0.5)"
        )

        origin = f"http://127.0.0.1:{args.port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "slotlinks",
                "serve",
                "provider",
                "--db",
                db,
                "--data-dir",
                str(scratch / "srv"),
                "--host",
                "127.0.0.1",
                "--port",
                str(args.port),
                "--base-url",
                f"{origin}/fhir",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            manifest_url = f"{origin}/fhir/$bulk-publish"
            started = time.perf_counter()
            wait_for(manifest_url)
            print(f"server up with the publication encoded in {time.perf_counter() - started:.1f} s")
            manifest = httpx.get(manifest_url, timeout=60).json()
            urls = [o["url"] for o in manifest["output"]]
            print(
                f"time to first byte: manifest {ttfb(manifest_url) * 1000:.1f} ms, "
                f"largest file {max(ttfb(u) for u in urls[-3:]) * 1000:.1f} ms (target < 100 ms)"
            )
            started = time.perf_counter()
            size = download_all(urls)
            took = time.perf_counter() - started
            print(f"live download, 1 client: {size / 1e6:,.0f} MB in {took:.2f} s, {slots / took:,.0f} slots/s")

            process = psutil.Process(server.pid)
            rss_before = process.memory_info().rss
            peak = rss_before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, process.memory_info().rss)
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            clients = [threading.Thread(target=download_all, args=(urls,)) for _ in range(8)]
            started = time.perf_counter()
            for c in clients:
                c.start()
            for c in clients:
                c.join()
            took = time.perf_counter() - started
            done.set()
            sampler.join()
            print(
                f"8 clients: {8 * slots / took:,.0f} slots/s in all; server RSS {rss_before / 1e6:.0f} MB before, "
                f"peak growth {(peak - rss_before) / 1e6:.1f} MB (target < 100 MB)"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

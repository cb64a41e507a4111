"""Sync workers benchmark (run by hand): `python bench/workers.py --postgres URL [--publishers 20]`.

One round of full loads of `--publishers` publishers into one PostgreSQL database, by one sync worker
process and then by two (each a `SyncEngine` in its own process, sharing the publishers through
leases), each round into a new schema. The feeds are static exports written once and served on
127.0.0.1 by tests/data/realworld/serve_corpus.py, so generating them is not what is measured. Prints
each round (seconds from "go" until every worker is done, and how many publishers each worker
loaded), checks that every publisher was loaded exactly once, and the ratio of the two rates.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import NamedTuple

import orjson
import psutil
from sqlalchemy import create_engine, select

from slotlinks.config import Settings
from slotlinks.discovery.publishers.registry import add_publisher
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import open_store
from slotlinks.discovery.sync import SyncEngine

SERVE_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "realworld" / "serve_corpus.py"
LOCATIONS = 10  # per publisher, one schedule each
FIRST_START = 1_798_790_400  # 2027-01-01T09:00:00Z


def write_feed(directory: Path, slots: int) -> None:
    """One publisher's static export: `LOCATIONS` locations, a schedule each, `slots` 10-minute slots."""
    directory.mkdir(parents=True)
    with open(directory / "location.ndjson", "wb") as out, open(directory / "schedule.ndjson", "wb") as sch:
        for i in range(LOCATIONS):
            address = {"city": "Springfield", "state": "MA", "postalCode": f"01{i:03d}"}
            location = {"resourceType": "Location", "id": f"l{i}", "name": f"Clinic {i}", "address": address}
            out.write(orjson.dumps(location) + b"\n")
            actor = [{"reference": f"Location/l{i}"}]
            sch.write(orjson.dumps({"resourceType": "Schedule", "id": f"s{i}", "actor": actor}) + b"\n")
    with open(directory / "slot.ndjson", "wb") as out:
        for n in range(slots):
            at = FIRST_START + 600 * (n // LOCATIONS)
            start, end = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s)) for s in (at, at + 600))
            slot = {"resourceType": "Slot", "id": f"x{n}", "schedule": {"reference": f"Schedule/s{n % LOCATIONS}"}}
            out.write(orjson.dumps({**slot, "status": "free", "start": start, "end": end}) + b"\n")
    outputs = [{"type": k, "url": f"{{BASE}}/{k.lower()}.ndjson"} for k in ("Location", "Schedule", "Slot")]
    manifest = {"transactionTime": "2026-12-01T00:00:00Z", "request": "{BASE}/$bulk-publish", "output": outputs}
    (directory / "$bulk-publish").write_bytes(orjson.dumps({**manifest, "error": []}))


def worker(
    url: str, concurrency: int, ready: Event, go: Event, loaded: multiprocessing.Queue[tuple[int, float]]
) -> None:
    """One sync worker: a pass over the publishers that are due, once told to go; reports how many
    it loaded and the CPU seconds that took."""
    scratch = Path(tempfile.gettempdir())
    settings = Settings(data_dir=scratch, allow_private_networks=True, read_timeout=120, sync_concurrency=concurrency)
    store = open_store(url, migrate=False)
    engine = SyncEngine(store, settings)
    ready.set()
    go.wait()
    cpu_before = time.process_time()
    results = asyncio.run(engine.sync_once())
    failed = [(r.publisher_id, r.error) for r in results if r.outcome != "full"]
    if failed:
        raise RuntimeError(f"loads failed: {failed}")
    store.dispose()
    loaded.put((len(results), time.process_time() - cpu_before))


class Round(NamedTuple):
    seconds: float
    loads: list[int]  # publishers loaded, per worker
    worker_cpu: list[float]  # CPU seconds, per worker
    busy: float  # the machine's CPU use over the round, in percent of all its CPUs


def round_of(url: str, schema: str, manifests: list[str], workers: int, concurrency: int) -> Round:
    """One round by `workers` processes into a new schema."""
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    schema_url = f"{url}{sep}options=-csearch_path%3D{schema}"
    store = open_store(schema_url)
    try:
        for i, manifest in enumerate(manifests):
            add_publisher(store, url=manifest, name=f"Bench publisher {i}")
        spawn = multiprocessing.get_context("spawn")
        go, loaded = spawn.Event(), spawn.Queue()
        readies = [spawn.Event() for _ in range(workers)]
        procs = [spawn.Process(target=worker, args=(schema_url, concurrency, ready, go, loaded)) for ready in readies]
        for p in procs:
            p.start()
        for ready in readies:
            if not ready.wait(120):
                raise RuntimeError("a worker did not start")
        psutil.cpu_percent()  # from here
        started = time.perf_counter()
        go.set()
        for p in procs:
            p.join()
        seconds = time.perf_counter() - started
        busy = psutil.cpu_percent()
        if any(p.exitcode for p in procs):
            raise RuntimeError("a worker failed")
        r = t.sync_run.c
        with store.read() as conn:
            loads = Counter(conn.execute(select(r.publisher_id).where(r.outcome == "full")).scalars())
        if len(loads) != len(manifests) or set(loads.values()) != {1}:
            raise RuntimeError(f"not every publisher loaded exactly once: {dict(loads)}")
        reports = sorted((loaded.get() for _ in procs), reverse=True)
        return Round(seconds, [n for n, _ in reports], [c for _, c in reports], busy)
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres", metavar="URL", required=True, help="e.g. postgresql://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--publishers", type=int, default=20)
    parser.add_argument("--slots", type=int, default=50_000, help="slots per publisher")
    parser.add_argument("--runs", type=int, default=3, help="rounds of each kind; the median counts")
    parser.add_argument("--concurrency", type=int, default=8, help="loads at once per worker (sync_concurrency)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="slotlinks-bench-workers-"))
    server: subprocess.Popen[str] | None = None
    try:
        for i in range(args.publishers):
            write_feed(scratch / f"p{i:03d}", args.slots)
        server = subprocess.Popen(
            [sys.executable, str(SERVE_CORPUS), str(scratch), "0", "--quiet"], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        if not server.stdout.readline().startswith("serving "):
            raise RuntimeError("serve_corpus.py did not start")
        manifests = [server.stdout.readline().strip() for _ in range(args.publishers)]
        slots = args.publishers * args.slots
        medians: dict[int, float] = {}
        for workers in (1, 2):
            times = []
            for run in range(args.runs):
                schema = f"bench_w{os.getpid()}_{workers}_{run}"
                r = round_of(args.postgres, schema, manifests, workers, args.concurrency)
                times.append(r.seconds)
                print(
                    f"{workers} worker(s), round {run + 1}: {slots:,} slots from {args.publishers} publishers in "
                    f"{r.seconds:.2f} s ({slots / r.seconds:,.0f} slots/s); publishers loaded per worker {r.loads}, "
                    f"their CPU {', '.join(f'{c:.1f}' for c in r.worker_cpu)} s; machine CPU busy {r.busy:.0f}%"
                )
            medians[workers] = statistics.median(times)
        print(
            f"two workers against one (median of {args.runs} rounds each): {medians[1]:.2f} s -> {medians[2]:.2f} s, "
            f"{medians[1] / medians[2]:.2f}x the throughput; every publisher loaded exactly once per round; "
            f"{args.concurrency} loads at once per worker; "
            f"{os.cpu_count()} CPUs shared by the workers, PostgreSQL and the file server"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

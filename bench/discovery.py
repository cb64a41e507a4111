"""Discovery benchmark (run by hand): `python bench/discovery.py [--slots 1000000]`.

Three generated providers (different states, about `--slots` slots in all), each served by the provider
app on 127.0.0.1 in a subprocess, ingested `--runs` times, each time into a new SQLite discovery store.
Prints each run and, with targets: the median full ingest's rate and its ratio to a same-run baseline
that only msgspec-decodes the same NDJSON lines from disk (>= 0.25); this process's peak RSS during
ingest (< 300 MB); a re-poll when nothing changed (< 1% of the ingest); search latency near a ZIP
over the next 14 days (p99 < 25 ms). With `--postgres URL` (a database where the benchmark may create
and drop schemas), the same full ingests into PostgreSQL too, and their rate against SQLite's
(>= 1.0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
import psutil
from sqlalchemy import create_engine, func, select

from slotlinks.config import Settings, sqlite_url
from slotlinks.discovery.aggregate.cache import AggregateCache
from slotlinks.discovery.publishers.registry import add_publisher, list_publishers
from slotlinks.discovery.search.execute import search
from slotlinks.discovery.search.query import parse_search
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.discovery.sync import SyncEngine, SyncResult
from slotlinks.fhir.resources import RESOURCE_DECODERS
from slotlinks.provider.store import tables as pt
from slotlinks.provider.store.store import open_store as open_provider_store

DAYS = 28
PROVIDERS = (("Bench Bay Health", "MA"), ("Bench Shore Health", "CT,RI"), ("Bench Lakes Health", "NY"))
SERVICES = ("primary care", "dermatology", "flu")
PORTAL = "http://127.0.0.1:9/portal"


def generate(scratch: Path, db: str, name: str, locations: int, states: str, seed: int) -> subprocess.Popen[bytes]:
    command = ["generate", "provider", "--db", db, "--data-dir", str(scratch), "--name", name, "--states", states]
    return cli(
        [*command, "--locations", str(locations), "--days", str(DAYS), "--seed", str(seed), "--portal-url", PORTAL]
    )


def locations_for(target: int, scratch: Path) -> int:
    """Locations per provider so that the three together hold about `target` slots. The probe runs in
    a subprocess so that this process's memory holds no generator state (the ingest peak is measured)."""
    db = sqlite_url(scratch / "probe.db")
    if generate(scratch, db, "Probe", 60, "MA", 5).wait() != 0:
        raise RuntimeError("probe generation failed")
    probe = open_provider_store(db, migrate=False)
    with probe.read() as conn:
        slots = conn.execute(select(func.count()).select_from(pt.slot).where(pt.slot.c.active)).scalar_one()
    probe.dispose()
    return max(1, round(target / len(PROVIDERS) * 60 / slots))


def generate_all(scratch: Path, locations: int) -> list[str]:
    """Generates the providers in parallel (one CLI process each); returns their database URLs."""
    dbs = [sqlite_url(scratch / f"provider{i}.db") for i in range(len(PROVIDERS))]
    procs = [
        generate(scratch, db, name, locations, states, 11 + i)
        for i, (db, (name, states)) in enumerate(zip(dbs, PROVIDERS, strict=True))
    ]
    if any(proc.wait() != 0 for proc in procs):
        raise RuntimeError("provider generation failed")
    return dbs


def cli(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "slotlinks", *args]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(manifest_url: str, cache_dir: Path, deadline: float = 600) -> list[tuple[str, str]]:
    """Waits for the manifest and for every file's precompressed gzip sibling; returns (type, url)s."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            response = httpx.get(manifest_url, timeout=120)
            if response.status_code == 200:
                files = list(cache_dir.glob("v*/*.ndjson"))
                if files and all(f.with_name(f.name + ".gz").exists() for f in files):
                    return [(o["type"], o["url"]) for o in response.json()["output"]]
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"publisher at {manifest_url} did not become ready")


def download(outputs: list[tuple[str, str]], directory: Path) -> list[tuple[str, Path]]:
    directory.mkdir(parents=True)
    paths = []
    with httpx.Client(timeout=120, headers={"Accept-Encoding": "gzip"}) as client:
        for i, (rtype, url) in enumerate(outputs):
            path = directory / f"{i:04d}.ndjson"
            with client.stream("GET", url) as response, open(path, "wb") as out:
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
            paths.append((rtype, path))
    return paths


def decode_baseline(files: list[tuple[str, Path]]) -> tuple[int, float]:
    """Decodes every line of every file with its type's decoder; returns (slots, seconds)."""
    slots = 0
    started = time.perf_counter()
    for rtype, path in files:
        decode = RESOURCE_DECODERS[rtype].decode
        with open(path, "rb", buffering=1 << 20) as lines:
            for line in lines:
                if line.strip():
                    decode(line)
                    slots += rtype == "Slot"
    return slots, time.perf_counter() - started


def search_zips(store: DiscoveryStore, per_publisher: int = 4) -> list[str]:
    loc = t.location.c
    query = select(loc.publisher_id, loc.postal_code).where(loc.postal_code.is_not(None)).order_by(loc.pk)
    chosen: dict[int, list[str]] = {}
    with store.read() as conn:
        for publisher_id, postal in conn.execute(query):
            picked = chosen.setdefault(publisher_id, [])
            if len(picked) < per_publisher and postal[:5] not in picked:
                picked.append(postal[:5])
    return [z for zips in chosen.values() for z in zips]


def bench_search(store: DiscoveryStore, settings: Settings, runs: int) -> tuple[list[float], float, int]:
    """Times `runs` searches (after a warm-up); returns the latencies, mean locations found, and how many
    searches found nothing."""
    zips, today = search_zips(store), datetime.now(UTC).date()
    window = {"radius": "25mi", "from": today.isoformat(), "to": (today + timedelta(days=13)).isoformat()}
    combos = [{"near": z, "service": s, **window} for z in zips for s in SERVICES]
    times, found, empty = [], 0, 0
    for i in range(runs + 30):
        params = combos[i % len(combos)]
        started = time.perf_counter()
        request = parse_search(params, now=store.clock())
        with store.read() as conn:
            results = search(conn, request, now_ms=store.now_ms(), link_base=settings.discovery_url)
        took = time.perf_counter() - started
        if i >= 30:
            times.append(took)
            found += len(results)
            empty += not results
    return times, found / runs, empty


def serve_all(scratch: Path, dbs: list[str], servers: list[subprocess.Popen[bytes]]) -> list[str]:
    """Starts one provider server per database and waits until each is ready; returns their
    `$bulk-publish` URLs."""
    ports = [free_port() for _ in dbs]
    bases = [f"http://127.0.0.1:{port}/fhir" for port in ports]
    for i, (db, port) in enumerate(zip(dbs, ports, strict=True)):
        command = ["serve", "provider", "--db", db, "--data-dir", str(scratch / f"srv{i}"), "--host", "127.0.0.1"]
        servers.append(cli([*command, "--port", str(port), "--base-url", bases[i]]))
    return [f"{base}/$bulk-publish" for base in bases]


def fresh_store(path: Path, manifests: list[str]) -> DiscoveryStore:
    """A new discovery store with the benchmark's publishers registered."""
    store = open_store(sqlite_url(path))
    for url, (name, states) in zip(manifests, PROVIDERS, strict=True):
        add_publisher(store, url=url, name=name, states=states)
    return store


def bench_aggregate(store: DiscoveryStore, settings: Settings, directory: Path, runs: int) -> list[float]:
    """Seconds to build the whole aggregate publication (every NDJSON file written, no gzip), each
    time into a new cache, as the first `$bulk-publish` request after a data change does."""
    times = []
    for run in range(runs):
        cache = AggregateCache(store, settings, directory / f"aggregate{run}", recheck_ms=0)
        started = time.perf_counter()
        cache.current()
        times.append(time.perf_counter() - started)
        shutil.rmtree(directory / f"aggregate{run}")
    return times


def cpu(procs: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def timed_sync(engine: SyncEngine) -> tuple[float, list[SyncResult]]:
    started = time.perf_counter()
    results = asyncio.run(engine.sync_once(force=True))
    return time.perf_counter() - started, results


class Ingest(NamedTuple):
    seconds: float
    slots: int
    resources: int
    cpu: float
    server_cpu: float
    peak_rss: int
    rss_before: int


def measured_ingest(engine: SyncEngine, servers: list[psutil.Process]) -> Ingest:
    """One full sync by `engine` into its store, with this process's CPU time and peak RSS (sampled
    every 10 ms)."""
    me = psutil.Process()
    rss_before, peak, done = me.memory_info().rss, 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, me.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    os.sync()  # earlier writes (the set-up's, an earlier run's) are not this ingest's to wait for
    cpu_before, server_before = cpu([me]), cpu(servers)
    sampler.start()
    seconds, results = timed_sync(engine)
    done.set()
    sampler.join()
    if any(r.outcome != "full" for r in results):
        raise RuntimeError(f"ingest failed: {[(r.outcome, r.error) for r in results]}")
    slots = sum(p.slots for p in list_publishers(engine.store))
    resources = sum(r.counts.added for r in results)
    return Ingest(seconds, slots, resources, cpu([me]) - cpu_before, cpu(servers) - server_before, peak, rss_before)


def bench_postgres(
    url: str, manifests: list[str], settings: Settings, procs: list[psutil.Process], runs: int, sqlite_rate: float
) -> None:
    """The same full ingests into PostgreSQL, each into a schema of its own, dropped afterwards."""
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    rates: list[float] = []
    try:
        for run in range(runs):
            schema = f"bench_{os.getpid()}_{run}"
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            sep = "&" if "?" in url else "?"
            store = open_store(f"{url}{sep}options=-csearch_path%3D{schema}")
            try:
                for manifest, (name, states) in zip(manifests, PROVIDERS, strict=True):
                    add_publisher(store, url=manifest, name=name, states=states)
                r = measured_ingest(SyncEngine(store, settings), procs)
            finally:
                store.dispose()
                with admin.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            rates.append(r.slots / r.seconds)
            print(
                f"postgres run {run + 1}: ingest {r.slots:,} slots in {r.seconds:.2f} s, {rates[-1]:,.0f} slots/s, "
                f"this process {r.cpu:.1f} s CPU, peak RSS {r.peak_rss / 1e6:.0f} MB"
            )
    finally:
        admin.dispose()
    rate = statistics.median(rates)
    print(
        f"postgres ingest (median of {len(rates)}): {rate:,.0f} slots/s; ratio PostgreSQL/SQLite "
        f"{rate / sqlite_rate:.2f} (target >= 1.0; the server runs on the same 2 CPUs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3, help="full ingests (each into a new store); the median counts")
    parser.add_argument(
        "--postgres", metavar="URL", help="also ingest into PostgreSQL, e.g. postgresql://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="slotlinks-bench-discovery-"))
    servers: list[subprocess.Popen[bytes]] = []
    store: DiscoveryStore | None = None
    engine: SyncEngine | None = None
    try:
        locations = locations_for(args.slots, scratch)
        started = time.perf_counter()
        dbs = generate_all(scratch, locations)
        print(f"generated {len(dbs)} providers of {locations} locations each in {time.perf_counter() - started:.1f} s")
        settings = Settings(data_dir=scratch, allow_private_networks=True)
        started = time.perf_counter()
        manifests = serve_all(scratch, dbs, servers)
        caches = [scratch / f"srv{i}" / "publication-cache" for i in range(len(manifests))]
        outputs = [out for url, cache in zip(manifests, caches, strict=True) for out in wait_ready(url, cache)]
        files = download(outputs, scratch / "downloaded")
        print(f"publishers up (files encoded, gzipped, served once) in {time.perf_counter() - started:.1f} s")

        procs = [psutil.Process(s.pid) for s in servers]
        runs: list[Ingest] = []
        baselines: list[tuple[int, float]] = []
        for run in range(args.runs):
            if store is not None:
                store.dispose()
                for leftover in scratch.glob(f"discovery{run - 1}.db*"):
                    leftover.unlink()
            store = fresh_store(scratch / f"discovery{run}.db", manifests)
            engine = SyncEngine(store, settings)
            runs.append(measured_ingest(engine, procs))
            baselines.append(decode_baseline(files))
            r, (decoded, decode_time) = runs[-1], baselines[-1]
            print(
                f"run {run + 1}: ingest {r.slots:,} slots ({r.resources:,} resources added) from {len(files)} files "
                f"in {r.seconds:.2f} s, {r.slots / r.seconds:,.0f} slots/s, this process {r.cpu:.1f} s CPU "
                f"(servers {r.server_cpu:.1f} s, not subtracted), peak RSS {r.peak_rss / 1e6:.0f} MB; "
                f"decode baseline {decoded / decode_time:,.0f} slots/s"
            )
            if decoded != r.slots:
                print(f"warning: {decoded:,} slots decoded from disk but {r.slots:,} stored")
        assert store is not None
        assert engine is not None
        ingest = statistics.median(r.seconds for r in runs)
        slots = runs[-1].slots
        decode_time = statistics.median(t for _, t in baselines)
        decoded = baselines[-1][0]
        ratio = (slots / ingest) / (decoded / decode_time)
        print(
            f"ingest (full sync_once, median of {len(runs)} runs into new stores): {slots:,} slots in {ingest:.2f} s, "
            f"{slots / ingest:,.0f} slots/s; files pre-encoded, pre-gzipped and served once before; "
            f"{psutil.cpu_count()} CPUs"
        )
        print(
            f"decode baseline (msgspec RESOURCE_DECODERS, same lines, files on disk, median of {len(baselines)}): "
            f"{decode_time:.2f} s, {decoded / decode_time:,.0f} slots/s; ratio ingest/decode {ratio:.3f} "
            f"(target >= 0.25)"
        )
        first, worst = runs[0], max(runs, key=lambda r: r.peak_rss)
        print(
            f"peak memory during ingest (psutil RSS of this process, sampled every 10 ms), first run: "
            f"{first.peak_rss / 1e6:.0f} MB (before {first.rss_before / 1e6:.0f} MB, growth "
            f"{(first.peak_rss - first.rss_before) / 1e6:.0f} MB) (target < 300 MB); highest of the runs "
            f"(later runs start with what earlier ones left in the process): {worst.peak_rss / 1e6:.0f} MB"
        )
        for label in ("re-poll, nothing changed", "  a third poll, for the steady state"):
            server_before = cpu(procs)
            took, again = timed_sync(engine)
            outcomes = ",".join(sorted({r.outcome for r in again}))
            target = " (target < 1%)" if label[0] != " " else ""
            print(
                f"{label} ({outcomes}): {took * 1000:.1f} ms, {took / ingest:.3%} of the ingest{target}; "
                f"servers used {(cpu(procs) - server_before) * 1000:.0f} ms CPU meanwhile"
            )

        times, mean_found, empty = bench_search(store, settings, args.searches)
        p99 = statistics.quantiles(times, n=100, method="inclusive")[98] * 1000
        print(
            f"search ({len(times)} searches after 30 warm-up: 25 mi of a ZIP, next 14 days, {'/'.join(SERVICES)}; "
            f"{mean_found:.1f} locations found on average, {empty} found none): "
            f"median {statistics.median(times) * 1000:.2f} ms, p99 {p99:.2f} ms (target p99 < 25 ms)"
        )
        built = bench_aggregate(store, settings, scratch, 3)
        took = statistics.median(built)
        print(
            f"aggregate publication built whole (median of {len(built)}, each into a new cache): {took:.2f} s, "
            f"{slots / took:,.0f} slots/s; {(slots / took) / (slots / ingest):.2f}x the ingest rate"
        )
        if args.postgres:
            bench_postgres(args.postgres, manifests, settings, procs, args.runs, slots / ingest)
    finally:
        if store is not None:
            store.dispose()
        for server in servers:
            server.terminate()
        for server in servers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=30)
            server.kill()  # a no-op once it has exited
            server.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

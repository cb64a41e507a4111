"""Scale benchmark (run by hand): `python bench/scale.py --postgres URL [--slots 10000000] [--exports DIR]`.

`--publishers` static exports (default 20, about `--slots` slots in all; real ZIP codes across the
country, three services per location, `DAYS` days of 10-minute times from today) are written once
(into `--exports`, reused by later runs of the same size and day) and served on 127.0.0.1 by
tests/data/realworld/serve_corpus.py, so generating them is not what is measured. Then, each step a
real `slotlinks` process whose peak RSS is sampled:

1. a full load (`slotlinks sync --once`, one worker) into a new SQLite file and into a new
   PostgreSQL schema, and the ratio of their rates;
2. a full load into another PostgreSQL schema by two workers at once (they share the publishers
   through leases), checked that no publisher was loaded twice, and its rate against one worker's;
3. an incremental round on each database: every publisher answers `_since` with 1 % of its slots
   changed (free and busy swapped); then a full reload on each (no `_since`: what a publisher
   without it costs at every poll), each generation compared with the one it replaces;
4. search latency over HTTP (`slotlinks serve discovery --no-sync` on each database, one server
   process and `--server-workers`, by default one per CPU) under `--clients` concurrent clients,
   the queries of bench/discovery.py (25 miles of a ZIP, the next 14 days, a service), `--searches`
   timed after `WARMUP`; the clients are threads of this process with keep-alive connections;
5. database size on disk; with `--reloads N`, the size of the slot table after each of N more full
   loads on PostgreSQL (stale generations must not make it grow: sync/upkeep.py); with `--explain`,
   the PostgreSQL plans of a search and of FHIR Slot queries (EXPLAIN ANALYZE), and which scan
   each table gets.

Prints a table of the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx
import psutil
import zipcodes
from sqlalchemy import Engine, create_engine, event, select, text, update

from slotlinks.config import Settings, sqlite_url
from slotlinks.discovery.publishers.registry import add_publisher, list_publishers
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SERVE_CORPUS = ROOT / "tests" / "data" / "realworld" / "serve_corpus.py"
DAYS = 28
PER_DAY = 30  # 10-minute times a schedule offers a day (13:00 to 18:00 UTC)
SERVICES = ("primary care", "dermatology", "flu")
SERVICE_CODES = ("124", "168", "57")  # HL7 service-type codes
CHANGED = 0.01  # share of slots an incremental round changes
#: Searches before the timed ones: enough for each of the server's pooled connections (10 a process)
#: to have prepared the search's statements (psycopg prepares a text on its fifth run).
WARMUP = 400
BOOK = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"


# --- the exports -----------------------------------------------------------------------------


def _zip_codes(count: int, seed: int) -> list[tuple[str, str, str]]:
    """`count` distinct (ZIP, city, state) spread across the country's standard ZIP codes."""
    records = [
        (z["zip_code"], z["city"], z["state"])
        for z in zipcodes.list_all()  # type: ignore[no-untyped-call]
        if z["zip_code_type"] == "STANDARD" and z["active"] and z["lat"] and z["timezone"]
    ]
    return random.Random(seed).sample(records, min(count, len(records)))


def _instant(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _write_publisher(
    directory: Path, index: int, slots: int, places: Sequence[tuple[str, str, str]], day: date
) -> None:
    """One publisher's export: its locations, a schedule per service at each, `slots` slots spread
    over them from `day`, and the `_since` answer after 1 % of its slots changed."""
    directory.mkdir(parents=True)
    with open(directory / "location.ndjson", "wb") as out:
        for i, (code, city, state) in enumerate(places):
            address = {"line": [f"{100 + i} Main Street"], "city": city, "state": state, "postalCode": code}
            phone = [{"system": "phone", "value": f"617-555-{i % 10000:04d}"}]
            name = f"Scale Health {index} {city}"
            location = {"resourceType": "Location", "id": f"l{i}", "name": name, "telecom": phone, "address": address}
            out.write(json.dumps(location, separators=(",", ":")).encode() + b"\n")
    schedules = len(places) * len(SERVICES)
    with open(directory / "schedule.ndjson", "wb") as out:
        for n in range(schedules):
            service = n % len(SERVICES)
            coding = [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/service-type",
                    "code": SERVICE_CODES[service],
                    "display": SERVICES[service].capitalize(),
                }
            ]
            schedule = {
                "resourceType": "Schedule",
                "id": f"s{n}",
                "serviceType": [{"coding": coding, "text": SERVICES[service]}],
                "actor": [{"reference": f"Location/l{n // len(SERVICES)}"}],
            }
            out.write(json.dumps(schedule, separators=(",", ":")).encode() + b"\n")
    first = int(datetime(day.year, day.month, day.day, 13, tzinfo=UTC).timestamp() * 1000)
    rng = random.Random(index)
    changed = sorted(rng.sample(range(slots), max(1, round(slots * CHANGED))))
    link = f"https://book.example.org/p{index}/slot/"

    def slot(n: int, flip: bool) -> bytes:
        step = n // schedules  # the n-th time of its schedule
        at = first + 86_400_000 * (step // PER_DAY) + 600_000 * (step % PER_DAY)
        status = "busy" if (n % 10 == 9) != flip else "free"
        return (
            f'{{"resourceType":"Slot","id":"{n}","schedule":{{"reference":"Schedule/s{n % schedules}"}},'
            f'"status":"{status}","start":"{_instant(at)}","end":"{_instant(at + 600_000)}",'
            f'"extension":[{{"url":"{BOOK}","valueUrl":"{link}{n}"}}]}}\n'
        ).encode()

    with open(directory / "slot.ndjson", "wb", buffering=1 << 20) as lines:
        for n in range(slots):
            lines.write(slot(n, False))
    with open(directory / "slot-changes.ndjson", "wb") as lines:
        for n in changed:
            lines.write(slot(n, True))
    full = f"{day.isoformat()}T00:00:00Z"
    outputs = [{"type": k, "url": f"{{BASE}}/{k.lower()}.ndjson"} for k in ("Location", "Schedule", "Slot")]
    manifest = {"transactionTime": full, "request": "{BASE}/$bulk-publish", "output": outputs, "error": []}
    (directory / "$bulk-publish").write_text(json.dumps(manifest))
    since = {
        "transactionTime": f"{day.isoformat()}T01:00:00Z",
        "request": f"{{BASE}}/$bulk-publish?_since={full}",
        "output": [{"type": "Slot", "url": "{BASE}/slot-changes.ndjson"}],
        "error": [],
    }
    (directory / "$bulk-publish.since").write_text(json.dumps(since))


def write_exports(root: Path, publishers: int, slots: int, day: date) -> list[str]:
    """The exports under `root` (kept when already there for the same size and day); returns the ZIP
    codes of their locations."""
    stamp = {"publishers": publishers, "slots": slots, "day": day.isoformat(), "per_day": PER_DAY, "days": DAYS}
    stamp_file = root / "scale-exports.json"
    per_publisher = slots // publishers
    per_location = DAYS * PER_DAY * len(SERVICES)
    locations = max(1, math.ceil(per_publisher / per_location))
    places = _zip_codes(locations * publishers, seed=17)
    if stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        return [code for code, _, _ in places]
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for i in range(publishers):
        mine = places[i::publishers]
        _write_publisher(root / f"p{i:03d}", i, per_publisher, mine, day)
    stamp_file.write_text(json.dumps(stamp))
    return [code for code, _, _ in places]


@contextlib.contextmanager
def served(root: Path, publishers: int) -> Iterator[list[str]]:
    """The exports served on 127.0.0.1; yields the manifest URLs."""
    server = subprocess.Popen(
        [sys.executable, str(SERVE_CORPUS), str(root), "0", "--quiet"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        if not server.stdout.readline().startswith("serving "):
            raise RuntimeError("serve_corpus.py did not start")
        yield [server.stdout.readline().strip() for _ in range(publishers)]
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- processes, measured ---------------------------------------------------------------------


class Run(NamedTuple):
    seconds: float
    peak_rss: list[int]  # bytes, per process


def _env(scratch: Path) -> dict[str, str]:
    return {**os.environ, "SLOTLINKS_DATA_DIR": str(scratch), "PYTHONUNBUFFERED": "1"}


def _sample_peaks(procs: Sequence[subprocess.Popen[bytes]], peaks: list[int], done: threading.Event) -> None:
    """The peak RSS of each process (of its largest child, when it has any: a server's workers)."""
    watched = [psutil.Process(p.pid) for p in procs]
    while not done.is_set():
        for i, proc in enumerate(watched):
            with contextlib.suppress(psutil.Error):
                sizes = [c.memory_info().rss for c in proc.children()] or [proc.memory_info().rss]
                peaks[i] = max(peaks[i], *sizes)
        time.sleep(0.02)


def measured_sync(db: str, workers: int, scratch: Path) -> Run:
    """`workers` processes of `slotlinks sync --once` on `db` at once; seconds until all have exited."""
    command = [sys.executable, "-m", "slotlinks", "sync", "--once", "--db", db, "--allow-private-networks"]
    os.sync()  # earlier writes are not this load's to wait for
    started = time.perf_counter()
    procs = [
        subprocess.Popen(command, env=_env(scratch), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(workers)
    ]
    peaks, done = [0] * workers, threading.Event()
    sampler = threading.Thread(target=_sample_peaks, args=(procs, peaks, done), daemon=True)
    sampler.start()
    errors = [p.communicate()[1] for p in procs]
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    for proc, err in zip(procs, errors, strict=True):
        if proc.returncode:
            raise RuntimeError(f"slotlinks sync failed: {err.decode()[-2000:]}")
    return Run(seconds, peaks)


def loads_by_outcome(db: str) -> Counter[tuple[int, str]]:
    """How many times each (publisher, outcome) was recorded."""
    store = open_store(db, migrate=False)
    try:
        r = t.sync_run.c
        with store.read() as conn:
            return Counter((int(p), str(o)) for p, o in conn.execute(select(r.publisher_id, r.outcome)))
    finally:
        store.dispose()


def check_polls(db: str, publishers: int, **outcomes: int) -> None:
    """Every publisher was polled exactly as often as `outcomes` says (outcome -> times), and no more:
    a publisher that two workers both polled in one round shows as a poll too many."""
    got = loads_by_outcome(db)
    ids = {p for p, _ in got}
    expected = Counter({(p, o): n for p in ids for o, n in outcomes.items()})
    if len(ids) != publishers or got != expected:
        raise RuntimeError(f"expected every publisher polled {outcomes}: {dict(got)}")


def slot_count(db: str) -> int:
    store = open_store(db, migrate=False)
    try:
        return sum(p.slots for p in list_publishers(store))
    finally:
        store.dispose()


# --- the databases -----------------------------------------------------------------------------


def schema_url(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def admin_engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")


def new_database(db: str, manifests: Sequence[str]) -> None:
    store = open_store(db)
    try:
        for i, manifest in enumerate(manifests):
            add_publisher(store, url=manifest, name=f"Scale publisher {i}")
    finally:
        store.dispose()


def sqlite_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))


def postgres_size(admin: Engine, schema: str, table: str | None = None) -> int:
    """Bytes of the schema's tables with their indexes and TOAST (or of one table, with its partitions)."""
    query = (
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')"
    )
    params: dict[str, Any] = {"schema": schema}
    if table:
        query += " AND c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass(:table)))"
        params["table"] = f'"{schema}".{table}'
    with admin.connect() as conn:
        return int(conn.execute(text(query), params).scalar_one())


def dead_rows(admin: Engine, schema: str, table: str) -> tuple[int, int]:
    """(live, dead) rows of a table by PostgreSQL's statistics."""
    query = "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE schemaname = :s AND relname = :t"
    with admin.connect() as conn:
        row = conn.execute(text(query), {"s": schema, "t": table}).one()
    return int(row[0]), int(row[1])


def forget_transaction_times(db: str) -> None:
    """The next poll of every publisher is a full load (no `_since`, no validators)."""
    store = open_store(db, migrate=False)
    try:
        with store.write() as conn:
            conn.execute(update(t.publisher).values(transaction_time=None, etag=None, last_modified=None))
    finally:
        store.dispose()


# --- search --------------------------------------------------------------------------------------


def search_queries(zips: Sequence[str], count: int, seed: int = 5) -> list[dict[str, str]]:
    """The queries of bench/discovery.py: 25 miles of a ZIP where there are locations, the next 14
    days, one of the services."""
    today = datetime.now(UTC).date()
    window = {"radius": "25mi", "from": today.isoformat(), "to": (today + timedelta(days=13)).isoformat()}
    rng = random.Random(seed)
    return [{"near": rng.choice(zips), "service": rng.choice(SERVICES), **window} for _ in range(count)]


class Latency(NamedTuple):
    p50_ms: float
    p99_ms: float
    searches: int
    mean_locations: float
    server_rss: int


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measured_search(
    db: str, scratch: Path, queries: Sequence[dict[str, str]], clients: int, warmup: int, workers: int
) -> Latency:
    """`slotlinks serve discovery --no-sync --workers N` on `db`; `clients` threads, each with its own
    connection, send the queries, the first `warmup` not counted."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "slotlinks",
        "serve",
        "discovery",
        "--db",
        db,
        "--no-sync",
        "--workers",
        str(workers),
    ]
    command += ["--host", "127.0.0.1", "--port", str(port), "--base-url", base, "--data-dir", str(scratch / "srv")]
    server = subprocess.Popen(command, env=_env(scratch), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks, done = [0], threading.Event()
    sampler = threading.Thread(target=_sample_peaks, args=([server], peaks, done), daemon=True)
    sampler.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise RuntimeError("the discovery server exited")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/search", params=queries[0], timeout=60).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the discovery server did not start")
            time.sleep(0.2)
        times: list[float] = []
        found: list[int] = []
        lock = threading.Lock()
        todo = iter(enumerate(queries))

        def client() -> None:
            # The standard library's client: a third of httpx's CPU a search, on CPUs the server shares.
            http = HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                while True:
                    with lock:
                        item = next(todo, None)
                    if item is None:
                        return
                    i, params = item
                    started = time.perf_counter()
                    http.request("GET", "/api/search?" + urlencode(params))
                    response = http.getresponse()
                    body = response.read()
                    took = time.perf_counter() - started
                    if response.status != 200:
                        raise RuntimeError(f"search answered {response.status}: {body[:500]!r}")
                    if i >= warmup:
                        with lock:
                            times.append(took)
                            found.append(len(json.loads(body)["locations"]))
            finally:
                http.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        # As timeit does: the clients' garbage collector is off while they are timed, so a pause of
        # this process (whose heap holds the whole benchmark) is not counted as the server's time.
        # The clients make no reference cycles; their objects go as they are freed.
        gc.disable()
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            gc.enable()
        if len(times) != len(queries) - warmup:
            raise RuntimeError("a search client failed")
        p99 = statistics.quantiles(times, n=100, method="inclusive")[98]
        return Latency(statistics.median(times) * 1000, p99 * 1000, len(times), statistics.mean(found), peaks[0])
    finally:
        done.set()
        sampler.join()
        server.terminate()
        server.wait(timeout=30)


# --- plans ---------------------------------------------------------------------------------------


def explain_plans(db: str, zips: Sequence[str]) -> list[str]:
    """EXPLAIN ANALYZE of every statement a search and FHIR Slot queries run, summarized: each
    statement's time and the scans it uses on the feed tables. A sequential scan of feed_slot is
    what must never appear."""
    from fastapi.testclient import TestClient

    from slotlinks.discovery.app import create_app

    store = open_store(db, migrate=False)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "feed_" in statement:
            statements.append((statement, parameters))

    lines: list[str] = []
    settings = Settings(data_dir=Path(tempfile.gettempdir()), discovery_url="http://127.0.0.1:9")
    query = search_queries(zips, 1)[0]
    with TestClient(create_app(settings, store, background_sync=False)) as http:
        schedule = http.get("/fhir/Schedule", params={"_count": "1"}).json()["entry"][0]["resource"]["id"]
        start = "ge" + query["from"]
        checks = {
            f"search near {query['near']}, {query['service']}": ("/api/search", query),
            "FHIR Slot, first page": ("/fhir/Slot", {"_count": "50"}),
            "FHIR Slot of a schedule from a date": ("/fhir/Slot", {"schedule": f"Schedule/{schedule}", "start": start}),
            "FHIR Slot, free, from a date": ("/fhir/Slot", {"status": "free", "start": start, "_count": "50"}),
        }
        for label, (path, params) in checks.items():
            http.get(path, params=params)  # the first answer builds caches; the second is the steady state
            statements.clear()
            response = http.get(path, params=params)
            lines.append(f"{label}: HTTP {response.status_code}, {len(statements)} statements on feed tables")
            summaries: Counter[str] = Counter()
            for statement, parameters in list(statements):
                with store.engine.connect() as conn:
                    explained = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
                    plan = explained.scalar_one()[0]
                    conn.rollback()
                scans = "; ".join(sorted(set(_scans(plan["Plan"])))) or "(no table)"
                summaries[scans] += 1
                if summaries[scans] == 1:  # the snapshot's lookups repeat one plan per table
                    lines.append(f"  {plan['Execution Time']:8.2f} ms  {scans}")
            repeated = {k: n for k, n in summaries.items() if n > 1}
            if repeated:
                lines.append(f"  (repeated with the same scans: {', '.join(str(n) for n in repeated.values())} times)")
    store.dispose()
    return lines


def _scans(node: dict[str, Any]) -> Iterator[str]:
    if "Relation Name" in node:
        index = f" {node['Index Name']}" if "Index Name" in node else ""
        yield f"{node['Node Type']} {node['Relation Name']}{index}"
    for child in node.get("Plans", []):
        yield from _scans(child)


# --- the run ---------------------------------------------------------------------------------------


def mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", required=True, help="e.g. postgresql://postgres@127.0.0.1/test")
    parser.add_argument("--slots", type=int, default=10_000_000, help="slots in all")
    parser.add_argument("--publishers", type=int, default=20)
    parser.add_argument("--exports", type=Path, help="keep the generated exports here and reuse them")
    parser.add_argument("--searches", type=int, default=3000, help=f"searches per database, after {WARMUP} warm-up")
    parser.add_argument("--clients", type=int, default=8, help="concurrent search clients")
    parser.add_argument(
        "--server-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="also search with this many server processes (`slotlinks serve discovery --workers`)",
    )
    parser.add_argument("--reloads", type=int, default=0, help="more full loads on PostgreSQL, sizes after each")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the search and FHIR Slot queries")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="slotlinks-bench-scale-"))
    exports = args.exports or scratch / "exports"
    started = time.perf_counter()
    zips = write_exports(exports, args.publishers, args.slots, datetime.now(UTC).date())
    print(f"exports ready in {time.perf_counter() - started:.1f} s ({exports})", flush=True)
    admin = admin_engine(args.postgres)
    schemas = {n: f"bench_scale_{os.getpid()}_{n}" for n in ("one", "two")}
    rows: list[tuple[str, str]] = []

    def row(label: str, value: str) -> None:
        rows.append((label, value))
        print(f"{label}: {value}", flush=True)

    try:
        with served(exports, args.publishers) as manifests:
            lite_path = scratch / "discovery.db"
            lite = sqlite_url(lite_path)
            for schema in schemas.values():
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            pg_one, pg_two = (schema_url(args.postgres, schemas[n]) for n in ("one", "two"))
            for db in (lite, pg_one, pg_two):
                new_database(db, manifests)

            full: dict[str, Run] = {}
            for name, db in (("SQLite", lite), ("PostgreSQL", pg_one)):
                full[name] = measured_sync(db, 1, scratch)
                check_polls(db, args.publishers, full=1)
            slots = slot_count(lite)
            if slot_count(pg_one) != slots:
                raise RuntimeError("SQLite and PostgreSQL hold different numbers of slots")
            rate = {name: slots / r.seconds for name, r in full.items()}
            for name, r in full.items():
                row(
                    f"full load, {name}, 1 worker",
                    f"{r.seconds:.1f} s, {rate[name]:,.0f} slots/s, peak RSS {mb(r.peak_rss[0])}",
                )
            row("full load, PostgreSQL/SQLite rate", f"{rate['PostgreSQL'] / rate['SQLite']:.2f}")

            two = measured_sync(pg_two, 2, scratch)
            check_polls(pg_two, args.publishers, full=1)  # polled once each, by one worker or the other
            row(
                "full load, PostgreSQL, 2 workers",
                f"{two.seconds:.1f} s, {slots / two.seconds:,.0f} slots/s, peak RSS "
                f"{' + '.join(mb(p) for p in two.peak_rss)}; no publisher loaded twice",
            )
            row("full load, PostgreSQL, 2 workers/1 worker rate", f"{full['PostgreSQL'].seconds / two.seconds:.2f}")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schemas.pop("two")}" CASCADE'))

            for name, db in (("SQLite", lite), ("PostgreSQL", pg_one)):
                r = measured_sync(db, 1, scratch)
                check_polls(db, args.publishers, full=1, incremental=1)
                row(
                    f"incremental round ({CHANGED:.0%} of slots changed), {name}",
                    f"{r.seconds:.1f} s, {r.seconds / full[name].seconds:.1%} of the full load, "
                    f"peak RSS {mb(r.peak_rss[0])}",
                )
            # A publisher without `_since` is loaded whole at each poll: every generation replaced.
            reload: dict[str, Run] = {}
            for name, db in (("SQLite", lite), ("PostgreSQL", pg_one)):
                forget_transaction_times(db)
                reload[name] = r = measured_sync(db, 1, scratch)
                check_polls(db, args.publishers, full=2, incremental=1)
                row(
                    f"full reload (every generation replaced), {name}",
                    f"{r.seconds:.1f} s, {r.seconds / full[name].seconds:.0%} of the first full load, "
                    f"peak RSS {mb(r.peak_rss[0])}",
                )
            row("full reload, PostgreSQL/SQLite rate", f"{reload['SQLite'].seconds / reload['PostgreSQL'].seconds:.2f}")
            row("database size, SQLite", mb(sqlite_size(lite_path)))
            row(
                "database size, PostgreSQL",
                f"{mb(postgres_size(admin, schemas['one']))} "
                f"(feed_slot {mb(postgres_size(admin, schemas['one'], 'feed_slot'))})",
            )

            queries = search_queries(zips, args.searches + WARMUP)
            for name, db in (("SQLite", lite), ("PostgreSQL", pg_one)):
                for workers in sorted({1, args.server_workers}):
                    s = measured_search(db, scratch, queries, args.clients, WARMUP, workers)
                    row(
                        f"search, {name}, {args.clients} clients over HTTP, {workers} server process(es)",
                        f"p50 {s.p50_ms:.1f} ms, p99 {s.p99_ms:.1f} ms ({s.searches} searches, "
                        f"{s.mean_locations:.1f} locations each), server peak RSS {mb(s.server_rss)} each",
                    )

            if args.explain:
                for line in explain_plans(pg_one, zips):
                    print(line)

            # Full reloads (no `_since`): the slot table's size must not grow with stale generations.
            for n in range(args.reloads):
                before = postgres_size(admin, schemas["one"], "feed_slot")
                forget_transaction_times(pg_one)
                r = measured_sync(pg_one, 1, scratch)
                live, dead = dead_rows(admin, schemas["one"], "feed_slot")
                row(
                    f"full reload {n + 1}, PostgreSQL",
                    f"{r.seconds:.1f} s; feed_slot {mb(before)} -> "
                    f"{mb(postgres_size(admin, schemas['one'], 'feed_slot'))} ({live:,} live rows, {dead:,} dead)",
                )
    finally:
        with admin.connect() as conn:
            for schema in schemas.values():
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        shutil.rmtree(scratch, ignore_errors=True)

    width = max(len(label) for label, _ in rows)
    print(
        f"\n{slots:,} slots from {args.publishers} publishers; "
        f"{os.cpu_count()} CPUs shared with PostgreSQL and the file server"
    )
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()

"""Patient journeys benchmark (run by hand): `python bench/journeys.py [--seconds 60] [--patients 8]`.

Issue 14's promise, measured: `--providers` generated providers (`slotlinks serve provider --max-age
300`, each its own process) and two discovery servers (`slotlinks serve discovery`, processes) on
127.0.0.1 over the same providers: one with push (each provider's source secret stored, so it
subscribes to the availability topic), one polling only. Then a busy morning of `--seconds`: patients,
half on each discovery server, search `/api/search`, pick one of the free times, follow `/go`, hold,
answer and book; meanwhile each provider's staff book and cancel times directly in its store. Everyone
takes single-place times, so a taken time leaves search (one with places left stays, and would blur
the staleness figure).

Printed per discovery server: staleness (from a change committed at a provider to the slot's row in
that server's store, the row its search reads, showing it) p50/p95/max, a change not visible by the
end counted with its age then; the share of followed links that end booked among eligible patients
(every patient is eligible: they search a service without questionnaires); and how many met a "no
longer available" page (the portal's, or discovery's own when `/go` finds the time taken).
Targets: push staleness p95 < 2 s and >= 99% booked; polling only is the baseline.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from slotlinks.clock import now_ms
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as dt
from slotlinks.discovery.store.store import open_store as open_discovery_store
from slotlinks.provider.demo.generate import GenerateOptions, generate_provider
from slotlinks.provider.portal.booking import book, cancel
from slotlinks.provider.portal.holds import place_hold
from slotlinks.provider.portal.patient import Patient
from slotlinks.provider.store import tables as pt
from slotlinks.provider.store.store import ProviderStore
from slotlinks.provider.store.store import open_store as open_provider_store

ADMIN = "journeys-admin-token-0123456789"
SOURCE = "journeys-finder"
ZONE = ZoneInfo("America/New_York")
SEARCH = {"near": "02903", "radius": "60mi", "limit": "50", "per_location": "10", "service": "primary care"}
PATIENT = {"name": "Ada Lovelace", "birthDate": "1980-12-10", "phone": "617-555-0100", "email": "ada@example.com"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_FORM = re.compile(r'<form method="post" action="([^"]+)"')


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], log: Path, env: dict[str, str], ready: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "slotlinks", *args], stdout=subprocess.DEVNULL, stderr=err, env=env
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{args[:2]} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(ready, timeout=5).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{ready} did not answer")


@dataclass
class Provider:
    origin: str
    db: Path
    secret: str
    store: ProviderStore | None = None


@dataclass
class Discovery:
    label: str
    origin: str
    db: Path
    pids: dict[str, int] = field(default_factory=dict)  # provider origin -> publisher id


@dataclass
class Watch:
    """Changes waiting to show in one discovery store: (publisher id, slot id) -> (since, wanted free?)."""

    pending: dict[tuple[int, str], tuple[float, bool]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Tally:
    followed: int = 0
    booked: int = 0
    unavailable: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_providers(tmp: Path, count: int, env: dict[str, str], procs: list[subprocess.Popen[bytes]]) -> list[Provider]:
    providers = []
    for n in range(count):
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        db = tmp / f"provider-{n}.db"
        store = open_provider_store(f"sqlite:///{db}")
        today = datetime.now(ZONE).date()
        generate_provider(
            store,
            GenerateOptions(f"Journeys Health {n}", 2, ("RI",), 2, 3 + 6 * n, origin, today),
        )
        store.dispose()
        args = ["serve", "provider", "--db", f"sqlite:///{db}", "--data-dir", str(tmp / f"provider-{n}-data")]
        args += ["--port", str(port), "--max-age", "300", "--admin-token", ADMIN, "--allow-private-networks"]
        procs.append(start(args, tmp / f"provider-{n}.log", env, f"{origin}/fhir/metadata"))
        providers.append(Provider(origin, db, f"journeys-secret-{n}-0123456789"))
    return providers


def make_discovery(
    tmp: Path, label: str, providers: list[Provider], push: bool, env: dict[str, str]
) -> tuple[Discovery, subprocess.Popen[bytes]]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    db = tmp / f"discovery-{label}.db"
    store = open_discovery_store(f"sqlite:///{db}")
    found = Discovery(label, origin, db)
    for provider in providers:
        pid = registry.add_publisher(store, url=f"{provider.origin}/fhir/$bulk-publish", name=provider.origin).id
        found.pids[provider.origin] = pid
        if push:
            registry.set_referral_secret(store, pid, provider.secret)
    store.dispose()
    args = ["serve", "discovery", "--db", f"sqlite:///{db}", "--data-dir", str(tmp / f"discovery-{label}-data")]
    args += ["--port", str(port), "--base-url", origin, "--source-id", SOURCE, "--admin-token", ADMIN]
    args += ["--allow-private-networks", "--deeplink-attempts", "100000"]
    return found, start(args, tmp / f"discovery-{label}.log", env, f"{origin}/api/search?near=02903")


def register(providers: list[Provider], discovery: Discovery) -> None:
    for provider in providers:
        answer = httpx.put(
            f"{provider.origin}/admin/sources/{SOURCE}",
            json={"secret": provider.secret, "returnUrl": f"{discovery.origin}/"},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=10,
        )
        answer.raise_for_status()


def ready(discovery: Discovery, push: bool, deadline: float = 120) -> None:
    """Every publisher synced once, and with push every subscription active."""
    end = time.monotonic() + deadline
    store = open_discovery_store(f"sqlite:///{discovery.db}", migrate=False)
    try:
        while time.monotonic() < end:
            with store.read() as conn:
                synced = conn.execute(select(dt.publisher.c.generation)).scalars().all()
                active = conn.execute(select(dt.publisher_push.c.status)).scalars().all()
            if all(g > 0 for g in synced) and (not push or (len(active) == len(synced) and set(active) == {"active"})):
                return
            time.sleep(0.2)
    finally:
        store.dispose()
    raise SystemExit(f"discovery {discovery.label} not ready")


def note_change(watches: list[tuple[Discovery, Watch]], provider: Provider, slot_id: str, free: bool) -> None:
    now = time.monotonic()
    for discovery, watch in watches:
        with watch.lock:
            watch.pending[(discovery.pids[provider.origin], slot_id)] = (now, free)


def watcher(discovery: Discovery, watch: Watch, stop: threading.Event) -> None:
    store = open_discovery_store(f"sqlite:///{discovery.db}", migrate=False)
    s, p = dt.slot.c, dt.publisher.c
    try:
        while not stop.is_set():
            with watch.lock:
                keys = list(watch.pending)
            if keys:
                with store.read() as conn:
                    query = select(s.publisher_id, s.source_id, s.status).join(
                        dt.publisher, (p.id == s.publisher_id) & (p.generation == s.generation)
                    )
                    ids = sorted({k[1] for k in keys})
                    rows = {
                        (r.publisher_id, r.source_id): r.status == "free"
                        for r in conn.execute(query.where(s.source_id.in_(ids)))
                    }
                now = time.monotonic()
                with watch.lock:
                    for key in keys:
                        since, free = watch.pending.get(key, (0.0, False))
                        if key in watch.pending and rows.get(key, False) == free:
                            watch.seconds.append(now - since)
                            del watch.pending[key]
            time.sleep(0.05)
    finally:
        store.dispose()


def patient(
    discovery: Discovery,
    providers: list[Provider],
    watches: list[tuple[Discovery, Watch]],
    tally: Tally,
    stop: threading.Event,
    seed: int,
) -> None:
    rng = random.Random(seed)
    by_origin = {p.origin: p for p in providers}
    while not stop.is_set():
        with httpx.Client(timeout=30, follow_redirects=True) as client:
            found = client.get(f"{discovery.origin}/api/search", params=SEARCH).json()
            slots = [
                s for loc in found["locations"] for s in loc["slots"] if s["status"] == "free" and s["capacity"] == 1
            ]
            if not slots:
                time.sleep(0.5)
                continue
            landed = client.get(rng.choice(slots)["link"])
            with tally.lock:
                tally.followed += 1
            origin = next((o for o in by_origin if str(landed.url).startswith(o + "/")), None)
            if origin is None or "Continue with this time" not in landed.text:
                with tally.lock:
                    tally.unavailable += 1
                continue
            query = dict(httpx.URL(str(landed.url)).params)
            slot_id = httpx.URL(str(landed.url)).path.rsplit("/", 1)[-1]
            held = submit(client, landed, source=query["source"], **{"booking-referral": query["booking-referral"]})
            if "holding this time" not in held.text:
                with tally.lock:
                    tally.unavailable += 1
                continue
            note_change(watches, by_origin[origin], slot_id, False)
            time.sleep(rng.uniform(0.5, 2.0))  # reading and answering
            done = submit(client, held, action="book", **PATIENT)
            if "Back to your search" in done.text or "booked" in done.text.lower():
                with tally.lock:
                    tally.booked += 1


def submit(client: httpx.Client, page: httpx.Response, **fields: str) -> httpx.Response:
    csrf, action = _CSRF.search(page.text), _FORM.search(page.text)
    if csrf is None or action is None:
        return page
    return client.post(page.url.join(action.group(1)), data={"csrf": csrf.group(1), **fields})


def staff(provider: Provider, watches: list[tuple[Discovery, Watch]], stop: threading.Event, seed: int) -> None:
    """The front desk: books a free time for a caller, or cancels one of its earlier bookings."""
    rng = random.Random(seed)
    store = open_provider_store(f"sqlite:///{provider.db}", migrate=False)
    caller = Patient("Grace Hopper", date(1970, 1, 2), "401-555-0100", None)
    booked: list[str] = []
    try:
        while not stop.wait(rng.uniform(1.0, 3.0)):
            if booked and rng.random() < 0.4:
                record = cancel(store=store, clock=store.clock, appointment_id=booked.pop(), staff="desk")
                note_change(watches, provider, record.slot_id, True)
                continue
            with store.read() as conn:
                s = pt.slot.c
                free = (
                    conn.execute(
                        select(s.id)
                        .where(
                            s.active, s.status == "free", s.capacity == 1, s.start_ms > now_ms(store.clock) + 3_600_000
                        )
                        .order_by(s.start_ms)
                        .limit(200)
                    )
                    .scalars()
                    .all()
                )
            try:
                slot_id = rng.choice(free)
                hold = place_hold(
                    store=store,
                    clock=store.clock,
                    slot_id=slot_id,
                    ttl=timedelta(minutes=5),
                    token=f"desk-{rng.random()}",
                )
                record = book(store=store, clock=store.clock, hold_id=hold.id, token=hold.token, patient=caller)
            except Exception:  # taken meanwhile (by a patient): the desk tries another
                continue
            booked.append(record.id)
            note_change(watches, provider, slot_id, False)
    finally:
        store.dispose()


def figures(label: str, watch: Watch, tally: Tally, end: float) -> None:
    # A change never seen counts with its age at the end of the run (a lower bound of its staleness).
    waits = sorted(watch.seconds + [end - since for since, _free in watch.pending.values()])
    p95 = waits[max(0, int(0.95 * len(waits)) - 1)] if waits else 0.0
    share = 100.0 * tally.booked / tally.followed if tally.followed else 0.0
    print(
        f"{label:>12}: staleness p50 {statistics.median(waits) if waits else 0:.2f} s, p95 {p95:.2f} s, "
        f"max {waits[-1] if waits else 0:.2f} s over {len(waits)} changes ({len(watch.pending)} never seen); "
        f"followed {tally.followed}, booked {tally.booked} ({share:.1f}%), 'no longer available' {tally.unavailable}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=3)
    parser.add_argument("--patients", type=int, default=8, help="in all, half on each discovery server")
    parser.add_argument("--seconds", type=float, default=60.0)
    opts = parser.parse_args()
    env = {
        **os.environ,
        "SLOTLINKS_BOOKING_ATTEMPTS": "100000",
        "SLOTLINKS_PORTAL_SECRET": "journeys-portal-0123456789",
    }
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="journeys-") as scratch:
        tmp = Path(scratch)
        try:
            providers = make_providers(tmp, opts.providers, env, procs)
            push, push_proc = make_discovery(tmp, "push", providers, True, env)
            procs.append(push_proc)
            poll, poll_proc = make_discovery(tmp, "polling", providers, False, env)
            procs.append(poll_proc)
            register(providers, push)
            ready(push, True)
            ready(poll, False)
            print(f"{opts.providers} providers, 2 discovery servers ready; a busy morning of {opts.seconds:.0f} s")
            watches = [(push, Watch()), (poll, Watch())]
            tallies = {push.label: Tally(), poll.label: Tally()}
            stop = threading.Event()
            threads = [threading.Thread(target=watcher, args=(d, w, stop)) for d, w in watches]
            for n in range(opts.patients):
                d = (push, poll)[n % 2]
                threads.append(
                    threading.Thread(target=patient, args=(d, providers, watches, tallies[d.label], stop, n))
                )
            threads += [
                threading.Thread(target=staff, args=(p, watches, stop, 100 + n)) for n, p in enumerate(providers)
            ]
            for thread in threads:
                thread.start()
            time.sleep(opts.seconds)
            stop.set()
            end = time.monotonic()
            for thread in threads:
                thread.join(timeout=60)
            for discovery, watch in watches:
                figures(discovery.label, watch, tallies[discovery.label], end)
        finally:
            for process in procs:
                process.terminate()
            for process in procs:
                process.wait(timeout=30)


if __name__ == "__main__":
    main()

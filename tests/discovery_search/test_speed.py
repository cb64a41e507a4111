"""A million slots on SQLite: "free slots within 25 miles of a ZIP code in the next 14 days for a
service". Prints the latencies (target: p99 under 25 ms); asserts only that the answers are right."""

from __future__ import annotations

import gc
import random
import time
from pathlib import Path

import pytest

from slotlinks.clock import FixedClock
from slotlinks.discovery.search.execute import search
from slotlinks.discovery.search.query import parse_search
from slotlinks.discovery.store.store import open_store
from tests.discovery_search.conftest import DAY, HOUR, NOW, NOW_MS, SERVICE_TYPE, add_publisher

LOCATIONS = 2_000
SLOTS_PER_SCHEDULE = 250  # two schedules per location: 1,000,000 slots


@pytest.mark.slow
def test_million_slots_timing(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'big.db'}", clock=FixedClock(NOW))
    rng = random.Random(5)
    with store.write() as conn:
        pub = add_publisher(conn, "Big Health", "https://big.example/$bulk-publish", last_success_ms=NOW_MS)
        conn.exec_driver_sql(
            "INSERT INTO feed_location (pk, publisher_id, generation, source_id, resource, updated_ms, name,"
            " latitude, longitude, positioned, tz, virtual)"
            " VALUES (?, ?, 1, ?, '{}', 0, ?, ?, ?, 1, 'America/New_York', 0)",
            [
                (i, pub, f"l{i}", f"Location {i}", rng.uniform(41.5, 43.0), rng.uniform(-73.3, -70.0))
                for i in range(1, LOCATIONS + 1)
            ],
        )
        services = (("primary care", f"{SERVICE_TYPE}|124"), ("dermatology", "http://snomed.info/sct|394582007"))
        conn.exec_driver_sql(
            "INSERT INTO feed_schedule (pk, publisher_id, generation, source_id, resource, updated_ms, location_pk,"
            " service_text, codes, practitioner_text, virtual) VALUES (?, ?, 1, ?, '{}', 0, ?, ?, ?, '', 0)",
            [(2 * i + k - 1, pub, f"s{i}-{k}", i, *services[k]) for i in range(1, LOCATIONS + 1) for k in range(2)],
        )
        rows = []
        for schedule in range(1, 2 * LOCATIONS + 1):
            start = NOW_MS - 7 * DAY + rng.randrange(0, 2 * HOUR)
            for n in range(SLOTS_PER_SCHEDULE):
                ms = start + n * 3 * HOUR
                status = "free" if rng.random() < 0.3 else "busy"
                rows.append((pub, f"x{schedule}-{n}", f"s{schedule}", schedule, ms, ms + 1_200_000, status))
        conn.exec_driver_sql(
            "INSERT INTO feed_slot (publisher_id, generation, source_id, resource, updated_ms, schedule_source_id,"
            " schedule_pk, start_ms, end_ms, status, capacity, booking_link)"
            " VALUES (?, 1, ?, '{}', 0, ?, ?, ?, ?, ?, 1, 'https://big.example/book')",
            rows,
        )
        conn.exec_driver_sql("ANALYZE")
    assert len(rows) == 1_000_000
    del rows  # a million live tuples would make every garbage collection pass slow
    gc.collect()

    req = parse_search({"near": "02114", "radius": "25mi", "service": "primary care"}, now=NOW)
    timings = []
    with store.read() as conn:
        for _ in range(200):
            started = time.perf_counter()
            results = search(conn, req, now_ms=NOW_MS, link_base="https://find.example")
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(
        f"\n1,000,000 slots, {LOCATIONS} locations: 25 mi of 02114, 14 days, primary care -> {len(results)} locations;"
        f" p50 {timings[100]:.2f} ms, p99 {timings[197]:.2f} ms, max {timings[-1]:.2f} ms"
    )
    store.dispose()
    assert results
    assert all(r.distance_miles is not None and r.distance_miles <= 25 for r in results)
    assert all(s.status == "free" and s.capacity > 0 for r in results for s in r.slots)
    assert all(len(r.slots) <= 5 for r in results)

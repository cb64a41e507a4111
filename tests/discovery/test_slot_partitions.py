"""Where a full load's Slots live: on PostgreSQL a partition of `feed_slot` per load, attached at the
flip even while searches run, the replaced one dropped (no dead rows left behind; later when a search
held the table), all of them dropped with their publisher, rows stored before the partitioning kept
in `feed_slot_other` until a full load replaces them;
on both databases each load a generation number of its own, so a worker that outlived its lease
never writes into the load that took over."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text, update
from sqlalchemy.exc import DBAPIError

from slotlinks.config import Settings
from slotlinks.db.migrate import upgrade
from slotlinks.discovery.aggregate.fhirstore import DiscoveryFhirStore
from slotlinks.discovery.ingest.partitions import OTHER_PARTITION
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.referrals.deeplinks import load_slot
from slotlinks.discovery.search.execute import search
from slotlinks.discovery.search.query import parse_search
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.discovery.sync import SyncEngine, SyncResult
from slotlinks.discovery.sync.upkeep import upkeep
from slotlinks.fhirapi.store import SlotQuery
from tests.discovery.conftest import RawServer, held, sync
from tests.discovery.test_sync_failures import LOC, SCH, feed, slot
from tests.discovery.test_sync_kill import generation_rows, load_tables, many_slots


def attached(conn: Connection) -> set[str]:
    """The partitions attached to `feed_slot`."""
    return set(
        conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %(parent)s::regclass",
            {"parent": t.slot.name},
        ).scalars()
    )


def other_rows(conn: Connection, publisher_id: int) -> int:
    return int(
        conn.exec_driver_sql(
            f"SELECT count(*) FROM {OTHER_PARTITION} WHERE publisher_id = %(id)s", {"id": publisher_id}
        ).scalar_one()
    )


@pytest.mark.postgres
def test_each_full_load_is_a_partition_and_the_replaced_one_is_dropped(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    store = open_store(pg_url)
    try:
        pid = registry.add_publisher(store, url=feed(raw, "p"), name="p").id
        for generation, (count, tx) in enumerate(
            [(3, "2026-01-01T00:00:00Z"), (5, "2026-01-02T00:00:00Z"), (4, "2026-01-03T00:00:00Z")], start=1
        ):
            feed(raw, "p", [slot(i) for i in range(count)], tx=tx)
            assert sync(store, settings)[pid].outcome == "full"
            assert held(store, pid)["Slot"] == count
            with store.read() as conn:
                assert load_tables(conn, pid) == [f"feed_slot_p{pid}_g{generation}"]
                assert f"feed_slot_p{pid}_g{generation}" in attached(conn)
                assert other_rows(conn, pid) == 0
                # A search's own index is there, not a rebuild at attach time.
                assert conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %(name)s",
                    {"name": f"feed_slot_p{pid}_g{generation}"},
                ).scalar_one() == 1 + len(t.slot.indexes)
        assert generation_rows(store, pid) == {3: 4}
    finally:
        store.dispose()


@contextmanager
def _reloaded_during_a_search(store: DiscoveryStore, settings: Settings, raw: RawServer) -> Iterator[int]:
    """A publisher loaded (3 Slots), then loaded in full again (5) while a long search holds
    `feed_slot` and its partitions; the block runs while the search still does. Yields its id."""
    pid = registry.add_publisher(store, url=feed(raw, "p"), name="p").id
    assert sync(store, settings)[pid].outcome == "full"
    feed(raw, "p", [slot(i) for i in range(5)], tx="2026-01-02T00:00:00Z")
    with store.read() as search:
        assert search.execute(select(func.count()).select_from(t.slot)).scalar_one() == 3
        started = time.monotonic()
        assert sync(store, settings)[pid].outcome == "full"
        assert time.monotonic() - started < 10
        yield pid


@pytest.mark.postgres
def test_a_search_under_way_holds_up_no_flip_and_a_partition_it_kept_goes_with_the_next_load(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    store = open_store(pg_url)
    try:
        with _reloaded_during_a_search(store, settings, raw) as pid:
            assert held(store, pid)["Slot"] == 5  # flipped while the search went on
        with store.read() as conn:  # the replaced partition waited for the search in vain: left
            assert load_tables(conn, pid) == [f"feed_slot_p{pid}_g1", f"feed_slot_p{pid}_g2"]
        assert generation_rows(store, pid) == {1: 3, 2: 5}

        feed(raw, "p", [slot(i) for i in range(4)], tx="2026-01-03T00:00:00Z")
        assert sync(store, settings)[pid].outcome == "full"

        with store.read() as conn:
            assert load_tables(conn, pid) == [f"feed_slot_p{pid}_g3"]
        assert held(store, pid)["Slot"] == 4
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_replaced_partition_left_at_the_flip_is_dropped_by_the_upkeep_after_the_loads(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    # A full reload's loads read the old generations in their own transactions, so a flip's drop often
    # found the table busy: 7 of 20 replaced partitions stayed, 1.4 GB at 10 million slots.
    store = open_store(pg_url)
    try:
        with _reloaded_during_a_search(store, settings, raw) as pid:
            started = time.monotonic()
            assert f"DROP TABLE feed_slot_p{pid}_g1" not in upkeep(store, vacuum=False), "still read: left"
            assert time.monotonic() - started < 10
        with store.write() as conn:  # a load under way: its table is not attached yet
            conn.exec_driver_sql(f"CREATE TABLE feed_slot_p{pid}_g3 (LIKE {t.slot.name})")
        with store.read() as conn:
            assert f"feed_slot_p{pid}_g1" in attached(conn)

        assert f"DROP TABLE feed_slot_p{pid}_g1" in upkeep(store, vacuum=False)

        with store.read() as conn:
            assert load_tables(conn, pid) == [f"feed_slot_p{pid}_g2", f"feed_slot_p{pid}_g3"]
            assert f"feed_slot_p{pid}_g2" in attached(conn)
        assert held(store, pid)["Slot"] == 5
        assert not any(statement.startswith("DROP") for statement in upkeep(store, vacuum=False))
    finally:
        store.dispose()


@pytest.mark.postgres
def test_removing_a_publisher_drops_its_partitions(pg_url: str, settings: Settings, raw: RawServer) -> None:
    store = open_store(pg_url)
    try:
        keep = registry.add_publisher(store, url=feed(raw, "a"), name="a").id
        gone = registry.add_publisher(store, url=feed(raw, "b"), name="b").id
        assert {r.outcome for r in sync(store, settings).values()} == {"full"}

        registry.remove_publisher(store, gone)

        with store.read() as conn:
            assert load_tables(conn, gone) == []
            assert load_tables(conn, keep) == [f"feed_slot_p{keep}_g1"]
            assert conn.execute(select(func.count()).where(t.slot.c.publisher_id == gone)).scalar_one() == 0
        assert held(store, keep)["Slot"] == 3
    finally:
        store.dispose()


def _store_at_0008_with_slots(engine: Engine, url: str) -> int:
    """A discovery database as migration 0008 left it, one publisher with two Slots of generation 1."""
    upgrade(engine, "discovery", revision="0008")
    with engine.begin() as conn:
        pid = conn.execute(
            text(
                "INSERT INTO publisher (url, name, states, allowed_hosts, paused, created_ms, generation, "
                "next_poll_ms, failures) VALUES (:url, 'old', '', '', false, 0, 1, 0, 0) RETURNING id"
            ),
            {"url": url},
        ).scalar_one()
        for i in range(2):
            conn.execute(
                text(
                    "INSERT INTO feed_slot (publisher_id, generation, source_id, resource, updated_ms, "
                    "schedule_source_id, start_ms, end_ms, status, capacity) "
                    "VALUES (:pid, 1, :id, '{}', 0, 'sch1', :start, :start + 1800000, 'free', 1)"
                ),
                {"pid": pid, "id": f"old{i}", "start": 1_772_359_200_000 + i * 3_600_000},
            )
    return int(pid)


@pytest.mark.postgres
def test_slots_stored_before_the_partitioning_stay_until_a_full_load_replaces_them(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        pid = _store_at_0008_with_slots(engine, feed(raw, "p", tx="2026-01-02T00:00:00Z"))
    finally:
        engine.dispose()
    store = open_store(pg_url)  # migrates to the head
    try:
        with store.read() as conn:
            assert other_rows(conn, pid) == 2
            assert {OTHER_PARTITION} == attached(conn)
            assert conn.execute(select(t.publisher.c.last_generation).where(t.publisher.c.id == pid)).scalar_one() == 1
        assert held(store, pid)["Slot"] == 2

        assert sync(store, settings)[pid].outcome == "full"

        assert held(store, pid)["Slot"] == 3
        with store.read() as conn:
            assert other_rows(conn, pid) == 0
            assert load_tables(conn, pid) == [f"feed_slot_p{pid}_g2"]
    finally:
        store.dispose()


def _first_request_held(raw: RawServer, path: str, body: bytes, release: threading.Event) -> threading.Event:
    """Serve `body` at `path`; the first request gets half of it, then the rest once `release` is set,
    every later one all of it at once. Answers an event set when that first request has its half."""
    half, started = len(body) // 2, threading.Event()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()

    def handler(conn: socket.socket, _target: str, _headers: dict[str, str]) -> None:
        if started.is_set():
            conn.sendall(head + body)
            return
        started.set()
        conn.sendall(head + body[:half])
        if release.wait(60):
            conn.sendall(body[half:])

    raw.routes[path] = handler
    return started


def test_a_worker_that_outlived_its_lease_never_writes_into_the_load_that_took_over(
    db_url: str, settings: Settings, raw: RawServer
) -> None:
    """Worker A stalls in the middle of a full load for longer than its lease; worker B claims the
    publisher and loads it whole; then A wakes up and writes the rest of its batches before it finds
    out at its flip. What searches see is B's load, exactly."""
    slots = 30_000  # more than a batch of the load writer in each half
    store = open_store(db_url)
    release = threading.Event()
    try:
        pid = registry.add_publisher(store, url=feed(raw, "p", tx="2026-01-02T00:00:00Z"), name="p").id
        started = _first_request_held(raw, "/p/slot.ndjson", many_slots(slots), release)
        slow = dataclasses.replace(settings, read_timeout=30.0, sync_lease_seconds=600)
        a, b = SyncEngine(store, slow), SyncEngine(store, slow)

        async def scenario() -> tuple[list[SyncResult], list[SyncResult]]:
            stalled = asyncio.create_task(a.sync_once(force=True))
            assert await asyncio.to_thread(started.wait, 30)
            deadline = time.monotonic() + 30
            while not any(generation_rows(store, pid).values()):  # A's first batches are written
                assert time.monotonic() < deadline, "A's load never started"
                await asyncio.sleep(0.05)
            with store.write() as conn:  # A's lease lapses while it stalls
                conn.execute(update(t.publisher).where(t.publisher.c.id == pid).values(lease_until_ms=0))
            took_over = await b.sync_once(force=True)
            release.set()  # A wakes up and writes on
            return await asyncio.wait_for(stalled, 60), took_over

        from_a, from_b = asyncio.run(scenario())

        assert from_a == [], (from_a, from_b)  # A's poll ended when it found its lease gone
        assert [(r.publisher_id, r.outcome) for r in from_b] == [(pid, "full")], from_b
        assert held(store, pid)["Slot"] == slots
        current = registry.get_publisher(store, pid).generation
        assert generation_rows(store, pid).get(current) == slots
    finally:
        release.set()
        store.dispose()


def _near_and_far(store: DiscoveryStore, settings: Settings, raw: RawServer) -> tuple[list[int], int]:
    """Two publishers of a clinic in Cambridge and one in Seattle, loaded: ([near ids], far id)."""
    near = [registry.add_publisher(store, url=feed(raw, p), name=p).id for p in ("a", "b")]
    seattle = {**LOC, "address": {"city": "Seattle", "state": "WA", "postalCode": "98101"}}
    raw.file("/far/loc.ndjson", [orjson.dumps(seattle)])
    raw.file("/far/sch.ndjson", [orjson.dumps(SCH)])
    raw.file("/far/slot.ndjson", [slot(i) for i in range(3)])
    outputs = [("Location", "/far/loc.ndjson"), ("Schedule", "/far/sch.ndjson"), ("Slot", "/far/slot.ndjson")]
    far = registry.add_publisher(store, url=raw.manifest("/far/$bulk-publish", outputs), name="far").id
    assert {r.outcome for r in sync(store, settings).values()} == {"full"}
    return near, far


@contextmanager
def _statements(store: DiscoveryStore) -> Iterator[list[tuple[str, Any]]]:
    """The statements run on `store` inside the block, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def keep(_c: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", keep)


def _scans(node: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(table, times executed) of each scan in an EXPLAIN ANALYZE plan."""
    if "Relation Name" in node:
        yield node["Relation Name"], int(node["Actual Loops"])
    for child in node.get("Plans", []):
        yield from _scans(child)


def _scanned(store: DiscoveryStore, statement: str, parameters: Any) -> Counter[str]:
    """How many times each table is read when `statement` runs."""
    with store.read() as conn:
        explained = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        scans = Counter[str]()
        for table, loops in _scans(explained.scalar_one()[0]["Plan"]):
            scans[table] += loops
    return scans


@pytest.mark.postgres
def test_a_search_looks_for_each_schedules_first_time_in_its_own_partitions_only(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    # With a partition per publisher, a schedule's first time looked for in every partition read each
    # one's whole window: 0.8 s a search at 200 publishers.
    store = open_store(pg_url)
    try:
        near, far = _near_and_far(store, settings, raw)
        request = parse_search({"near": "02139", "from": "2026-03-01", "to": "2026-03-01"}, now=datetime(2026, 3, 1))
        with _statements(store) as statements, store.read() as conn:
            found = search(conn, request, now_ms=store.now_ms(), link_base="http://127.0.0.1")
        assert [len(r.slots) for r in found] == [3, 3]

        (first_times,) = [
            (s, p) for s, p in statements if s.startswith("SELECT feed_schedule.pk, feed_schedule.location_pk")
        ]
        scans = _scanned(store, *first_times)
        own = {f"feed_slot_p{pid}_g1" for pid in near}
        assert f"feed_slot_p{far}_g1" not in scans, "a publisher with no location near is not planned"
        assert {table: scans[table] for table in own} == dict.fromkeys(own, 1), "each schedule read its own"
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_search_runs_the_plans_its_connection_prepared_whatever_it_finds(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    # Planned anew for each search's values (an IN list a location, a UNION ALL a schedule), a
    # search's statements spent most of PostgreSQL's time in planning at 10 million slots.
    store = open_store(pg_url)
    try:
        _near_and_far(store, settings, raw)
        day = {"from": "2026-03-01", "to": "2026-03-01"}
        requests = [
            parse_search({"near": near, "radius": "25mi", **day, **more}, now=datetime(2026, 3, 1))
            for near in ("02139", "98101", "42.36,-71.06")
            for more in ({}, {"per_location": "2"}, {"new_patients": "true"})
        ]
        found: Counter[int] = Counter()
        with _statements(store) as statements, store.read() as conn:
            for _ in range(3):
                for request in requests:
                    found[len(search(conn, request, now_ms=store.now_ms(), link_base="http://127.0.0.1"))] += 1
            prepared = conn.exec_driver_sql(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %(t)s",
                {"t": "%feed_%"},
            ).all()
            mode = conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one()
        assert set(found) >= {1, 2}, "searches that find different numbers of locations"
        texts = {statement for statement, _ in statements if "feed_" in statement}
        assert len(texts) == 4  # locations, schedules, times; times for new patients
        # Each prepared (in PostgreSQL's placeholders; psycopg prepares a text again for arrays of
        # another integer width).
        assert len({statement for statement, _, _ in prepared}) == len(texts)
        assert all(generic > 0 and custom == 0 for _, generic, custom in prepared), prepared
        assert mode == "auto", "the rest of the transaction plans as before"
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_searching_transaction_sends_only_its_begin_and_the_searchs_statements(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    # Each round trip is a share of what a search costs the server and PostgreSQL: the plan setting
    # goes with BEGIN and ends with the transaction, which commits so the prepared plans are kept.
    store = open_store(pg_url)
    try:
        _near_and_far(store, settings, raw)
        request = parse_search({"near": "02139", "radius": "25mi", "from": "2026-03-01"}, now=datetime(2026, 3, 1))
        store.engine.dispose()  # the loads' connections gone, one at a time serves every search below
        with _statements(store) as statements:
            for _ in range(8):
                with store.searching() as conn:
                    assert search(conn, request, now_ms=store.now_ms(), link_base="http://127.0.0.1")
        begins = [statement for statement, _ in statements if statement.startswith("BEGIN")]
        assert len(begins) == 8
        assert len(statements) == 8 * 4, [statement for statement, _ in statements]  # begin and three
        assert all("plan_cache_mode = force_generic_plan" in begin for begin in begins)
        with store.searching() as conn:
            prepared = conn.exec_driver_sql(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %(t)s",
                {"t": "%feed_%"},
            ).all()
            with pytest.raises(DBAPIError, match="read-only"):
                conn.exec_driver_sql("DELETE FROM feed_slot")
        assert prepared
        assert all(generic >= 3 and custom == 0 for generic, custom in prepared), prepared
        with store.read() as conn:
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one() == "auto"
            assert conn.exec_driver_sql("SHOW transaction_read_only").scalar_one() == "off"
    finally:
        store.dispose()


@pytest.mark.postgres
def test_the_aggregate_reads_a_publishers_slots_in_its_own_partitions_only(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    store = open_store(pg_url)
    try:
        (first, second), far = _near_and_far(store, settings, raw)
        fhir = DiscoveryFhirStore(store, recheck_ms=0)
        with _statements(store) as statements:
            schedule = fhir.resources("Schedule")[0]["id"]
            found = list(fhir.slots(SlotQuery(schedule_ids=frozenset({schedule}))))
        assert len(found) == 3
        own = f"feed_slot_p{first}_g1"
        by_schedule = [(s, p) for s, p in statements if "feed_slot.schedule_pk IN" in s]
        last_free = [(s, p) for s, p in statements if s.startswith("SELECT feed_schedule.source_id")]
        by_publisher = [(s, p) for s, p in last_free if "feed_slot" in s]
        assert len(by_schedule) == 1  # the Schedule's Slots
        assert len(by_publisher) == 3  # each publisher's Schedules' last free times (`has-availability`)
        assert set(_scanned(store, *by_schedule[0])) & {f"feed_slot_p{p}_g1" for p in (first, second, far)} == {own}
        for statement, parameters in by_publisher:
            loads = {table for table in _scanned(store, statement, parameters) if table.startswith("feed_slot_p")}
            assert len(loads) == 1, "one publisher's load"
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_deep_links_slot_is_looked_for_in_the_partition_that_holds_its_pk(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    # The pk is not the partition key: said alone, the lookup was planned over every publisher's
    # partition (about 4 ms of planning at 200 publishers).
    store = open_store(pg_url)
    try:
        (_, second), _far = _near_and_far(store, settings, raw)
        sl = t.slot
        with store.write() as conn:
            loaded = conn.execute(select(sl.c.pk, sl.c.schedule_pk).where(sl.c.publisher_id == second)).first()
            assert loaded is not None
            # A Slot an incremental load added: in `feed_slot_other`, its pk after every load's.
            added = conn.execute(
                sl.insert()
                .values(
                    publisher_id=second,
                    generation=1,
                    source_id="added",
                    resource="{}",
                    updated_ms=0,
                    schedule_source_id=SCH["id"],
                    schedule_pk=loaded.schedule_pk,
                    start_ms=1_772_359_200_000,
                    end_ms=1_772_361_000_000,
                    status="free",
                    capacity=1,
                )
                .returning(sl.c.pk)
            ).scalar_one()

        own = {f"feed_slot_p{second}_g1"}
        for pk, source_id, loads_read in ((loaded.pk, None, own), (added, "added", set())):
            with _statements(store) as statements, store.read() as conn:
                target = load_slot(conn, pk)
            assert target is not None
            assert (target.pk, target.publisher_id) == (pk, second)
            assert source_id is None or target.source_id == source_id
            (by_pk,) = [(s, p) for s, p in statements if "feed_slot.pk =" in s]
            scanned = _scanned(store, *by_pk)
            assert {table for table in scanned if table.startswith("feed_slot_p")} == loads_read, "only its own"
            assert OTHER_PARTITION in scanned
    finally:
        store.dispose()


def _seq_scans_repeated(node: dict[str, Any], inner: bool = False) -> Iterator[str]:
    """Tables a plan reads whole as the inner side of a nested loop: once for each outer row."""
    if inner and node["Node Type"] == "Seq Scan":
        yield node["Relation Name"]
    children = node.get("Plans", [])
    for i, child in enumerate(children):
        yield from _seq_scans_repeated(child, inner or (node["Node Type"] == "Nested Loop" and i == 1))


@pytest.mark.postgres
def test_a_full_reload_compares_the_new_slots_with_the_old_ones_in_one_pass_each(
    pg_url: str, settings: Settings, raw: RawServer
) -> None:
    # Said without the partition key, each comparison of the new load with the old (what was added,
    # changed, removed) read every publisher's Slots; and the new Slots' table, with no index and no
    # statistics yet, was read whole for each old Slot: with 200 publishers of 10,000 Slots a full
    # reload took half an hour instead of a minute.
    store = open_store(pg_url)
    plans: list[tuple[str, dict[str, Any]]] = []

    def explain(conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        # In the load's own transaction, as it runs: its settings, the new table as it is then.
        if statement.startswith("SELECT") and "feed_slot AS o" in statement and not many:
            raw_conn = conn.connection.driver_connection
            row = raw_conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).fetchone()
            plans.append((statement, row[0][0]["Plan"]))

    try:
        (first, second), far = _near_and_far(store, settings, raw)
        feed(raw, "a", [slot(i) for i in range(4)], tx="2026-01-02T00:00:00Z")
        event.listen(store.engine, "before_cursor_execute", explain)
        try:
            assert sync(store, settings)[first].outcome == "full"
        finally:
            event.remove(store.engine, "before_cursor_execute", explain)
        assert held(store, first)["Slot"] == 4
        with store.read() as conn:
            # Three Slots as they were keep their stamps: no dead row versions left behind (as an UPDATE
            # in place left) in a partition nothing vacuums. Each row's place in the table's one page
            # says how many versions there were.
            places = f"SELECT max((ctid::text::point)[1])::int FROM feed_slot_p{first}_g2"
            assert conn.exec_driver_sql(places).scalar_one() == 4

        assert len(plans) >= 3  # added, changed, removed
        others = {f"feed_slot_p{p}_g1" for p in (second, far)}
        for statement, plan in plans:
            read = {table for table, _loops in _scans(plan)}
            assert f"feed_slot_p{first}_g1" in read, statement
            assert not read & others, statement
            assert f"feed_slot_p{first}_g2" not in set(_seq_scans_repeated(plan)), statement
    finally:
        store.dispose()

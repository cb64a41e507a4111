"""After loads the sync engine keeps PostgreSQL's statistics and space of the feed tables up
(sync/upkeep.py): ANALYZE after a first load, VACUUM (ANALYZE) once a reload left a generation's rows
dead (the partitioned `feed_slot` drops a replaced generation whole instead: analyzed only); never
statistics on `generation` (migration 0014). `last_analyze` and `last_vacuum` are set
only by these commands run by hand, not by autovacuum (which sets `last_autoanalyze` and
`last_autovacuum`), so the test holds wherever autovacuum is on."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text, update

from slotlinks.config import Settings
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.discovery.sync import upkeep
from slotlinks.discovery.sync.upkeep import FEED_TABLES
from tests.discovery.conftest import sync


def _maintained(store: DiscoveryStore) -> dict[str, Any]:
    query = text(
        "SELECT relname, last_analyze IS NOT NULL AS analyzed, last_vacuum IS NOT NULL AS vacuumed "
        "FROM pg_stat_user_tables WHERE schemaname = current_schema()"
    )
    with store.engine.connect() as conn:
        return {row.relname: (row.analyzed, row.vacuumed) for row in conn.execute(query)}


def _analyzed_columns(store: DiscoveryStore, table: str) -> set[str]:
    query = text("SELECT attname FROM pg_stats WHERE schemaname = current_schema() AND tablename = :t")
    with store.engine.connect() as conn:
        return set(conn.execute(query, {"t": table}).scalars())


@pytest.mark.postgres
def test_a_load_analyzes_the_feed_tables_and_a_reload_vacuums_them(
    pg_url: str, settings: Settings, corpus: dict[str, str]
) -> None:
    store = open_store(pg_url)
    try:
        publisher = registry.add_publisher(store, url=corpus["smart-examples"], name="SMART examples")
        assert {name: _maintained(store)[name] for name in FEED_TABLES} == dict.fromkeys(FEED_TABLES, (False, False))

        assert sync(store, settings)[publisher.id].outcome == "full"
        assert {name: _maintained(store)[name] for name in FEED_TABLES} == dict.fromkeys(FEED_TABLES, (True, False))
        # Analyzed, but `generation` has no statistics (migration 0014): they would describe this
        # generation only, and the next load's new one would be planned as if it held one row.
        assert _analyzed_columns(store, "feed_slot") >= {"publisher_id", "source_id", "start_ms"}
        assert "generation" not in set().union(*(_analyzed_columns(store, name) for name in FEED_TABLES))

        # The same data again as a full load (no `_since`, no validators): a new generation replaces
        # the first, whose rows are now dead.
        with store.write() as conn:
            conn.execute(update(t.publisher).values(transaction_time=None, etag=None, last_modified=None))
        assert sync(store, settings)[publisher.id].outcome == "full"
        vacuumed = dict.fromkeys(FEED_TABLES, (True, True)) | {"feed_slot": (True, False)}
        assert {name: _maintained(store)[name] for name in FEED_TABLES} == vacuumed
        with store.read() as conn:
            slot_tables = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables "
                    "WHERE schemaname = current_schema() AND tablename LIKE 'feed_slot_p%'"
                )
            ).scalars()
            assert list(slot_tables) == [f"feed_slot_p{publisher.id}_g2"], "the replaced generation's partition dropped"
    finally:
        store.dispose()


def _last_analyze(store: DiscoveryStore, table: str) -> Any:
    query = text("SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = :t")
    with store.engine.connect() as conn:
        return conn.execute(query, {"t": table}).scalar_one()


def _statistics_targets(store: DiscoveryStore, table: str) -> dict[str, int]:
    query = text(
        "SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = to_regclass(:t) "
        "AND attname IN ('resource', 'generation', 'start_ms')"
    )
    with store.engine.connect() as conn:
        return {name: int(target) for name, target in conn.execute(query, {"t": table})}


def _reload(store: DiscoveryStore, settings: Settings, publisher_id: int) -> None:
    """The same data again as a full load: a new partition replaces the publisher's one."""
    with store.write() as conn:
        conn.execute(update(t.publisher).values(transaction_time=None, etag=None, last_modified=None))
    assert sync(store, settings)[publisher_id].outcome == "full"


@pytest.mark.postgres
def test_the_partitioned_slot_table_is_analyzed_at_most_hourly(
    pg_url: str, settings: Settings, corpus: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(pg_url)
    try:
        publisher = registry.add_publisher(store, url=corpus["smart-examples"], name="SMART examples")
        assert sync(store, settings)[publisher.id].outcome == "full"
        first = _last_analyze(store, "feed_slot")
        assert first is not None, "never analyzed: analyzed after the first load"
        # No statistics on the JSON as published (migration 0015), on any feed table.
        assert "resource" not in set().union(*(_analyzed_columns(store, name) for name in FEED_TABLES))
        # A load's own table takes the parent's statistics targets, which LIKE leaves behind.
        partition = f"feed_slot_p{publisher.id}_g1"
        assert _statistics_targets(store, partition) == {"resource": 0, "generation": 0, "start_ms": 10}

        before = _last_analyze(store, "feed_location")
        _reload(store, settings, publisher.id)
        assert _last_analyze(store, "feed_slot") == first, "analyzed again within the hour"
        assert _last_analyze(store, "feed_location") > before, "the unpartitioned tables still are"

        # Once its time has passed, the next upkeep gathers them again.
        monkeypatch.setattr(upkeep, "PARENT_ANALYZE_SECONDS", 0)
        _reload(store, settings, publisher.id)
        assert _last_analyze(store, "feed_slot") > first
    finally:
        store.dispose()


@pytest.mark.postgres
def test_each_new_partition_is_analyzed_after_its_load(pg_url: str, settings: Settings, corpus: dict[str, str]) -> None:
    store = open_store(pg_url)
    query = text(
        "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_user_tables "
        "WHERE schemaname = current_schema() AND relname = :t"
    )
    try:
        publisher = registry.add_publisher(store, url=corpus["smart-examples"], name="SMART examples")
        assert sync(store, settings)[publisher.id].outcome == "full"
        _reload(store, settings, publisher.id)  # the parent was analyzed moments ago: not again
        with store.engine.connect() as conn:
            assert conn.execute(query, {"t": f"feed_slot_p{publisher.id}_g2"}).scalar_one()
    finally:
        store.dispose()

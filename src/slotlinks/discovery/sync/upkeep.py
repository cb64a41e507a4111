"""Statistics and space of the feed tables on PostgreSQL, kept up by the sync engine after it loads.

A full load writes a publisher's data anew and deletes its stale generation; PostgreSQL reuses the
space of deleted rows only once they are vacuumed, and plans queries from the statistics ANALYZE
gathers. Both are autovacuum's job, but autovacuum may be off, lag behind a large load, or not yet
have analyzed a table filled moments ago. Measured by bench/scale.py at 2 million slots with
autovacuum off: a FHIR Slot page planned from an empty table's statistics took 3.6 s instead of
10 ms, and each full reload left its dead rows behind (the slot table 1.2 GB, then 3.5, 5.9, 8.2 GB
after three reloads). So the engine runs `upkeep` after loads: ANALYZE of each unpartitioned feed
table, or, after a full load replaced a generation, VACUUM (ANALYZE), so the next loads reuse the
space. SKIP_LOCKED leaves a table another worker is already vacuuming or analyzing to it. SQLite
needs neither: these plans do not hang on its statistics, and it reuses freed pages itself. ANALYZE
gathers nothing on `generation` (migration 0014): statistics that know only the generations present
would make the planner take the next load's new one for a single row.

The partitioned `feed_slot` (migration 0013) is never vacuumed: a reload drops its stale
generation's partition whole, at its flip or, when the table was busy then (another load's
transaction had read it: in a full reload of 20 publishers at 10 million slots, 7 of 20 replaced
partitions, 1.4 GB), here after the loads. Each partition nobody has analyzed yet (a load's new
one, unless autovacuum was there first) is analyzed: 17 ms for 100,000 slots at its statistics
target (migration 0015), so its plans need not wait up to a minute for autovacuum, nor forever when
it is off. The parent's own statistics (of the table as a whole, which the planner uses for joins)
are never autovacuum's; but ANALYZE of the parent also analyzes every partition, so it runs when the
parent never was analyzed, or was last more than `PARENT_ANALYZE_SECONDS` ago, by whichever worker
gets there first (the time is the database's, shared by every worker and `--once` run).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from slotlinks.discovery.ingest.generation import TABLES
from slotlinks.discovery.ingest.partitions import drop_partition, replaced_partitions
from slotlinks.discovery.store.store import DiscoveryStore

__all__ = ["FEED_TABLES", "PARENT_ANALYZE_SECONDS", "upkeep"]

#: The tables loads write (a generation each).
FEED_TABLES = tuple(sorted({table.name for table in TABLES.values()}))


def upkeep(store: DiscoveryStore, *, vacuum: bool) -> list[str]:
    """Drop the replaced partitions a flip had to leave, then ANALYZE (with `vacuum`, VACUUM (ANALYZE))
    the feed tables on PostgreSQL that need it; nothing on SQLite. Returns the statements run."""
    if store.engine.dialect.name != "postgresql":
        return []
    quote = store.engine.dialect.identifier_preparer.quote
    with store.engine.connect() as conn:
        with conn.begin():
            stale = replaced_partitions(conn)
        dropped = [f"DROP TABLE {name}" for name in stale if drop_partition(conn, name)]
    # VACUUM cannot run inside a transaction block.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        partitioned = set(
            conn.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relkind = 'p' AND relnamespace = "
                    "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
                )
            ).scalars()
        )
        statements = [
            f"{'VACUUM (ANALYZE, SKIP_LOCKED)' if vacuum else 'ANALYZE (SKIP_LOCKED)'} {quote(name)}"
            for name in FEED_TABLES
            if name not in partitioned
        ]
        for parent in sorted(partitioned & set(FEED_TABLES)):
            # The parent's ANALYZE analyzes every partition too: the new ones need nothing more then.
            due = [parent] if _parent_due(conn, parent) else _never_analyzed(conn, parent)
            statements += [f"ANALYZE (SKIP_LOCKED) {quote(name)}" for name in due]
        for statement in statements:
            conn.exec_driver_sql(statement)
    return dropped + statements


#: Seconds after which the partitioned `feed_slot`'s own statistics are gathered again.
PARENT_ANALYZE_SECONDS = 3600


def _parent_due(conn: Connection, parent: str) -> bool:
    last = conn.execute(
        text(
            "SELECT extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze)) FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema() AND relname = :parent"
        ),
        {"parent": parent},
    ).scalar_one_or_none()
    return last is None or float(last) >= PARENT_ANALYZE_SECONDS


def _never_analyzed(conn: Connection, parent: str) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT s.relname FROM pg_inherits i JOIN pg_stat_user_tables s ON s.relid = i.inhrelid "
                "WHERE i.inhparent = to_regclass(:parent) AND s.last_analyze IS NULL "
                "AND s.last_autoanalyze IS NULL ORDER BY s.relname"
            ),
            {"parent": parent},
        ).scalars()
    )

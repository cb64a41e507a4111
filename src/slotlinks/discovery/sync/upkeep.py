"""Statistics and space of the feed tables on PostgreSQL, kept up by the sync engine after it loads.

A full load writes a publisher's data anew and deletes its stale generation; PostgreSQL reuses the
space of deleted rows only once they are vacuumed, and plans queries from the statistics ANALYZE
gathers. Both are autovacuum's job, but autovacuum may be off, lag behind a large load, or not yet
have analyzed a table filled moments ago. Measured by bench/scale.py at 2 million slots with
autovacuum off: a FHIR Slot page planned from an empty table's statistics took 3.6 s instead of
10 ms, and each full reload left its dead rows behind (the slot table 1.2 GB, then 3.5, 5.9, 8.2 GB
after three reloads). So the engine runs `upkeep` after loads: ANALYZE of each feed table, or, after
a full load replaced a generation, VACUUM (ANALYZE), so the next loads reuse the space. SKIP_LOCKED
leaves a table another worker is already vacuuming or analyzing to it. SQLite needs neither: these
plans do not hang on its statistics, and it reuses freed pages itself. ANALYZE gathers nothing on
`generation` (migration 0014): statistics that know only the generations present would make the
planner take the next load's new one for a single row. The partitioned `feed_slot` (migration 0013)
is only analyzed: a reload drops its stale generation's partition whole, leaving nothing to vacuum,
and autovacuum never analyzes a partitioned table itself.
"""

from __future__ import annotations

from sqlalchemy import text

from slotlinks.discovery.ingest.generation import TABLES
from slotlinks.discovery.store.store import DiscoveryStore

__all__ = ["FEED_TABLES", "upkeep"]

#: The tables loads write (a generation each).
FEED_TABLES = tuple(sorted({table.name for table in TABLES.values()}))


def upkeep(store: DiscoveryStore, *, vacuum: bool) -> list[str]:
    """ANALYZE (with `vacuum`, VACUUM (ANALYZE)) each feed table on PostgreSQL, nothing on SQLite;
    returns the statements run."""
    if store.engine.dialect.name != "postgresql":
        return []
    quote = store.engine.dialect.identifier_preparer.quote
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
            f"{'VACUUM (ANALYZE, SKIP_LOCKED)' if vacuum and name not in partitioned else 'ANALYZE (SKIP_LOCKED)'} "
            f"{quote(name)}"
            for name in FEED_TABLES
        ]
        for statement in statements:
            conn.exec_driver_sql(statement)
    return statements

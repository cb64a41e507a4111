"""A full load's Slots on PostgreSQL: a table of their own, indexed after the load, attached as a
partition of `feed_slot` at the flip, and dropped when replaced.

`feed_slot` on PostgreSQL is partitioned by list of `load_key` (migration 0011), a column only
PostgreSQL has: (publisher id << 32) + generation for the rows of a full load, 0 for every other row
(stored before the migration, added by an incremental load, written straight into the table), which
live in the partition `feed_slot_other`. A full load copies its Slots into
`feed_slot_p<publisher>_g<generation>` (`create_load_table`), a plain table with no index and no
foreign key, so each row costs the server its heap write only; keeping three indexes and a
foreign-key trigger up to date row by row made the load slower than SQLite's. When all rows are in,
`index_load_table` builds the indexes the parent has (whatever they are by then) in one sorted pass
each, and the flip attaches the table as the partition of its key (`attach_sql`) and flips the
publisher to the new generation in one transaction: a search sees the old generation or the new one,
never a mix, as before (store/tables.py). Attaching locks nothing searches or writers wait for.

A replaced generation is dropped whole (`drop_other_generations`): no dead rows, no vacuum debt. A
dropped partition takes a short exclusive lock on the parent, which searches wait for; the drop waits
at most `DROP_LOCK_TIMEOUT` for it and, when searches or another load's transaction hold it longer,
leaves the partition (which no search reads) to the sync engine's upkeep after its loads
(`replaced_partitions`, sync/upkeep.py) or to the next load of the publisher. Rows of other
generations in `feed_slot_other` are deleted there.

A statement about one publisher's Slots names their partitions by the key too (`of_generation`,
`load_key_column`): said by `publisher_id` and `generation` alone it is planned over every
partition, one per publisher, and with 200 publishers that planning and those probes were most of a
search, an incremental round or a FHIR Slot query. A Slot named by its pk alone (a deep link) is
looked for in the partitions whose pk range holds it (`pk_partitions`): a full load's rows take their
pks from one sequence as they are copied in, and the flip records the range on the publisher row.

SQLite keeps one `feed_slot` table with its indexes: there loads write into it directly.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from sqlalchemy import (
    Alias,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    Row,
    Select,
    Table,
    Update,
    and_,
    insert,
    literal_column,
    or_,
    select,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.selectable import NamedFromClause

from slotlinks.discovery.store import tables as t

__all__ = [
    "DROP_LOCK_TIMEOUT",
    "OTHER_PARTITION",
    "attach_sql",
    "create_load_table",
    "drop_other_generations",
    "drop_partition",
    "in_partitions",
    "index_load_table",
    "load_key",
    "load_key_column",
    "load_table",
    "of_generation",
    "partitioned",
    "pk_partitions",
    "pk_range",
    "replaced_partitions",
    "rewrite_load_table",
    "slot_by_pk",
]

#: Where the rows of no full load's own partition live (`load_key` 0).
OTHER_PARTITION = f"{t.slot.name}_other"
#: How long dropping a replaced partition waits for the parent's lock (searches hold it while they run).
DROP_LOCK_TIMEOUT = "1s"

log = logging.getLogger(__name__)

_LOAD_NAME = re.compile(rf"^{t.slot.name}_p(\d+)_g(\d+)$")
_INDEX_DEF = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ (.*)$", re.DOTALL)


def partitioned(bind: Connection | Engine) -> bool:
    """Whether Slots are stored a partition per load (PostgreSQL) rather than in one table (SQLite)."""
    return bind.dialect.name == "postgresql"


def load_key(publisher_id: int, generation: int) -> int:
    """The `load_key` of a full load's rows: its partition's one value."""
    return (int(publisher_id) << 32) + int(generation)


def of_generation(
    table: NamedFromClause, publisher_id: int, generation: int, *, by_partition: bool
) -> ColumnElement[bool]:
    """A publisher's rows of one generation in `table`. For `feed_slot` on PostgreSQL (`by_partition`)
    said by the partition key as well (`in_partitions`), so the planner reads that generation's two
    partitions rather than every publisher's: with 200 publishers, a statement over one publisher's
    Slots read all 201 partitions."""
    rows = and_(table.c.publisher_id == publisher_id, table.c.generation == generation)
    return and_(rows, *in_partitions(table, publisher_id, generation, by_partition=by_partition))


def in_partitions(
    table: NamedFromClause, publisher_id: int, generation: int, *, by_partition: bool
) -> tuple[ColumnElement[bool], ...]:
    """The partitions of a publisher's generation of Slots (its full load's and `feed_slot_other`) by
    the partition key alone, for a statement whose other conditions already say which rows (a
    Schedule's Slots by `schedule_pk`); nothing on SQLite or for another table. `table` may be an
    alias of `feed_slot`."""
    named = table.element if isinstance(table, Alias) else table
    if not by_partition or not isinstance(named, Table) or named.name != t.slot.name:
        return ()
    key = load_key_column(table)
    # Two comparisons rather than IN: an IN list is bound as an expanding parameter, which
    # executemany (the incremental load's updates) does not take.
    return (or_(key == load_key(publisher_id, generation), key == 0),)


def load_key_column(table: NamedFromClause = t.slot) -> ColumnElement[int]:
    """`load_key` of `feed_slot` (or of an alias of it): a PostgreSQL-only column the Table does not declare."""
    return literal_column(f"{table.name}.load_key", BigInteger)


def pk_range(conn: Connection, table: Table) -> tuple[int | None, int | None]:
    """The lowest and highest pk of a loaded table (by its primary key's index), for the flip to record."""
    low, high = conn.exec_driver_sql(f"SELECT min(pk), max(pk) FROM {table.name}").one()
    return low, high


def pk_partitions(conn: Connection, pk: int) -> tuple[ColumnElement[bool], ...]:
    """On PostgreSQL, the partitions of `feed_slot` that can hold Slot `pk` if it is of a publisher's
    current generation: the full loads whose recorded pk range holds it, and `feed_slot_other`. Said
    without them the statement is planned over every partition. Nothing on SQLite. A Slot of a
    replaced generation whose partition is not dropped yet is not among them: a caller that wants it
    asks again without these conditions."""
    if not partitioned(conn):
        return ()
    p = t.publisher
    publishers = conn.execute(select(p.c.id, p.c.generation).where(p.c.slot_pk_low <= pk, p.c.slot_pk_high >= pk)).all()
    keys = [load_key(row.id, row.generation) for row in publishers]
    return (load_key_column(t.slot).in_([*keys, 0]),)


def slot_by_pk(conn: Connection, query: Select[Any] | Update, pk: int) -> Row[Any] | None:
    """The first row of `query` (a SELECT over `feed_slot`, or an UPDATE of it RETURNING something)
    for Slot `pk`: looked for in the partitions that hold the current generations' pks
    (`pk_partitions`), then, when it is not there (of a replaced generation whose partition is not
    dropped yet), in every one."""
    narrowed = pk_partitions(conn, pk)
    row = conn.execute(query.where(t.slot.c.pk == pk, *narrowed)).first()
    if row is None and narrowed:
        row = conn.execute(query.where(t.slot.c.pk == pk)).first()
    return row


def load_table(publisher_id: int, generation: int, *, suffix: str = "") -> Table:
    """The table a full load of `generation` writes its Slots into: `feed_slot`'s columns, its own name."""
    return t.slot.to_metadata(MetaData(), name=f"{t.slot.name}_p{int(publisher_id)}_g{int(generation)}{suffix}")


def create_load_table(conn: Connection, publisher_id: int, generation: int, *, suffix: str = "") -> Table:
    """An empty table for the load's Slots, without indexes (a leftover of the same name is dropped),
    its columns' statistics targets those of `feed_slot` (migrations 0014, 0015), which LIKE leaves
    behind, and its partition bound checked. `suffix` names a table to be renamed the load's later."""
    table = load_table(publisher_id, generation, suffix=suffix)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
    conn.exec_driver_sql(f"CREATE TABLE {table.name} (LIKE {t.slot.name} INCLUDING DEFAULTS)")
    # The partition's bound as a constraint of its own, checked as the rows are copied in: attaching
    # then proves the bound from it instead of reading the whole table inside the flip (about 0.2 s
    # a million rows).
    bound = load_key(publisher_id, generation)
    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD CONSTRAINT {table.name}_key CHECK (load_key = {bound})")
    targets = conn.exec_driver_sql(
        "SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = %(parent)s::regclass "
        "AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0 ORDER BY attnum",
        {"parent": t.slot.name},
    ).all()
    if targets:
        columns = ", ".join(f"ALTER COLUMN {name} SET STATISTICS {int(target)}" for name, target in targets)
        conn.exec_driver_sql(f"ALTER TABLE {table.name} {columns}")
    return table


def rewrite_load_table(
    conn: Connection, table: Table, publisher_id: int, generation: int, updated_ms: ColumnElement[int]
) -> None:
    """Replace the loaded table by a copy of it whose `updated_ms` is `updated_ms` (an expression over
    `table`: the stamps a reload carries over from the old generation, resolve.py). An UPDATE in
    place left a dead version of each row that no vacuum ever takes from a partition (and VACUUM
    FULL keeps while any other load's transaction is open): a reloaded partition took twice the space
    of a first load's. Writing the copy costs what the UPDATE did."""
    copy = create_load_table(conn, publisher_id, generation, suffix="_w")
    target = Table(copy.name, MetaData(), *(Column(c.name, c.type) for c in table.c), Column("load_key", BigInteger))
    names = [c.name for c in table.c if c.name != "updated_ms"]
    rows = select(*(table.c[name] for name in names), load_key_column(table), updated_ms)
    conn.execute(insert(target).from_select([*names, "load_key", "updated_ms"], rows))
    conn.exec_driver_sql(f"DROP TABLE {table.name}")
    conn.exec_driver_sql(f"ALTER TABLE {copy.name} RENAME TO {table.name}")


def index_load_table(conn: Connection, table: Table) -> None:
    """Build on the loaded table the indexes of `feed_slot` (so attaching it builds none) and its key.

    Its planner statistics are gathered after the flip (sync/upkeep.py), outside the load; until
    then the planner knows its size, which building an index records."""
    definitions = conn.exec_driver_sql(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %(parent)s::regclass ORDER BY indexrelid",
        {"parent": t.slot.name},
    ).scalars()
    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD PRIMARY KEY (pk)")
    for number, definition in enumerate(definitions, start=1):
        match = _INDEX_DEF.match(definition)
        if match is None:
            raise RuntimeError(f"unexpected index definition on {t.slot.name}: {definition}")
        unique, rest = match.group(1) or "", match.group(2)
        conn.exec_driver_sql(f"CREATE {unique}INDEX {table.name}_ix{number} ON {table.name} {rest}")


def attach_sql(table: Table, publisher_id: int, generation: int) -> str:
    """The statement that makes the loaded table a partition of `feed_slot`, to run in the flip's
    transaction."""
    return (
        f"ALTER TABLE {t.slot.name} ATTACH PARTITION {table.name} FOR VALUES IN ({load_key(publisher_id, generation)})"
    )


def drop_other_generations(
    conn: Connection, publisher_id: int, keep: int, *, lock_timeout: str | None = DROP_LOCK_TIMEOUT
) -> None:
    """Drop the publisher's load tables of any generation but `keep` and its current one (all of them
    once the publisher is deleted), attached or not, and delete its rows of other generations from
    `feed_slot_other`. A partition whose drop waits longer than `lock_timeout` for the parent is left (None:
    wait as long as it takes). Run last in its transaction: a dropped partition's lock on the parent
    is held until the end of it, and searches wait for it."""
    current = conn.exec_driver_sql(
        "SELECT generation FROM publisher WHERE id = %(id)s", {"id": publisher_id}
    ).scalar_one_or_none()
    kept = {keep} if current is None else {keep, int(current)}
    names = (
        conn.exec_driver_sql(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind = 'r' AND c.relname LIKE %(pattern)s",
            {"pattern": f"{t.slot.name}\\_p{int(publisher_id)}\\_g%"},
        )
        .scalars()
        .all()
    )
    if lock_timeout is not None:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{lock_timeout}'")
    for name in sorted(names):
        match = _LOAD_NAME.match(name)
        if match is None or int(match.group(1)) != publisher_id or int(match.group(2)) in kept:
            continue
        if not _drop_or_leave(conn, name):
            # Searches held the parent longer than the timeout: no search reads this table, and the
            # upkeep after the loads, or the publisher's next load, drops it.
            log.info("partition %s left for the upkeep or the next load: the parent table is busy", name)
    if lock_timeout is not None:
        conn.exec_driver_sql("SET LOCAL lock_timeout = DEFAULT")
    conn.exec_driver_sql(
        f"DELETE FROM {OTHER_PARTITION} WHERE publisher_id = %(id)s AND generation <> ALL(%(kept)s)",
        {"id": publisher_id, "kept": sorted(kept)},
    )


def replaced_partitions(conn: Connection) -> list[str]:
    """The attached partitions of a generation older than their publisher's current one: those whose
    drop at the flip found the parent busy (a load's transaction that read the old generation, a
    long search). Only older ones: generations only grow, so one older than the current generation
    read here is stale for good, whatever flips meanwhile; a load under way is not attached yet."""
    names = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %(parent)s::regclass",
        {"parent": t.slot.name},
    ).scalars()
    current = {int(i): int(g) for i, g in conn.exec_driver_sql("SELECT id, generation FROM publisher")}
    stale = []
    for name in names:
        match = _LOAD_NAME.match(name)
        if match is not None and int(match.group(2)) < current.get(int(match.group(1)), 0):
            stale.append(name)
    return sorted(stale)


def drop_partition(conn: Connection, name: str, *, lock_timeout: str = DROP_LOCK_TIMEOUT) -> bool:
    """Drop a replaced partition (`replaced_partitions`) in a transaction of its own on `conn`,
    waiting at most `lock_timeout` for the parent; False when it had to be left."""
    with conn.begin():
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{lock_timeout}'")
        return _drop_or_leave(conn, name)


def _drop_or_leave(conn: Connection, name: str) -> bool:
    """DROP TABLE `name` in a savepoint; False, the table left, when the parent's lock did not come
    within the transaction's lock_timeout (or the wait deadlocked)."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    except OperationalError as exc:
        if not isinstance(exc.orig, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected):
            raise
        return False
    return True

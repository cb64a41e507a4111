"""An incremental load: the resources of a `_since` answer, applied to the current generation in one
transaction.

Specification, "Bulk Publication": a client MAY send `_since=<last transactionTime>`; a server that
honours it lists only what changed since. The sync engine counts a load as incremental only when
the manifest says it answered `_since`. Its resources are kept in a `Spool` (a
temporary file: an answer may be large, and nothing is written until it has all arrived), then
`apply_incremental` changes the current generation in place.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from sqlalchemy import Connection, bindparam, delete, select, update

from slotlinks.discovery.ingest.generation import TABLES, row_for
from slotlinks.discovery.ingest.partitions import of_generation, partitioned
from slotlinks.discovery.ingest.resolve import ChangeCounts, resolve_generation
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.changes import mark_changed
from slotlinks.fhir.resources import RESOURCE_DECODERS, Resource, Slot

__all__ = ["GONE_SLOT_STATUSES", "Spool", "apply_incremental"]

#: Slot statuses that mean "this slot is gone" in an incremental load.
GONE_SLOT_STATUSES = frozenset({"busy-unavailable", "entered-in-error"})


class Spool:
    """The resources of an incremental load, kept on disk until the whole answer has arrived."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    @classmethod
    @contextmanager
    def temporary(cls) -> Iterator[Spool]:
        """A spool on a temporary file, gone on leaving."""
        with tempfile.TemporaryFile() as file:
            yield cls(file)

    def add(self, resources: Iterable[tuple[Resource, bytes]]) -> None:
        """Keep (resource, normalized JSON) pairs, in order."""
        for resource, raw in resources:
            self._file.write(type(resource).__name__.encode() + b"\t" + raw + b"\n")

    def __iter__(self) -> Iterator[tuple[Resource, bytes]]:
        """The kept resources, decoded again, from the first."""
        self._file.seek(0)
        for line in self._file:
            rtype, _, raw = line.rstrip(b"\n").partition(b"\t")
            yield RESOURCE_DECODERS[rtype.decode()].decode(raw), raw


def apply_incremental(
    conn: Connection, publisher_id: int, generation: int, items: Iterable[tuple[Resource, bytes]], now_ms: int
) -> ChangeCounts:
    """Apply a `_since` load to the current generation (call inside one write transaction).

    A Slot replaces the row with the same (id, start); `busy-unavailable` or `entered-in-error`
    remove it. Other resources replace the row with the same id, kept whatever their status. When an
    answer lists one Slot more than once, the last one counts.

    Slots, nearly all of an answer, are applied together (`_apply_slots`): their current rows read a
    few hundred ids per query, then one statement each for the removed, the changed and the new,
    run for many rows at once. A statement per Slot made a 1 % change cost as much as a full load
    on PostgreSQL, where each is a round trip to the server.
    """
    counts = ChangeCounts()
    slots: dict[tuple[str, int], dict[str, Any] | None] = {}  # (id, start) -> row, or None: remove
    for resource, raw in items:
        row = row_for(resource, raw, publisher_id=publisher_id, generation=generation, now_ms=now_ms)
        if isinstance(resource, Slot):
            key = (resource.id, row["start_ms"])
            slots.pop(key, None)  # the last mention of a Slot counts
            slots[key] = None if resource.status in GONE_SLOT_STATUSES else {**row, "schedule_pk": None}
            continue
        table = TABLES[type(resource).__name__]
        where = (
            table.c.publisher_id == publisher_id,
            table.c.generation == generation,
            table.c.source_id == resource.id,
        )
        current = conn.execute(select(table.c.resource).where(*where).limit(1)).first()
        if current is None:
            conn.execute(table.insert().values(**row))
            counts.added += 1
        elif current.resource != row["resource"]:
            conn.execute(update(table).where(*where).values(**row))
            counts.changed += 1
    counts += _apply_slots(conn, publisher_id, generation, slots)
    if counts.added or counts.changed:  # removals alone leave every reference as it was
        resolve_generation(conn, publisher_id, generation, only_unresolved=True)
    if counts.added or counts.changed or counts.removed:
        mark_changed(conn, publisher_id, now_ms)
    return counts


#: Slot ids per query that reads the stored rows of an incremental load's Slots.
_IDS_PER_QUERY = 500


def _apply_slots(
    conn: Connection, publisher_id: int, generation: int, slots: dict[tuple[str, int], dict[str, Any] | None]
) -> ChangeCounts:
    """Remove, replace or add the Slots of an incremental load (by (id, start): a row, or None to remove)."""
    s = t.slot.c
    stored: dict[tuple[str, int], list[str]] = {}  # (id, start) -> the resources stored under it
    ids = sorted({source_id for source_id, _ in slots})
    # The generation's own partitions only, on PostgreSQL (partitions.py), not every publisher's.
    current = of_generation(t.slot, publisher_id, generation, by_partition=partitioned(conn))
    for i in range(0, len(ids), _IDS_PER_QUERY):
        query = select(s.source_id, s.start_ms, s.resource).where(current, s.source_id.in_(ids[i : i + _IDS_PER_QUERY]))
        for source_id, start_ms, resource in conn.execute(query):
            if (source_id, start_ms) in slots:
                stored.setdefault((source_id, start_ms), []).append(resource)
    gone = [key for key, row in slots.items() if row is None and key in stored]
    changed = [
        row for key, row in slots.items() if row is not None and key in stored and stored[key][0] != row["resource"]
    ]
    added = [row for key, row in slots.items() if row is not None and key not in stored]
    keyed = (
        current,
        s.source_id == bindparam("key_id"),
        s.start_ms == bindparam("key_start"),
    )
    if gone:
        conn.execute(delete(t.slot).where(*keyed), [{"key_id": i, "key_start": start} for i, start in gone])
    if changed:
        columns = list(changed[0])
        statement = update(t.slot).where(*keyed).values({c: bindparam(f"new_{c}") for c in columns})
        conn.execute(
            statement,
            [
                {"key_id": r["source_id"], "key_start": r["start_ms"], **{f"new_{c}": r[c] for c in columns}}
                for r in changed
            ],
        )
    if added:
        conn.execute(t.slot.insert(), added)
    return ChangeCounts(added=len(added), changed=len(changed), removed=sum(len(stored[key]) for key in gone))

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
from typing import IO

from sqlalchemy import Connection, delete, select, update

from slotlinks.discovery.ingest.generation import TABLES, row_for
from slotlinks.discovery.ingest.resolve import ChangeCounts, resolve_generation
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
    remove it. Other resources replace the row with the same id, kept whatever their status.
    """
    counts = ChangeCounts()
    for resource, raw in items:
        rtype = type(resource).__name__
        table = TABLES[rtype]
        row = row_for(resource, raw, publisher_id=publisher_id, generation=generation, now_ms=now_ms)
        key = [table.c.publisher_id == publisher_id, table.c.generation == generation, table.c.source_id == resource.id]
        if isinstance(resource, Slot):
            key.append(table.c.start_ms == row["start_ms"])
            if resource.status in GONE_SLOT_STATUSES:
                counts.removed += conn.execute(delete(table).where(*key)).rowcount or 0
                continue
            row["schedule_pk"] = None
        current = conn.execute(select(table.c.resource).where(*key).limit(1)).first()
        if current is None:
            conn.execute(table.insert().values(**row))
            counts.added += 1
        elif current.resource != row["resource"]:
            conn.execute(update(table).where(*key).values(**row))
            counts.changed += 1
    if counts.added or counts.changed:  # removals alone leave every reference as it was
        resolve_generation(conn, publisher_id, generation, only_unresolved=True)
    return counts

"""Rows of one generation: the row that stores each resource, and a full load's rows buffered and
written in batches.

A full load writes generation g+1 of a publisher's data beside generation g, which searches go on
reading until the load is resolved and flipped (resolve.py; store/tables.py explains generations).
`GenerationWriter` takes the lines of each downloaded chunk (`add_lines`): an everyday Slot line
becomes its row at once (fastslot.py), any other line is read leniently (quirks.py) and its row
built by `row_for` (slots.py for Slots, descriptive.py for the rest). Every `BATCH_ROWS` rows the
load hands a batch (`take`) to its writer (loadwriter.py), which calls `write` in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, select

from slotlinks.discovery.ingest.descriptive import (
    Lookups,
    healthcare_service_row,
    location_row,
    practitioner_role_row,
    practitioner_row,
    schedule_row,
)
from slotlinks.discovery.ingest.fastslot import plain_slot_row
from slotlinks.discovery.ingest.slots import (
    SLOT_COLUMNS,
    copy_slots_postgres,
    insert_slots_sqlite,
    slot_tuple,
)
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.ndjson import LineError
from slotlinks.fhir.resources import (
    HealthcareService,
    Location,
    Practitioner,
    PractitionerRole,
    Resource,
    Schedule,
    Slot,
)

__all__ = ["BATCH_ROWS", "TABLES", "GenerationWriter", "LineReader", "NumberedLine", "row_for"]

#: The table that stores each resource type a feed may carry.
TABLES: dict[str, Table] = {
    "Location": t.location,
    "Practitioner": t.practitioner,
    "HealthcareService": t.healthcare_service,
    "PractitionerRole": t.practitioner_role,
    "Schedule": t.schedule,
    "Slot": t.slot,
}

#: Rows buffered before a full load hands them over as one batch.
BATCH_ROWS = 10_000

#: One numbered line of an NDJSON file, as `fhir.ndjson.LineSplitter` gives it.
NumberedLine = tuple[int, bytes]
#: Reads one line leniently: the resource and its JSON, or None for a bad line (recorded by the reader).
LineReader = Callable[[NumberedLine | LineError], tuple[Resource, bytes] | None]


def row_for(resource: Resource, raw: bytes, *, publisher_id: int, generation: int, now_ms: int) -> dict[str, Any]:
    """The row (with derived columns) that stores one resource."""
    if isinstance(resource, Slot):
        row = dict(zip(SLOT_COLUMNS, slot_tuple(resource, raw), strict=True))
        return {"publisher_id": publisher_id, "generation": generation, "updated_ms": now_ms, **row}
    values: dict[str, Any] = {
        "publisher_id": publisher_id,
        "generation": generation,
        "source_id": resource.id,
        "resource": raw.decode("utf-8", "replace"),
        "updated_ms": now_ms,
    }
    if isinstance(resource, Schedule):
        values.update(schedule_row(resource, Lookups.empty()))
    elif isinstance(resource, Location):
        values.update(location_row(resource))
    elif isinstance(resource, PractitionerRole):
        values.update(practitioner_role_row(resource))
    elif isinstance(resource, HealthcareService):
        values.update(healthcare_service_row(resource))
    elif isinstance(resource, Practitioner):
        values.update(practitioner_row(resource))
    return values


class GenerationWriter:
    """Buffers rows of one new generation and inserts them in batches (each its own transaction).

    `add` buffers; `take` hands the buffered rows over as one batch and `write` inserts a batch (in a
    worker thread, while the next batch is read). Batches must be written one at a time, in order.
    Slots get their `schedule_pk` as they are written when the generation's Schedules are already
    stored; `slots_resolved` stays True while that gives every Slot what `resolve_generation` would
    (no Schedule arrived after a Slot was written), so the final resolve may skip them.
    """

    def __init__(
        self, publisher_id: int, generation: int, now_ms: int, *, slot_table: Table = t.slot, load_key: int = 0
    ) -> None:
        self.publisher_id = publisher_id
        self.generation = generation
        self.now_ms = now_ms
        # Where its Slots go on PostgreSQL: the load's own table and key (partitions.py), or `feed_slot`.
        self.slot_table = slot_table
        self.load_key = load_key
        self._pending: dict[str, list[Any]] = {}
        self._count = 0
        self._schedule_pks: dict[str, int] | None = None  # stored Schedules: source id -> (highest) pk
        self._slots_written = False
        self.slots_resolved = True

    def add(self, resource: Resource, raw: bytes) -> bool:
        """Buffer one resource; True when a batch is due."""
        pub, gen, now = self.publisher_id, self.generation, self.now_ms
        row: Any
        if type(resource) is Slot:  # nearly every row: a tuple, built without a dict in between
            row, rtype = slot_tuple(resource, raw), "Slot"
        else:
            row, rtype = row_for(resource, raw, publisher_id=pub, generation=gen, now_ms=now), type(resource).__name__
        rows = self._pending.get(rtype)
        if rows is None:
            rows = self._pending[rtype] = []
        rows.append(row)
        self._count += 1
        return self._count >= BATCH_ROWS

    def add_lines(self, rtype: str, lines: Sequence[NumberedLine | LineError], read: LineReader) -> bool:
        """Buffer the lines of one chunk of a `rtype` file; True when a batch is due.

        Everyday Slot lines are turned into rows right here (`fastslot.plain_slot_row`);
        every other line, of any type, goes through `read` (the lenient reader: it repairs what it
        can and records what is bad) and is buffered when that returns a resource.
        """
        if rtype != "Slot":
            for item in lines:
                if (got := read(item)) is not None:
                    self.add(*got)
            return self._count >= BATCH_ROWS
        row_of, rows = plain_slot_row, self._pending.setdefault("Slot", [])
        fast = 0
        for item in lines:
            if type(item) is tuple and (row := row_of(item[1])) is not None:
                rows.append(row)
                fast += 1
            elif (got := read(item)) is not None:
                self.add(*got)
        self._count += fast
        return self._count >= BATCH_ROWS

    def take(self) -> dict[str, list[Any]]:
        """The buffered rows, by resource type (Slots as `SLOT_COLUMNS` tuples, others as dicts); the
        buffer starts empty again."""
        batch, self._pending, self._count = self._pending, {}, 0
        return batch

    def flush(self, conn: Connection) -> None:
        """Insert the buffered rows now."""
        self.write(conn, self.take())

    def write(self, conn: Connection, batch: dict[str, list[Any]]) -> None:
        """Insert one batch from `take` (Slots last, so they can point at Schedules of the same batch)."""
        for rtype, rows in batch.items():
            if rows and rtype != "Slot":
                conn.execute(TABLES[rtype].insert(), rows)
                if rtype == "Schedule":
                    self._schedule_pks = None
                    self.slots_resolved = self.slots_resolved and not self._slots_written
        slots = batch.get("Slot")
        if slots:
            shared = (self.publisher_id, self.generation, self.now_ms)
            if conn.dialect.name == "sqlite":
                insert_slots_sqlite(conn, slots, shared)
            else:
                if self._schedule_pks is None:
                    self._schedule_pks = self._load_schedule_pks(conn)
                copy_slots_postgres(
                    conn, slots, self._schedule_pks, shared, table=self.slot_table.name, load_key=self.load_key
                )
            self._slots_written = True

    def _load_schedule_pks(self, conn: Connection) -> dict[str, int]:
        s = t.schedule.c
        query = (
            select(s.source_id, s.pk)
            .where(s.publisher_id == self.publisher_id, s.generation == self.generation)
            .order_by(s.pk)
        )
        return {row.source_id: row.pk for row in conn.execute(query)}

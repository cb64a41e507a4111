"""Applying the changes of one full-resource notification to the publisher's current generation.

The same path as an incremental (`_since`) poll: each resource is read leniently (`read_resource`,
the quirks a feed line may have) and `apply_incremental` stores it with the rows ingest derives, in
the caller's transaction. What a notification cannot say by itself is left to a `_since` poll (the
caller triggers it when `needs_poll` is set):

- an entry without its resource (id-only content);
- a resource that does not read as FHIR;
- a removal of anything but a Slot (a Schedule or Location taken away is published as inactive by
  the next `_since` answer, with what depends on it);
- for a publisher followed for some states only, a resource we do not hold yet (the poll's state
  filter decides whether it belongs).

A removed Slot is deleted by id (whatever its start). Applying the same notification twice leaves the
same rows, so a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, delete, exists, select

from slotlinks.discovery.ingest.generation import TABLES
from slotlinks.discovery.ingest.incremental import apply_incremental
from slotlinks.discovery.ingest.partitions import of_generation, partitioned
from slotlinks.discovery.ingest.quirks import Warnings, read_resource
from slotlinks.discovery.ingest.resolve import ChangeCounts
from slotlinks.discovery.push.notification import Change
from slotlinks.discovery.store.changes import mark_changed
from slotlinks.fhir.ndjson import LineError
from slotlinks.fhir.resources import Resource

__all__ = ["Applied", "apply_changes"]


@dataclass(slots=True)
class Applied:
    counts: ChangeCounts = field(default_factory=ChangeCounts)
    needs_poll: bool = False
    why_poll: list[str] = field(default_factory=list)

    def poll(self, why: str) -> None:
        self.needs_poll = True
        self.why_poll.append(why)


def _held(conn: Connection, publisher_id: int, generation: int, rtype: str, rid: str) -> bool:
    table = TABLES[rtype]
    current = of_generation(table, publisher_id, generation, by_partition=partitioned(conn))
    query = select(exists().where(current, table.c.source_id == rid))
    return bool(conn.execute(query).scalar())


def apply_changes(
    conn: Connection,
    publisher_id: int,
    generation: int,
    changes: Iterable[Change],
    *,
    now_ms: int,
    states_filtered: bool,
) -> Applied:
    """Apply `changes` in order to generation `generation` (call inside one write transaction)."""
    applied = Applied()
    readable: list[tuple[Resource, bytes]] = []
    deleted = 0  # Slots removed here (apply_incremental marks its own changes)
    for change in changes:
        table = TABLES.get(change.resource_type)
        if table is None:
            continue  # a type we do not keep
        if change.removed:
            if change.resource_type != "Slot":
                applied.poll(f"{change.resource_type}/{change.id} was removed")
                continue
            if readable:  # keep the notification's order: what came before the removal is applied first
                applied.counts += apply_incremental(conn, publisher_id, generation, readable, now_ms)
                readable = []
            current = of_generation(table, publisher_id, generation, by_partition=partitioned(conn))
            deleted += conn.execute(delete(table).where(current, table.c.source_id == change.id)).rowcount or 0
            continue
        if change.resource is None:
            applied.poll(f"{change.resource_type}/{change.id} changed (id only)")
            continue
        if states_filtered and not _held(conn, publisher_id, generation, change.resource_type, change.id):
            applied.poll(f"{change.resource_type}/{change.id} is new")
            continue
        got = read_resource(change.resource_type, 1, orjson.dumps(change.resource), Warnings())
        if isinstance(got, LineError):
            applied.poll(f"{change.resource_type}/{change.id} is not valid: {got.message}")
            continue
        readable.append(got)
    if readable:
        applied.counts += apply_incremental(conn, publisher_id, generation, readable, now_ms)
    if deleted:
        applied.counts.removed += deleted
        mark_changed(conn, publisher_id, now_ms)
    return applied

"""The aggregate's changes as events of the "availability changed" topic (chained push).

The discovery store keeps no change log: ingest and push stamp each row's `updated_ms` and delete
what is gone. So the outbox compares the current generation of every publisher with what it last
announced (`aggregate_known`: each Slot, Schedule and Location and the `updated_ms` it was announced
at). Per collection and publisher:

- rows stamped after the cursor (less `OVERLAP_MS`, for a transaction that stamped before the last
  collection and committed after it) that differ from what was announced are events (PUT);
- when the publisher's current data changed outside a sync (its `data_changed_ms` moved: a pushed
  change or a booking outcome, store/changes.py), announced rows that are no longer there are
  removal events (DELETE);
- when the publisher was synced (a new generation, or any sync attempt: a long sync transaction may
  commit rows stamped well before the cursor), every row is compared, not only the recent ones;
- a publisher removed from the registry: every row announced for it is removed.

Ids are the aggregate's (`rewrite.aggregate_id`), so focus references resolve at the aggregate's FHIR
base. Facts for filters: a Slot has its Schedule's, a Schedule its Location's state and its
`system|code` tokens (serviceType, specialty, vaccine product: `feed_schedule.codes`), a Location its
state and the tokens of the Schedules at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, exists, insert, not_, select

from slotlinks.discovery.aggregate.rewrite import aggregate_id
from slotlinks.discovery.ingest.partitions import of_generation, partitioned
from slotlinks.discovery.store import tables as t
from slotlinks.subscriptions.topic import EventFacts

__all__ = ["OVERLAP_MS", "Change", "collect_changes"]

OVERLAP_MS = 5_000
NO_START = -1  # `aggregate_known.start_ms` of a Schedule or Location
_TABLES: dict[str, Table] = {"Slot": t.slot, "Schedule": t.schedule, "Location": t.location}
_K = t.aggregate_known.c
_PP = t.aggregate_push_publisher.c


@dataclass(frozen=True, slots=True)
class Change:
    at_ms: int
    resource_type: str
    resource_id: str
    removed: bool
    facts: EventFacts


def _services(codes: str) -> frozenset[tuple[str, str]]:
    found = set()
    for token in codes.split():
        system, _, code = token.rpartition("|")
        found.add((system, code))
    return frozenset(found)


class _Facts:
    """Filter facts of one publisher's current Schedules and Locations, each read once."""

    def __init__(self, conn: Connection, publisher_id: int, generation: int) -> None:
        self.conn, self.pid, self.gen = conn, publisher_id, generation
        self._states: dict[str, str | None] = {}
        self._schedules: dict[str, tuple[str | None, str]] = {}

    def state(self, location_id: str | None) -> str | None:
        if location_id is None:
            return None
        if location_id not in self._states:
            c = t.location.c
            query = select(c.state).where(
                c.publisher_id == self.pid, c.generation == self.gen, c.source_id == location_id
            )
            self._states[location_id] = self.conn.execute(query.limit(1)).scalar()
        return self._states[location_id]

    def schedule(self, schedule_id: str) -> tuple[str | None, str]:
        if schedule_id not in self._schedules:
            c = t.schedule.c
            query = select(c.location_source_id, c.codes).where(
                c.publisher_id == self.pid, c.generation == self.gen, c.source_id == schedule_id
            )
            row = self.conn.execute(query.limit(1)).first()
            self._schedules[schedule_id] = (None, "") if row is None else (self.state(row[0]), row[1] or "")
        return self._schedules[schedule_id]

    def location_codes(self, location_id: str) -> str:
        c = t.schedule.c
        query = select(c.codes).where(
            c.publisher_id == self.pid, c.generation == self.gen, c.location_source_id == location_id
        )
        return " ".join(codes or "" for codes in self.conn.execute(query).scalars())


def _rows(conn: Connection, rtype: str, pid: int, gen: int, since_ms: int | None) -> list[Any]:
    c = _TABLES[rtype].c
    cols = [c.source_id, c.updated_ms]
    if rtype == "Slot":
        cols += [c.start_ms, c.schedule_source_id]
    elif rtype == "Schedule":
        cols.append(c.location_source_id)
    else:
        cols.append(c.state)
    query = select(*cols).where(of_generation(_TABLES[rtype], pid, gen, by_partition=partitioned(conn)))
    if since_ms is not None:
        query = query.where(c.updated_ms > since_ms)
    return list(conn.execute(query))


def _facts_of(rtype: str, row: Any, facts: _Facts) -> tuple[str | None, str]:
    if rtype == "Slot":
        return facts.schedule(row.schedule_source_id)
    if rtype == "Schedule":
        return facts.schedule(row.source_id)
    return row.state, facts.location_codes(row.source_id)


def _known(conn: Connection, rtype: str, pid: int, rows: list[Any], everything: bool) -> dict[tuple[str, int], int]:
    """What was announced of these rows: (source id, start) -> `updated_ms`."""
    where = [_K.resource_type == rtype, _K.publisher_id == pid]
    if not everything:
        if not rows:
            return {}
        where.append(_K.source_id.in_(sorted({r.source_id for r in rows})))
    found = conn.execute(select(_K.source_id, _K.start_ms, _K.updated_ms).where(*where))
    return {(r.source_id, int(r.start_ms)): int(r.updated_ms) for r in found}


def _changed(conn: Connection, pid: int, gen: int, since_ms: int | None) -> list[Change]:
    facts = _Facts(conn, pid, gen)
    out: list[Change] = []
    for rtype in _TABLES:
        rows = _rows(conn, rtype, pid, gen, since_ms)
        known = _known(conn, rtype, pid, rows, since_ms is None)
        for row in rows:
            start = int(row.start_ms) if rtype == "Slot" else NO_START
            if known.get((row.source_id, start)) == int(row.updated_ms):
                continue
            state, codes = _facts_of(rtype, row, facts)
            key = (_K.resource_type == rtype, _K.publisher_id == pid, _K.source_id == row.source_id)
            conn.execute(delete(t.aggregate_known).where(*key, _K.start_ms == start))
            conn.execute(
                insert(t.aggregate_known).values(
                    resource_type=rtype,
                    publisher_id=pid,
                    source_id=row.source_id,
                    start_ms=start,
                    updated_ms=int(row.updated_ms),
                    state=state,
                    codes=codes,
                )
            )
            rid = aggregate_id(pid, row.source_id, None if start == NO_START else start)
            out.append(Change(int(row.updated_ms), rtype, rid, False, EventFacts(state, _services(codes))))
    return out


def _removed(conn: Connection, pid: int, gen: int | None, now_ms: int) -> list[Change]:
    """Announced rows of the publisher no longer in its current generation (all of them: `gen` None)."""
    out: list[Change] = []
    for rtype, table in _TABLES.items():
        where = [_K.resource_type == rtype, _K.publisher_id == pid]
        if gen is not None:
            c = table.c
            same = [of_generation(table, pid, gen, by_partition=partitioned(conn)), c.source_id == _K.source_id]
            if rtype == "Slot":
                same.append(c.start_ms == _K.start_ms)
            where.append(not_(exists().where(and_(*same))))
        gone = conn.execute(select(_K.source_id, _K.start_ms, _K.state, _K.codes).where(*where)).all()
        for row in gone:
            start = int(row.start_ms)
            rid = aggregate_id(pid, row.source_id, None if start == NO_START else start)
            out.append(Change(now_ms, rtype, rid, True, EventFacts(row.state, _services(row.codes))))
            conn.execute(
                delete(t.aggregate_known).where(*where[:2], _K.source_id == row.source_id, _K.start_ms == start)
            )
    return out


def collect_changes(conn: Connection, *, since_ms: int | None, now_ms: int) -> list[Change]:
    """The changes since `since_ms` (None: every row is compared), oldest first; records what is now
    announced, in the caller's write transaction."""
    p = t.publisher.c
    before = {r.publisher_id: r for r in conn.execute(select(t.aggregate_push_publisher))}
    found: list[Change] = []
    for pub in conn.execute(select(p.id, p.generation, p.last_attempt_ms, p.data_changed_ms)).all():
        pid, gen = int(pub.id), int(pub.generation)
        sync_state, row_state = f"{gen}:{pub.last_attempt_ms}", str(pub.data_changed_ms)
        old = before.pop(pid, None)
        synced = old is None or old.sync_state != sync_state
        if old is None or synced or old.row_state != row_state:
            found += _removed(conn, pid, gen, now_ms)
        found += _changed(conn, pid, gen, None if synced or since_ms is None else since_ms - OVERLAP_MS)
        conn.execute(delete(t.aggregate_push_publisher).where(_PP.publisher_id == pid))
        conn.execute(
            insert(t.aggregate_push_publisher).values(publisher_id=pid, sync_state=sync_state, row_state=row_state)
        )
    for pid in before:  # removed from the registry
        found += _removed(conn, pid, None, now_ms)
        conn.execute(delete(t.aggregate_push_publisher).where(_PP.publisher_id == pid))
    found.sort(key=lambda change: change.at_ms)
    return found

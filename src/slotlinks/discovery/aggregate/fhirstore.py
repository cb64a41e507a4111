"""The discovery store served through the FHIR REST layer (`slotlinks.fhirapi`), as the aggregate
publication publishes it (spec "Slot Aggregators"): the same ids, references, identifiers, `meta` and
`has-availability`, so a client can go from the aggregate's NDJSON to reads and searches here.

Descriptive resources are the aggregate's renderings of every publisher's current generation, built
once per data version (`cache.data_state`) and kept until the clock would change them
(`cache.valid_until_ms`: a Schedule's availability ends, a publisher's data turns stale).
Slots are filtered, ordered and keyset-paged in SQL over `feed_slot` (current generation, Schedule
published) and rendered as the aggregate renders them.

Ids: a Slot's aggregate id is `<publisher>.<source id>.<start ms>` or, when that is not a FHIR id,
`<publisher>-<hash>` (`rewrite.aggregate_id`). The readable form maps straight to columns; the hashed
form is found by hashing that publisher's candidate rows (those whose readable id would be invalid).
`_sort=_id` orders by the readable form built in SQL, which is the id itself except for hashed ids.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import JSON, ColumnElement, Connection, String, and_, case, cast, false, func, or_, select

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.cache import data_state, valid_until_ms
from slotlinks.discovery.aggregate.render import SlotRenderer, descriptive_resources, slot_renderer
from slotlinks.discovery.aggregate.rewrite import aggregate_id
from slotlinks.discovery.aggregate.sources import load_publishers
from slotlinks.discovery.ingest.partitions import load_key, load_key_column
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.fhirapi.keyset import keyset_clause, keyset_order
from slotlinks.fhirapi.store import DESCRIPTIVE_TYPES, Key, SlotQuery

__all__ = ["DiscoveryFhirStore"]

_S = t.slot.c
_P = t.publisher.c
#: The server's default minimum poll interval (staleness, and so `has-availability`, depends on it).
_MIN_POLL_SECONDS = Settings().min_poll_seconds
#: Longest decimal text of a start in ms (sign and 19 digits): bounds which source ids may hash.
_MS_DIGITS = 20


def _slot_columns() -> list[ColumnElement[Any]]:
    return [_S.publisher_id, _S.source_id, _S.resource, _S.updated_ms, _S.start_ms, _S.schedule_source_id, _S.status]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What one data version renders to: descriptive resources, Schedule pks, Slot renderers."""

    digest: str
    valid_until_ms: int | None
    resources: dict[str, list[dict[str, Any]]]
    by_id: dict[str, dict[str, dict[str, Any]]]
    schedule_pks: dict[str, tuple[int, ...]]  # aggregate Schedule id -> its rows' pks
    # aggregate Schedule id -> the partition key of its publisher's current load (PostgreSQL only)
    schedule_keys: dict[str, int]
    renderers: dict[int, SlotRenderer]  # publisher id -> Slot renderer

    def fresh(self, now_ms: int) -> bool:
        return self.valid_until_ms is None or now_ms < self.valid_until_ms


class DiscoveryFhirStore:
    """`FhirStore` over a `DiscoveryStore`: every publisher's current data, as the aggregate publishes it.

    `recheck_ms` bounds how often the data version is read (a scan of each feed table, as the
    aggregate cache does); 0 reads it on every request. `min_poll_seconds` must be the server's, since
    staleness (and so `has-availability`) depends on it."""

    def __init__(
        self, store: DiscoveryStore, *, min_poll_seconds: int = _MIN_POLL_SECONDS, recheck_ms: int = 1000
    ) -> None:
        self.store = store
        self.min_poll_seconds = min_poll_seconds
        self.recheck_ms = recheck_ms
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._checked_at = 0.0

    # -- the per-version snapshot ------------------------------------------------------------------

    def _recent(self, snap: _Snapshot | None, now_ms: int) -> bool:
        if snap is None or not snap.fresh(now_ms):
            return False
        return (time.monotonic() - self._checked_at) * 1000 < self.recheck_ms

    def _load(self) -> _Snapshot:
        now_ms = self.store.now_ms()
        snap = self._snapshot
        if snap is not None and self._recent(snap, now_ms):
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is not None and self._recent(snap, now_ms):
                return snap
            with self.store.read() as conn:
                digest = data_state(conn).digest
                if snap is None or snap.digest != digest or not snap.fresh(now_ms):
                    snap = self._build(conn, digest, now_ms)
            self._snapshot = snap
            self._checked_at = time.monotonic()
            return snap

    def _build(self, conn: Connection, digest: str, now_ms: int) -> _Snapshot:
        sources = load_publishers(conn, now_ms=now_ms, min_poll_seconds=self.min_poll_seconds)
        by_id: dict[str, dict[str, dict[str, Any]]] = {rtype: {} for rtype in DESCRIPTIVE_TYPES}
        schedule_pks: dict[str, list[int]] = {}
        schedule_keys: dict[str, int] = {}
        for src in sources:
            # A source id repeated within a generation is published twice under one id: keep the last.
            for rtype, resource in descriptive_resources(conn, src, now_ms=now_ms):
                by_id[rtype][str(resource["id"])] = resource
            sc = t.schedule.c
            for pk, source_id in conn.execute(select(sc.pk, sc.source_id).where(src.live(t.schedule))):
                sid = aggregate_id(src.id, source_id)
                schedule_pks.setdefault(sid, []).append(int(pk))
                if src.by_partition:
                    schedule_keys[sid] = load_key(src.id, src.generation)
        return _Snapshot(
            digest=digest,
            valid_until_ms=valid_until_ms(sources, now_ms),
            resources={rtype: list(items.values()) for rtype, items in by_id.items()},
            by_id=by_id,
            schedule_pks={sid: tuple(pks) for sid, pks in schedule_pks.items()},
            schedule_keys=schedule_keys,
            renderers={src.id: slot_renderer(src, now_ms=now_ms) for src in sources},
        )

    # -- SQL over feed_slot ------------------------------------------------------------------------

    @property
    def _postgres(self) -> bool:
        return self.store.engine.dialect.name == "postgresql"

    def _text(self, expr: ColumnElement[str]) -> ColumnElement[str]:
        """Text compared byte by byte, as Python compares our ids and instants."""
        return expr.collate("C") if self._postgres else expr

    def _local_instant(self, element: str) -> ColumnElement[str]:
        """The slot's `start`/`end` as published (local wall time with offset), to the second."""
        if self._postgres:
            value: ColumnElement[str] = func.json_extract_path_text(cast(_S.resource, JSON), element)
        else:
            value = func.json_extract(_S.resource, f"$.{element}")
        return self._text(func.substr(value, 1, 19))

    def _readable_id(self) -> ColumnElement[str]:
        text = cast(_S.publisher_id, String) + "." + _S.source_id + "." + cast(_S.start_ms, String)
        return self._text(text)

    def _current(self, snap: _Snapshot) -> list[ColumnElement[bool]]:
        """Rows the aggregate publishes: the publisher's current generation, its Schedule published."""
        return [_S.schedule_pk.is_not(None), _S.publisher_id.in_(sorted(snap.renderers))]

    def _from(self) -> Any:
        return t.slot.join(t.publisher, and_(_P.id == _S.publisher_id, _P.generation == _S.generation))

    def _id_clause(self, conn: Connection, snap: _Snapshot, ids: frozenset[str]) -> ColumnElement[bool]:
        readable: list[ColumnElement[bool]] = []
        hashed: dict[int, set[str]] = {}
        for rid in sorted(ids):
            head, sep, rest = rid.partition(".")
            if sep and head.isdigit():
                source_id, dot, start = rest.rpartition(".")
                try:
                    start_ms = int(start)
                except ValueError:
                    continue
                if dot and aggregate_id(int(head), source_id, start_ms) == rid:
                    readable.append(
                        and_(_S.publisher_id == int(head), _S.source_id == source_id, _S.start_ms == start_ms)
                    )
                continue
            head, sep, _ = rid.partition("-")
            if sep and head.isdigit() and int(head) in snap.renderers:
                hashed.setdefault(int(head), set()).add(rid)
        pks = [pk for publisher_id, wanted in hashed.items() for pk in self._hashed_pks(conn, publisher_id, wanted)]
        if pks:
            readable.append(_S.pk.in_(pks))
        return or_(*readable) if readable else false()

    def _hashed_pks(self, conn: Connection, publisher_id: int, wanted: set[str]) -> list[int]:
        """The pks of a publisher's current Slots whose (hashed) aggregate id is wanted."""
        room = 64 - len(f"{publisher_id}..") - _MS_DIGITS
        if self._postgres:
            odd_chars = _S.source_id.op("~")("[^A-Za-z0-9.-]")
        else:
            odd_chars = _S.source_id.op("GLOB")("*[^A-Za-z0-9.-]*")
        query = (
            select(_S.pk, _S.source_id, _S.start_ms)
            .select_from(self._from())
            .where(_S.publisher_id == publisher_id, or_(func.length(_S.source_id) > room, odd_chars))
        )
        return [
            int(pk)
            for pk, source_id, start_ms in conn.execute(query)
            if aggregate_id(publisher_id, source_id, start_ms) in wanted
        ]

    def _where(self, conn: Connection, snap: _Snapshot, query: SlotQuery) -> list[ColumnElement[bool]]:
        where = self._current(snap)
        if query.schedule_ids is not None:
            pks = sorted(pk for sid in query.schedule_ids for pk in snap.schedule_pks.get(sid, ()))
            where.append(_S.schedule_pk.in_(pks) if pks else false())
            if snap.schedule_keys:  # only those Schedules' partitions (ingest/partitions.py)
                keys = {snap.schedule_keys[sid] for sid in query.schedule_ids if sid in snap.schedule_keys}
                where.append(load_key_column().in_(sorted(keys | {0})))
        for ids in query.ids:
            where.append(self._id_clause(conn, snap, ids))
        for statuses in query.statuses:
            where.append(_S.status.in_(sorted(statuses)) if statuses else false())
        for name, value in query.dates:
            if name == "start":
                where.append(value.clause(_S.start_ms, self._local_instant("start")))
            elif name == "end":
                where.append(value.clause(_S.end_ms, self._local_instant("end")))
            else:  # meta.lastUpdated is written in UTC, so a wall-clock value is a UTC range
                where.append(replace(value, local=False).clause(_S.updated_ms))
        return where

    def _sort_columns(self, snap: _Snapshot, query: SlotQuery) -> list[tuple[ColumnElement[Any], bool]]:
        columns: list[tuple[ColumnElement[Any], bool]] = []
        for key, desc in query.sort:
            expr: ColumnElement[Any]
            if key == "near":
                ranks = {pk: rank for sid, rank in (query.ranks or {}).items() for pk in snap.schedule_pks.get(sid, ())}
                expr = case(ranks, value=_S.schedule_pk, else_=len(query.ranks or {})) if ranks else func.abs(0)
            elif key == "_id":
                expr = self._readable_id()
            else:
                expr = {"start": _S.start_ms, "end": _S.end_ms, "_lastUpdated": _S.updated_ms}[key]
            columns.append((expr, desc))
        # Our row key breaks ties: unique, and stable while the row lives.
        columns.append((_S.pk, query.sort[0][1] if query.sort else False))
        return columns

    def _render(self, snap: _Snapshot, row: Sequence[Any]) -> dict[str, Any]:
        publisher_id, source_id, raw, updated_ms, start_ms, schedule_source_id, status = row
        render = snap.renderers[publisher_id]
        return render(source_id, raw, int(updated_ms), int(start_ms), schedule_source_id, status)

    # -- FhirStore -------------------------------------------------------------------------------

    def resources(self, rtype: str) -> Sequence[dict[str, Any]]:
        return self._load().resources.get(rtype, [])

    def read(self, rtype: str, rid: str) -> dict[str, Any] | None:
        if rtype != "Slot":
            return self._load().by_id.get(rtype, {}).get(rid)
        found = list(self.slots(SlotQuery(ids=(frozenset({rid}),), limit=1)))
        return found[0][1] if found else None

    def slots(self, query: SlotQuery) -> Iterator[tuple[Key, dict[str, Any]]]:
        snap = self._load()
        columns = self._sort_columns(snap, query)
        before = query.before is not None
        bound = query.before if before else query.after
        keys = [expr.label(f"k{i}") for i, (expr, _) in enumerate(columns)]
        width = len(_slot_columns())
        with self.store.read() as conn:
            where = self._where(conn, snap, query)
            if bound is not None:
                where.append(keyset_clause(columns, bound, before=before))
            stmt = (
                select(*_slot_columns(), *keys)
                .select_from(self._from())
                .where(*where)
                .order_by(*keyset_order(columns, before=before))
            )
            if query.limit is not None:
                stmt = stmt.limit(query.limit)
            rows = conn.execution_options(yield_per=1000).execute(stmt) if query.limit is None else conn.execute(stmt)
            for row in rows:
                yield tuple(row[width:]), self._render(snap, tuple(row[:width]))

    def count_slots(self, query: SlotQuery) -> int:
        snap = self._load()
        with self.store.read() as conn:
            stmt = select(func.count()).select_from(self._from()).where(*self._where(conn, snap, query))
            return int(conn.execute(stmt).scalar_one())

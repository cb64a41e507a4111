"""The provider store served through the FHIR REST layer (`slotlinks.fhirapi`).

Descriptive resources are the published JSON of active rows, parsed once per data-set version.
Slots are filtered, ordered and keyset-paged in SQL over their columns and rendered exactly as the
publication renders them (spec "Slot File"): the published status counts bookings, so `status`
filters on that same expression.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, and_, case, false, func, select

from slotlinks.clock import now_ms as clock_ms
from slotlinks.fhirapi.keyset import keyset_clause, keyset_order
from slotlinks.fhirapi.store import DESCRIPTIVE_TYPES, Key, SlotQuery
from slotlinks.provider.portal.holds import active_holds
from slotlinks.provider.publication.render import _Renderer
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.settings import PORTAL_URL_SETTING
from slotlinks.provider.store.store import ProviderStore

__all__ = ["ProviderFhirStore", "published_status"]

_S = t.slot.c


def published_status(now_ms: int) -> ColumnElement[str]:
    """The status an active slot is published with at `now_ms`: `free` turns `busy` once bookings fill
    it, and `busy-tentative` once bookings and live holds do (the publication's own rule)."""
    free = _S.status == "free"
    return case(
        (and_(free, _S.booked >= _S.capacity), "busy"),
        (and_(free, _S.booked + active_holds(now_ms) >= _S.capacity), "busy-tentative"),
        else_=_S.status,
    )


def _slot_columns() -> list[ColumnElement[Any]]:
    return [_S.id, _S.schedule_id, _S.start, _S.end, _S.status, _S.capacity, _S.booked, _S.active, _S.last_updated]


class ProviderFhirStore:
    """`FhirStore` over a `ProviderStore` (active resources only, as in the full publication)."""

    def __init__(self, store: ProviderStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._version = -1
        self._resources: dict[str, list[dict[str, Any]]] = {}
        self._by_id: dict[str, dict[str, dict[str, Any]]] = {}
        self._renderer: _Renderer | None = None

    def _load(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, dict[str, Any]]], _Renderer]:
        with self._lock:
            with self.store.read() as conn:
                version = self.store.state(conn).version
                if version != self._version or self._renderer is None:
                    self._refresh(conn)
                    self._version = version
            assert self._renderer is not None
            return self._resources, self._by_id, self._renderer

    def _refresh(self, conn: Connection) -> None:
        resources: dict[str, list[dict[str, Any]]] = {}
        for rtype in DESCRIPTIVE_TYPES:
            table = t.RESOURCE_TABLES[rtype]
            rows = conn.execute(select(table.c.resource).where(table.c.active).order_by(table.c.id)).scalars()
            resources[rtype] = [orjson.loads(text) for text in rows]
        self._resources = resources
        self._by_id = {rtype: {str(r["id"]): r for r in items} for rtype, items in resources.items()}
        portal = self.store.get_setting(PORTAL_URL_SETTING, conn=conn)
        self._renderer = _Renderer(conn, portal)

    # -- FhirStore -------------------------------------------------------------------------------

    def resources(self, rtype: str) -> Sequence[dict[str, Any]]:
        return self._load()[0].get(rtype, [])

    def read(self, rtype: str, rid: str) -> dict[str, Any] | None:
        if rtype != "Slot":
            return self._load()[1].get(rtype, {}).get(rid)
        renderer = self._load()[2]
        with self.store.read() as conn:
            row = conn.execute(select(*_slot_columns()).where(_S.id == rid, _S.active)).first()
            current = copy.copy(renderer).at(conn, self._now_ms(), rid)
        return None if row is None else self._render(current, row)

    def _render(self, renderer: _Renderer, row: Any) -> dict[str, Any]:
        if row[1] not in renderer.schedules:  # a schedule created after the cache was filled
            with self.store.read() as conn:
                renderer.schedules.update(_Renderer(conn, "", schedule_id=row[1]).schedules)
        data: dict[str, Any] = orjson.loads(renderer.slot_line(row))
        return data

    def _sort_columns(self, query: SlotQuery) -> list[tuple[ColumnElement[Any], bool]]:
        by_key: dict[str, ColumnElement[Any]] = {
            "start": _S.start_ms,
            "end": _S.end_ms,
            "_lastUpdated": _S.last_updated,
            "_id": _S.id,
        }
        columns: list[tuple[ColumnElement[Any], bool]] = []
        for key, desc in query.sort:
            if key == "near":
                ranks = dict(query.ranks or {})
                expr: ColumnElement[Any] = case(ranks, value=_S.schedule_id, else_=len(ranks)) if ranks else func.abs(0)
                columns.append((expr, desc))
            else:
                columns.append((by_key[key], desc))
        if not query.sort or query.sort[-1][0] != "_id":
            columns.append((_S.id, query.sort[0][1] if query.sort else False))
        return columns

    def _now_ms(self) -> int:
        return clock_ms(self.store.clock)

    def _where(self, query: SlotQuery, now_ms: int) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [_S.active]
        if query.schedule_ids is not None:
            where.append(_S.schedule_id.in_(sorted(query.schedule_ids)) if query.schedule_ids else false())
        for ids in query.ids:
            where.append(_S.id.in_(sorted(ids)) if ids else false())
        status = published_status(now_ms)
        for statuses in query.statuses:
            where.append(status.in_(sorted(statuses)) if statuses else false())
        for name, value in query.dates:
            if name == "start":
                where.append(value.clause(_S.start_ms, _S.start))
            elif name == "end":
                where.append(value.clause(_S.end_ms, _S.end))
            else:  # meta.lastUpdated is written in UTC, so a wall-clock value is a UTC range
                where.append(replace(value, local=False).clause(_S.last_updated))
        return where

    def slots(self, query: SlotQuery) -> Iterator[tuple[Key, dict[str, Any]]]:
        now_ms = self._now_ms()
        shared = self._load()[2]
        columns = self._sort_columns(query)
        where = self._where(query, now_ms)
        before = query.before is not None
        bound = query.before if before else query.after
        if bound is not None:
            where.append(keyset_clause(columns, bound, before=before))
        keys = [expr.label(f"k{i}") for i, (expr, _) in enumerate(columns)]
        stmt = select(*_slot_columns(), *keys).where(*where).order_by(*keyset_order(columns, before=before))
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        width = len(_slot_columns())
        with self.store.read() as conn:
            # Holds come and go between data-set versions: count them now, on a per-request copy.
            renderer = copy.copy(shared).at(conn, now_ms)
            rows = conn.execution_options(yield_per=1000).execute(stmt) if query.limit is None else conn.execute(stmt)
            for row in rows:
                yield tuple(row[width:]), self._render(renderer, tuple(row[:width]))

    def count_slots(self, query: SlotQuery) -> int:
        stmt = select(func.count()).select_from(t.slot).where(*self._where(query, self._now_ms()))
        with self.store.read() as conn:
            return int(conn.execute(stmt).scalar_one())

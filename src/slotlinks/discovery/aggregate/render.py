"""Rendering the discovery store as the lines of one SMART Scheduling Links publication (spec "Slot
Aggregators": re-publish many publishers' data in the publisher format, spec "Bulk Publication").

Every publisher's live data (rows of its current `generation`, see `sources`) is rewritten with new ids
and provenance (`rewrite`), publisher by publisher. A Slot whose Schedule is missing is left out, since
a client could not use it. Paused publishers are published too: their data turns stale, so their
Schedules say `unknown`. Lines are tagged with their files as the provider's are
(`slotlinks.publishing.outputs`): descriptive resources by state, Slots by state and ISO week of their
local start. One pass renders the full data set; with `since_ms` the same pass renders changes only
(the contract is in `routes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, select

from slotlinks.discovery.aggregate.rewrite import Rewriter, aggregate_id
from slotlinks.discovery.aggregate.sources import DESCRIPTIVE_TABLES, SourcePublisher
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.publishing.outputs import DESCRIPTIVE_FILES, Line, file_name

__all__ = ["SlotRenderer", "descriptive_resources", "iter_lines", "slot_renderer"]


def _local_day(start: Any, start_ms: int) -> date:
    """The local date of a Slot's start as the publisher wrote it (UTC's when it cannot be read)."""
    try:
        return date.fromisoformat(str(start)[:10])
    except ValueError:
        return date.fromisoformat(ms_to_instant(start_ms)[:10])


def _dumps(res: dict[str, Any]) -> bytes:
    return orjson.dumps(res) + b"\n"


def _descriptive_lines(
    conn: Connection, src: SourcePublisher, rewriter: Rewriter, since_ms: int | None
) -> Iterator[Line[bytes]]:
    changed_schedules: set[str] = set()
    if since_ms is not None:
        s = t.slot.c
        changed = select(s.schedule_source_id).where(src.live(t.slot), s.updated_ms > since_ms).distinct()
        changed_schedules = set(conn.execute(changed).scalars())
    # Schedules carry derived status (has-availability, lastSourceSync) that any sync may change.
    resend_schedules = since_ms is not None and (src.last_attempt_ms or 0) > since_ms
    for type_name, prefix in DESCRIPTIVE_FILES:
        table = DESCRIPTIVE_TABLES[type_name]
        c = table.c
        extra = [c.location_source_id] if type_name in {"HealthcareService", "PractitionerRole"} else []
        query = select(c.source_id, c.resource, c.updated_ms, *extra).where(src.live(table)).order_by(c.pk)
        if since_ms is not None and type_name != "Schedule":
            query = query.where(c.updated_ms > since_ms)
        for row in conn.execute(query):
            sid = row.source_id
            if type_name == "Schedule":
                if since_ms is not None and not (
                    resend_schedules or row.updated_ms > since_ms or sid in changed_schedules
                ):
                    continue
                state = src.schedule_state.get(sid)
            elif type_name == "Location":
                state = src.location_state.get(sid)
            elif extra:
                state = src.location_state.get(row.location_source_id or "")
            else:
                state = None
            res = rewriter.resource(type_name, sid, row.resource, row.updated_ms, aggregate_id(src.id, sid))
            if type_name == "Schedule":
                rewriter.schedule(res, sid)
            yield type_name, file_name(prefix, state), state, _dumps(res)


def _slot_resource(
    src: SourcePublisher,
    rewriter: Rewriter,
    source_id: str,
    raw: str,
    updated_ms: int,
    start_ms: int,
    schedule_source_id: str,
    status: str,
) -> dict[str, Any]:
    """One Slot row as the aggregate publishes it: new ids, its Schedule's new id, and the status
    column (what search and has-availability read) as its status."""
    res = rewriter.resource("Slot", source_id, raw, updated_ms, aggregate_id(src.id, source_id, start_ms))
    res["status"] = status
    res["schedule"] = {
        **(res.get("schedule") or {}),
        "reference": f"Schedule/{rewriter.new_id(schedule_source_id)}",
    }
    res["schedule"].pop("identifier", None)
    res["schedule"].pop("type", None)
    return res


def _slot_lines(
    conn: Connection, src: SourcePublisher, rewriter: Rewriter, since_ms: int | None
) -> Iterator[Line[bytes]]:
    s = t.slot.c
    query = (
        select(s.source_id, s.resource, s.updated_ms, s.start_ms, s.schedule_source_id, s.status)
        .where(src.live(t.slot))
        .order_by(s.start_ms, s.pk)
    )
    if since_ms is not None:
        query = query.where(s.updated_ms > since_ms)
    schedules = src.ids["Schedule"]
    rows = conn.execution_options(yield_per=5000).execute(query)
    for source_id, raw, updated_ms, start_ms, schedule_id, status in rows:
        if schedule_id not in schedules:
            continue  # its Schedule is not published: a client could not use it
        res = _slot_resource(src, rewriter, source_id, raw, updated_ms, start_ms, schedule_id, status)
        state = src.schedule_state.get(schedule_id)
        name = file_name("slots", state, _local_day(res.get("start"), start_ms))
        yield "Slot", name, state, _dumps(res)


def descriptive_resources(
    conn: Connection, src: SourcePublisher, *, now_ms: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every descriptive resource of one publisher as (type, FHIR JSON), exactly as the full aggregate
    publishes it (the same lines, decoded), in publication order."""
    for type_name, _, _, line in _descriptive_lines(conn, src, Rewriter(src, now_ms), None):
        yield type_name, orjson.loads(line)


#: Renders one Slot row: (source id, stored resource, updated_ms, start_ms, schedule source id, status).
SlotRenderer = Callable[[str, str, int, int, str, str], dict[str, Any]]


def slot_renderer(src: SourcePublisher, *, now_ms: int) -> SlotRenderer:
    """A function rendering one of `src`'s Slot rows as the full aggregate publishes it (the same
    rewriting as `_slot_lines`); only for Slots whose Schedule the aggregate publishes."""
    rewriter = Rewriter(src, now_ms)

    def render(
        source_id: str, raw: str, updated_ms: int, start_ms: int, schedule_source_id: str, status: str
    ) -> dict[str, Any]:
        return _slot_resource(src, rewriter, source_id, raw, updated_ms, start_ms, schedule_source_id, status)

    return render


def iter_lines(
    conn: Connection, sources: list[SourcePublisher], *, now_ms: int, since_ms: int | None = None
) -> Iterator[Line[bytes]]:
    """Every line of the aggregate as (type, file name, state, line), publisher by publisher.

    Without `since_ms`: the full data set. With it: resources whose row changed after that instant,
    and the Schedules whose derived status may have changed (see `routes` for the contract).
    """
    for src in sources:
        rewriter = Rewriter(src, now_ms)
        yield from _descriptive_lines(conn, src, rewriter, since_ms)
        yield from _slot_lines(conn, src, rewriter, since_ms)

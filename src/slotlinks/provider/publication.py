"""Rendering the provider store as a SMART Scheduling Links publication (`$bulk-publish` + NDJSON).

One pass over the store writes every file: descriptive resources split by US state, Slots by state and
ISO week of their local start. The same row encoders serve the full data set (cached per data-set
version, or exported to static files) and `_since` requests (only rows changed after an instant,
including deactivated ones, so clients learn of removals).

Slot lines are rendered from columns with pre-escaped per-schedule fragments instead of building a
model per row: ids, instants and statuses are constrained to JSON-safe characters by the store, and
everything free-form (phone, portal URL) is escaped once through orjson.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

import orjson
from sqlalchemy import Connection, Row, Select, select

from slotlinks.fhir.extensions import BOOKING_DEEP_LINK, BOOKING_PHONE, SLOT_CAPACITY
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.provider import tables as t

__all__ = [
    "MANIFEST_NAME",
    "PORTAL_URL_SETTING",
    "OutputFile",
    "Publication",
    "deep_link",
    "iter_lines",
    "manifest_bytes",
    "render_slot",
    "write_files",
]

MANIFEST_NAME = "$bulk-publish"
PORTAL_URL_SETTING = "portal_url"
BOOKING_PATH = "/book/"

# Opens one output file, by name, for binary writing.
Opener = Callable[[str], IO[bytes]]

# Descriptive types in the order a client needs them to resolve references.
_DESCRIPTIVE: tuple[tuple[str, str], ...] = (
    ("Location", "locations"),
    ("Practitioner", "practitioners"),
    ("HealthcareService", "healthcare-services"),
    ("PractitionerRole", "practitioner-roles"),
    ("Schedule", "schedules"),
)
TYPE_ORDER = {name: i for i, (name, _) in enumerate(_DESCRIPTIVE)} | {"Slot": len(_DESCRIPTIVE)}


def deep_link(portal_url: str, slot_id: str) -> str:
    """The booking-deep-link of a slot: the portal's page for it."""
    return portal_url.rstrip("/") + BOOKING_PATH + slot_id


@dataclass(slots=True)
class OutputFile:
    """One NDJSON file of the publication."""

    type: str
    name: str
    states: set[str] = field(default_factory=set)
    count: int = 0


@dataclass(slots=True)
class Publication:
    """What one pass wrote: the data set's time and its files in manifest order."""

    transaction_ms: int
    files: list[OutputFile]


@dataclass(frozen=True, slots=True)
class _ScheduleInfo:
    state: str | None
    reference: bytes
    extensions: bytes


def _file_name(prefix: str, state: str | None, week: str | None = None) -> str:
    parts = [prefix, *(p for p in (state, week) if p)]
    return "-".join(parts) + ".ndjson"


def _iso_week(local_start: str, cache: dict[str, str]) -> str:
    day = local_start[:10]
    week = cache.get(day)
    if week is None:
        year, number, _ = date.fromisoformat(day).isocalendar()
        week = cache[day] = f"{year}-W{number:02d}"
    return week


class _Renderer:
    """Turns store rows into NDJSON lines, each tagged with the file it belongs to."""

    def __init__(self, conn: Connection, portal_url: str, *, schedule_id: str | None = None) -> None:
        """Loads every schedule's fragments, or only `schedule_id`'s (to render that schedule's slots)."""
        self.portal = orjson.dumps(portal_url.rstrip("/") + BOOKING_PATH)[:-1]
        self.schedules = self._schedule_infos(conn, schedule_id)
        self.instants: dict[int, bytes] = {}
        self.weeks: dict[str, str] = {}

    def _schedule_infos(self, conn: Connection, schedule_id: str | None) -> dict[str, _ScheduleInfo]:
        query = select(t.schedule.c.id, t.schedule.c.state, t.location.c.phone).outerjoin(
            t.location, t.location.c.id == t.schedule.c.location_id
        )
        if schedule_id is not None:
            query = query.where(t.schedule.c.id == schedule_id)
        infos = {}
        for row in conn.execute(query):
            phone = b""
            if row.phone:
                phone = b',{"url":"%s","valueString":%s}' % (
                    BOOKING_PHONE.encode(),
                    orjson.dumps(row.phone),
                )
            infos[row.id] = _ScheduleInfo(
                state=row.state,
                reference=b'"schedule":{"reference":"Schedule/%s"}' % row.id.encode(),
                extensions=phone,
            )
        return infos

    def instant(self, ms: int) -> bytes:
        text = self.instants.get(ms)
        if text is None:
            if len(self.instants) > 4096:
                self.instants.clear()
            text = self.instants[ms] = ms_to_instant(ms).encode()
        return text

    def slot_file(self, schedule_id: str, start: str) -> tuple[str, str | None]:
        info = self.schedules.get(schedule_id)
        state = info.state if info else None
        return _file_name("slots", state, _iso_week(start, self.weeks)), state

    def slot_line(self, row: Row[*tuple[Any, ...]]) -> bytes:
        info = self.schedules[row.schedule_id]
        slot_id = row.id.encode()
        if not row.active:
            status = b"busy-unavailable"
        elif row.status != "free":
            status = row.status.encode()
        elif row.booked >= row.capacity:
            status = b"busy"
        else:
            status = b"free"
        capacity = b""
        if row.capacity > 1:
            free = max(row.capacity - row.booked, 0) if status == b"free" else 0
            capacity = b',{"url":"%s","valueInteger":%d}' % (SLOT_CAPACITY.encode(), free)
        return (
            b'{"resourceType":"Slot","id":"%s","meta":{"lastUpdated":"%s"},%s,"status":"%s",'
            b'"start":"%s","end":"%s","extension":[{"url":"%s","valueUrl":%s%s"}%s%s]}\n'
            % (
                slot_id,
                self.instant(row.last_updated),
                info.reference,
                status,
                row.start.encode(),
                row.end.encode(),
                BOOKING_DEEP_LINK.encode(),
                self.portal,
                slot_id,
                info.extensions,
                capacity,
            )
        )


def _slot_columns() -> Select[tuple[Any, ...]]:
    s = t.slot.c
    return select(s.id, s.schedule_id, s.start, s.end, s.status, s.capacity, s.booked, s.active, s.last_updated)


def render_slot(conn: Connection, portal_url: str, slot_id: str) -> bytes | None:
    """One Slot exactly as the publication renders it (spec "Slot File"; active or not, as a `_since`
    client would see it), without the line's newline; None if there is no such slot. Loads only that
    slot's schedule, not every schedule as a full pass does."""
    row = conn.execute(_slot_columns().where(t.slot.c.id == slot_id)).first()
    if row is None:
        return None
    return _Renderer(conn, portal_url, schedule_id=row.schedule_id).slot_line(row).rstrip(b"\n")


def iter_lines(
    conn: Connection, portal_url: str, *, since_ms: int | None = None
) -> Iterator[tuple[str, str, str | None, bytes]]:
    """Every published line as (type, file name, state, bytes), in manifest order.

    Without `since_ms`: the active data set. With it: every row changed after that instant, active or
    not (a deactivated resource is published once more, e.g. a removed Slot as `busy-unavailable`).
    """
    renderer = _Renderer(conn, portal_url)
    for type_name, prefix in _DESCRIPTIVE:
        table = t.RESOURCE_TABLES[type_name]
        query = select(table.c.state, table.c.resource).order_by(table.c.id)
        query = query.where(table.c.active) if since_ms is None else query
        if since_ms is not None:
            query = query.where(table.c.last_updated > since_ms)
        for row in conn.execute(query):
            yield type_name, _file_name(prefix, row.state), row.state, row.resource.encode() + b"\n"
    s = t.slot.c
    slots = _slot_columns()
    if since_ms is None:
        slots = slots.where(s.active).order_by(s.active, s.start_ms, s.id)
    else:
        slots = slots.where(s.last_updated > since_ms).order_by(s.start_ms, s.id)
    result = conn.execution_options(yield_per=5000).execute(slots)
    for slot_row in result:
        name, state = renderer.slot_file(slot_row.schedule_id, slot_row.start)
        yield "Slot", name, state, renderer.slot_line(slot_row)


def write_files(
    conn: Connection, portal_url: str, opener: Opener | None, *, since_ms: int | None = None
) -> list[OutputFile]:
    """Writes every line through `opener(name)` (one open binary file per output) and returns the
    outputs in manifest order; with no opener, only counts what would be written."""
    files: dict[str, OutputFile] = {}
    handles: dict[str, IO[bytes]] = {}
    try:
        for type_name, name, state, line in iter_lines(conn, portal_url, since_ms=since_ms):
            out = files.get(name)
            if out is None:
                out = files[name] = OutputFile(type_name, name)
                if opener is not None:
                    handles[name] = opener(name)
            if state:
                out.states.add(state)
            out.count += 1
            if opener is not None:
                handles[name].write(line)
    finally:
        for handle in handles.values():
            handle.close()
    all_states = set().union(*(f.states for f in files.values()))
    for out in files.values():
        # A file of resources tied to no state (e.g. Practitioners) serves every state published.
        if not out.states:
            out.states = set(all_states)
    return sorted(files.values(), key=lambda f: (TYPE_ORDER[f.type], f.name))


def manifest_bytes(publication: Publication, base_url: str, *, since: str | None = None, file_query: str = "") -> bytes:
    """The `$bulk-publish` manifest for a publication, with absolute URLs under `base_url`."""
    base = base_url.rstrip("/")
    request = f"{base}/{MANIFEST_NAME}" + (f"?_since={since}" if since else "")
    manifest = {
        "transactionTime": ms_to_instant(publication.transaction_ms),
        "request": request,
        "output": [
            {
                "type": f.type,
                "url": f"{base}/{f.name}{file_query}",
                "extension": {"state": sorted(f.states)},
            }
            for f in publication.files
        ],
        "error": [],
    }
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"

"""Rendering the provider store as the lines of a SMART Scheduling Links publication (spec "Bulk
Publication": NDJSON files listed by `$bulk-publish`).

One pass over the store renders every line, tagged with its file (`slotlinks.publishing.outputs`:
descriptive resources split by US state, Slots by state and ISO week of their local start). The same
row encoders serve the full data set (cached per data-set version, or exported to static files) and
`_since` requests (only rows changed after an instant, including deactivated ones, so clients learn of
removals).

A slot's published status counts its bookings and its live holds (`holds`): held to capacity it is
`busy-tentative`, and its `slot-capacity` counts only units neither booked nor held. Holds expire by
the clock (`now_ms`, default the system time), with no job: a hold that expired after a `_since`
instant republishes its slot.

Slot lines are rendered from columns with pre-escaped per-schedule fragments instead of building a
model per row: ids, instants and statuses are constrained to JSON-safe characters by the store, and
everything free-form (phone, portal URL) is escaped once through orjson.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, Row, Select, or_, select

from slotlinks.db.engine import stream_tuples
from slotlinks.fhir.extensions import BOOKING_DEEP_LINK, BOOKING_PHONE, SLOT_CAPACITY
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.provider.portal.holds import hold_counts
from slotlinks.provider.records.audience import Audience, schedule_audience
from slotlinks.provider.records.audience_fhir import appointment_type
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.settings import BOOKING_PATH
from slotlinks.publishing.outputs import DESCRIPTIVE_FILES, Line, file_name

__all__ = ["iter_lines", "render_slot"]


@dataclass(frozen=True, slots=True)
class _ScheduleInfo:
    state: str | None
    reference: str  # `"schedule":{"reference":"Schedule/<id>"},"appointmentType":{...}`
    extensions: str  # the booking-phone extension, with its leading comma, or ""


_CAPACITY_PREFIX = ',{"url":"' + SLOT_CAPACITY + '","valueInteger":'


class _Renderer:
    """Turns store rows into NDJSON lines, each tagged with the file it belongs to.

    This is the hot path of publishing millions of slots: one string template per slot, with
    everything that repeats (schedule fragments, instants, file names) computed once and reused.
    """

    def __init__(
        self,
        conn: Connection,
        portal_url: str,
        *,
        schedule_id: str | None = None,
        now_ms: int | None = None,
        slot_id: str | None = None,
    ) -> None:
        """Loads every schedule's fragments, or only `schedule_id`'s (to render that schedule's slots),
        and the holds live at `now_ms` (all, or only `slot_id`'s)."""
        self.at(conn, _now(now_ms), slot_id)
        portal = orjson.dumps(portal_url.rstrip("/") + BOOKING_PATH).decode()[:-1]
        self.link_prefix = ',"extension":[{"url":"' + BOOKING_DEEP_LINK + '","valueUrl":' + portal
        self.schedules = self._schedule_infos(conn, schedule_id)
        self.instants: dict[int, str] = {}
        self.files: dict[tuple[str, str], tuple[str, str | None]] = {}

    def at(self, conn: Connection, now_ms: int, slot_id: str | None = None) -> _Renderer:
        """Counts holds as they stand at `now_ms` (all, or only `slot_id`'s); returns self."""
        self.now_ms = now_ms
        self.held, self.expired = hold_counts(conn, now_ms, slot_id)
        return self

    def _schedule_infos(self, conn: Connection, schedule_id: str | None) -> dict[str, _ScheduleInfo]:
        query = select(t.schedule.c.id, t.schedule.c.state, t.location.c.phone).outerjoin(
            t.location, t.location.c.id == t.schedule.c.location_id
        )
        if schedule_id is not None:
            query = query.where(t.schedule.c.id == schedule_id)
        infos = {}
        # Who may book is the schedule's questionnaire's to say; one fragment per distinct answer.
        types: dict[Audience, str] = {}
        for row in conn.execute(query).all():
            audience = schedule_audience(conn, row.id)
            if audience not in types:
                types[audience] = ',"appointmentType":' + orjson.dumps(appointment_type(audience)).decode()
            phone = ""
            if row.phone:
                phone = ',{"url":"' + BOOKING_PHONE + '","valueString":' + orjson.dumps(row.phone).decode() + "}"
            infos[row.id] = _ScheduleInfo(
                state=row.state,
                reference='"schedule":{"reference":"Schedule/' + row.id + '"}' + types[audience],
                extensions=phone,
            )
        return infos

    def instant(self, ms: int) -> str:
        text = self.instants.get(ms)
        if text is None:
            if len(self.instants) > 4096:
                self.instants.clear()
            text = self.instants[ms] = ms_to_instant(ms)
        return text

    def slot_file(self, schedule_id: str, start: str) -> tuple[str, str | None]:
        """The file a slot goes to (by its schedule's state and the ISO week of its local start)."""
        key = (schedule_id, start[:10])
        found = self.files.get(key)
        if found is None:
            info = self.schedules.get(schedule_id)
            state = info.state if info else None
            found = self.files[key] = (file_name("slots", state, date.fromisoformat(key[1])), state)
        return found

    def slot_line(self, row: Row[*tuple[Any, ...]] | tuple[Any, ...]) -> str:
        slot_id, schedule_id, start, end, status, capacity, booked, active, last_updated = row
        info = self.schedules[schedule_id]
        held = self.held.get(slot_id, 0) if self.held else 0
        if self.expired and slot_id in self.expired:
            # The expiry of an unreleased hold changed this slot as published.
            last_updated = max(last_updated, self.expired[slot_id])
        if not active:
            status = "busy-unavailable"
        elif status == "free" and booked >= capacity:
            status = "busy"
        elif status == "free" and booked + held >= capacity:
            status = "busy-tentative"
        extra = info.extensions
        if capacity > 1:
            free = max(capacity - booked - held, 0) if status == "free" else 0
            extra += f"{_CAPACITY_PREFIX}{free}}}"
        return (
            f'{{"resourceType":"Slot","id":"{slot_id}","meta":{{"lastUpdated":"{self.instant(last_updated)}"}},'
            f'{info.reference},"status":"{status}","start":"{start}","end":"{end}"'
            f'{self.link_prefix}{slot_id}"}}{extra}]}}\n'
        )


def _now(now_ms: int | None) -> int:
    return int(time.time() * 1000) if now_ms is None else now_ms


def _slot_columns() -> Select[tuple[Any, ...]]:
    s = t.slot.c
    return select(s.id, s.schedule_id, s.start, s.end, s.status, s.capacity, s.booked, s.active, s.last_updated)


def render_slot(conn: Connection, portal_url: str, slot_id: str, *, now_ms: int | None = None) -> bytes | None:
    """One Slot exactly as the publication renders it (spec "Slot File"; active or not, as a `_since`
    client would see it), without the line's newline; None if there is no such slot. Loads only that
    slot's schedule, not every schedule as a full pass does."""
    row = conn.execute(_slot_columns().where(t.slot.c.id == slot_id)).first()
    if row is None:
        return None
    renderer = _Renderer(conn, portal_url, schedule_id=row.schedule_id, now_ms=now_ms, slot_id=slot_id)
    return renderer.slot_line(row).rstrip("\n").encode()


def iter_lines(
    conn: Connection, portal_url: str, *, since_ms: int | None = None, now_ms: int | None = None
) -> Iterator[Line[str]]:
    """Every published line (with its newline) as (type, file name, state, line), in manifest order.

    Without `since_ms`: the active data set. With it: every row changed after that instant, active or
    not (a deactivated resource is published once more, e.g. a removed Slot as `busy-unavailable`),
    and every slot whose unreleased hold expired after it (by `now_ms`).
    """
    renderer = _Renderer(conn, portal_url, now_ms=now_ms)
    for type_name, prefix in DESCRIPTIVE_FILES:
        table = t.RESOURCE_TABLES[type_name]
        query = select(table.c.state, table.c.resource).order_by(table.c.id)
        query = query.where(table.c.active) if since_ms is None else query
        if since_ms is not None:
            query = query.where(table.c.last_updated > since_ms)
        for row in conn.execute(query):
            yield type_name, file_name(prefix, row.state), row.state, row.resource + "\n"
    s = t.slot.c
    slots = _slot_columns()
    changed = s.active if since_ms is None else s.last_updated > since_ms
    if since_ms is not None:
        lapsed = [slot for slot, expiry in renderer.expired.items() if expiry > since_ms]
        if lapsed:
            changed = or_(changed, s.id.in_(lapsed))
    slots = slots.where(changed).order_by(s.schedule_id, s.start_ms, s.id)
    slot_file, slot_line = renderer.slot_file, renderer.slot_line
    for slot_row in stream_tuples(conn, slots):
        name, state = slot_file(slot_row[1], slot_row[2])
        yield "Slot", name, state, slot_line(slot_row)

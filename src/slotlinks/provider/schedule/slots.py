"""Slots in the provider store: slots made by hand and staff status changes (spec "Slot File").

Slots are kept as columns, not JSON, and rendered by `publication` (`render.slot_json` gives one
exactly as it is published). A hand-made slot is never touched by regeneration. Staff may set a slot free, busy or
busy-unavailable (`busy-tentative` belongs to holds), but never free while its bookings fill it.
Every function works inside one store transaction (or a read connection) and raises only
`slotlinks.errors`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select, update

from slotlinks.errors import Conflict, InvalidInput, Issue, NotFound, raise_invalid
from slotlinks.fhir.ids import is_valid_id
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change

__all__ = [
    "STAFF_STATUSES",
    "SlotRecord",
    "create_slot",
    "get_slot",
    "set_slot_status",
]

#: What staff may set a slot to; `busy-tentative` belongs to holds.
STAFF_STATUSES = frozenset({"free", "busy", "busy-unavailable"})


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """A slot row: `status` is what staff or rules set; the published status also counts bookings."""

    id: str
    schedule_id: str
    start: str
    end: str
    start_ms: int
    end_ms: int
    status: str
    capacity: int
    booked: int
    rule_id: str | None
    active: bool
    last_updated: int


def _slot_record(row: Row[Any]) -> SlotRecord:
    return SlotRecord(
        id=row.id,
        schedule_id=row.schedule_id,
        start=row.start,
        end=row.end,
        start_ms=int(row.start_ms),
        end_ms=int(row.end_ms),
        status=row.status,
        capacity=int(row.capacity),
        booked=int(row.booked),
        rule_id=row.rule_id,
        active=bool(row.active),
        last_updated=int(row.last_updated),
    )


def get_slot(conn: Connection, slot_id: str) -> SlotRecord:
    row = conn.execute(select(t.slot).where(t.slot.c.id == slot_id)).first()
    if row is None:
        raise NotFound(f"no Slot with id {slot_id!r}", expression=["Slot.id"])
    return _slot_record(row)


def _slot_times(start: str, end: str) -> tuple[int, int]:
    issues = []
    ms: list[int] = []
    for label, text in (("start", start), ("end", end)):
        try:
            ms.append(instant_to_ms(text))
        except InvalidInstant as exc:
            issues.append(Issue(str(exc), expression=(f"Slot.{label}",)))
    raise_invalid(issues, "invalid Slot")
    if ms[1] <= ms[0]:
        raise InvalidInput(f"Slot.end {end} is not after Slot.start {start}", expression=["Slot.end"])
    return ms[0], ms[1]


def _check_schedule_for_slot(conn: Connection, schedule_id: str) -> None:
    active = conn.execute(select(t.schedule.c.active).where(t.schedule.c.id == schedule_id)).scalar()
    if active is None:
        raise InvalidInput(
            f"Slot.schedule points at Schedule/{schedule_id}, which does not exist here",
            expression=["Slot.schedule"],
        )
    if not active:
        raise Conflict(f"Schedule/{schedule_id} is inactive; it takes no new slots", expression=["Slot.schedule"])


def create_slot(
    change: Change,
    schedule_id: str,
    start: str,
    end: str,
    status: str = "free",
    capacity: int = 1,
    *,
    slot_id: str | None = None,
) -> SlotRecord:
    """A slot made by hand (never touched by regeneration): times are FHIR instants, kept as given."""
    if status not in STAFF_STATUSES:
        raise InvalidInput(
            f"status {status!r} is not one of {', '.join(sorted(STAFF_STATUSES))}", expression=["Slot.status"]
        )
    if capacity < 1:
        raise InvalidInput(f"capacity {capacity} must be at least 1", expression=["Slot.extension"])
    start_ms, end_ms = _slot_times(start, end)
    _check_schedule_for_slot(change.conn, schedule_id)
    if slot_id is None:
        slot_id = f"hand-{uuid.uuid4().hex}"
    elif not is_valid_id(slot_id):
        raise InvalidInput(f"id {slot_id!r} is not 1-64 characters from A-Z a-z 0-9 - .", expression=["Slot.id"])
    if change.conn.execute(select(t.slot.c.id).where(t.slot.c.id == slot_id)).first() is not None:
        raise Conflict(f"Slot/{slot_id} already exists", expression=["Slot.id"])
    values = {
        "id": slot_id,
        "schedule_id": schedule_id,
        "start": start,
        "end": end,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "status": status,
        "capacity": capacity,
        "booked": 0,
        "rule_id": None,
        "active": True,
        "last_updated": change.stamp_ms,
    }
    change.conn.execute(t.slot.insert().values(**values))
    return get_slot(change.conn, slot_id)


def set_slot_status(change: Change, slot_id: str, status: str) -> SlotRecord:
    """Staff override of a slot's status (free, busy or busy-unavailable)."""
    if status not in STAFF_STATUSES:
        raise InvalidInput(
            f"status {status!r} is not one of {', '.join(sorted(STAFF_STATUSES))}", expression=["status"]
        )
    slot = get_slot(change.conn, slot_id)
    if not slot.active:
        raise Conflict(f"Slot/{slot_id} has been removed; its status can no longer change")
    if status == "free" and slot.booked >= slot.capacity:
        raise Conflict(
            f"Slot/{slot_id} has {slot.booked} booking(s) for a capacity of {slot.capacity}; "
            "setting it free would overbook it",
            expression=["status"],
        )
    change.conn.execute(
        update(t.slot).where(t.slot.c.id == slot_id).values(status=status, last_updated=change.stamp_ms)
    )
    return get_slot(change.conn, slot_id)

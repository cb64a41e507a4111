"""What the portal shows about a slot: service, practitioner, place, local time, contact, and the
nearest other free times of the same schedule (UX problem 2: the slot may be gone on arrival)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from sqlalchemy import Connection, and_, select

from slotlinks.provider.portal.holds import active_holds
from slotlinks.provider.store import tables as t

__all__ = ["SlotView", "alternatives", "is_bookable", "slot_view"]


@dataclass(frozen=True, slots=True)
class SlotView:
    id: str
    schedule_id: str
    start: datetime  # in the location's time zone
    end: datetime
    start_instant: str
    end_instant: str
    start_ms: int
    service: str
    practitioner: str | None
    location_id: str | None
    location_name: str
    address: tuple[str, ...]
    virtual: bool
    phone: str | None
    active: bool
    status: str
    capacity: int
    booked: int


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _concept_text(concepts: list[dict[str, Any]]) -> str | None:
    for concept in concepts:
        if concept.get("text"):
            return str(concept["text"])
        for coding in concept.get("coding", []):
            if coding.get("display"):
                return str(coding["display"])
    return None


def _practitioner(conn: Connection, actors: list[dict[str, Any]]) -> str | None:
    for actor in actors:
        reference = str(actor.get("reference") or "")
        if reference.startswith("PractitionerRole/"):
            text = conn.execute(
                select(t.practitioner_role.c.resource).where(t.practitioner_role.c.id == reference.split("/", 1)[1])
            ).scalar()
            if text:
                display = orjson.loads(text).get("practitioner", {}).get("display")
                if display:
                    return str(display)
    return None


def slot_view(conn: Connection, slot_id: str) -> SlotView | None:
    s, sc, loc = t.slot.c, t.schedule.c, t.location.c
    row = conn.execute(
        select(
            t.slot,
            sc.resource.label("schedule_resource"),
            sc.location_id,
            loc.name.label("location_name"),
            loc.tz,
            loc.phone,
            loc.resource.label("location_resource"),
        )
        .join(t.schedule, sc.id == s.schedule_id)
        .outerjoin(t.location, loc.id == sc.location_id)
        .where(s.id == slot_id)
    ).first()
    if row is None:
        return None
    zone = _zone(row.tz)
    schedule = orjson.loads(row.schedule_resource)
    location = orjson.loads(row.location_resource) if row.location_resource else {}
    address = location.get("address") or {}
    lines = list(address.get("line", []))
    city_line = " ".join(p for p in (address.get("city"), address.get("state"), address.get("postalCode")) if p)
    if address.get("city"):
        city_line = f"{address['city']}, " + " ".join(p for p in (address.get("state"), address.get("postalCode")) if p)
    if city_line:
        lines.append(city_line)
    virtual = (
        bool(location.get("virtualService"))
        or (location.get("physicalType", {}).get("coding") or [{}])[0].get("code") == "vi"
    )
    return SlotView(
        id=row.id,
        schedule_id=row.schedule_id,
        start=datetime.fromtimestamp(row.start_ms / 1000, zone),
        end=datetime.fromtimestamp(row.end_ms / 1000, zone),
        start_instant=row.start,
        end_instant=row.end,
        start_ms=int(row.start_ms),
        service=_concept_text(schedule.get("serviceType", [])) or schedule.get("comment") or "Appointment",
        practitioner=_practitioner(conn, schedule.get("actor", [])),
        location_id=row.location_id,
        location_name=row.location_name or "",
        address=tuple(lines),
        virtual=virtual,
        phone=row.phone,
        active=bool(row.active),
        status=row.status,
        capacity=int(row.capacity),
        booked=int(row.booked),
    )


def _free_clause(at_ms: int) -> Any:
    s = t.slot.c
    return and_(s.active, s.status == "free", s.start_ms > at_ms, s.booked + active_holds(at_ms) < s.capacity)


def is_bookable(conn: Connection, slot_id: str, at_ms: int) -> bool:
    """Free now: active, `free`, in the future, and a unit neither booked nor held."""
    found = conn.execute(select(t.slot.c.id).where(t.slot.c.id == slot_id, _free_clause(at_ms))).first()
    return found is not None


def alternatives(conn: Connection, view: SlotView, at_ms: int, limit: int = 6) -> list[tuple[str, datetime]]:
    """The free slots of the same schedule (hence the same place) nearest in time to `view`."""
    s = t.slot.c
    base = select(s.id, s.start_ms).where(s.schedule_id == view.schedule_id, s.id != view.id, _free_clause(at_ms))
    later = conn.execute(base.where(s.start_ms >= view.start_ms).order_by(s.start_ms, s.id).limit(limit)).all()
    earlier = conn.execute(base.where(s.start_ms < view.start_ms).order_by(s.start_ms.desc(), s.id).limit(limit)).all()
    nearest = sorted([*later, *earlier], key=lambda r: (abs(int(r.start_ms) - view.start_ms), int(r.start_ms)))[:limit]
    zone = view.start.tzinfo
    return sorted(((r.id, datetime.fromtimestamp(r.start_ms / 1000, zone)) for r in nearest), key=lambda pair: pair[1])

"""The columns kept beside each descriptive resource: what publication selects on.

Publication writes one file per state (spec "Bulk Publication": outputs may be split, e.g. by state)
and needs each Location's time zone for local slot times ("Slot File"), so a resource is stored as its
published JSON plus columns derived from it: a Location's state, postal code, time zone, position and
phone; each other resource's name, active flag, Location and state (through its Location).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from slotlinks.errors import InvalidInput
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import (
    HealthcareService,
    Location,
    Practitioner,
    PractitionerRole,
    Reference,
    Resource,
    Schedule,
)
from slotlinks.provider.places import place_for_zip
from slotlinks.provider.records.references import reference_target
from slotlinks.provider.store import tables as t

__all__ = ["derived_columns", "location_state", "schedule_location"]


def _location_columns(location: Location) -> dict[str, Any]:
    address = location.address
    postal = (address.postalCode or "").strip() if address else ""
    place = place_for_zip(postal) if postal else None
    state = (address.state or "").strip().upper() if address else ""
    if len(state) > 8:
        if place is None:
            raise InvalidInput(
                f"address.state {state!r} is not a state code (e.g. MA) and the postal code does not say "
                "which state it is",
                expression=["Location.address.state"],
            )
        state = place.state
    if len(postal) > 16:
        raise InvalidInput(f"postal code {postal!r} is too long", expression=["Location.address.postalCode"])
    tz = ext.location_timezone(location) or (place.tz if place else None)
    if tz is None:
        raise InvalidInput(
            "a Location needs a time zone to give its slots local times: add the timezone extension "
            f"({ext.TIMEZONE}, valueCode e.g. America/New_York) or a known US postal code",
            expression=["Location.address.postalCode" if postal else "Location.extension"],
        )
    phone = None
    for i, point in enumerate(location.telecom):
        if point.system == "phone" and point.value:
            if len(point.value) > 64:
                raise InvalidInput("phone number is too long", expression=[f"Location.telecom[{i}].value"])
            phone = point.value
            break
    return {
        "active": location.status != "inactive",
        "state": state or None,
        "name": location.name or "",
        "postal_code": postal or None,
        "tz": tz,
        "latitude": location.position.latitude if location.position else None,
        "longitude": location.position.longitude if location.position else None,
        "phone": phone,
    }


def _practitioner_name(practitioner: Practitioner) -> str:
    for name in practitioner.name:
        if name.text:
            return name.text
        parts = [*name.prefix, *name.given, name.family or "", *name.suffix]
        text = " ".join(p for p in parts if p)
        if text:
            return text
    return ""


def _first_id(refs: Sequence[Reference], rtype: str) -> str | None:
    for ref in refs:
        target = reference_target(ref)
        if target is not None and target[0] == rtype:
            return target[1]
    return None


def location_state(conn: Connection, location_id: str | None) -> str | None:
    """The state of the Location we hold with this id (None when unknown)."""
    if location_id is None:
        return None
    state = conn.execute(select(t.location.c.state).where(t.location.c.id == location_id)).scalar()
    return None if state is None else str(state)


def schedule_location(conn: Connection, schedule: Schedule) -> str | None:
    """Its Location actor, else the location of its PractitionerRole or HealthcareService actor."""
    direct = _first_id(schedule.actor, "Location")
    if direct is not None:
        return direct
    for ref in schedule.actor:
        target = reference_target(ref)
        if target is None or target[0] not in ("PractitionerRole", "HealthcareService"):
            continue
        table = t.RESOURCE_TABLES[target[0]]
        found = conn.execute(select(table.c.location_id).where(table.c.id == target[1])).scalar()
        if found is not None:
            return str(found)
    return None


def derived_columns(conn: Connection, resource: Resource) -> dict[str, Any]:
    """The columns publication selects on (`tables`), derived from a checked resource; InvalidInput when a
    Location's state, postal code, time zone or phone cannot be stored."""
    if isinstance(resource, Location):
        return _location_columns(resource)
    if isinstance(resource, Practitioner):
        return {"active": resource.active is not False, "state": None, "name": _practitioner_name(resource)}
    if isinstance(resource, HealthcareService):
        location_id = _first_id(resource.location, "Location")
        return {
            "active": resource.active is not False,
            "state": location_state(conn, location_id),
            "name": resource.name or "",
            "location_id": location_id,
        }
    if isinstance(resource, PractitionerRole):
        location_id = _first_id(resource.location, "Location")
        return {
            "active": resource.active is not False,
            "state": location_state(conn, location_id),
            "practitioner_id": _first_id([resource.practitioner] if resource.practitioner else [], "Practitioner"),
            "location_id": location_id,
        }
    if isinstance(resource, Schedule):
        location_id = schedule_location(conn, resource)
        return {
            "active": resource.active is not False,
            "state": location_state(conn, location_id),
            "location_id": location_id,
        }
    raise InvalidInput(f"{type(resource).__name__} is not kept as a resource here")

"""Descriptive resources in the provider store: the records layer under the admin API and the importer.

Every function here works inside one `store.change()` transaction (or a read connection) and raises
only `slotlinks.errors`; none knows about HTTP. Descriptive resources (spec "Location File",
"Schedule File"; 2026 IG PractitionerRole, HealthcareService, Practitioner) are validated by the kernel,
checked for references to resources we hold, stamped (`meta.lastUpdated` = the change's stamp) and kept
as the minified JSON we publish, beside the columns publication selects on (see `tables`). Every change
that moves slot times regenerates the schedules it touches (`slotgen`).

Slots live in `slots`, availability rules and closures in `ruleset`, NDJSON import in `importer` and
the provider's own settings in `provider_settings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Connection, Row, Table, func, select, update

from slotlinks.errors import InvalidInput, Issue, NotFound, raise_invalid
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.ids import InvalidReference, parse_reference
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.fhir.resources import (
    RESOURCE_DECODERS,
    HealthcareService,
    Location,
    Meta,
    Practitioner,
    PractitionerRole,
    Reference,
    Resource,
    Schedule,
    Slot,
    encode_resource,
)
from slotlinks.fhir.validate import validate_resource
from slotlinks.provider.places import place_for_zip
from slotlinks.provider.schedule.regenerate import DEFAULT_HORIZON_DAYS, regenerate_schedules
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "DESCRIPTIVE_TYPES",
    "count_resources",
    "deactivate",
    "get_resource",
    "list_resources",
    "put_resource",
]

#: The types kept as resources (Slot is kept as columns).
DESCRIPTIVE_TYPES: tuple[str, ...] = tuple(t.RESOURCE_TABLES)
#: `Settings.horizon_days`' default, for callers without settings at hand (generators).
R = TypeVar("R", bound=Resource)


def _errors(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity in ("error", "fatal")]


def _table(rtype: str) -> Table:
    table = t.RESOURCE_TABLES.get(rtype)
    if table is None:
        raise NotFound(f"{rtype!r} is not a resource type kept here; expected one of {', '.join(DESCRIPTIVE_TYPES)}")
    return table


# --- references ------------------------------------------------------------------------------------


def _references(resource: Resource) -> Iterator[tuple[str, Reference]]:
    """(expression, reference) for every reference to a type we store."""
    name = type(resource).__name__
    if isinstance(resource, Schedule):
        for i, ref in enumerate(resource.actor):
            yield f"{name}.actor[{i}]", ref
    elif isinstance(resource, Slot):
        yield f"{name}.schedule", resource.schedule
    elif isinstance(resource, PractitionerRole):
        if resource.practitioner is not None:
            yield f"{name}.practitioner", resource.practitioner
        for i, ref in enumerate(resource.location):
            yield f"{name}.location[{i}]", ref
        for i, ref in enumerate(resource.healthcareService):
            yield f"{name}.healthcareService[{i}]", ref
    elif isinstance(resource, HealthcareService):
        for i, ref in enumerate(resource.location):
            yield f"{name}.location[{i}]", ref
    elif isinstance(resource, Location) and resource.partOf is not None:
        yield f"{name}.partOf", resource.partOf


def _target(ref: Reference) -> tuple[str, str] | None:
    if ref.reference is None:
        return None
    try:
        parsed = parse_reference(ref.reference)
    except InvalidReference:
        return None  # validate_resource reports the shape
    if parsed.type not in t.RESOURCE_TABLES:
        return None
    return parsed.type, parsed.id


def _existing_ids(conn: Connection, rtype: str, ids: Iterable[str]) -> set[str]:
    table = t.RESOURCE_TABLES[rtype]
    wanted = sorted(set(ids))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        found.update(conn.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    return found


def _reference_issues(
    conn: Connection, resources: Sequence[Resource], known: Mapping[str, set[str]] | None = None
) -> list[list[Issue]]:
    """For each resource, an issue per reference to a Location, Practitioner, PractitionerRole,
    HealthcareService or Schedule that is neither in the store nor in `known`."""
    wanted: dict[str, set[str]] = {}
    for resource in resources:
        for _, ref in _references(resource):
            target = _target(ref)
            if target is not None:
                wanted.setdefault(target[0], set()).add(target[1])
    present = {rtype: _existing_ids(conn, rtype, ids) for rtype, ids in wanted.items()}
    if known:
        for rtype, ids in known.items():
            present.setdefault(rtype, set()).update(ids)
    out: list[list[Issue]] = []
    for resource in resources:
        issues = []
        for expression, ref in _references(resource):
            target = _target(ref)
            if target is not None and target[1] not in present.get(target[0], set()):
                issues.append(
                    Issue(
                        f"{expression} points at {target[0]}/{target[1]}, which does not exist here",
                        expression=(expression,),
                    )
                )
        out.append(issues)
    return out


# --- derived columns -------------------------------------------------------------------------------


def _with_meta(resource: R, stamp_ms: int) -> R:
    meta = resource.meta or Meta()
    return msgspec.structs.replace(resource, meta=msgspec.structs.replace(meta, lastUpdated=ms_to_instant(stamp_ms)))


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
        target = _target(ref)
        if target is not None and target[0] == rtype:
            return target[1]
    return None


def _location_state(conn: Connection, location_id: str | None) -> str | None:
    if location_id is None:
        return None
    state = conn.execute(select(t.location.c.state).where(t.location.c.id == location_id)).scalar()
    return None if state is None else str(state)


def _schedule_location(conn: Connection, schedule: Schedule) -> str | None:
    """Its Location actor, else the location of its PractitionerRole or HealthcareService actor."""
    direct = _first_id(schedule.actor, "Location")
    if direct is not None:
        return direct
    for ref in schedule.actor:
        target = _target(ref)
        if target is None or target[0] not in ("PractitionerRole", "HealthcareService"):
            continue
        table = t.RESOURCE_TABLES[target[0]]
        found = conn.execute(select(table.c.location_id).where(table.c.id == target[1])).scalar()
        if found is not None:
            return str(found)
    return None


def _columns(conn: Connection, resource: Resource) -> dict[str, Any]:
    if isinstance(resource, Location):
        return _location_columns(resource)
    if isinstance(resource, Practitioner):
        return {"active": resource.active is not False, "state": None, "name": _practitioner_name(resource)}
    if isinstance(resource, HealthcareService):
        location_id = _first_id(resource.location, "Location")
        return {
            "active": resource.active is not False,
            "state": _location_state(conn, location_id),
            "name": resource.name or "",
            "location_id": location_id,
        }
    if isinstance(resource, PractitionerRole):
        location_id = _first_id(resource.location, "Location")
        return {
            "active": resource.active is not False,
            "state": _location_state(conn, location_id),
            "practitioner_id": _first_id([resource.practitioner] if resource.practitioner else [], "Practitioner"),
            "location_id": location_id,
        }
    if isinstance(resource, Schedule):
        location_id = _schedule_location(conn, resource)
        return {
            "active": resource.active is not False,
            "state": _location_state(conn, location_id),
            "location_id": location_id,
        }
    raise InvalidInput(f"{type(resource).__name__} is not kept as a resource here")


# --- descriptive resources -------------------------------------------------------------------------


def _decode_row(rtype: str, text: str) -> Resource:
    resource: Resource = RESOURCE_DECODERS[rtype].decode(text)
    return resource


def _restamp(change: Change, rtype: str, ids: Iterable[str], **values: Any) -> None:
    """Sets `values` on rows whose published JSON is unchanged but whose file or neighbours changed,
    and stamps them (row and `meta.lastUpdated`), so `_since` clients fetch them again."""
    table = t.RESOURCE_TABLES[rtype]
    for row in change.conn.execute(select(table.c.id, table.c.resource).where(table.c.id.in_(list(ids)))):
        stamped = _with_meta(_decode_row(rtype, row.resource), change.stamp_ms)
        change.conn.execute(
            update(table)
            .where(table.c.id == row.id)
            .values(resource=encode_resource(stamped).decode(), last_updated=change.stamp_ms, **values)
        )


def _stamp_slots(change: Change, schedule_ids: Sequence[str]) -> None:
    if schedule_ids:
        change.conn.execute(
            update(t.slot)
            .where(t.slot.c.active, t.slot.c.schedule_id.in_(list(schedule_ids)))
            .values(last_updated=change.stamp_ms)
        )


def _resync_schedules(change: Change, schedule_ids: Iterable[str]) -> set[str]:
    """Recomputes the location and state of schedules whose actors changed; returns those whose
    location moved (their slots need regenerating)."""
    moved: set[str] = set()
    conn = change.conn
    rows = conn.execute(
        select(t.schedule.c.id, t.schedule.c.resource, t.schedule.c.location_id, t.schedule.c.state).where(
            t.schedule.c.id.in_(list(schedule_ids))
        )
    ).all()
    for row in rows:
        schedule = _decode_row("Schedule", row.resource)
        assert isinstance(schedule, Schedule)
        location_id = _schedule_location(conn, schedule)
        state = _location_state(conn, location_id)
        if location_id != row.location_id or state != row.state:
            _restamp(change, "Schedule", [row.id], location_id=location_id, state=state)
            _stamp_slots(change, [row.id])
        if location_id != row.location_id:
            moved.add(row.id)
    return moved


def _schedules_with_actor(conn: Connection, rtype: str, rid: str) -> list[str]:
    # Actors live only in the JSON; narrow with LIKE, then check the parsed references.
    pattern = f'%{rtype}/{rid}"%'
    out = []
    for row in conn.execute(select(t.schedule.c.id, t.schedule.c.resource).where(t.schedule.c.resource.like(pattern))):
        schedule = _decode_row("Schedule", row.resource)
        assert isinstance(schedule, Schedule)
        if any(_target(a) == (rtype, rid) for a in schedule.actor):
            out.append(row.id)
    return out


def _after_location_change(change: Change, location_id: str, before: Row[Any], after: dict[str, Any]) -> set[str]:
    conn = change.conn
    schedule_ids = list(conn.execute(select(t.schedule.c.id).where(t.schedule.c.location_id == location_id)).scalars())
    if before.state != after["state"]:
        for rtype in ("HealthcareService", "PractitionerRole", "Schedule"):
            table = t.RESOURCE_TABLES[rtype]
            ids = conn.execute(select(table.c.id).where(table.c.location_id == location_id)).scalars()
            _restamp(change, rtype, list(ids), state=after["state"])
    if before.state != after["state"] or before.phone != after["phone"]:
        _stamp_slots(change, schedule_ids)  # their file or booking-phone changed
    return set(schedule_ids) if before.tz != after["tz"] else set()


def _write(change: Change, resource: Resource) -> tuple[Resource, set[str]]:
    """Upserts one checked resource; returns it stamped and the schedules to regenerate."""
    rtype = type(resource).__name__
    table = _table(rtype)
    conn = change.conn
    stamped = _with_meta(resource, change.stamp_ms)
    columns = _columns(conn, stamped)
    values = {**columns, "resource": encode_resource(stamped).decode(), "last_updated": change.stamp_ms}
    before = conn.execute(select(table).where(table.c.id == resource.id)).first()
    if before is None:
        conn.execute(table.insert().values(id=resource.id, **values))
    else:
        conn.execute(update(table).where(table.c.id == resource.id).values(**values))
    regen: set[str] = set()
    if isinstance(stamped, Schedule):
        regen.add(stamped.id)
    elif before is not None and isinstance(stamped, Location):
        regen |= _after_location_change(change, stamped.id, before, columns)
    elif before is not None and isinstance(stamped, PractitionerRole | HealthcareService):
        regen |= _resync_schedules(change, _schedules_with_actor(conn, rtype, stamped.id))
    return stamped, regen


def put_resource(change: Change, resource: R, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> R:
    """Creates or replaces a Location, Practitioner, HealthcareService, PractitionerRole or Schedule.

    Validates it (kernel rules plus: every referenced resource of those types must exist here),
    derives the columns publication selects on, sets `meta.lastUpdated` to the change's stamp and
    stores the minified JSON. Returns the resource as stored. A Location whose state, phone or time
    zone changes re-stamps (or regenerates) the schedules and slots at it; a Schedule is regenerated.
    """
    rtype = type(resource).__name__
    _table(rtype)
    raise_invalid(_errors(validate_resource(resource)), f"invalid {rtype}")
    raise_invalid(_reference_issues(change.conn, [resource])[0], f"invalid {rtype}")
    stamped, regen = _write(change, resource)
    regenerate_schedules(change, regen, horizon_days)
    return stamped  # type: ignore[return-value]  # _write keeps the type


def get_resource(conn: Connection, rtype: str, rid: str) -> Resource:
    """The stored resource (active or not), or NotFound."""
    table = _table(rtype)
    text = conn.execute(select(table.c.resource).where(table.c.id == rid)).scalar()
    if text is None:
        raise NotFound(f"no {rtype} with id {rid!r}", expression=[f"{rtype}.id"])
    return _decode_row(rtype, text)


def list_resources(
    conn: Connection, rtype: str, *, active_only: bool = False, limit: int = 100, offset: int = 0
) -> list[Resource]:
    """Stored resources of one type in id order, a page at a time."""
    table = _table(rtype)
    query = select(table.c.resource).order_by(table.c.id).limit(limit).offset(offset)
    if active_only:
        query = query.where(table.c.active)
    return [_decode_row(rtype, text) for text in conn.execute(query).scalars()]


def count_resources(conn: Connection, rtype: str, *, active_only: bool = False) -> int:
    table = _table(rtype)
    query = select(func.count()).select_from(table)
    if active_only:
        query = query.where(table.c.active)
    return int(conn.execute(query).scalar_one())


def deactivate(change: Change, rtype: str, rid: str, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> Resource:
    """Takes a resource out of the publication without deleting it (`_since` clients learn of it):
    a Location gets status `inactive`, the others `active: false`. A Schedule's rules go too, and its
    free, unbooked slots become inactive (booked ones stay)."""
    table = _table(rtype)
    resource = get_resource(change.conn, rtype, rid)
    if isinstance(resource, Location):
        resource = msgspec.structs.replace(resource, status="inactive")
    else:
        resource = msgspec.structs.replace(resource, active=False)
    stamped = _with_meta(resource, change.stamp_ms)
    change.conn.execute(
        update(table)
        .where(table.c.id == rid)
        .values(active=False, resource=encode_resource(stamped).decode(), last_updated=change.stamp_ms)
    )
    if rtype == "Schedule":
        change.conn.execute(
            update(t.rule)
            .where(t.rule.c.schedule_id == rid, t.rule.c.active)
            .values(active=False, last_updated=change.stamp_ms)
        )
        regenerate_schedules(change, [rid], horizon_days)
    return stamped

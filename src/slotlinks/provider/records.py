"""Writing resources into the provider store: the records layer under the admin API and the importer.

Every function here works inside one `store.change()` transaction (or a read connection) and raises
only `slotlinks.errors`; none knows about HTTP. Descriptive resources (spec "Location File",
"Schedule File"; 2026 IG PractitionerRole, HealthcareService, Practitioner) are validated by the kernel,
checked for references to resources we hold, stamped (`meta.lastUpdated` = the change's stamp) and kept
as the minified JSON we publish, beside the columns publication selects on (see `tables`). Slots are
kept as columns and rendered by `publication`; hand-made slots, availability rules and closures live
here too, and every change that moves slot times regenerates the schedules it touches (`slotgen`).

`import_ndjson` is all-or-nothing: every line is decoded and checked first, every bad line reported
in one `InvalidInput` (one issue per problem, `line N: <path>`), and nothing is written unless all of
them are good.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import Connection, Row, Table, func, select, update

from slotlinks.errors import Conflict, InvalidInput, Issue, NotFound
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.ids import InvalidReference, is_valid_id, parse_reference
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms, ms_to_instant
from slotlinks.fhir.ndjson import DEFAULT_MAX_LINE_BYTES, LineError, LineSplitter, decode_line
from slotlinks.fhir.resources import (
    RESOURCE_DECODER,
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
from slotlinks.provider import tables as t
from slotlinks.provider.places import place_for_zip
from slotlinks.provider.publication import PORTAL_URL_SETTING, TYPE_ORDER, _Renderer
from slotlinks.provider.rules import Closure, Rule, parse_weekdays, validate_closure, validate_rule
from slotlinks.provider.slotgen import RegenStats, regenerate, save_closure, save_rule
from slotlinks.provider.store import Change, ProviderStore

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "DESCRIPTIVE_TYPES",
    "NAME_SETTING",
    "STAFF_STATUSES",
    "ClosureRecord",
    "ClosureSpec",
    "ProviderSettings",
    "RuleRecord",
    "RuleSpec",
    "SlotRecord",
    "count_resources",
    "create_closure",
    "create_rule",
    "create_slot",
    "deactivate",
    "deactivate_closure",
    "deactivate_rule",
    "get_resource",
    "get_slot",
    "import_ndjson",
    "list_closures",
    "list_resources",
    "list_rules",
    "provider_settings",
    "put_closure",
    "put_resource",
    "put_rule",
    "regenerate_all",
    "set_portal_url",
    "set_provider_name",
    "set_slot_status",
    "slot_json",
]

#: The types kept as resources (Slot is kept as columns).
DESCRIPTIVE_TYPES: tuple[str, ...] = tuple(t.RESOURCE_TABLES)
#: What staff may set a slot to; `busy-tentative` belongs to holds.
STAFF_STATUSES = frozenset({"free", "busy", "busy-unavailable"})
#: `Settings.horizon_days`' default, for callers without settings at hand (generators).
DEFAULT_HORIZON_DAYS = 28
NAME_SETTING = "name"
MAX_IMPORT_ISSUES = 1000

R = TypeVar("R", bound=Resource)

_HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _today(change: Change) -> date:
    """Today in UTC by the store's clock (the change's stamp comes from it)."""
    return datetime.fromtimestamp(change.stamp_ms / 1000, UTC).date()


def _errors(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity in ("error", "fatal")]


def _raise_issues(issues: Sequence[Issue], what: str) -> None:
    if issues:
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise InvalidInput(f"{what}: {issues[0].diagnostics}{more}", issues=issues)


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


def _regenerate(change: Change, schedule_ids: Iterable[str], horizon_days: int) -> RegenStats:
    ids = sorted(set(schedule_ids))
    if not ids:
        return RegenStats()
    return regenerate(change, today=_today(change), horizon_days=horizon_days, schedule_ids=ids)


def put_resource(change: Change, resource: R, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> R:
    """Creates or replaces a Location, Practitioner, HealthcareService, PractitionerRole or Schedule.

    Validates it (kernel rules plus: every referenced resource of those types must exist here),
    derives the columns publication selects on, sets `meta.lastUpdated` to the change's stamp and
    stores the minified JSON. Returns the resource as stored. A Location whose state, phone or time
    zone changes re-stamps (or regenerates) the schedules and slots at it; a Schedule is regenerated.
    """
    rtype = type(resource).__name__
    _table(rtype)
    _raise_issues(_errors(validate_resource(resource)), f"invalid {rtype}")
    _raise_issues(_reference_issues(change.conn, [resource])[0], f"invalid {rtype}")
    stamped, regen = _write(change, resource)
    _regenerate(change, regen, horizon_days)
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
        _regenerate(change, [rid], horizon_days)
    return stamped


# --- slots -----------------------------------------------------------------------------------------


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


def slot_json(conn: Connection, slot_id: str, *, portal_url: str) -> bytes:
    """The Slot exactly as the publication renders it (one line, without the newline)."""
    s = t.slot.c
    row = conn.execute(
        select(s.id, s.schedule_id, s.start, s.end, s.status, s.capacity, s.booked, s.active, s.last_updated).where(
            s.id == slot_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no Slot with id {slot_id!r}", expression=["Slot.id"])
    return _Renderer(conn, portal_url).slot_line(cast("Row[Any]", row)).rstrip(b"\n")


def _slot_times(start: str, end: str) -> tuple[int, int]:
    issues = []
    ms: list[int] = []
    for label, text in (("start", start), ("end", end)):
        try:
            ms.append(instant_to_ms(text))
        except InvalidInstant as exc:
            issues.append(Issue(str(exc), expression=(f"Slot.{label}",)))
    _raise_issues(issues, "invalid Slot")
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


# --- availability rules and closures ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A weekly opening window as staff write it: `mon-fri`, `08:00`-`17:00`, local time."""

    weekdays: str
    start: str
    end: str
    slot_minutes: int
    capacity: int = 1
    valid_from: str | None = None
    valid_to: str | None = None


@dataclass(frozen=True, slots=True)
class RuleRecord:
    id: str
    schedule_id: str
    weekdays: str
    start: str
    end: str
    slot_minutes: int
    capacity: int
    valid_from: str | None
    valid_to: str | None
    active: bool
    last_updated: int


@dataclass(frozen=True, slots=True)
class ClosureSpec:
    """A dated closure: the whole `day`, or `[start, end)` local time on it."""

    day: str
    start: str | None = None
    end: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ClosureRecord:
    id: str
    schedule_id: str
    day: str
    start: str | None
    end: str | None
    reason: str
    active: bool
    last_updated: int


_RULE_FIELDS = (
    ("weekdays", "weekdays"),
    ("start", "start"),
    ("end", "end"),
    ("slot_minutes", "slotMinutes"),
    ("a ", "slotMinutes"),
    ("capacity", "capacity"),
    ("valid_from", "validFrom"),
)


def _hhmm(text: str | None, field: str, issues: list[Issue], *, required: bool) -> time | None:
    if text is None or text == "":
        if required:
            issues.append(Issue(f"{field} is required (HH:MM)", expression=(field,)))
        return None
    if not _HHMM.fullmatch(text):
        issues.append(Issue(f"{field} {text!r} is not a time of day as HH:MM", expression=(field,)))
        return None
    return time.fromisoformat(text)


def _day(text: str | None, field: str, issues: list[Issue]) -> date | None:
    if text is None or text == "":
        return None
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        issues.append(Issue(f"{field} {text!r} is not a date as YYYY-MM-DD", expression=(field,)))
        return None


def _to_rule(rule_id: str, spec: RuleSpec) -> Rule:
    issues: list[Issue] = []
    weekdays: frozenset[int] = frozenset()
    try:
        weekdays = parse_weekdays(spec.weekdays)
    except ValueError as exc:
        issues.append(Issue(str(exc), expression=("weekdays",)))
    start = _hhmm(spec.start, "start", issues, required=True)
    end = _hhmm(spec.end, "end", issues, required=True)
    valid_from = _day(spec.valid_from, "validFrom", issues)
    valid_to = _day(spec.valid_to, "validTo", issues)
    _raise_issues(issues, "invalid availability rule")
    assert start is not None
    assert end is not None
    rule = Rule(rule_id, weekdays, start, end, spec.slot_minutes, spec.capacity, valid_from, valid_to)
    for problem in validate_rule(rule):
        field = next((name for prefix, name in _RULE_FIELDS if problem.startswith(prefix)), "rule")
        issues.append(Issue(problem, expression=(field,)))
    _raise_issues(issues, "invalid availability rule")
    return rule


def _to_closure(spec: ClosureSpec) -> Closure:
    issues: list[Issue] = []
    day = _day(spec.day, "day", issues)
    if day is None and not issues:
        issues.append(Issue("day is required (YYYY-MM-DD)", expression=("day",)))
    start = _hhmm(spec.start, "start", issues, required=False)
    end = _hhmm(spec.end, "end", issues, required=False)
    _raise_issues(issues, "invalid closure")
    assert day is not None
    closure = Closure(day, start, end, spec.reason)
    _raise_issues([Issue(p, expression=("end",)) for p in validate_closure(closure)], "invalid closure")
    return closure


def _schedule_active(conn: Connection, schedule_id: str) -> bool:
    active = conn.execute(select(t.schedule.c.active).where(t.schedule.c.id == schedule_id)).scalar()
    if active is None:
        raise NotFound(f"no Schedule with id {schedule_id!r}", expression=["Schedule.id"])
    return bool(active)


def _rule_record(row: Row[Any]) -> RuleRecord:
    return RuleRecord(
        id=row.id,
        schedule_id=row.schedule_id,
        weekdays=row.weekdays,
        start=row.start_time,
        end=row.end_time,
        slot_minutes=int(row.slot_minutes),
        capacity=int(row.capacity),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        active=bool(row.active),
        last_updated=int(row.last_updated),
    )


def _closure_record(row: Row[Any]) -> ClosureRecord:
    return ClosureRecord(
        id=row.id,
        schedule_id=row.schedule_id,
        day=row.day,
        start=row.start_time,
        end=row.end_time,
        reason=row.reason,
        active=bool(row.active),
        last_updated=int(row.last_updated),
    )


def _owned_row(conn: Connection, table: Table, schedule_id: str, row_id: str, what: str) -> Row[Any] | None:
    row = conn.execute(select(table).where(table.c.id == row_id)).first()
    if row is not None and row.schedule_id != schedule_id:
        raise Conflict(f"{what} {row_id!r} belongs to Schedule/{row.schedule_id}", expression=["id"])
    return row


def _new_child_id(rule_id: str | None, prefix: str) -> str:
    if rule_id is None:
        return f"{prefix}-{uuid.uuid4().hex[:20]}"
    if not is_valid_id(rule_id):
        raise InvalidInput(f"id {rule_id!r} is not 1-64 characters from A-Z a-z 0-9 - .", expression=["id"])
    return rule_id


def list_rules(conn: Connection, schedule_id: str, *, active_only: bool = True) -> list[RuleRecord]:
    _schedule_active(conn, schedule_id)
    query = select(t.rule).where(t.rule.c.schedule_id == schedule_id).order_by(t.rule.c.id)
    if active_only:
        query = query.where(t.rule.c.active)
    return [_rule_record(row) for row in conn.execute(query)]


def put_rule(
    change: Change,
    schedule_id: str,
    spec: RuleSpec,
    *,
    rule_id: str | None = None,
    create_only: bool = False,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> RuleRecord:
    """Creates (or, unless `create_only`, replaces) an availability rule and regenerates the schedule."""
    conn = change.conn
    if not _schedule_active(conn, schedule_id):
        raise Conflict(f"Schedule/{schedule_id} is inactive; activate it before adding hours")
    rid = _new_child_id(rule_id, "rule")
    existing = _owned_row(conn, t.rule, schedule_id, rid, "rule")
    if existing is not None and create_only:
        raise Conflict(f"rule {rid!r} already exists", expression=["id"])
    save_rule(change, schedule_id, _to_rule(rid, spec))
    _regenerate(change, [schedule_id], horizon_days)
    return _rule_record(conn.execute(select(t.rule).where(t.rule.c.id == rid)).one())


def create_rule(
    change: Change,
    schedule_id: str,
    spec: RuleSpec,
    *,
    rule_id: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> RuleRecord:
    return put_rule(change, schedule_id, spec, rule_id=rule_id, create_only=True, horizon_days=horizon_days)


def deactivate_rule(
    change: Change, schedule_id: str, rule_id: str, *, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> RuleRecord:
    """Ends a rule: its free, unbooked slots leave the publication (as busy-unavailable for `_since`)."""
    conn = change.conn
    if _owned_row(conn, t.rule, schedule_id, rule_id, "rule") is None:
        raise NotFound(f"no rule {rule_id!r} on Schedule/{schedule_id}", expression=["id"])
    conn.execute(update(t.rule).where(t.rule.c.id == rule_id).values(active=False, last_updated=change.stamp_ms))
    _regenerate(change, [schedule_id], horizon_days)
    return _rule_record(conn.execute(select(t.rule).where(t.rule.c.id == rule_id)).one())


def list_closures(conn: Connection, schedule_id: str, *, active_only: bool = True) -> list[ClosureRecord]:
    _schedule_active(conn, schedule_id)
    c = t.closure.c
    query = select(t.closure).where(c.schedule_id == schedule_id).order_by(c.day, c.id)
    if active_only:
        query = query.where(c.active)
    return [_closure_record(row) for row in conn.execute(query)]


def put_closure(
    change: Change,
    schedule_id: str,
    spec: ClosureSpec,
    *,
    closure_id: str | None = None,
    create_only: bool = False,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> ClosureRecord:
    """Creates (or replaces) a closure and regenerates the schedule: that day's free slots go."""
    conn = change.conn
    _schedule_active(conn, schedule_id)
    cid = _new_child_id(closure_id, "closure")
    existing = _owned_row(conn, t.closure, schedule_id, cid, "closure")
    if existing is not None and create_only:
        raise Conflict(f"closure {cid!r} already exists", expression=["id"])
    save_closure(change, schedule_id, cid, _to_closure(spec))
    _regenerate(change, [schedule_id], horizon_days)
    return _closure_record(conn.execute(select(t.closure).where(t.closure.c.id == cid)).one())


def create_closure(
    change: Change,
    schedule_id: str,
    spec: ClosureSpec,
    *,
    closure_id: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> ClosureRecord:
    return put_closure(change, schedule_id, spec, closure_id=closure_id, create_only=True, horizon_days=horizon_days)


def deactivate_closure(
    change: Change, schedule_id: str, closure_id: str, *, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> ClosureRecord:
    """Lifts a closure: the day's slots come back."""
    conn = change.conn
    if _owned_row(conn, t.closure, schedule_id, closure_id, "closure") is None:
        raise NotFound(f"no closure {closure_id!r} on Schedule/{schedule_id}", expression=["id"])
    conn.execute(
        update(t.closure).where(t.closure.c.id == closure_id).values(active=False, last_updated=change.stamp_ms)
    )
    _regenerate(change, [schedule_id], horizon_days)
    return _closure_record(conn.execute(select(t.closure).where(t.closure.c.id == closure_id)).one())


def regenerate_all(change: Change, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> RegenStats:
    """Every schedule's slots for the horizon; ended free slots leave the publication."""
    return regenerate(change, today=_today(change), horizon_days=horizon_days, now_ms=change.stamp_ms)


# --- import ----------------------------------------------------------------------------------------


def _line_issue(line: int, issue: Issue) -> Issue:
    where = issue.expression[0] if issue.expression else "$"
    return Issue(
        f"line {line}: {issue.diagnostics}",
        code=issue.code,
        severity=issue.severity,
        expression=(f"line {line}: {where}",),
    )


def _decode_lines(
    source: bytes | Iterable[bytes], max_line_bytes: int
) -> tuple[list[tuple[int, Resource]], list[Issue]]:
    splitter = LineSplitter(max_line_bytes=max_line_bytes)
    chunks: Iterable[bytes] = [source] if isinstance(source, bytes) else source
    decoded: list[tuple[int, Resource]] = []
    issues: list[Issue] = []

    def take(batch: list[tuple[int, bytes] | LineError]) -> None:
        for item in batch:
            if isinstance(item, LineError):
                issues.append(Issue(str(item), expression=(f"line {item.line}: {item.path}",)))
                continue
            line = item[0]
            result = decode_line(RESOURCE_DECODER, line, item[1])
            if isinstance(result, LineError):
                issues.append(Issue(str(result), expression=(f"line {line}: {result.path}",)))
                continue
            problems = _errors(validate_resource(result))
            issues.extend(_line_issue(line, p) for p in problems)
            if not problems:
                decoded.append((line, result))

    for chunk in chunks:
        take(splitter.feed(chunk))
    take(splitter.finish())
    return decoded, issues


def _slot_row(change: Change, slot: Slot) -> dict[str, Any]:
    target = _target(slot.schedule)
    assert target is not None  # checked with the references
    capacity = ext.slot_capacity(slot)
    status = slot.status
    active = status != "entered-in-error"
    if status in ("busy-tentative", "entered-in-error"):
        status = "busy"
    if capacity is not None and capacity < 1:
        status, capacity = "busy", 1
    return {
        "id": slot.id,
        "schedule_id": target[1],
        "start": slot.start,
        "end": slot.end,
        "start_ms": instant_to_ms(slot.start),
        "end_ms": instant_to_ms(slot.end),
        "status": status,
        "capacity": capacity or 1,
        "rule_id": None,
        "active": active,
        "last_updated": change.stamp_ms,
    }


def _write_slots(change: Change, slots: Sequence[Slot]) -> None:
    conn = change.conn
    for i in range(0, len(slots), 1000):
        rows = [_slot_row(change, s) for s in slots[i : i + 1000]]
        ids = [r["id"] for r in rows]
        existing = set(conn.execute(select(t.slot.c.id).where(t.slot.c.id.in_(ids))).scalars())
        new = [{**r, "booked": 0} for r in rows if r["id"] not in existing]
        if new:
            conn.execute(t.slot.insert(), new)
        for row in rows:
            if row["id"] in existing:
                values = {k: v for k, v in row.items() if k != "id"}
                conn.execute(update(t.slot).where(t.slot.c.id == row["id"]).values(**values))


def import_ndjson(
    change: Change,
    lines: bytes | Iterable[bytes],
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> dict[str, int]:
    """Imports FHIR NDJSON (Locations, Practitioners, HealthcareServices, PractitionerRoles, Schedules,
    Slots, in any order and mix) all or nothing; returns how many of each type were written.

    Raises one `InvalidInput` with an issue per problem (`line 3: $.start`, `line 5: Schedule.actor[0]`)
    before anything is written. References may point at resources earlier or later in the same file.
    Slots are kept as hand-made slots (regeneration never touches them).
    """
    decoded, issues = _decode_lines(lines, max_line_bytes)
    seen: dict[tuple[str, str], int] = {}
    known: dict[str, set[str]] = {}
    unique: list[tuple[int, Resource]] = []
    for line, resource in decoded:
        key = (type(resource).__name__, resource.id)
        if key in seen:
            issues.append(
                Issue(
                    f"line {line}: {key[0]}/{key[1]} appears again (first on line {seen[key]})",
                    expression=(f"line {line}: $.id",),
                )
            )
            continue
        seen[key] = line
        known.setdefault(key[0], set()).add(key[1])
        unique.append((line, resource))
    ref_issues = _reference_issues(change.conn, [r for _, r in unique], known)
    for (line, _), found in zip(unique, ref_issues, strict=True):
        issues.extend(_line_issue(line, i) for i in found)
    if issues:
        bad_lines = len({i.expression[0].split(":")[0] for i in issues if i.expression})
        shown = sorted(issues, key=lambda i: _line_number(i))[:MAX_IMPORT_ISSUES]
        raise InvalidInput(f"{bad_lines} line(s) of the import are invalid; nothing was imported", issues=shown)
    counts = dict.fromkeys(TYPE_ORDER, 0)
    regen: set[str] = set()
    slots: list[Slot] = []
    for _, resource in sorted(unique, key=lambda item: TYPE_ORDER[type(item[1]).__name__]):
        rtype = type(resource).__name__
        counts[rtype] += 1
        if isinstance(resource, Slot):
            slots.append(resource)
            continue
        try:
            _, more = _write(change, resource)
        except InvalidInput as exc:
            line = seen[(rtype, resource.id)]
            raise InvalidInput(
                f"line {line}: {exc.message}; nothing was imported",
                issues=[_line_issue(line, i) for i in exc.issues],
            ) from None
        regen |= more
    _write_slots(change, slots)
    _regenerate(change, regen, horizon_days)
    return counts


def _line_number(issue: Issue) -> int:
    head = issue.expression[0] if issue.expression else ""
    match = re.match(r"line (\d+)", head)
    return int(match.group(1)) if match else 0


# --- provider settings -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    portal_url: str
    name: str


def provider_settings(store: ProviderStore, conn: Connection) -> ProviderSettings:
    return ProviderSettings(
        portal_url=store.get_setting(PORTAL_URL_SETTING, conn=conn),
        name=store.get_setting(NAME_SETTING, conn=conn),
    )


def set_portal_url(change: Change, url: str, *, store: ProviderStore) -> str:
    """Sets the booking portal's base URL (absolute http(s)); every active slot's deep link changes,
    so they are all stamped for `_since` clients. Returns the URL as stored."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise InvalidInput(f"portal URL must be an absolute http(s) URL, got {url!r}", expression=["portalUrl"])
    if parts.query or parts.fragment:
        raise InvalidInput("portal URL must not carry a query or fragment", expression=["portalUrl"])
    if store.get_setting(PORTAL_URL_SETTING, conn=change.conn) != url:
        store.set_setting(change, PORTAL_URL_SETTING, url)
        change.conn.execute(update(t.slot).where(t.slot.c.active).values(last_updated=change.stamp_ms))
    return url


def set_provider_name(change: Change, name: str, *, store: ProviderStore) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("the provider name must not be empty", expression=["name"])
    store.set_setting(change, NAME_SETTING, name)
    return name

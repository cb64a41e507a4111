"""Descriptive resources in the provider store: the records layer under the admin API and the importer.

Every function here works inside one `store.change()` transaction (or a read connection) and raises
only `slotlinks.errors`; none knows about HTTP. Descriptive resources (spec "Location File",
"Schedule File"; 2026 IG PractitionerRole, HealthcareService, Practitioner) are validated by the kernel,
checked for references to resources we hold, stamped (`meta.lastUpdated` = the change's stamp) and kept
as the minified JSON we publish, beside the columns publication selects on (see `tables`). Every change
that moves slot times regenerates the schedules it touches (`schedule.regenerate`), and a change that
moves a resource's file or neighbours re-stamps them so `_since` clients fetch them again.

References are checked in `references`, the derived columns computed in `columns`. Slots live in
`schedule.slots`, availability rules and closures in `schedule.rules`, NDJSON import in `importer` and
the provider's own settings in `store.settings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Connection, Row, Table, func, select, update

from slotlinks.errors import Issue, NotFound, raise_invalid
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.fhir.resources import (
    RESOURCE_DECODERS,
    HealthcareService,
    Location,
    Meta,
    PractitionerRole,
    Resource,
    Schedule,
    encode_resource,
)
from slotlinks.fhir.validate import validate_resource
from slotlinks.provider.records.audience import owner_audience
from slotlinks.provider.records.audience_fhir import with_service_audience
from slotlinks.provider.records.columns import derived_columns, location_state, schedule_location
from slotlinks.provider.records.references import missing_reference_issues, reference_target
from slotlinks.provider.schedule.regenerate import DEFAULT_HORIZON_DAYS, regenerate_schedules
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "DESCRIPTIVE_TYPES",
    "count_resources",
    "deactivate",
    "error_issues",
    "get_resource",
    "list_resources",
    "put_resource",
    "refresh_audience",
    "write_resource",
]

#: The types kept as resources (Slot is kept as columns).
DESCRIPTIVE_TYPES: tuple[str, ...] = tuple(t.RESOURCE_TABLES)
R = TypeVar("R", bound=Resource)


def error_issues(issues: Iterable[Issue]) -> list[Issue]:
    """The errors (and fatal issues) among `issues`: what refuses a resource; warnings do not."""
    return [i for i in issues if i.severity in ("error", "fatal")]


def _table(rtype: str) -> Table:
    table = t.RESOURCE_TABLES.get(rtype)
    if table is None:
        raise NotFound(f"{rtype!r} is not a resource type kept here; expected one of {', '.join(DESCRIPTIVE_TYPES)}")
    return table


# --- stamping and what a change moves ------------------------------------------------------------


def _with_meta(resource: R, stamp_ms: int) -> R:
    meta = resource.meta or Meta()
    return msgspec.structs.replace(resource, meta=msgspec.structs.replace(meta, lastUpdated=ms_to_instant(stamp_ms)))


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
        location_id = schedule_location(conn, schedule)
        state = location_state(conn, location_id)
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
        if any(reference_target(a) == (rtype, rid) for a in schedule.actor):
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


def write_resource(change: Change, resource: Resource) -> tuple[Resource, set[str]]:
    """Upserts one resource already checked (kernel rules and references); returns it stamped and the
    ids of the schedules to regenerate. The importer's path; `put_resource` checks first."""
    rtype = type(resource).__name__
    table = _table(rtype)
    conn = change.conn
    if isinstance(resource, HealthcareService):
        # Who the service is for is its questionnaire's to say (`audience`), never the body's.
        resource = with_service_audience(resource, owner_audience(conn, rtype, resource.id))
    stamped = _with_meta(resource, change.stamp_ms)
    columns = derived_columns(conn, stamped)
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


def refresh_audience(change: Change, owner_type: str, owner_id: str) -> None:
    """After the questionnaire of a Schedule or HealthcareService changed: republishes who its slots
    are for (the service's eligibility; the appointmentType of every slot that asks it)."""
    conn = change.conn
    schedule_ids = [owner_id]
    if owner_type == "HealthcareService":
        text = conn.execute(
            select(t.healthcare_service.c.resource).where(t.healthcare_service.c.id == owner_id)
        ).scalar()
        if text is not None:
            write_resource(change, _decode_row(owner_type, text))
        schedule_ids = _schedules_with_actor(conn, owner_type, owner_id)
    _stamp_slots(change, schedule_ids)


def put_resource(change: Change, resource: R, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> R:
    """Creates or replaces a Location, Practitioner, HealthcareService, PractitionerRole or Schedule.

    Validates it (kernel rules plus: every referenced resource of those types must exist here),
    derives the columns publication selects on, sets `meta.lastUpdated` to the change's stamp and
    stores the minified JSON. Returns the resource as stored. A Location whose state, phone or time
    zone changes re-stamps (or regenerates) the schedules and slots at it; a Schedule is regenerated.
    """
    rtype = type(resource).__name__
    _table(rtype)
    raise_invalid(error_issues(validate_resource(resource)), f"invalid {rtype}")
    raise_invalid(missing_reference_issues(change.conn, [resource])[0], f"invalid {rtype}")
    stamped, regen = write_resource(change, resource)
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

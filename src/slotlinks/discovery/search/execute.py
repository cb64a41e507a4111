"""Search compiled to SQL: where, what and when, over the publishers' current data generation only.

The Slot Discovery Client "finds slots across publishers" (SPEC-NOTES, Roles). Only rows whose
`generation` equals their publisher's `generation` are visible (tables.py), so a search never sees a
half-replaced data set. The plan, chosen to stay within a few milliseconds on a million slots:

1. Locations, with what a result shows of each: a latitude/longitude bounding box in SQL
   (`ix_feed_location_lat_lon`), then the exact great-circle distance in Python. Virtual searches
   add the locations that have no position.
2. Schedules of those locations (`ix_feed_schedule_location`) that match the service, specialty,
   vaccine, practitioner and virtual filters, each with its first matching slot found by a correlated
   `ORDER BY start_ms LIMIT 1` subquery: one index range scan on (schedule_pk, start_ms) per schedule
   (on PostgreSQL in the schedule's own partitions only: `_own_partitions`).
3. Ranking (ranking.py) on distance and first time; only the top `limit` locations go on.
4. Their next `per_location` times: each schedule's `ORDER BY start_ms LIMIT n` subquery (one short
   index range scan each), merged per location; on PostgreSQL one LATERAL statement over the
   schedules bound as arrays, on SQLite a UNION ALL of up to 90 of them.

Each step's statement is built once per shape of request (which filters it has) with its values
bound, so a search costs the statements' execution, not their construction. On PostgreSQL lists are
bound as arrays, so a statement's text does not depend on how many locations or schedules a search
finds, and a search runs the plans its connection prepared (`generic_plans`) instead of planning
every statement for its values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, Literal, NamedTuple, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from sqlalchemy import (
    ARRAY,
    BigInteger,
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Row,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)

from slotlinks.db.engine import generic_plans
from slotlinks.discovery.geo import KM_PER_MILE, bounding_box, haversine_miles
from slotlinks.discovery.ingest.partitions import load_key, load_key_column, partitioned
from slotlinks.discovery.publishers.freshness import describe_age
from slotlinks.discovery.search.audience import (
    SlotAudience,
    schedule_conditions,
    schedule_values,
    slot_audience,
    slot_condition,
)
from slotlinks.discovery.search.query import SearchRequest
from slotlinks.discovery.search.ranking import Candidate, rank
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.instant import format_instant, ms_to_instant

__all__ = [
    "LocationResult",
    "PublisherRef",
    "SlotResult",
    "local_instant",
    "search",
    "service_names",
    "slot_link",
    "zone_named",
]

_INSTANT_LENGTH = len("2026-01-01T09:00:00+00:00")
_CHUNK = 900  # bound parameters per IN list (SQLite's historical limit is 999)
_T = TypeVar("_T")


class SlotResult(msgspec.Struct, kw_only=True):
    """One time at a location; `link` is the discovery server's deep link (`/go/{pk}`)."""

    pk: int
    start: str
    end: str
    status: str
    capacity: int
    link: str
    booking_phone: str | None = None
    service: str | None = None  # what the time is for, as its Schedule names it
    practitioner: str | None = None  # who it is with, when its Schedule names them
    audience: SlotAudience = msgspec.field(default_factory=SlotAudience)  # who may book it


class PublisherRef(msgspec.Struct, kw_only=True):
    id: int
    name: str


class LocationResult(msgspec.Struct, kw_only=True):
    """One location with its distance, publisher, freshness and next matching times."""

    pk: int
    name: str
    city: str | None
    state: str | None
    postal_code: str | None
    latitude: float | None
    longitude: float | None
    virtual: bool
    tz: str
    distance_miles: float | None
    distance_km: float | None
    publisher: PublisherRef
    as_of: str | None
    freshness: str
    phone: str | None
    services: list[str]
    slots: list[SlotResult]


def slot_link(base_url: str, slot_pk: int) -> str:
    """The discovery server's deep link for a slot (spec "Deep links": it appends source and referral)."""
    return f"{base_url.rstrip('/')}/go/{slot_pk}"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _within(text: str) -> str:
    """The LIKE pattern of `_contains` for `text`."""
    return f"%{_like_escape(text.lower())}%"


def _contains(column: Any, name: str) -> ColumnElement[bool]:
    """`column` contains, ignoring case, the text bound as `name` (its pattern from `_within`)."""
    return func.lower(column).like(bindparam(name), escape="\\")


# A code filter is one of these shapes: `system|code` (one token), or a bare code or service text.
_Coded = Literal["token", "code"] | None


def _coded(value: str | None) -> _Coded:
    return None if value is None else "token" if "|" in value else "code"


def _code_or_text(name: str, shape: _Coded) -> ColumnElement[bool]:
    """`system|code` matches that token in `codes`; otherwise a bare code (any system) or service text.
    The patterns are bound under `name` (`_code_or_text_values`)."""
    s = t.schedule
    tokens = literal(" ") + s.c.codes + literal(" ")
    if shape == "token":
        return tokens.like(bindparam(f"{name}_token"), escape="\\")
    return or_(
        tokens.like(bindparam(f"{name}_any_system"), escape="\\"),
        tokens.like(bindparam(f"{name}_bare"), escape="\\"),
        _contains(s.c.service_text, f"{name}_text"),
    )


def _code_or_text_values(name: str, value: str) -> dict[str, object]:
    if "|" in value:
        return {f"{name}_token": f"% {_like_escape(value)} %"}
    code = _like_escape(value)
    return {f"{name}_any_system": f"%|{code} %", f"{name}_bare": f"% {code} %", f"{name}_text": _within(value)}


def _one_of(column: ColumnElement[Any], name: str, *, array: bool) -> ColumnElement[bool]:
    """`column` is one of the values bound as `name`: on PostgreSQL (`array`) one array parameter, so
    the statement's text, and its prepared plan, are the same whatever the number of values; elsewhere
    an IN list of that many parameters."""
    if array:
        element = BigInteger if isinstance(column.type, BigInteger) else Integer
        return column == any_(bindparam(name, type_=ARRAY(element)))
    return column.in_(bindparam(name, expanding=True))


def _slot_status(free_only: bool) -> ColumnElement[bool]:
    s = t.slot
    return and_(s.c.status == "free", s.c.capacity > 0) if free_only else true()


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterable[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Place(NamedTuple):
    virtual: bool
    miles: float | None
    load_key: int  # its publisher's current full load's partition key (ingest/partitions.py)
    row: Row[Any]  # what a result shows of it (`_LOCATION_COLUMNS`)


# What a result shows of a location, read with the candidates in step 1: a few more columns for the
# locations not chosen cost less than a statement more for those that are.
_LOCATION_COLUMNS = (
    t.location.c.pk,
    t.location.c.name,
    t.location.c.city,
    t.location.c.state,
    t.location.c.postal_code,
    t.location.c.latitude,
    t.location.c.longitude,
    t.location.c.virtual,
    t.location.c.tz,
    t.location.c.phone,
    t.publisher.c.id.label("publisher_id"),
    t.publisher.c.generation,
    t.publisher.c.name.label("publisher_name"),
    t.publisher.c.last_success_ms,
)


@lru_cache(maxsize=64)
def _locations_query(
    publisher: Literal["id", "name"] | None, one: bool, box: bool, wraps: bool, virtual: bool
) -> Select[Any]:
    """Step 1's statement for one shape of request; its values are bound (`_locations`)."""
    loc, p = t.location, t.publisher
    query = select(*_LOCATION_COLUMNS).join(p, and_(p.c.id == loc.c.publisher_id, p.c.generation == loc.c.generation))
    if publisher == "id":
        query = query.where(p.c.id == bindparam("publisher_id"))
    elif publisher == "name":
        query = query.where(_contains(p.c.name, "publisher_name"))
    if one:
        query = query.where(loc.c.pk == bindparam("location_pk"))
    elif box:
        lon = loc.c.longitude
        min_lon: BindParameter[float] = bindparam("min_lon")
        max_lon: BindParameter[float] = bindparam("max_lon")
        lon_in = or_(lon >= min_lon, lon <= max_lon) if wraps else lon.between(min_lon, max_lon)
        in_box = and_(loc.c.latitude.between(bindparam("min_lat"), bindparam("max_lat")), lon_in)
        query = query.where(or_(in_box, loc.c.latitude.is_(None)) if virtual else in_box)
    return query


def _locations(conn: Connection, req: SearchRequest) -> dict[int, _Place]:
    """Step 1: visible locations in range, each with its distance in miles (None without a position)
    and what a result shows of it."""
    values: dict[str, object] = {}
    publisher: Literal["id", "name"] | None = None
    if req.publisher is not None:
        publisher = "id" if req.publisher.isdigit() else "name"
        values["publisher_id" if publisher == "id" else "publisher_name"] = (
            int(req.publisher) if publisher == "id" else _within(req.publisher)
        )
    wraps = False
    if req.only_location_pk is not None:
        values["location_pk"] = req.only_location_pk
    elif req.near is not None:
        box = bounding_box(req.near, req.radius_miles)
        wraps = box.wraps
        values.update(min_lat=box.min_lat, max_lat=box.max_lat, min_lon=box.min_lon, max_lon=box.max_lon)
    one, in_box = req.only_location_pk is not None, req.near is not None
    query = _locations_query(publisher, one, in_box, wraps, bool(req.virtual))
    near, limit_to_radius = req.near, not one
    out: dict[int, _Place] = {}
    for row in conn.execute(query, values).all():
        lat, lon = row.latitude, row.longitude
        miles: float | None = None
        if near is not None:
            if lat is not None and lon is not None:
                miles = haversine_miles(near.lat, near.lon, lat, lon)
                if limit_to_radius and miles > req.radius_miles:
                    continue
            elif limit_to_radius and not req.virtual:
                continue
        out[row.pk] = _Place(bool(row.virtual), miles, load_key(row.publisher_id, row.generation), row)
    return out


class _Schedule(NamedTuple):
    pk: int
    location_pk: int
    publisher_id: int
    generation: int
    service_text: str
    service_name: str | None  # as a patient reads it
    first_ms: int
    practitioners: str
    # Who its slots are for (audience.slot_audience reads these by name).
    patients: str | None
    referral: bool | None
    min_age: int | None
    max_age: int | None
    languages: str | None


class _ScheduleShape(NamedTuple):
    """What decides step 2's statement; the request's values are bound (`_schedule_values`)."""

    free_only: bool
    new_patients: bool
    no_referral: bool
    by_age: bool
    by_language: bool
    service: _Coded
    specialty: _Coded
    vaccine: _Coded
    practitioner: bool
    schedule_codes: bool
    organization: bool
    virtual: bool | None
    by_partition: bool


def _schedule_shape(req: SearchRequest, by_partition: bool) -> _ScheduleShape:
    return _ScheduleShape(
        req.free_only,
        req.new_patients,
        req.no_referral,
        req.age is not None,
        req.language is not None,
        _coded(req.service),
        _coded(req.specialty),
        _coded(req.vaccine),
        req.practitioner is not None,
        req.schedule_codes is not None,
        req.organization is not None,
        req.virtual,
        by_partition,
    )


def _schedule_values(req: SearchRequest) -> dict[str, object]:
    values: dict[str, object] = {"start_ms": req.start_ms, "end_ms": req.end_ms}
    values.update(schedule_values(age=req.age, language=req.language))
    for name, value in (("service", req.service), ("specialty", req.specialty), ("vaccine", req.vaccine)):
        if value is not None:
            values.update(_code_or_text_values(name, value))
    for name, text in (("practitioner", req.practitioner), ("organization", req.organization)):
        if text is not None:
            values[name] = _within(text)
    if req.schedule_codes is not None:
        values["schedule_codes"] = req.schedule_codes
    return values


@lru_cache(maxsize=256)
def _schedules_query(shape: _ScheduleShape) -> Select[Any]:
    """Step 2's statement for one shape of request, for a chunk of locations bound as `locations`.

    With `by_partition` (PostgreSQL) each schedule's first slot is looked for only in its own two
    partitions (`_own_partitions`)."""
    s, sl, p = t.schedule, t.slot, t.publisher
    first = (
        select(sl.c.start_ms)
        .where(
            sl.c.schedule_pk == s.c.pk,
            sl.c.generation == s.c.generation,
            sl.c.start_ms >= bindparam("start_ms"),
            sl.c.start_ms < bindparam("end_ms"),
            _slot_status(shape.free_only),
            *slot_condition(sl, s.c.patients, new_patients=shape.new_patients),
            *(_own_partitions(s) if shape.by_partition else ()),
        )
        .order_by(sl.c.start_ms)
        .limit(1)
        .scalar_subquery()
    )
    conditions = schedule_conditions(
        s, no_referral=shape.no_referral, by_age=shape.by_age, by_language=shape.by_language
    )
    for name, coded in (("service", shape.service), ("specialty", shape.specialty), ("vaccine", shape.vaccine)):
        if coded is not None:
            conditions.append(_code_or_text(name, coded))
    if shape.practitioner:
        conditions.append(_contains(s.c.practitioner_text, "practitioner"))
    if shape.schedule_codes:
        conditions.append(s.c.codes == bindparam("schedule_codes"))
    loc = t.location
    if shape.organization:
        names = (p.c.name, loc.c.organization_text, s.c.organization_text)
        conditions.append(or_(*(_contains(column, "organization") for column in names)))
    array = shape.by_partition
    if shape.virtual is True:
        conditions.append(or_(s.c.virtual.is_(True), _one_of(s.c.location_pk, "virtual_pks", array=array)))
    elif shape.virtual is False:
        conditions.append(s.c.virtual.is_(False))
    query = (
        select(s.c.pk, s.c.location_pk, s.c.publisher_id, s.c.generation, s.c.service_text, s.c.service_name)
        .add_columns(first.label("first_ms"))
        .add_columns(s.c.practitioner_display, s.c.patients, s.c.referral, s.c.min_age, s.c.max_age, s.c.languages)
        .join(p, and_(p.c.id == s.c.publisher_id, p.c.generation == s.c.generation))
        .where(*conditions, _one_of(s.c.location_pk, "locations", array=array))
    )
    if shape.organization:
        query = query.join(loc, loc.c.pk == s.c.location_pk)
    return query


def _schedules(conn: Connection, req: SearchRequest, locations: dict[int, _Place]) -> list[_Schedule]:
    """Step 2: the matching schedules that have a matching slot, each with its first one's start."""
    by_partition = partitioned(conn)
    query, values = _schedules_query(_schedule_shape(req, by_partition)), _schedule_values(req)
    if req.virtual is True:
        values["virtual_pks"] = [pk for pk, place in locations.items() if place.virtual]
    elif req.virtual is False:
        locations = {pk: place for pk, place in locations.items() if not place.virtual}
    out = []
    pks = sorted(locations)
    for chunk in [pks] if by_partition else _chunks(pks):
        if by_partition:
            values["load_keys"] = sorted({locations[pk].load_key for pk in chunk} | {0})
        for row in conn.execute(query, {**values, "locations": list(chunk)}).all():
            if row.first_ms is not None:
                text = str(row.service_text or "")
                who = str(row.practitioner_display or "")
                audience = (row.patients, row.referral, row.min_age, row.max_age, row.languages)
                first_ms = int(row.first_ms)
                out.append(
                    _Schedule(
                        row.pk,
                        row.location_pk,
                        row.publisher_id,
                        row.generation,
                        text,
                        row.service_name,
                        first_ms,
                        who,
                        *audience,
                    )
                )
    return out


# Schedules per step 4 statement: SQLite binds up to ten parameters a schedule (its constants, LIMIT
# and OFFSET too), so 90 stay within its historical 999 and its 500 terms of a compound SELECT.
_SCHEDULES_PER_STATEMENT = 90


_NEXT_COLUMNS = ("pk", "schedule_pk", "start_ms", "end_ms", "status", "capacity", "booking_phone", "patients")
_START_AND_PK = itemgetter(_NEXT_COLUMNS.index("start_ms"), _NEXT_COLUMNS.index("pk"))


@lru_cache(maxsize=128)
def _next_slots_query(count: int, free_only: bool, new_patients: bool) -> Select[Any] | CompoundSelect[Any]:
    """Step 4's statement on SQLite, for `count` schedules: each one's first slots by an `ORDER BY
    start_ms LIMIT n` subquery (one index range scan), the `count` of them in a UNION ALL; bound as
    `schedule_{i}`, `generation_{i}`, `first_{i}` (and `patients_{i}`, the Schedule's own status for
    the Slots that say nothing, when new_patients asks for it), with `end_ms` and `per_location`."""
    sl = t.slot
    end: BindParameter[int] = bindparam("end_ms")
    per_location = bindparam("per_location", type_=Integer)
    parts = []
    for i in range(count):
        fallback = bindparam(f"patients_{i}", type_=sl.c.patients.type)
        # SQLite takes a limited SELECT in a compound one only as a subquery.
        limited = (
            select(*(sl.c[name] for name in _NEXT_COLUMNS))
            .where(
                sl.c.schedule_pk == bindparam(f"schedule_{i}"),
                sl.c.generation == bindparam(f"generation_{i}"),
                sl.c.start_ms >= bindparam(f"first_{i}"),
                sl.c.start_ms < end,
                _slot_status(free_only),
                *slot_condition(sl, fallback, new_patients=new_patients),
            )
            .order_by(sl.c.start_ms)
            .limit(per_location)
            .subquery()
        )
        parts.append(select(limited))
    return parts[0] if count == 1 else union_all(*parts)


@lru_cache(maxsize=8)
def _next_slots_lateral(free_only: bool, new_patients: bool) -> Select[Any]:
    """Step 4's statement on PostgreSQL: the schedules as arrays (`schedules`, `load_keys`,
    `generations`, `firsts`, `patients`), each one's first slots by a LATERAL `ORDER BY start_ms
    LIMIT n` subquery. One text for any number of schedules, so a connection prepares it once and
    reuses its plan (`generic_plans`): planning the UNION ALL of SQLite's form, one subquery a schedule,
    was most of that statement's time in PostgreSQL at 10 million slots (0.9 ms of 1.1).

    A schedule's Slots are in its full load's partition (`load_key`) or in `feed_slot_other`
    (`load_key` 0: an incremental load's, or older than partitions); said by the partition key, the
    executor prunes every other partition for each schedule, and the planner does not take
    `generation = x` (no statistics, migration 0014) for a few rows to read whole and sort."""
    sl = t.slot
    wanted = (
        func.unnest(
            bindparam("schedules", type_=ARRAY(Integer)),
            bindparam("load_keys", type_=ARRAY(BigInteger)),
            bindparam("generations", type_=ARRAY(Integer)),
            bindparam("firsts", type_=ARRAY(BigInteger)),
            bindparam("patients", type_=ARRAY(sl.c.patients.type)),
        )
        .table_valued("schedule_pk", "load_key", "generation", "first_ms", "patients")
        .render_derived(name="wanted")
    )
    key = load_key_column()
    other = and_(key == literal(0, BigInteger), sl.c.generation == wanted.c.generation)
    generation = or_(key == wanted.c.load_key, other)
    limited = (
        select(*(sl.c[name] for name in _NEXT_COLUMNS))
        .where(
            sl.c.schedule_pk == wanted.c.schedule_pk,
            generation,
            sl.c.start_ms >= wanted.c.first_ms,
            sl.c.start_ms < bindparam("end_ms", type_=BigInteger),
            _slot_status(free_only),
            *slot_condition(sl, wanted.c.patients, new_patients=new_patients),
        )
        .order_by(sl.c.start_ms)
        .limit(bindparam("per_location", type_=Integer))
        .lateral("next")
    )
    return select(limited).select_from(wanted).join(limited, true())


def _own_partitions(s: Table) -> tuple[ColumnElement[bool], ...]:
    """Step 2's subquery on PostgreSQL: a schedule's Slots are in its load's partition or in
    `feed_slot_other` (ingest/partitions.py). The locations' publishers' keys (`load_keys`, bound)
    leave the executor those publishers' partitions only; the schedule's own key, known per row, two
    of them for each schedule. With every partition in the subquery, at 200 publishers (201
    partitions of 10,000 slots) the planner merged one start-time index scan per partition and read
    each one's whole window for every schedule: 0.8 s a search."""
    key = load_key_column()
    shifted = cast(s.c.publisher_id, BigInteger).op("<<")(literal(32, Integer))
    own = (shifted + s.c.generation).self_group()  # as load_key() computes it
    return _one_of(key, "load_keys", array=True), key.in_([own, literal(0, BigInteger)])


def _next_slots(conn: Connection, req: SearchRequest, schedules: Sequence[_Schedule]) -> Sequence[Any]:
    """Step 4: the first `per_location` slots of each schedule, one statement for many schedules."""
    if not schedules:
        return []
    common: dict[str, object] = {"end_ms": req.end_ms, "per_location": req.per_location}
    if partitioned(conn):
        arrays = {
            "schedules": [sc.pk for sc in schedules],
            "load_keys": [load_key(sc.publisher_id, sc.generation) for sc in schedules],
            "generations": [sc.generation for sc in schedules],
            "firsts": [sc.first_ms for sc in schedules],
            "patients": [sc.patients for sc in schedules],
        }
        return conn.execute(_next_slots_lateral(req.free_only, req.new_patients), {**common, **arrays}).all()
    rows: list[Any] = []
    for chunk in _chunks(schedules, _SCHEDULES_PER_STATEMENT):
        values = dict(common)
        for i, sc in enumerate(chunk):
            values.update({f"schedule_{i}": sc.pk, f"generation_{i}": sc.generation, f"first_{i}": sc.first_ms})
            if req.new_patients:
                values[f"patients_{i}"] = sc.patients
        rows.extend(conn.execute(_next_slots_query(len(chunk), req.free_only, req.new_patients), values).all())
    return rows


def zone_named(*names: str | None) -> ZoneInfo:
    """The first of `names` that is a known IANA zone (a location's, then the patient's), else UTC."""
    for candidate in names:
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local_instant(ms: int, zone: ZoneInfo) -> str:
    """A UTC millisecond time as a FHIR instant in `zone`'s local time, as `format_instant` writes it.

    By `isoformat` (a search writes two of these a time, so this was a tenth of a search's Python);
    `format_instant` only for an offset `isoformat` would write with seconds (which it refuses)."""
    local = datetime.fromtimestamp(ms / 1000, zone)
    text = local.isoformat(timespec="seconds")
    if len(text) != _INSTANT_LENGTH:
        return format_instant(local)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_SERVICE_NAMES = {
    array: select(t.schedule.c.pk, t.schedule.c.service_name).where(_one_of(t.schedule.c.pk, "pks", array=array))
    for array in (False, True)
}


def service_names(conn: Connection, schedule_pks: list[int]) -> dict[int, str]:
    """Patient-facing service names of the given schedules, those that have one (ingest/descriptive.py
    `service_name`: the lower-cased search text is for matching, not for reading)."""
    if not schedule_pks:
        return {}
    rows = conn.execute(_SERVICE_NAMES[partitioned(conn)], {"pks": schedule_pks})
    return {int(pk): str(name) for pk, name in rows if name}


def search(conn: Connection, req: SearchRequest, *, now_ms: int, link_base: str) -> list[LocationResult]:
    """Run a search; locations ranked by `req.sort`, each with up to `req.per_location` times.

    `link_base` is the discovery server's public URL (settings.discovery_url); slot times are written
    as FHIR instants in the location's time zone (else the patient's).
    """
    with generic_plans(conn):
        return _search(conn, req, now_ms=now_ms, link_base=link_base)


def _search(conn: Connection, req: SearchRequest, *, now_ms: int, link_base: str) -> list[LocationResult]:
    locations = _locations(conn, req)
    if not locations:
        return []
    schedules = _schedules(conn, req, locations)
    first_by_location: dict[int, int] = {}
    for sc in schedules:
        if sc.location_pk in locations:
            first = first_by_location.get(sc.location_pk, sc.first_ms)
            first_by_location[sc.location_pk] = min(first, sc.first_ms)
    candidates = [Candidate(pk, locations[pk].miles, first) for pk, first in first_by_location.items()]
    chosen = rank(candidates, sort=req.sort, start_ms=req.start_ms, key=lambda c: c)[: req.limit]
    chosen_pks = {c.pk for c in chosen}
    wanted = [sc for sc in schedules if sc.location_pk in chosen_pks]
    location_of = {sc.pk: sc.location_pk for sc in wanted}
    services: dict[int, set[str]] = defaultdict(set)
    offered: dict[int, tuple[str | None, str | None]] = {}  # schedule pk -> (service, practitioners)
    schedule_of = {sc.pk: sc for sc in wanted}
    audiences: dict[tuple[str | None, int], SlotAudience] = {}  # a schedule's slots share a few

    def audience(patients: str | None, schedule_pk: int) -> SlotAudience:
        found = audiences.get((patients, schedule_pk))
        if found is None:
            found = audiences[patients, schedule_pk] = slot_audience(patients, schedule_of[schedule_pk])
        return found

    for sc in wanted:
        name = sc.service_name or sc.service_text
        if name:
            services[sc.location_pk].add(name)
        offered[sc.pk] = (name or None, sc.practitioners or None)
    slots_by_location: dict[int, list[Any]] = defaultdict(list)
    for row in _next_slots(conn, req, wanted):
        slots_by_location[location_of[int(row.schedule_pk)]].append(row)

    base_url = link_base.rstrip("/")  # as slot_link writes it, once for every time
    results = []
    for c in chosen:
        row, miles, virtual = locations[c.pk].row, locations[c.pk].miles, locations[c.pk].virtual
        zone = zone_named(row.tz, req.tz)
        slots = [
            SlotResult(
                pk=pk,
                start=local_instant(start_ms, zone),
                end=local_instant(end_ms, zone),
                status=status,
                capacity=capacity,
                link=f"{base_url}/go/{pk}",
                booking_phone=booking_phone,
                service=offered[schedule_pk][0],
                practitioner=offered[schedule_pk][1],
                audience=audience(patients, schedule_pk),
            )
            # Unpacked as plain tuples (`_NEXT_COLUMNS`' order), by (start, pk): a search builds
            # dozens of these, and a Row's attributes are looked up by name.
            for pk, schedule_pk, start_ms, end_ms, status, capacity, booking_phone, patients in sorted(
                slots_by_location[c.pk], key=_START_AND_PK
            )[: req.per_location]
        ]
        phone = next((s.booking_phone for s in slots if s.booking_phone), None) or row.phone
        last = row.last_success_ms
        results.append(
            LocationResult(
                pk=c.pk,
                name=row.name,
                city=row.city,
                state=row.state,
                postal_code=row.postal_code,
                latitude=row.latitude,
                longitude=row.longitude,
                virtual=virtual,
                tz=zone.key,
                distance_miles=None if miles is None else round(miles, 2),
                distance_km=None if miles is None else round(miles * KM_PER_MILE, 2),
                publisher=PublisherRef(id=int(row.publisher_id), name=row.publisher_name),
                as_of=None if last is None else ms_to_instant(int(last)),
                freshness=describe_age(now_ms, None if last is None else int(last)),
                phone=phone,
                services=sorted(services[c.pk]),
                slots=slots,
            )
        )
    return results

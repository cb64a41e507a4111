"""Search compiled to SQL: where, what and when, over the publishers' current data generation only.

The Slot Discovery Client "finds slots across publishers" (SPEC-NOTES, Roles). Only rows whose
`generation` equals their publisher's `generation` are visible (tables.py), so a search never sees a
half-replaced data set. The plan, chosen to stay within a few milliseconds on a million slots:

1. Locations: a latitude/longitude bounding box in SQL (`ix_feed_location_lat_lon`), then the exact
   great-circle distance in Python. Virtual searches add the locations that have no position.
2. Schedules of those locations (`ix_feed_schedule_location`) that match the service, specialty,
   vaccine, practitioner and virtual filters, each with its first matching slot found by a correlated
   `ORDER BY start_ms LIMIT 1` subquery: one index range scan on (schedule_pk, start_ms) per schedule.
3. Ranking (ranking.py) on distance and first time; only the top `limit` locations go on.
4. Their next `per_location` times: one short index range scan per schedule, merged per location.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import orjson
from sqlalchemy import ColumnElement, Connection, and_, bindparam, false, func, literal, or_, select, true

from slotlinks.discovery.geo import KM_PER_MILE, bounding_box, haversine_miles
from slotlinks.discovery.publishers.freshness import describe_age
from slotlinks.discovery.search.audience import SlotAudience, schedule_conditions, slot_audience, slot_condition
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

_CHUNK = 900  # bound parameters per IN list (SQLite's historical limit is 999)


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


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    return func.lower(column).like(f"%{_like_escape(text.lower())}%", escape="\\")


def _code_or_text(value: str) -> ColumnElement[bool]:
    """`system|code` matches that token in `codes`; otherwise a bare code (any system) or service text."""
    s = t.schedule
    tokens = literal(" ") + s.c.codes + literal(" ")
    if "|" in value:
        return tokens.like(f"% {_like_escape(value)} %", escape="\\")
    code = _like_escape(value)
    return or_(
        tokens.like(f"%|{code} %", escape="\\"),
        tokens.like(f"% {code} %", escape="\\"),
        _contains(s.c.service_text, value),
    )


def _publisher_filter(value: str) -> ColumnElement[bool]:
    p = t.publisher
    if value.isdigit():
        return p.c.id == int(value)
    return _contains(p.c.name, value)


def _slot_status(free_only: bool) -> ColumnElement[bool]:
    s = t.slot
    return and_(s.c.status == "free", s.c.capacity > 0) if free_only else true()


def _chunks(items: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class _Place(NamedTuple):
    virtual: bool
    miles: float | None


def _locations(conn: Connection, req: SearchRequest) -> dict[int, _Place]:
    """Step 1: visible locations in range, each with its distance in miles (None without a position).

    Only what ranking needs is read here; the chosen few's details come later (`_details`)."""
    loc, p = t.location, t.publisher
    query = select(loc.c.pk, loc.c.latitude, loc.c.longitude, loc.c.virtual).join(
        p, and_(p.c.id == loc.c.publisher_id, p.c.generation == loc.c.generation)
    )
    if req.publisher is not None:
        query = query.where(_publisher_filter(req.publisher))
    if req.only_location_pk is not None:
        query = query.where(loc.c.pk == req.only_location_pk)
    elif req.near is not None:
        box = bounding_box(req.near, req.radius_miles)
        lon = (
            or_(loc.c.longitude >= box.min_lon, loc.c.longitude <= box.max_lon)
            if box.wraps
            else loc.c.longitude.between(box.min_lon, box.max_lon)
        )
        in_box = and_(loc.c.latitude.between(box.min_lat, box.max_lat), lon)
        query = query.where(or_(in_box, loc.c.latitude.is_(None)) if req.virtual else in_box)
    near, limit_to_radius = req.near, req.only_location_pk is None
    out: dict[int, _Place] = {}
    for pk, lat, lon, virtual in conn.execute(query):
        miles: float | None = None
        if near is not None:
            if lat is not None and lon is not None:
                miles = haversine_miles(near.lat, near.lon, lat, lon)
                if limit_to_radius and miles > req.radius_miles:
                    continue
            elif limit_to_radius and not req.virtual:
                continue
        out[pk] = _Place(bool(virtual), miles)
    return out


def _details(conn: Connection, pks: Sequence[int]) -> dict[int, Any]:
    """The chosen locations' names, addresses, time zones, phones and publishers."""
    loc, p = t.location, t.publisher
    query = select(
        loc.c.pk,
        loc.c.name,
        loc.c.city,
        loc.c.state,
        loc.c.postal_code,
        loc.c.latitude,
        loc.c.longitude,
        loc.c.tz,
        loc.c.phone,
        loc.c.publisher_id,
        p.c.name.label("publisher_name"),
        p.c.last_success_ms,
    ).join(p, p.c.id == loc.c.publisher_id)
    out: dict[int, Any] = {}
    for chunk in _chunks(pks):
        for row in conn.execute(query.where(loc.c.pk.in_(chunk))).mappings():
            out[int(row["pk"])] = row
    return out


class _Schedule(NamedTuple):
    pk: int
    location_pk: int
    generation: int
    service_text: str
    first_ms: int
    practitioners: str
    # Who its slots are for (audience.slot_audience reads these by name).
    patients: str | None
    referral: bool | None
    min_age: int | None
    max_age: int | None
    languages: str | None


def _schedules(conn: Connection, req: SearchRequest, locations: dict[int, _Place]) -> list[_Schedule]:
    """Step 2: the matching schedules that have a matching slot, each with its first one's start."""
    s, sl, p = t.schedule, t.slot, t.publisher
    first = (
        select(sl.c.start_ms)
        .where(
            sl.c.schedule_pk == s.c.pk,
            sl.c.generation == s.c.generation,
            sl.c.start_ms >= req.start_ms,
            sl.c.start_ms < req.end_ms,
            _slot_status(req.free_only),
            *slot_condition(sl, s.c.patients, new_patients=req.new_patients),
        )
        .order_by(sl.c.start_ms)
        .limit(1)
        .scalar_subquery()
    )
    conditions = schedule_conditions(s, no_referral=req.no_referral, age=req.age, language=req.language)
    for value in (req.service, req.specialty, req.vaccine):
        if value is not None:
            conditions.append(_code_or_text(value))
    if req.practitioner is not None:
        conditions.append(_contains(s.c.practitioner_text, req.practitioner))
    if req.schedule_codes is not None:
        conditions.append(s.c.codes == req.schedule_codes)
    loc = t.location
    if req.organization is not None:
        names = (p.c.name, loc.c.organization_text, s.c.organization_text)
        conditions.append(or_(*(_contains(column, req.organization) for column in names)))
    virtual_pks = [pk for pk, place in locations.items() if place.virtual]
    if req.virtual is True:
        conditions.append(or_(s.c.virtual.is_(True), s.c.location_pk.in_(virtual_pks) if virtual_pks else false()))
    elif req.virtual is False:
        conditions.append(s.c.virtual.is_(False))
        locations = {pk: place for pk, place in locations.items() if not place.virtual}
    base = (
        select(s.c.pk, s.c.location_pk, s.c.generation, s.c.service_text, first.label("first_ms"))
        .add_columns(s.c.practitioner_display, s.c.patients, s.c.referral, s.c.min_age, s.c.max_age, s.c.languages)
        .join(p, and_(p.c.id == s.c.publisher_id, p.c.generation == s.c.generation))
        .where(*conditions)
    )
    if req.organization is not None:
        base = base.join(loc, loc.c.pk == s.c.location_pk)
    out = []
    for chunk in _chunks(sorted(locations)):
        for row in conn.execute(base.where(s.c.location_pk.in_(chunk))):
            if row.first_ms is not None:
                text = str(row.service_text or "")
                who = str(row.practitioner_display or "")
                audience = (row.patients, row.referral, row.min_age, row.max_age, row.languages)
                out.append(_Schedule(row.pk, row.location_pk, row.generation, text, int(row.first_ms), who, *audience))
    return out


def _next_slots(conn: Connection, req: SearchRequest, schedules: Iterable[_Schedule]) -> list[Any]:
    """Step 4: the first `per_location` slots of each schedule, one index range scan each."""
    sl = t.slot
    # The Schedule's own status, for the Slots that say nothing, is bound per schedule (no join).
    fallback = bindparam("schedule_patients", type_=sl.c.patients.type) if req.new_patients else None
    columns = (sl.c.pk, sl.c.schedule_pk, sl.c.start_ms, sl.c.end_ms, sl.c.status, sl.c.capacity, sl.c.booking_phone)
    query = (
        select(*columns, sl.c.patients)
        .where(
            sl.c.schedule_pk == bindparam("schedule_pk"),
            sl.c.generation == bindparam("generation"),
            sl.c.start_ms >= bindparam("first_ms"),
            sl.c.start_ms < req.end_ms,
            _slot_status(req.free_only),
            *(slot_condition(sl, fallback, new_patients=True) if fallback is not None else ()),
        )
        .order_by(sl.c.start_ms)
        .limit(req.per_location)
    )
    rows: list[Any] = []
    for sc in schedules:
        values: dict[str, object] = {"schedule_pk": sc.pk, "generation": sc.generation, "first_ms": sc.first_ms}
        if req.new_patients:
            values["schedule_patients"] = sc.patients
        rows.extend(conn.execute(query, values))
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
    """A UTC millisecond time as a FHIR instant in `zone`'s local time."""
    return format_instant(datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone))


def service_names(conn: Connection, schedule_pks: list[int]) -> dict[int, str]:
    """Patient-facing service names of the given schedules: serviceType text, else its first display
    (the lower-cased search text is for matching, not for reading)."""
    names: dict[int, str] = {}
    if not schedule_pks:
        return names
    rows = conn.execute(select(t.schedule.c.pk, t.schedule.c.resource).where(t.schedule.c.pk.in_(schedule_pks)))
    for pk, resource in rows:
        for concept in orjson.loads(resource).get("serviceType") or []:
            if not isinstance(concept, dict):
                continue
            displays = [c.get("display") for c in concept.get("coding") or [] if isinstance(c, dict)]
            name = concept.get("text") or next((d for d in displays if isinstance(d, str) and d), None)
            if isinstance(name, str) and name:
                names[int(pk)] = name
                break
    return names


def search(conn: Connection, req: SearchRequest, *, now_ms: int, link_base: str) -> list[LocationResult]:
    """Run a search; locations ranked by `req.sort`, each with up to `req.per_location` times.

    `link_base` is the discovery server's public URL (settings.discovery_url); slot times are written
    as FHIR instants in the location's time zone (else the patient's).
    """
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
    names = service_names(conn, [sc.pk for sc in wanted])
    offered: dict[int, tuple[str | None, str | None]] = {}  # schedule pk -> (service, practitioners)
    schedule_of = {sc.pk: sc for sc in wanted}
    audiences: dict[tuple[str | None, int], SlotAudience] = {}  # a schedule's slots share a few

    def audience(patients: str | None, schedule_pk: int) -> SlotAudience:
        found = audiences.get((patients, schedule_pk))
        if found is None:
            found = audiences[patients, schedule_pk] = slot_audience(patients, schedule_of[schedule_pk])
        return found

    for sc in wanted:
        name = names.get(sc.pk) or sc.service_text
        if name:
            services[sc.location_pk].add(name)
        offered[sc.pk] = (name or None, sc.practitioners or None)
    slots_by_location: dict[int, list[Any]] = defaultdict(list)
    for row in _next_slots(conn, req, wanted):
        slots_by_location[location_of[int(row.schedule_pk)]].append(row)

    details = _details(conn, [c.pk for c in chosen])
    results = []
    for c in chosen:
        row, miles, virtual = details[c.pk], locations[c.pk].miles, locations[c.pk].virtual
        zone = zone_named(row["tz"], req.tz)
        slot_rows = sorted(slots_by_location[c.pk], key=lambda r: (r.start_ms, r.pk))[: req.per_location]
        slots = [
            SlotResult(
                pk=int(r.pk),
                start=local_instant(int(r.start_ms), zone),
                end=local_instant(int(r.end_ms), zone),
                status=str(r.status),
                capacity=int(r.capacity),
                link=slot_link(link_base, int(r.pk)),
                booking_phone=r.booking_phone,
                service=offered[int(r.schedule_pk)][0],
                practitioner=offered[int(r.schedule_pk)][1],
                audience=audience(r.patients, int(r.schedule_pk)),
            )
            for r in slot_rows
        ]
        phone = next((s.booking_phone for s in slots if s.booking_phone), None) or row["phone"]
        last = row["last_success_ms"]
        results.append(
            LocationResult(
                pk=c.pk,
                name=row["name"],
                city=row["city"],
                state=row["state"],
                postal_code=row["postal_code"],
                latitude=row["latitude"],
                longitude=row["longitude"],
                virtual=virtual,
                tz=zone.key,
                distance_miles=None if miles is None else round(miles, 2),
                distance_km=None if miles is None else round(miles * KM_PER_MILE, 2),
                publisher=PublisherRef(id=int(row["publisher_id"]), name=row["publisher_name"]),
                as_of=None if last is None else ms_to_instant(int(last)),
                freshness=describe_age(now_ms, None if last is None else int(last)),
                phone=phone,
                services=sorted(services[c.pk]),
                slots=slots,
            )
        )
    return results

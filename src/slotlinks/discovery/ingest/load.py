"""Writing a publisher's feed into the discovery store: rows per generation, derived search columns,
reference resolution, and the generation flip (tables.py explains generations).

Specification, "Bulk Publication" and the resource sections: Slots point at Schedules
(`Schedule/<id>`), Schedules at their actors (Location, PractitionerRole, HealthcareService,
Practitioner). Search needs each Slot's Schedule and each Schedule's Location as our own keys, plus
text and code keys; all are derived here, at ingest, so searches are plain indexed joins.

A full load writes generation g+1 in small batches (searches never look at it), resolves references,
flips `publisher.generation` in one short transaction, and deletes generation g. An incremental
(`_since`) load changes generation g in one transaction. All functions take a `Connection` and are
synchronous: the sync engine runs them in a worker thread.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

import msgspec
from sqlalchemy import Connection, Table, and_, bindparam, delete, exists, func, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from slotlinks.discovery.geo import zip_point
from slotlinks.discovery.ingest.fastslot import SLOT_ROW_COLUMNS, plain_http_url, plain_slot_row, reference_id
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.extensions import (
    BOOKING_DEEP_LINK,
    BOOKING_PHONE,
    SLOT_CAPACITY,
    location_timezone,
    specialty,
    vaccine_products,
)
from slotlinks.fhir.instant import instant_to_ms
from slotlinks.fhir.ndjson import LineError
from slotlinks.fhir.resources import (
    CodeableConcept,
    Coding,
    HealthcareService,
    Location,
    Practitioner,
    PractitionerRole,
    Reference,
    Resource,
    Schedule,
    Slot,
)
from slotlinks.fhir.urls import is_http_url

__all__ = [
    "GONE_SLOT_STATUSES",
    "SLOT_COLUMNS",
    "TABLES",
    "ChangeCounts",
    "GenerationWriter",
    "apply_incremental",
    "carry_unchanged_stamps",
    "diff_generations",
    "discard_other_generations",
    "flip_generation",
    "resolve_generation",
    "row_for",
    "slot_tuple",
]

#: Slot statuses that mean "this slot is gone" in an incremental load.
GONE_SLOT_STATUSES = frozenset({"busy-unavailable", "entered-in-error"})

TABLES: dict[str, Table] = {
    "Location": t.location,
    "Practitioner": t.practitioner,
    "HealthcareService": t.healthcare_service,
    "PractitionerRole": t.practitioner_role,
    "Schedule": t.schedule,
    "Slot": t.slot,
}

_BATCH = 10_000
_SCHEDULE_DECODER = msgspec.json.Decoder(Schedule)
_SERVICE_DECODER = msgspec.json.Decoder(HealthcareService)

#: One numbered line of an NDJSON file, as `fhir.ndjson.LineSplitter` gives it.
NumberedLine = tuple[int, bytes]
#: Reads one line leniently: the resource and its JSON, or None for a bad line (recorded by the reader).
LineReader = Callable[[NumberedLine | LineError], tuple[Resource, bytes] | None]


_ZIP_RE = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_VIRTUAL_WORDS = ("telehealth", "virtual", "video visit", "telemedicine")


def zip_info(postal_code: str) -> tuple[float, float, str | None] | None:
    """(latitude, longitude, IANA time zone) of a US ZIP code's centroid, from the offline `zipcodes`;
    ZIP+4 codes may come with or without their hyphen."""
    m = _ZIP_RE.fullmatch(postal_code.strip())
    return zip_point(m.group(1)) if m else None


def location_row(loc: Location) -> dict[str, Any]:
    """Location columns: address parts, position (else the ZIP centroid), time zone, phone, virtual."""
    addr = loc.address
    postal = addr.postalCode if addr else None
    found = zip_info(postal) if postal else None
    lat = lon = None
    positioned = loc.position is not None
    if loc.position is not None:
        lat, lon = loc.position.latitude, loc.position.longitude
    elif found is not None:
        lat, lon = found[0], found[1]
    phone = next((c.value for c in loc.telecom if c.system == "phone" and c.value), None)
    physical = loc.physicalType.coding if loc.physicalType else []
    return {
        "name": loc.name or "",
        "city": addr.city if addr else None,
        "state": (addr.state or "")[:8] or None if addr else None,
        "postal_code": (postal or "")[:16] or None,
        "latitude": lat,
        "longitude": lon,
        "positioned": positioned,
        "tz": location_timezone(loc) or (found[2] if found else None),
        "phone": phone,
        "virtual": bool(loc.virtualService) or any(c.code == "vi" for c in physical),
        "organization_text": _unique_lower([_display(loc.managingOrganization)]),
    }


def _display(reference: Reference | None) -> str:
    return reference.display or "" if reference is not None else ""


def practitioner_row(practitioner: Practitioner) -> dict[str, Any]:
    name = ""
    for n in practitioner.name:
        name = n.text or " ".join([*n.prefix, *n.given, n.family or "", *n.suffix]).strip()
        if name:
            break
    return {"name": name}


def practitioner_role_row(role: PractitionerRole) -> dict[str, Any]:
    practitioner = role.practitioner
    return {
        "practitioner_source_id": reference_id(practitioner.reference if practitioner else None, "Practitioner"),
        "location_source_id": _first_location(role.location),
        "practitioner_name": practitioner.display if practitioner else None,
        "organization_text": _unique_lower([_display(role.organization)]),
    }


def _first_location(references: list[Reference]) -> str | None:
    return next((i for i in (reference_id(r.reference, "Location") for r in references) if i), None)


def healthcare_service_row(service: HealthcareService) -> dict[str, Any]:
    return {
        "name": service.name,
        "location_source_id": _first_location(service.location),
    }


def _concept_parts(concepts: list[CodeableConcept], texts: list[str], codes: list[str]) -> None:
    for concept in concepts:
        _coding_parts(concept.coding, texts, codes)
        if concept.text:
            texts.append(concept.text)


def _coding_parts(codings: list[Coding], texts: list[str], codes: list[str]) -> None:
    for coding in codings:
        if coding.display:
            texts.append(coding.display)
        if coding.code:
            codes.append(f"{coding.system or ''}|{coding.code}".replace(" ", "%20"))


def _unique_lower(items: list[str]) -> str:
    seen: dict[str, None] = {}
    for item in items:
        text = " ".join(item.lower().split())
        if text:
            seen.setdefault(text, None)
    return " ".join(seen)


def schedule_row(schedule: Schedule, lookups: _Lookups) -> dict[str, Any]:
    """Schedule search keys: location, service text, codes, practitioner names, virtual."""
    texts: list[str] = []
    codes: list[str] = []
    names: list[str] = []
    organizations: list[str] = []
    _concept_parts(schedule.serviceType + schedule.specialty, texts, codes)
    spec = specialty(schedule)
    _coding_parts([spec] if spec else [], texts, codes)
    _coding_parts(vaccine_products(schedule), texts, codes)
    location_id = None
    service_virtual = False
    for actor in schedule.actor:
        ref = actor.reference or ""
        if loc_id := reference_id(ref, "Location"):
            location_id = location_id or loc_id
        elif role_id := reference_id(ref, "PractitionerRole"):
            role_loc, name, organization = lookups.roles.get(role_id, (None, None, ""))
            location_id = location_id or role_loc
            if name or actor.display:
                names.append(name or actor.display or "")
            organizations.append(organization)
        elif service_id := reference_id(ref, "HealthcareService"):
            service = lookups.services.get(service_id)
            if service is not None:
                own: list[str] = [service.name] if service.name else []
                _concept_parts(service.type + service.specialty + service.category, own, codes)
                texts.extend(own)
                organizations.append(_display(service.providedBy))
                service_virtual = any(w in x.lower() for x in own for w in _VIRTUAL_WORDS)
                location_id = location_id or healthcare_service_row(service)["location_source_id"]
        elif actor.display and reference_id(ref, "Practitioner"):
            names.append(actor.display)
    service_text = _unique_lower(texts)
    return {
        "location_source_id": location_id,
        "service_text": service_text,
        "codes": " ".join(dict.fromkeys(codes)),
        "practitioner_text": _unique_lower(names),
        "virtual": service_virtual or any(w in service_text for w in _VIRTUAL_WORDS),
        "organization_text": _unique_lower(organizations),
        "practitioner_display": "; ".join(dict.fromkeys(" ".join(n.split()) for n in names if n.strip())),
    }


def _http_link(value: str | None) -> str | None:
    if not value:
        return None
    return value if plain_http_url(value) or is_http_url(value) else None


#: The columns of a Slot row as `GenerationWriter` builds it (a tuple, in this order). What every row
#: of a load shares (`publisher_id`, `generation`, `updated_ms`) and `schedule_pk` are added when
#: the rows are written.
SLOT_COLUMNS = SLOT_ROW_COLUMNS
_SCHEDULE_AT = SLOT_COLUMNS.index("schedule_source_id")


def slot_values(slot: Slot) -> tuple[Any, ...]:
    """The derived Slot columns (`SLOT_VALUE_COLUMNS`): schedule id, times, status, capacity (default
    1), booking link and phone, of a Slot that passed validation.

    The three extensions are read in one pass, each from the first extension with its URL, as
    `booking_deep_link`, `booking_phone` and `slot_capacity` read them (`fastslot.plain_slot_row`
    gives the same for the Slots it vouches for).
    """
    link: Any = None
    phone: Any = None
    capacity: Any = None
    seen = 0
    for extension in slot.extension:
        url = extension.url
        if url == BOOKING_DEEP_LINK:
            if not seen & 1:
                seen |= 1
                link = extension.value
        elif url == BOOKING_PHONE:
            if not seen & 2:
                seen |= 2
                phone = extension.value
        elif url == SLOT_CAPACITY and not seen & 4:
            seen |= 4
            capacity = extension.value
    return (
        reference_id(slot.schedule.reference, "Schedule") or "",
        instant_to_ms(slot.start),
        instant_to_ms(slot.end),
        slot.status,
        capacity if type(capacity) is int else 1,
        _http_link(link) if type(link) is str else None,
        phone if type(phone) is str else None,
    )


def slot_tuple(slot: Slot, raw: bytes) -> tuple[Any, ...]:
    """The row that stores one Slot, in `SLOT_COLUMNS` order (`row_for` names them)."""
    return (slot.id, raw.decode("utf-8", "replace"), *slot_values(slot))


@dataclass(slots=True)
class ChangeCounts:
    """What a load changed, by natural key (Slots: id and start; others: id)."""

    added: int = 0
    changed: int = 0
    removed: int = 0

    def __iadd__(self, other: ChangeCounts) -> ChangeCounts:
        self.added += other.added
        self.changed += other.changed
        self.removed += other.removed
        return self


def row_for(resource: Resource, raw: bytes, *, publisher_id: int, generation: int, now_ms: int) -> dict[str, Any]:
    """The row (with derived columns) that stores one resource."""
    if isinstance(resource, Slot):
        row = dict(zip(SLOT_COLUMNS, slot_tuple(resource, raw), strict=True))
        return {"publisher_id": publisher_id, "generation": generation, "updated_ms": now_ms, **row}
    values: dict[str, Any] = {
        "publisher_id": publisher_id,
        "generation": generation,
        "source_id": resource.id,
        "resource": raw.decode("utf-8", "replace"),
        "updated_ms": now_ms,
    }
    if isinstance(resource, Schedule):
        values.update(schedule_row(resource, _Lookups.empty()))
    elif isinstance(resource, Location):
        values.update(location_row(resource))
    elif isinstance(resource, PractitionerRole):
        values.update(practitioner_role_row(resource))
    elif isinstance(resource, HealthcareService):
        values.update(healthcare_service_row(resource))
    elif isinstance(resource, Practitioner):
        values.update(practitioner_row(resource))
    return values


class GenerationWriter:
    """Buffers rows of one new generation and inserts them in batches (each its own transaction).

    `add` buffers; `take` hands the buffered rows over as one batch and `write` inserts a batch (in a
    worker thread, while the next batch is read). Batches must be written one at a time, in order.
    Slots get their `schedule_pk` as they are written when the generation's Schedules are already
    stored; `slots_resolved` stays True while that gives every Slot what `resolve_generation` would
    (no Schedule arrived after a Slot was written), so the final resolve may skip them.
    """

    def __init__(self, publisher_id: int, generation: int, now_ms: int) -> None:
        self.publisher_id = publisher_id
        self.generation = generation
        self.now_ms = now_ms
        self._pending: dict[str, list[Any]] = {}
        self._count = 0
        self._schedule_pks: dict[str, int] | None = None  # stored Schedules: source id -> (highest) pk
        self._slots_written = False
        self.slots_resolved = True

    def add(self, resource: Resource, raw: bytes) -> bool:
        """Buffer one resource; True when a batch is due."""
        pub, gen, now = self.publisher_id, self.generation, self.now_ms
        row: Any
        if type(resource) is Slot:  # nearly every row: a tuple, built without a dict in between
            row, rtype = slot_tuple(resource, raw), "Slot"
        else:
            row, rtype = row_for(resource, raw, publisher_id=pub, generation=gen, now_ms=now), type(resource).__name__
        rows = self._pending.get(rtype)
        if rows is None:
            rows = self._pending[rtype] = []
        rows.append(row)
        self._count += 1
        return self._count >= _BATCH

    def add_lines(self, rtype: str, lines: Sequence[NumberedLine | LineError], read: LineReader) -> bool:
        """Buffer the lines of one chunk of a `rtype` file; True when a batch is due.

        Everyday Slot lines are turned into rows right here (`fastslot.plain_slot_row`);
        every other line, of any type, goes through `read` (the lenient reader: it repairs what it
        can and records what is bad) and is buffered when that returns a resource.
        """
        if rtype != "Slot":
            for item in lines:
                if (got := read(item)) is not None:
                    self.add(*got)
            return self._count >= _BATCH
        row_of, rows = plain_slot_row, self._pending.setdefault("Slot", [])
        fast = 0
        for item in lines:
            if type(item) is tuple and (row := row_of(item[1])) is not None:
                rows.append(row)
                fast += 1
            elif (got := read(item)) is not None:
                self.add(*got)
        self._count += fast
        return self._count >= _BATCH

    def take(self) -> dict[str, list[Any]]:
        """The buffered rows, by resource type (Slots as `SLOT_COLUMNS` tuples, others as dicts); the
        buffer starts empty again."""
        batch, self._pending, self._count = self._pending, {}, 0
        return batch

    def flush(self, conn: Connection) -> None:
        """Insert the buffered rows now."""
        self.write(conn, self.take())

    def write(self, conn: Connection, batch: dict[str, list[Any]]) -> None:
        """Insert one batch from `take` (Slots last, so they can point at Schedules of the same batch)."""
        for rtype, rows in batch.items():
            if rows and rtype != "Slot":
                conn.execute(TABLES[rtype].insert(), rows)
                if rtype == "Schedule":
                    self._schedule_pks = None
                    self.slots_resolved = self.slots_resolved and not self._slots_written
        slots = batch.get("Slot")
        if slots:
            shared = (self.publisher_id, self.generation, self.now_ms)
            if conn.dialect.name == "sqlite":
                _insert_slots_sqlite(conn, slots, shared)
            else:
                if self._schedule_pks is None:
                    self._schedule_pks = self._load_schedule_pks(conn)
                conn.execute(t.slot.insert(), _slot_dicts(slots, self._schedule_pks, shared))
            self._slots_written = True

    def _load_schedule_pks(self, conn: Connection) -> dict[str, int]:
        s = t.schedule.c
        query = (
            select(s.source_id, s.pk)
            .where(s.publisher_id == self.publisher_id, s.generation == self.generation)
            .order_by(s.pk)
        )
        return {row.source_id: row.pk for row in conn.execute(query)}


def _slot_dicts(
    rows: list[tuple[Any, ...]], schedule_pks: dict[str, int], shared: tuple[int, int, int]
) -> list[dict[str, Any]]:
    """Slot rows (`SLOT_COLUMNS` tuples) as the dicts `insert()` takes, with the (publisher id,
    generation, updated_ms) they share and the `schedule_pk` of their Schedule (`schedule_pks`)."""
    keys = ("publisher_id", "generation", "updated_ms", *SLOT_COLUMNS, "schedule_pk")
    pk_of, at = schedule_pks.get, _SCHEDULE_AT
    return [dict(zip(keys, (*shared, *row, pk_of(row[at])), strict=True)) for row in rows]


def _insert_slots_sqlite(conn: Connection, rows: list[tuple[Any, ...]], shared: tuple[int, int, int]) -> None:
    """Insert Slot rows (`SLOT_COLUMNS` tuples) with the (publisher id, generation, updated_ms) they
    share, in as few multi-row INSERT statements as SQLite's variable limit allows.

    SQLite looks up each row's `schedule_pk` itself (`_slot_insert_sql`), so the parameters are the
    rows' values one after the other, put together without a Python step per row; the driver binds
    them in C and releases the GIL for the whole statement, and a load's parsing (in another thread)
    and writing overlap.
    """
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - len(shared)
    per = max(1, min(_MAX_ROWS_PER_INSERT, limit // len(SLOT_COLUMNS)))
    for i in range(0, len(rows), per):
        chunk = rows[i : i + per]
        conn.exec_driver_sql(_slot_insert_sql(len(chunk)), (*shared, *chain.from_iterable(chunk)))


_MAX_ROWS_PER_INSERT = 2000


@lru_cache(maxsize=4)
def _slot_insert_sql(rows: int) -> str:
    """INSERT of `rows` Slots: ?1, ?2, ?3 are the shared publisher id, generation and updated_ms, the
    other parameters the rows' `SLOT_COLUMNS`, row after row. A row's `schedule_pk` is its
    generation's Schedule with its `schedule_source_id` (the latest stored, as `resolve_generation`
    picks), or NULL while there is none."""
    s = t.schedule.name
    schedule = SLOT_COLUMNS.index("schedule_source_id") + 1
    one = "(" + ", ".join("?" * len(SLOT_COLUMNS)) + ")"
    columns = ", ".join(("publisher_id", "generation", "updated_ms", *SLOT_COLUMNS, "schedule_pk"))
    return (
        f"INSERT INTO {t.slot.name} ({columns}) SELECT ?1, ?2, ?3, v.*, "
        f"(SELECT {s}.pk FROM {s} WHERE {s}.publisher_id = ?1 AND {s}.generation = ?2 "
        f"AND {s}.source_id = v.column{schedule} ORDER BY {s}.pk DESC LIMIT 1) "
        f"FROM (VALUES {', '.join([one] * rows)}) AS v"
    )


def discard_other_generations(conn: Connection, publisher_id: int, keep: int) -> None:
    """Delete rows of any generation but `keep` (leftovers of an interrupted or replaced load)."""
    for table in TABLES.values():
        conn.execute(delete(table).where(table.c.publisher_id == publisher_id, table.c.generation != keep))


def _key_match(new: FromClause, old: FromClause, rtype: str) -> ColumnElement[bool]:
    cond = and_(old.c.publisher_id == new.c.publisher_id, old.c.source_id == new.c.source_id)
    if rtype == "Slot":
        cond = and_(cond, old.c.start_ms == new.c.start_ms)
    return cond


def diff_generations(conn: Connection, publisher_id: int, old_gen: int, new_gen: int) -> ChangeCounts:
    """Added, changed and removed resources between two generations of one publisher."""
    counts = ChangeCounts()
    for rtype, table in TABLES.items():
        new, old = table.alias("n"), table.alias("o")
        match = and_(_key_match(new, old, rtype), old.c.generation == old_gen)
        in_new = and_(new.c.publisher_id == publisher_id, new.c.generation == new_gen)
        in_old = and_(old.c.publisher_id == publisher_id, old.c.generation == old_gen)
        if not _has_rows(conn, table, publisher_id, old_gen):  # e.g. a first load: all added
            counts.added += conn.execute(select(func.count()).select_from(new).where(in_new)).scalar_one()
            continue
        counts.added += conn.execute(
            select(func.count()).select_from(new).where(in_new, ~exists().where(match))
        ).scalar_one()
        counts.changed += conn.execute(
            select(func.count()).select_from(new).where(in_new, exists().where(match, old.c.resource != new.c.resource))
        ).scalar_one()
        back = and_(_key_match(old, new, rtype), new.c.generation == new_gen)
        counts.removed += conn.execute(
            select(func.count()).select_from(old).where(in_old, ~exists().where(back))
        ).scalar_one()
    return counts


def _has_rows(conn: Connection, table: Table, publisher_id: int, generation: int) -> bool:
    query = select(table.c.pk).where(table.c.publisher_id == publisher_id, table.c.generation == generation).limit(1)
    return conn.execute(query).first() is not None


def carry_unchanged_stamps(conn: Connection, publisher_id: int, old_gen: int, new_gen: int) -> None:
    """Rows of the new generation identical to their old selves keep the old `updated_ms`, so a full
    refresh that changed little looks small to `_since` readers of the aggregate publication."""
    for rtype, table in TABLES.items():
        if not _has_rows(conn, table, publisher_id, old_gen):
            continue
        old = table.alias("o")
        same = and_(_key_match(table, old, rtype), old.c.generation == old_gen, old.c.resource == table.c.resource)
        previous = select(func.min(old.c.updated_ms)).where(same).scalar_subquery()
        conn.execute(
            update(table)
            .where(table.c.publisher_id == publisher_id, table.c.generation == new_gen, exists().where(same))
            .values(updated_ms=previous)
        )


class _Lookups:
    """What resolving a Schedule needs from the other resources of its generation."""

    def __init__(
        self,
        locations: dict[str, tuple[int, bool]],
        roles: dict[str, tuple[str | None, str | None, str]],
        services: dict[str, HealthcareService],
    ) -> None:
        self.locations = locations  # source id -> (pk, virtual)
        self.roles = roles  # source id -> (location source id, practitioner name, organization text)
        self.services = services

    @classmethod
    def empty(cls) -> _Lookups:
        return cls({}, {}, {})

    @classmethod
    def load(cls, conn: Connection, publisher_id: int, generation: int) -> _Lookups:
        def mine(table: Table) -> ColumnElement[bool]:
            return and_(table.c.publisher_id == publisher_id, table.c.generation == generation)

        loc = t.location.c
        locations = {
            r.source_id: (r.pk, bool(r.virtual))
            for r in conn.execute(
                select(loc.source_id, loc.pk, loc.virtual).where(mine(t.location)).order_by(loc.pk.desc())
            )
        }
        names = {
            r.source_id: r.name
            for r in conn.execute(select(t.practitioner.c.source_id, t.practitioner.c.name).where(mine(t.practitioner)))
        }
        pr = t.practitioner_role.c
        roles = {}
        for r in conn.execute(
            select(pr.source_id, pr.location_source_id, pr.practitioner_source_id)
            .add_columns(pr.practitioner_name, pr.organization_text)
            .where(mine(t.practitioner_role))
        ):
            name = names.get(r.practitioner_source_id or "") or r.practitioner_name
            roles[r.source_id] = (r.location_source_id, name, r.organization_text or "")
        services = {}
        hs = t.healthcare_service.c
        for h in conn.execute(select(hs.source_id, hs.resource).where(mine(t.healthcare_service))):
            try:
                services[h.source_id] = _SERVICE_DECODER.decode(h.resource)
            except msgspec.MsgspecError:
                continue
        return cls(locations, roles, services)


def resolve_generation(conn: Connection, publisher_id: int, generation: int, *, only_unresolved: bool = False) -> None:
    """Fill the `*_pk` columns and Schedule search keys of one generation.

    Schedules are re-derived in full (they are few); Slots get their `schedule_pk` by SQL, all of
    them, or with `only_unresolved` only those still without one (an incremental load).
    """
    lookups = _Lookups.load(conn, publisher_id, generation)
    s = t.schedule.c
    changes = []
    for row in conn.execute(
        select(
            s.pk,
            s.resource,
            s.location_source_id,
            s.location_pk,
            s.service_text,
            s.codes,
            s.practitioner_text,
            s.virtual,
            s.organization_text,
            s.practitioner_display,
        ).where(s.publisher_id == publisher_id, s.generation == generation)
    ):
        try:
            schedule = _SCHEDULE_DECODER.decode(row.resource)
        except msgspec.MsgspecError:
            continue
        derived = schedule_row(schedule, lookups)
        loc = lookups.locations.get(derived["location_source_id"] or "")
        derived["location_pk"] = loc[0] if loc else None
        derived["virtual"] = derived["virtual"] or bool(loc and loc[1])
        if any(getattr(row, k) != v for k, v in derived.items()):
            changes.append({"b_pk": row.pk, **derived})
    if changes:
        stmt = update(t.schedule).where(s.pk == bindparam("b_pk"))
        conn.execute(stmt, changes)
    sl = t.slot.c
    target = (
        select(s.pk)
        .where(s.publisher_id == sl.publisher_id, s.generation == sl.generation, s.source_id == sl.schedule_source_id)
        .order_by(s.pk.desc())
        .limit(1)
        .scalar_subquery()
    )
    where = [sl.publisher_id == publisher_id, sl.generation == generation]
    if only_unresolved:
        # Looking for them among the generation's rows reads every one of them; most often there
        # are none at all, which the (schedule_pk, start) index tells at once.
        if conn.execute(select(sl.pk).where(sl.schedule_pk.is_(None)).limit(1)).first() is None:
            return
        where.append(sl.schedule_pk.is_(None))
    conn.execute(update(t.slot).where(*where).values(schedule_pk=target))


def flip_generation(conn: Connection, publisher_id: int, generation: int, **state: Any) -> None:
    """Make `generation` the one searches see (and record polling state) in one statement."""
    conn.execute(update(t.publisher).where(t.publisher.c.id == publisher_id).values(generation=generation, **state))


def apply_incremental(
    conn: Connection, publisher_id: int, generation: int, items: Iterable[tuple[Resource, bytes]], now_ms: int
) -> ChangeCounts:
    """Apply a `_since` load to the current generation (call inside one write transaction).

    A Slot replaces the row with the same (id, start); `busy-unavailable` or `entered-in-error`
    remove it. Other resources replace the row with the same id, kept whatever their status.
    """
    counts = ChangeCounts()
    for resource, raw in items:
        rtype = type(resource).__name__
        table = TABLES[rtype]
        row = row_for(resource, raw, publisher_id=publisher_id, generation=generation, now_ms=now_ms)
        key = [table.c.publisher_id == publisher_id, table.c.generation == generation, table.c.source_id == resource.id]
        if isinstance(resource, Slot):
            key.append(table.c.start_ms == row["start_ms"])
            if resource.status in GONE_SLOT_STATUSES:
                counts.removed += conn.execute(delete(table).where(*key)).rowcount or 0
                continue
            row["schedule_pk"] = None
        current = conn.execute(select(table.c.resource).where(*key).limit(1)).first()
        if current is None:
            conn.execute(table.insert().values(**row))
            counts.added += 1
        elif current.resource != row["resource"]:
            conn.execute(update(table).where(*key).values(**row))
            counts.changed += 1
    if counts.added or counts.changed:  # removals alone leave every reference as it was
        resolve_generation(conn, publisher_id, generation, only_unresolved=True)
    return counts

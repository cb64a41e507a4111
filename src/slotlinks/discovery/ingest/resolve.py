"""Resolving a finished full load, then making it current: references turned into our own keys,
changes counted against the generation it replaces, and the flip.

Specification, "Bulk Publication": a full data set replaces what the publisher published before. A
full load writes generation g+1 beside g (generation.py); then, in the sync engine's worker thread:

1. `resolve_generation`: each Schedule's Location and search keys, now that all its actors are
   stored, and each Slot's `schedule_pk`;
2. `diff_generations` counts what was added, changed and removed, and `carry_unchanged_stamps`
   keeps the old `updated_ms` of rows that did not change (the aggregate's `_since` readers see
   only real changes);
3. `flip_generation` makes g+1 the one searches see in one short statement, and
   `discard_other_generations` deletes g.

g+1 is the number `take_generation` handed the load (above every number handed out before, so it
may be more than g+1). On PostgreSQL the new generation's Slots are in the load's own table until
the flip attaches it (partitions.py): the functions that read or write them take that table.

All functions take a `Connection` and are synchronous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, Table, and_, bindparam, delete, exists, func, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from slotlinks.discovery.ingest.audience import SCHEDULE_AUDIENCE_COLUMNS
from slotlinks.discovery.ingest.descriptive import Lookups, schedule_row
from slotlinks.discovery.ingest.fastslot import reference_id
from slotlinks.discovery.ingest.generation import TABLES
from slotlinks.discovery.ingest.partitions import (
    drop_other_generations,
    in_partitions,
    of_generation,
    partitioned,
    rewrite_load_table,
)
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.resources import HealthcareService, Reference, Schedule

__all__ = [
    "ChangeCounts",
    "carry_unchanged_stamps",
    "dangling_references",
    "diff_generations",
    "discard_other_generations",
    "flip_generation",
    "load_lookups",
    "resolve_generation",
    "take_generation",
]

_SCHEDULE_DECODER = msgspec.json.Decoder(Schedule)
_SERVICE_DECODER = msgspec.json.Decoder(HealthcareService)


class _RoleServices(msgspec.Struct):
    """Only what a PractitionerRole links to: its services (who its Schedules' slots are for)."""

    healthcareService: list[Reference] = []  # noqa: N815 (FHIR's name)


_ROLE_DECODER = msgspec.json.Decoder(_RoleServices)


def _role_services(resource: str) -> tuple[str, ...]:
    try:
        links = _ROLE_DECODER.decode(resource).healthcareService
    except msgspec.MsgspecError:
        return ()
    return tuple(i for i in (reference_id(r.reference, "HealthcareService") for r in links) if i)


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


def discard_other_generations(conn: Connection, publisher_id: int, keep: int) -> None:
    """Delete rows of any generation but `keep` (leftovers of an interrupted or replaced load); on
    PostgreSQL the Slots of other generations go with their partitions (partitions.py), last, and
    the publisher's current generation is kept too."""
    by_partition = partitioned(conn)
    for table in TABLES.values():
        if not (by_partition and table is t.slot):
            conn.execute(delete(table).where(table.c.publisher_id == publisher_id, table.c.generation != keep))
    if by_partition:
        drop_other_generations(conn, publisher_id, keep)


def _key_match(new: FromClause, old: FromClause, rtype: str) -> ColumnElement[bool]:
    cond = and_(old.c.publisher_id == new.c.publisher_id, old.c.source_id == new.c.source_id)
    if rtype == "Slot":
        cond = and_(cond, old.c.start_ms == new.c.start_ms)
    return cond


def diff_generations(
    conn: Connection, publisher_id: int, old_gen: int, new_gen: int, *, slots: Table = t.slot
) -> ChangeCounts:
    """Added, changed and removed resources between two generations of one publisher (the new
    generation's Slots in `slots`: on PostgreSQL a full load's own table, partitions.py)."""
    by_partition = partitioned(conn)
    if not by_partition:
        return _diff(conn, publisher_id, old_gen, new_gen, slots=slots, by_partition=False)
    # The new Slots' table has neither indexes nor statistics yet (partitions.py), so the planner takes
    # it for a few rows and looks each old Slot up in it by reading it whole: at 100,000 Slots the
    # count of removed ones ran for minutes. Hash joins read each side once.
    # (SET LOCAL ends with the transaction, should this fail.)
    conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
    counts = _diff(conn, publisher_id, old_gen, new_gen, slots=slots, by_partition=True)
    conn.exec_driver_sql("SET LOCAL enable_nestloop TO DEFAULT")
    return counts


def _diff(
    conn: Connection, publisher_id: int, old_gen: int, new_gen: int, *, slots: Table, by_partition: bool
) -> ChangeCounts:
    counts = ChangeCounts()
    for rtype, table in TABLES.items():
        new, old = (slots if rtype == "Slot" else table).alias("n"), table.alias("o")
        old_partitions = in_partitions(old, publisher_id, old_gen, by_partition=by_partition)
        match = and_(_key_match(new, old, rtype), old.c.generation == old_gen, *old_partitions)
        in_new = and_(new.c.publisher_id == publisher_id, new.c.generation == new_gen)
        in_old = and_(old.c.publisher_id == publisher_id, old.c.generation == old_gen, *old_partitions)
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
    query = select(table.c.pk).where(of_generation(table, publisher_id, generation, by_partition=partitioned(conn)))
    query = query.limit(1)
    return conn.execute(query).first() is not None


def carry_unchanged_stamps(
    conn: Connection, publisher_id: int, old_gen: int, new_gen: int, *, slots: Table = t.slot
) -> None:
    """Rows of the new generation identical to their old selves keep the old `updated_ms`, so a full
    refresh that changed little looks small to `_since` readers of the aggregate publication (the new
    Slots in `slots`, as for `diff_generations`; on PostgreSQL rewritten whole, partitions.py)."""
    by_partition = partitioned(conn)
    for rtype, stored in TABLES.items():
        if not _has_rows(conn, stored, publisher_id, old_gen):
            continue
        old, table = stored.alias("o"), slots if rtype == "Slot" else stored
        same = and_(
            _key_match(table, old, rtype),
            old.c.generation == old_gen,
            *in_partitions(old, publisher_id, old_gen, by_partition=by_partition),
            old.c.resource == table.c.resource,
        )
        previous = select(func.min(old.c.updated_ms)).where(same).scalar_subquery()
        if rtype == "Slot" and slots is not t.slot:  # a full load's own table (PostgreSQL)
            stamp = func.coalesce(previous, table.c.updated_ms)
            rewrite_load_table(conn, slots, publisher_id, new_gen, stamp)
            continue
        conn.execute(
            update(table)
            .where(table.c.publisher_id == publisher_id, table.c.generation == new_gen, exists().where(same))
            .values(updated_ms=previous)
        )


def load_lookups(conn: Connection, publisher_id: int, generation: int) -> Lookups:
    """What deriving the Schedules of one stored generation needs from its other resources."""

    def mine(table: Table) -> ColumnElement[bool]:
        return and_(table.c.publisher_id == publisher_id, table.c.generation == generation)

    loc = t.location.c
    locations = {
        r.source_id: (r.pk, bool(r.virtual))
        for r in conn.execute(
            select(loc.source_id, loc.pk, loc.virtual).where(mine(t.location)).order_by(loc.pk.desc())
        )
    }
    names: dict[str, str] = {}
    languages: dict[str, str | None] = {}
    pc = t.practitioner.c
    for r in conn.execute(select(pc.source_id, pc.name, pc.languages).where(mine(t.practitioner))):
        names[r.source_id], languages[r.source_id] = r.name, r.languages
    pr = t.practitioner_role.c
    roles = {}
    role_links: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for r in conn.execute(
        select(pr.source_id, pr.location_source_id, pr.practitioner_source_id)
        .add_columns(pr.practitioner_name, pr.organization_text, pr.resource)
        .where(mine(t.practitioner_role))
    ):
        name = names.get(r.practitioner_source_id or "") or r.practitioner_name
        roles[r.source_id] = (r.location_source_id, name, r.organization_text or "")
        role_links[r.source_id] = (r.practitioner_source_id, _role_services(r.resource))
    services = {}
    hs = t.healthcare_service.c
    for h in conn.execute(select(hs.source_id, hs.resource).where(mine(t.healthcare_service))):
        try:
            services[h.source_id] = _SERVICE_DECODER.decode(h.resource)
        except msgspec.MsgspecError:
            continue
    return Lookups(locations, roles, services, role_links, languages)


def resolve_generation(
    conn: Connection,
    publisher_id: int,
    generation: int,
    *,
    only_unresolved: bool = False,
    resolve_slots: bool = True,
    slots: Table = t.slot,
) -> None:
    """Fill the `*_pk` columns and Schedule search keys of one generation (its Slots in `slots`, as
    for `diff_generations`).

    Schedules are re-derived in full (they are few); Slots get their `schedule_pk` by SQL, all of
    them, or with `only_unresolved` only those still without one (an incremental load), or none
    without `resolve_slots` (a full load whose writer gave each Slot its Schedule's already:
    generation.py `GenerationWriter.slots_resolved`).
    """
    lookups = load_lookups(conn, publisher_id, generation)
    s = t.schedule.c
    changes = []
    for row in conn.execute(
        select(
            s.pk,
            s.resource,
            s.location_source_id,
            s.location_pk,
            s.service_text,
            s.service_name,
            s.codes,
            s.practitioner_text,
            s.virtual,
            s.organization_text,
            s.practitioner_display,
            *(s[name] for name in (*SCHEDULE_AUDIENCE_COLUMNS, "languages")),
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
    if not resolve_slots:
        return
    sl = slots.c
    target = (
        select(s.pk)
        .where(s.publisher_id == sl.publisher_id, s.generation == sl.generation, s.source_id == sl.schedule_source_id)
        .order_by(s.pk.desc())
        .limit(1)
        .scalar_subquery()
    )
    where = [of_generation(slots, publisher_id, generation, by_partition=partitioned(conn))]
    if only_unresolved:
        # Looking for them among the generation's rows reads every one of them; most often there
        # are none at all, which the (schedule_pk, start) index tells at once.
        if conn.execute(select(sl.pk).where(sl.schedule_pk.is_(None), *where).limit(1)).first() is None:
            return
        where.append(sl.schedule_pk.is_(None))
    conn.execute(update(slots).where(*where).values(schedule_pk=target))


def dangling_references(
    conn: Connection, publisher_id: int, generation: int, *, slots: Table = t.slot
) -> dict[str, int]:
    """The references of a resolved generation that point at nothing in it, by kind (warning kinds of
    the sync run): `dangling-schedule`, Slots whose Schedule is missing (kept, but no search finds
    them), and `dangling-location`, Schedules naming a Location that is missing (found without a place)."""
    sl, s = slots.c, t.schedule.c
    unplaced = conn.execute(
        select(func.count())
        .select_from(slots)
        .where(sl.publisher_id == publisher_id, sl.generation == generation, sl.schedule_pk.is_(None))
    ).scalar_one()
    schedules = conn.execute(
        select(func.count())
        .select_from(t.schedule)
        .where(
            s.publisher_id == publisher_id,
            s.generation == generation,
            s.location_source_id.is_not(None),
            s.location_pk.is_(None),
        )
    ).scalar_one()
    found = {"dangling-schedule": int(unplaced), "dangling-location": int(schedules)}
    return {kind: n for kind, n in found.items() if n}


def take_generation(conn: Connection, publisher_id: int) -> int:
    """The generation number of a full load about to start: the next never handed out before, so a
    worker that outlived its lease and goes on writing never writes into the load that replaced it."""
    p = t.publisher.c
    row = conn.execute(select(p.generation, p.last_generation).where(p.id == publisher_id)).one()
    taken = max(int(row.generation), int(row.last_generation)) + 1
    conn.execute(update(t.publisher).where(p.id == publisher_id).values(last_generation=taken))
    return taken


def flip_generation(conn: Connection, publisher_id: int, generation: int, **state: Any) -> None:
    """Make `generation` the one searches see (and record polling state) in one statement."""
    conn.execute(update(t.publisher).where(t.publisher.c.id == publisher_id).values(generation=generation, **state))

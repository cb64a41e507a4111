"""The publishers whose data the aggregate re-publishes, as rendering needs them (spec "Slot Aggregators").

For each publisher, read once per rendering in the caller's transaction: which source ids exist per
type in its current `generation` (to resolve references), the US state of each Location and Schedule
(to split files by state), when each Schedule's free future slots end (for `has-availability`), and
whether the publisher is failing: its last sync failed, or its data is stale (no successful sync for
`STALE_INTERVALS` polling intervals, and at least `MIN_STALE_MS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import orjson
from sqlalchemy import ColumnElement, Connection, Table, select

from slotlinks.discovery.ingest.partitions import in_partitions, of_generation, partitioned
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.ids import InvalidReference, parse_reference

__all__ = ["DESCRIPTIVE_TABLES", "MIN_STALE_MS", "STALE_INTERVALS", "SourcePublisher", "load_publishers", "stale_at_ms"]

#: The feed table of each descriptive type.
DESCRIPTIVE_TABLES: dict[str, Table] = {
    "Location": t.location,
    "Practitioner": t.practitioner,
    "HealthcareService": t.healthcare_service,
    "PractitionerRole": t.practitioner_role,
    "Schedule": t.schedule,
}
#: A publisher's data is stale after this many polling intervals without a successful sync...
STALE_INTERVALS = 3
#: ...and never sooner than this.
MIN_STALE_MS = 15 * 60 * 1000

_STATE_RE = re.compile(r"[A-Za-z0-9]{1,8}")


def stale_at_ms(last_success_ms: int | None, max_age: int | None, min_poll_seconds: int) -> int:
    """When a publisher's data turns stale: `STALE_INTERVALS` polling intervals (its max-age, at least
    our minimum poll interval) after its last successful sync, and no sooner than `MIN_STALE_MS`."""
    if last_success_ms is None:
        return 0
    interval_ms = max(max_age or 0, min_poll_seconds) * 1000
    return last_success_ms + max(STALE_INTERVALS * interval_ms, MIN_STALE_MS)


def _clean_state(state: str | None) -> str | None:
    return state.upper() if state and _STATE_RE.fullmatch(state) else None


def _manifest_base(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    path = path[: path.rfind("/")] if "/" in path else ""
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


@dataclass(slots=True)
class SourcePublisher:
    """One publisher's data as the renderer needs it: which source ids exist per type (to resolve
    references), the state of each Location and Schedule, and when each Schedule's availability ends."""

    id: int
    url: str
    generation: int
    last_success_ms: int | None
    last_attempt_ms: int | None
    failing: bool
    stale_at_ms: int
    ids: dict[str, set[str]] = field(default_factory=dict)
    location_state: dict[str, str | None] = field(default_factory=dict)
    schedule_state: dict[str, str | None] = field(default_factory=dict)
    # Schedule source id -> start of its last free future slot (availability is `some` until then).
    free_until: dict[str, int] = field(default_factory=dict)
    by_partition: bool = False  # its Slots in partitions of their own (PostgreSQL: ingest/partitions.py)

    @property
    def base(self) -> str:
        return _manifest_base(self.url)

    def live(self, table: Table) -> ColumnElement[bool]:
        return of_generation(table, self.id, self.generation, by_partition=self.by_partition)


def load_publishers(conn: Connection, *, now_ms: int, min_poll_seconds: int) -> list[SourcePublisher]:
    """Every publisher with what rendering its data needs, read in the caller's transaction."""
    p = t.publisher.c
    rows = conn.execute(
        select(p.id, p.url, p.generation, p.failures, p.max_age, p.last_success_ms, p.last_attempt_ms).order_by(p.id)
    ).all()
    sources = []
    for row in rows:
        stale = stale_at_ms(row.last_success_ms, row.max_age, min_poll_seconds)
        src = SourcePublisher(
            id=row.id,
            url=row.url,
            generation=row.generation,
            last_success_ms=row.last_success_ms,
            last_attempt_ms=row.last_attempt_ms,
            failing=row.failures > 0 or now_ms >= stale,
            stale_at_ms=stale,
            by_partition=partitioned(conn),
        )
        _load_context(conn, src, now_ms)
        sources.append(src)
    return sources


def _load_context(conn: Connection, src: SourcePublisher, now_ms: int) -> None:
    for type_name, table in DESCRIPTIVE_TABLES.items():
        if type_name == "Schedule":
            continue  # read below, with each Schedule's state
        src.ids[type_name] = set(conn.execute(select(table.c.source_id).where(src.live(table))).scalars())
    loc = t.location.c
    for loc_row in conn.execute(select(loc.source_id, loc.state).where(src.live(t.location))):
        src.location_state[loc_row.source_id] = _clean_state(loc_row.state)
    located: dict[str, dict[str, str | None]] = {}
    for type_name, table in (("HealthcareService", t.healthcare_service), ("PractitionerRole", t.practitioner_role)):
        query = select(table.c.source_id, table.c.location_source_id).where(src.live(table))
        located[type_name] = {r.source_id: r.location_source_id for r in conn.execute(query)}
    sc, s = t.schedule.c, t.slot.c
    # Each Schedule's last free future slot, by a backward walk of its (schedule_pk, start) index
    # that stops at the first free one: grouping all the publisher's Slots read every one of them
    # (5 s of a 6 s rebuild at 10 million slots). Its Slots are said by `schedule_pk` alone (which
    # names one generation's Schedule): with `generation` too, PostgreSQL, which keeps no statistics
    # on it, also read the whole (publisher, generation) index for every Schedule.
    partitions = in_partitions(t.slot, src.id, src.generation, by_partition=src.by_partition)
    last_free = (
        select(s.start_ms)
        .where(s.schedule_pk == sc.pk, *partitions, s.status == "free", s.capacity > 0, s.start_ms > now_ms)
        .order_by(s.start_ms.desc())
        .limit(1)
        .scalar_subquery()
    )
    src.ids["Schedule"] = set()
    query = select(sc.source_id, sc.location_source_id, sc.resource, last_free.label("last_free"))
    for row in conn.execute(query.where(src.live(t.schedule)).order_by(sc.pk)):
        src.ids["Schedule"].add(row.source_id)
        src.schedule_state[row.source_id] = _schedule_state(src, located, row.location_source_id, row.resource)
        if row.last_free is not None:  # a repeated source id: its Slots point at the last row of it
            src.free_until[row.source_id] = int(row.last_free)


def _schedule_state(
    src: SourcePublisher, located: dict[str, dict[str, str | None]], location_id: str | None, resource: str
) -> str | None:
    if location_id is not None:
        return src.location_state.get(location_id)
    # No Location actor: the location of a PractitionerRole or HealthcareService actor.
    for actor in orjson.loads(resource).get("actor") or []:
        try:
            ref = parse_reference(str(actor.get("reference", "")))
        except InvalidReference:
            continue
        if ref.type == "Location":
            return src.location_state.get(ref.id)
        through = located.get(ref.type, {}).get(ref.id)
        if through is not None:
            return src.location_state.get(through)
    return None

"""Rendering the discovery store as one SMART Scheduling Links publication (spec "Slot Aggregators").

Every publisher's live data (rows of its current `generation`) is re-published in the publisher format
("Bulk Publication"), with what the spec recommends of aggregators:

- new ids, unique per type and stable across syncs: derived from our publisher id and the source id
  (plus the start for Slots, since feeds reuse slot ids), see `aggregate_id`;
- every reference rewritten to the new ids; a reference to something the aggregate does not publish
  (an Organization, a missing actor) becomes a logical reference (`identifier` + `type`), so every
  literal reference resolves within the aggregate; a Slot whose Schedule is missing is left out;
- the source's id kept in `identifier` (system: the publisher's manifest URL), `meta.source` pointing at
  the source resource (manifest base + `Type/id`), `meta.lastUpdated` when we last stored a change;
- the `lastSourceSync` meta extension: when the publisher's data was last known accurate;
- on Schedules, `has-availability`: `some` (free future slots), `none`, or `unknown` while the publisher
  is failing (its last sync failed, or its data is stale).

Paused publishers are published too: their data turns stale, so their Schedules say `unknown`.
Files are split like the provider's: descriptive resources by state, Slots by state and ISO week of
their local start. One pass writes the full data set; with `since_ms` the same pass renders changes only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson
from sqlalchemy import Connection, Table, func, select

from slotlinks.discovery.store import tables as t
from slotlinks.fhir.extensions import HAS_AVAILABILITY, LAST_SOURCE_SYNC
from slotlinks.fhir.ids import InvalidReference, is_valid_id, parse_reference
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms, ms_to_instant

__all__ = [
    "DESCRIPTIVE",
    "TYPE_ORDER",
    "AggregateFile",
    "SourcePublisher",
    "aggregate_id",
    "descriptive_resources",
    "iter_lines",
    "load_publishers",
    "manifest_bytes",
    "slot_renderer",
    "stale_at_ms",
    "write_files",
]

#: Descriptive types in the order a client needs them to resolve references, with file prefixes.
DESCRIPTIVE: tuple[tuple[str, str, Table], ...] = (
    ("Location", "locations", t.location),
    ("Practitioner", "practitioners", t.practitioner),
    ("HealthcareService", "healthcare-services", t.healthcare_service),
    ("PractitionerRole", "practitioner-roles", t.practitioner_role),
    ("Schedule", "schedules", t.schedule),
)
TYPE_ORDER = {name: i for i, (name, _, _) in enumerate(DESCRIPTIVE)} | {"Slot": len(DESCRIPTIVE)}
#: A publisher's data is stale after this many polling intervals without a successful sync...
STALE_INTERVALS = 3
#: ...and never sooner than this.
MIN_STALE_MS = 15 * 60 * 1000

_STATE_RE = re.compile(r"[A-Za-z0-9]{1,8}")
Opener = Callable[[str], IO[bytes]]
Line = tuple[str, str, str | None, bytes]  # (type, file name, state, line with newline)


def aggregate_id(publisher_id: int, source_id: str, start_ms: int | None = None) -> str:
    """The aggregate's id of a publisher's resource: `<publisher>.<source id>[.<start ms>]` when that is
    a FHIR id of at most 64 characters, else `<publisher>-<128-bit hash>`.

    Injective: the publisher id ends at the first `.` or `-`; a start, if any, is the last `.` segment;
    the two forms differ in the separator after the publisher id.
    """
    readable = f"{publisher_id}.{source_id}" + ("" if start_ms is None else f".{start_ms}")
    if is_valid_id(readable):
        return readable
    key = source_id if start_ms is None else f"{source_id}\x00{start_ms}"
    return f"{publisher_id}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def stale_at_ms(last_success_ms: int | None, max_age: int | None, min_poll_seconds: int) -> int:
    """When a publisher's data turns stale: `STALE_INTERVALS` polling intervals (its max-age, at least
    our minimum poll interval) after its last successful sync, and no sooner than `MIN_STALE_MS`."""
    if last_success_ms is None:
        return 0
    interval_ms = max(max_age or 0, min_poll_seconds) * 1000
    return last_success_ms + max(STALE_INTERVALS * interval_ms, MIN_STALE_MS)


@dataclass(slots=True)
class AggregateFile:
    """One NDJSON file of the aggregate publication."""

    type: str
    name: str
    states: set[str] = field(default_factory=set)
    count: int = 0


def _file_name(prefix: str, state: str | None, week: str | None = None) -> str:
    return "-".join([prefix, *(p for p in (state, week) if p)]) + ".ndjson"


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

    @property
    def base(self) -> str:
        return _manifest_base(self.url)

    def live(self, table: Table) -> Any:
        return (table.c.publisher_id == self.id) & (table.c.generation == self.generation)


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
        )
        _load_context(conn, src, now_ms)
        sources.append(src)
    return sources


def _load_context(conn: Connection, src: SourcePublisher, now_ms: int) -> None:
    for type_name, _, table in DESCRIPTIVE[:4]:
        src.ids[type_name] = set(conn.execute(select(table.c.source_id).where(src.live(table))).scalars())
    loc = t.location.c
    for loc_row in conn.execute(select(loc.source_id, loc.state).where(src.live(t.location))):
        src.location_state[loc_row.source_id] = _clean_state(loc_row.state)
    located: dict[str, dict[str, str | None]] = {}
    for type_name, table in (("HealthcareService", t.healthcare_service), ("PractitionerRole", t.practitioner_role)):
        query = select(table.c.source_id, table.c.location_source_id).where(src.live(table))
        located[type_name] = {r.source_id: r.location_source_id for r in conn.execute(query)}
    sc = t.schedule.c
    src.ids["Schedule"] = set()
    for row in conn.execute(select(sc.source_id, sc.location_source_id, sc.resource).where(src.live(t.schedule))):
        src.ids["Schedule"].add(row.source_id)
        src.schedule_state[row.source_id] = _schedule_state(src, located, row.location_source_id, row.resource)
    s = t.slot.c
    free = (
        select(s.schedule_source_id, func.max(s.start_ms))
        .where(src.live(t.slot), s.status == "free", s.capacity > 0, s.start_ms > now_ms)
        .group_by(s.schedule_source_id)
    )
    src.free_until = {sid: int(last) for sid, last in conn.execute(free)}


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


class _Renderer:
    """Rewrites one publisher's resources as the aggregate publishes them."""

    def __init__(self, src: SourcePublisher, now_ms: int) -> None:
        self.src = src
        self.now_ms = now_ms
        self.base = src.base
        self.sync = ms_to_instant(src.last_success_ms) if src.last_success_ms is not None else None

    def reference(self, ref: dict[str, Any]) -> None:
        text = ref.get("reference")
        if not isinstance(text, str) or text.startswith("#"):
            return
        try:
            parsed = parse_reference(text)
        except InvalidReference:
            del ref["reference"]
            ref.setdefault("display", text)
            return
        if parsed.id in self.src.ids.get(parsed.type, ()):
            ref["reference"] = f"{parsed.type}/{aggregate_id(self.src.id, parsed.id)}"
            return
        # Not published by the aggregate: a logical reference names it without claiming to resolve.
        del ref["reference"]
        ref.setdefault("type", parsed.type)
        ref.setdefault("identifier", {"system": self.src.url, "value": parsed.id})

    def walk(self, node: Any) -> None:
        if isinstance(node, dict):
            if "reference" in node:
                self.reference(node)
            for key, value in node.items():
                if key != "identifier" and isinstance(value, dict | list):
                    self.walk(value)
        elif isinstance(node, list):
            for item in node:
                self.walk(item)

    def resource(self, type_name: str, source_id: str, raw: str, updated_ms: int, new_id: str) -> dict[str, Any]:
        res: dict[str, Any] = orjson.loads(raw)
        res["id"] = new_id
        self.walk(res)
        ours = {"system": self.src.url, "value": source_id}
        identifiers = [i for i in res.get("identifier") or [] if i != ours]
        res["identifier"] = [*identifiers, ours]
        meta = res.get("meta")
        meta = dict(meta) if isinstance(meta, dict) else {}
        meta.pop("versionId", None)  # the source server's version, not ours
        meta["lastUpdated"] = ms_to_instant(updated_ms)
        meta["source"] = f"{self.base}/{type_name}/{quote(source_id, safe='')}"
        extensions = [e for e in meta.get("extension") or [] if e.get("url") != LAST_SOURCE_SYNC]
        synced = self._last_sync(meta.get("extension") or [])
        if synced is not None:
            extensions.append({"url": LAST_SOURCE_SYNC, "valueDateTime": synced})
        if extensions:
            meta["extension"] = extensions
        res["meta"] = meta
        return res

    def _last_sync(self, upstream: list[Any]) -> str | None:
        # Re-publishing another aggregator: its data was known accurate no later than it says.
        for ext in upstream:
            if isinstance(ext, dict) and ext.get("url") == LAST_SOURCE_SYNC:
                try:
                    theirs = str(ext.get("valueDateTime"))
                    if self.src.last_success_ms is None or instant_to_ms(theirs) < self.src.last_success_ms:
                        return theirs
                except (InvalidInstant, ValueError):
                    pass
        return self.sync

    def availability(self, schedule_id: str) -> str:
        """The has-availability code of a Schedule (spec "Slot Aggregators")."""
        if self.src.failing:
            return "unknown"
        return "some" if self.src.free_until.get(schedule_id, 0) > self.now_ms else "none"

    def schedule(self, res: dict[str, Any], source_id: str) -> None:
        extensions = [e for e in res.get("extension") or [] if e.get("url") != HAS_AVAILABILITY]
        res["extension"] = [*extensions, {"url": HAS_AVAILABILITY, "valueCode": self.availability(source_id)}]


def _slot_week(start: Any, start_ms: int) -> str:
    try:
        day = date.fromisoformat(str(start)[:10])
    except ValueError:
        day = date.fromisoformat(ms_to_instant(start_ms)[:10])
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _dumps(res: dict[str, Any]) -> bytes:
    return orjson.dumps(res) + b"\n"


def _descriptive_lines(
    conn: Connection, src: SourcePublisher, renderer: _Renderer, since_ms: int | None
) -> Iterator[Line]:
    changed_schedules: set[str] = set()
    if since_ms is not None:
        s = t.slot.c
        changed = select(s.schedule_source_id).where(src.live(t.slot), s.updated_ms > since_ms).distinct()
        changed_schedules = set(conn.execute(changed).scalars())
    # Schedules carry derived status (has-availability, lastSourceSync) that any sync may change.
    resend_schedules = since_ms is not None and (src.last_attempt_ms or 0) > since_ms
    for type_name, prefix, table in DESCRIPTIVE:
        c = table.c
        extra = [c.location_source_id] if type_name in {"HealthcareService", "PractitionerRole"} else []
        query = select(c.source_id, c.resource, c.updated_ms, *extra).where(src.live(table)).order_by(c.pk)
        if since_ms is not None and type_name != "Schedule":
            query = query.where(c.updated_ms > since_ms)
        for row in conn.execute(query):
            sid = row.source_id
            if type_name == "Schedule":
                if since_ms is not None and not (
                    resend_schedules or row.updated_ms > since_ms or sid in changed_schedules
                ):
                    continue
                state = src.schedule_state.get(sid)
            elif type_name == "Location":
                state = src.location_state.get(sid)
            elif extra:
                state = src.location_state.get(row.location_source_id or "")
            else:
                state = None
            res = renderer.resource(type_name, sid, row.resource, row.updated_ms, aggregate_id(src.id, sid))
            if type_name == "Schedule":
                renderer.schedule(res, sid)
            yield type_name, _file_name(prefix, state), state, _dumps(res)


def _slot_resource(
    src: SourcePublisher,
    renderer: _Renderer,
    source_id: str,
    raw: str,
    updated_ms: int,
    start_ms: int,
    schedule_source_id: str,
    status: str,
) -> dict[str, Any]:
    """One Slot row as the aggregate publishes it: new ids, its Schedule's new id, and the status
    column (what search and has-availability read) as its status."""
    res = renderer.resource("Slot", source_id, raw, updated_ms, aggregate_id(src.id, source_id, start_ms))
    res["status"] = status
    res["schedule"] = {
        **(res.get("schedule") or {}),
        "reference": f"Schedule/{aggregate_id(src.id, schedule_source_id)}",
    }
    res["schedule"].pop("identifier", None)
    res["schedule"].pop("type", None)
    return res


def _slot_lines(conn: Connection, src: SourcePublisher, renderer: _Renderer, since_ms: int | None) -> Iterator[Line]:
    s = t.slot.c
    query = (
        select(s.source_id, s.resource, s.updated_ms, s.start_ms, s.schedule_source_id, s.status)
        .where(src.live(t.slot))
        .order_by(s.start_ms, s.pk)
    )
    if since_ms is not None:
        query = query.where(s.updated_ms > since_ms)
    schedules = src.ids["Schedule"]
    for row in conn.execution_options(yield_per=5000).execute(query):
        if row.schedule_source_id not in schedules:
            continue  # its Schedule is not published: a client could not use it
        res = _slot_resource(
            src, renderer, row.source_id, row.resource, row.updated_ms, row.start_ms, row.schedule_source_id, row.status
        )
        state = src.schedule_state.get(row.schedule_source_id)
        name = _file_name("slots", state, _slot_week(res.get("start"), row.start_ms))
        yield "Slot", name, state, _dumps(res)


def descriptive_resources(
    conn: Connection, src: SourcePublisher, *, now_ms: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every descriptive resource of one publisher as (type, FHIR JSON), exactly as the full aggregate
    publishes it (the same lines, decoded), in publication order."""
    for type_name, _, _, line in _descriptive_lines(conn, src, _Renderer(src, now_ms), None):
        yield type_name, orjson.loads(line)


#: Renders one Slot row: (source id, stored resource, updated_ms, start_ms, schedule source id, status).
SlotRenderer = Callable[[str, str, int, int, str, str], dict[str, Any]]


def slot_renderer(src: SourcePublisher, *, now_ms: int) -> SlotRenderer:
    """A function rendering one of `src`'s Slot rows as the full aggregate publishes it (the same
    rewriting as `_slot_lines`); only for Slots whose Schedule the aggregate publishes."""
    renderer = _Renderer(src, now_ms)

    def render(
        source_id: str, raw: str, updated_ms: int, start_ms: int, schedule_source_id: str, status: str
    ) -> dict[str, Any]:
        return _slot_resource(src, renderer, source_id, raw, updated_ms, start_ms, schedule_source_id, status)

    return render


def iter_lines(
    conn: Connection, sources: list[SourcePublisher], *, now_ms: int, since_ms: int | None = None
) -> Iterator[Line]:
    """Every line of the aggregate as (type, file name, state, line), publisher by publisher.

    Without `since_ms`: the full data set. With it: resources whose row changed after that instant,
    and the Schedules whose derived status may have changed (see `routes_aggregate` for the contract).
    """
    for src in sources:
        renderer = _Renderer(src, now_ms)
        yield from _descriptive_lines(conn, src, renderer, since_ms)
        yield from _slot_lines(conn, src, renderer, since_ms)


def write_files(
    conn: Connection,
    sources: list[SourcePublisher],
    opener: Opener | None,
    *,
    now_ms: int,
    since_ms: int | None = None,
) -> list[AggregateFile]:
    """Writes every line through `opener(name)` and returns the files in manifest order; with no
    opener, only counts what would be written (for a `_since` manifest)."""
    files: dict[str, AggregateFile] = {}
    handles: dict[str, IO[bytes]] = {}
    try:
        for type_name, name, state, line in iter_lines(conn, sources, now_ms=now_ms, since_ms=since_ms):
            out = files.get(name)
            if out is None:
                out = files[name] = AggregateFile(type_name, name)
                if opener is not None:
                    handles[name] = opener(name)
            if state:
                out.states.add(state)
            out.count += 1
            if opener is not None:
                handles[name].write(line)
    finally:
        for handle in handles.values():
            handle.close()
    all_states = set().union(*(f.states for f in files.values()))
    for out in files.values():
        # A file tied to no state (Practitioners, virtual services) serves every state published.
        if not out.states:
            out.states = set(all_states)
    return sorted(files.values(), key=lambda f: (TYPE_ORDER[f.type], f.name))


def manifest_bytes(
    files: list[AggregateFile], transaction_ms: int, base_url: str, *, since: str | None = None, file_query: str = ""
) -> bytes:
    """The aggregate's `$bulk-publish` manifest, with absolute URLs under `base_url` (spec "Bulk Publication")."""
    base = base_url.rstrip("/")
    manifest = {
        "transactionTime": ms_to_instant(transaction_ms),
        "request": f"{base}/$bulk-publish" + (f"?_since={since}" if since else ""),
        "output": [
            {"type": f.type, "url": f"{base}/{f.name}{file_query}", "extension": {"state": sorted(f.states)}}
            for f in files
        ],
        "error": [],
    }
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"

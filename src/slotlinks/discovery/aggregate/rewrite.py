"""One publisher's resource rewritten as the aggregate publishes it (spec "Slot Aggregators").

What the spec recommends of aggregators:

- new ids, unique per type and stable across syncs: derived from our publisher id and the source id
  (plus the start for Slots, since feeds reuse slot ids), see `aggregate_id`;
- every reference rewritten to the new ids; a reference to something the aggregate does not publish
  (an Organization, a missing actor) becomes a logical reference (`identifier` + `type`), so every
  literal reference resolves within the aggregate;
- the source's id kept in `identifier` (system: the publisher's manifest URL; not on a Practitioner
  that has an identifier already, which the 2026 profile allows one of), `meta.source` pointing at
  the source resource (manifest base + `Type/id`), `meta.lastUpdated` when we last stored a change;
- the `lastSourceSync` meta extension: when the publisher's data was last known accurate;
- on Schedules, `has-availability`: `some` (free future slots), `none`, or `unknown` while the publisher
  is failing (its last sync failed, or its data is stale).
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import orjson

from slotlinks.discovery.aggregate.sources import SourcePublisher
from slotlinks.fhir.extensions import HAS_AVAILABILITY, LAST_SOURCE_SYNC
from slotlinks.fhir.ids import InvalidReference, is_valid_id, parse_reference
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms, ms_to_instant

__all__ = ["Rewriter", "aggregate_id"]

# Types whose profile allows one identifier (the 2026 Practitioner profile: its NPI).
_ONE_IDENTIFIER = frozenset({"Practitioner"})
# A tuple, not `dict | list`: that expression builds a union at each evaluation, once per JSON value.
_CONTAINERS = (dict, list)


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


class Rewriter:
    """Rewrites one publisher's resources as the aggregate publishes them, as of `now_ms`."""

    def __init__(self, src: SourcePublisher, now_ms: int) -> None:
        self.src = src
        self.now_ms = now_ms
        self.base = src.base
        self.sync = ms_to_instant(src.last_success_ms) if src.last_success_ms is not None else None
        self._ids: dict[str, str] = {}  # source id -> aggregate id, of referenced resources

    def new_id(self, source_id: str) -> str:
        """The aggregate's id of this publisher's resource `source_id` (not a Slot's: see `aggregate_id`),
        remembered: every Slot names its Schedule."""
        known = self._ids.get(source_id)
        if known is None:
            known = self._ids[source_id] = aggregate_id(self.src.id, source_id)
        return known

    def reference(self, ref: dict[str, Any]) -> None:
        """Points a Reference at the aggregate's id, or makes it logical when the aggregate does not
        publish its target (contained `#` references are left alone)."""
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
            ref["reference"] = f"{parsed.type}/{self.new_id(parsed.id)}"
            return
        # Not published by the aggregate: a logical reference names it without claiming to resolve.
        del ref["reference"]
        ref.setdefault("type", parsed.type)
        ref.setdefault("identifier", {"system": self.src.url, "value": parsed.id})

    def walk(self, node: Any) -> None:
        """Rewrites every Reference inside `node`, identifiers excepted."""
        if isinstance(node, dict):
            if "reference" in node:
                self.reference(node)
            for key, value in node.items():
                if key != "identifier" and isinstance(value, _CONTAINERS):
                    self.walk(value)
        elif isinstance(node, list):
            for item in node:
                self.walk(item)

    def resource(self, type_name: str, source_id: str, raw: str, updated_ms: int, new_id: str) -> dict[str, Any]:
        """A stored resource as the aggregate publishes it: `new_id`, references rewritten, the source id
        in `identifier`, and `meta` with `lastUpdated`, `source` and `lastSourceSync`."""
        res: dict[str, Any] = orjson.loads(raw)
        res["id"] = new_id
        self.walk(res)
        ours = {"system": self.src.url, "value": source_id}
        identifiers = [i for i in res.get("identifier") or [] if i != ours]
        if not (identifiers and type_name in _ONE_IDENTIFIER):
            identifiers.append(ours)
        res["identifier"] = identifiers
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
        """Sets a Schedule's `has-availability` extension (replacing the publisher's, if any)."""
        extensions = [e for e in res.get("extension") or [] if e.get("url") != HAS_AVAILABILITY]
        res["extension"] = [*extensions, {"url": HAS_AVAILABILITY, "valueCode": self.availability(source_id)}]

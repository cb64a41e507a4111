"""What a resource check is given: the resource's facts, worked out once, and what earlier files published.

Specification, Location/Schedule/Slot (and 2026 PractitionerRole, HealthcareService, Practitioner)
File sections: Slots reference Schedules, Schedules reference Locations (or roles and services that
name Locations). Files are read in dependency order (places and roles, then Schedules, then Slots),
so `Published` can resolve references as later files stream past; it keeps only ids and the small
Location/Schedule facts the time zone check needs, never a file. When a file was only sampled
(`--max-lines`), a reference into its type can be neither confirmed nor refuted: the check that
asked is left unverified, and the run skips it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slotlinks.conformance.profiles import Profile
from slotlinks.conformance.registry import Check
from slotlinks.conformance.zones import zones_for
from slotlinks.errors import Issue
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.ids import InvalidReference, ParsedReference, parse_reference
from slotlinks.fhir.instant import InvalidInstant, parse_instant
from slotlinks.fhir.resources import HealthcareService, Location, PractitionerRole, Resource, Schedule, Slot
from slotlinks.fhir.validate import validate_resource

__all__ = ["Facts", "Published"]


class Published:
    """What later files need from earlier ones: ids per type, and where each Schedule is."""

    def __init__(self) -> None:
        self.ids: dict[str, set[str]] = defaultdict(set)
        self.complete: dict[str, bool] = {}
        self.location_zones: dict[str, tuple[str, ...]] = {}
        self.places: dict[str, list[str]] = {}  # PractitionerRole/HealthcareService id -> Location ids
        self.schedule_zones: dict[str, tuple[str, ...]] = {}
        self.vtrcks_seen = False
        #: Checks that met a reference into a sampled type (the run skips them).
        self.unverified: set[Check] = set()

    def published(self, rtype: str) -> bool | None:
        """True when every file of `rtype` was read whole, None when one was sampled."""
        state = self.complete.get(rtype)
        return True if state is None else (state or None)

    def resolves(self, rtype: str, rid: str, check: Check) -> bool | None:
        """True/False when `rtype` files were read whole; None (`check` left unverified) when sampled."""
        if rid in self.ids.get(rtype, ()):
            return True
        if self.published(rtype) is None:
            self.unverified.add(check)
            return None
        return False

    def record(self, resource: Resource) -> None:
        """Remember what later files may point at: the id, and for places and Schedules their zones."""
        self.ids[type(resource).__name__].add(resource.id)
        if isinstance(resource, Location):
            state = resource.address.state if resource.address else None
            self.location_zones[resource.id] = zones_for(state, ext.location_timezone(resource))
            if any(i.system == ext.VTRCKS and i.value for i in resource.identifier):
                self.vtrcks_seen = True
        elif isinstance(resource, PractitionerRole | HealthcareService):
            self.places[resource.id] = _location_ids(resource.location)
        elif isinstance(resource, Schedule):
            self.schedule_zones[resource.id] = self._zones_of(resource)

    def _zones_of(self, schedule: Schedule) -> tuple[str, ...]:
        """The zones of the Locations a Schedule names, directly or else through roles and services."""
        direct = _location_ids(schedule.actor)
        places = direct or [loc for a in schedule.actor for loc in self.places.get(_ref_id(a.reference), [])]
        zones: list[str] = []
        for place in places:
            zones += [z for z in self.location_zones.get(place, ()) if z not in zones]
        return tuple(zones)


@dataclass(slots=True)  # not frozen: a frozen dataclass costs 1 µs more per line to build
class Facts:
    """One decoded resource as its checks see it: where it is, the profile, what was published
    before it, the kernel validator's issues, and for a Slot its parsed times, extension URLs and
    Schedule reference (None where unreadable: another check reports that). Checks only read it.
    """

    where: str
    profile: Profile
    published: Published
    issues: list[Issue]
    start: datetime | None = None
    end: datetime | None = None
    #: The Slot's extension URLs, counting those dropped for a wrongly typed value (already reported).
    extension_urls: AbstractSet[str] = frozenset()
    schedule: ParsedReference | None = None

    @classmethod
    def of(
        cls, resource: Resource, where: str, profile: Profile, published: Published, bad_extensions: frozenset[str]
    ) -> Facts:
        """Work out, once, what several checks of `resource` read."""
        issues = validate_resource(resource)
        if not isinstance(resource, Slot):
            return cls(where, profile, published, issues)
        # Unreadable values are None here, and reported by `resource.fhir-valid`. (Inline rather than
        # in helpers: this runs for every Slot.)
        try:
            schedule: ParsedReference | None = parse_reference(resource.schedule.reference or "", expected="Schedule")
        except InvalidReference:
            schedule = None
        try:
            start: datetime | None = parse_instant(resource.start)
        except InvalidInstant:
            start = None
        try:
            end: datetime | None = parse_instant(resource.end)
        except InvalidInstant:
            end = None
        urls = {e.url for e in resource.extension} | bad_extensions
        return cls(where, profile, published, issues, start, end, urls, schedule)


def _ref_id(reference: str | None) -> str:
    try:
        return parse_reference(reference or "").id
    except InvalidReference:
        return ""


def _location_ids(refs: list[Any]) -> list[str]:
    out = []
    for ref in refs:
        try:
            parsed = parse_reference(ref.reference or "")
        except InvalidReference:
            continue
        if parsed.type == "Location":
            out.append(parsed.id)
    return out

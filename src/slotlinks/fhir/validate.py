"""Checks beyond what the msgspec schema expresses, reported as OperationOutcome-shaped issues.

The Structs already enforce types, required fields, instant and id patterns and `Slot.status` on
decode. Here: rules that relate fields or read inside strings (specification "Slot File": start
before end, `schedule.reference` is `Schedule/<id>`; "Schedule File": actors are Location,
PractitionerRole, Practitioner or HealthcareService; each extension's value type), and the same
pattern checks again for resources built in code, which msgspec does not validate on construction.
Expressions are FHIRPath-like: `Slot.end`, `Schedule.actor[1].reference`, `Slot.extension[2].valueUrl`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from slotlinks.errors import InvalidInput, Issue, raise_invalid
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.ids import InvalidReference, is_valid_id, parse_reference
from slotlinks.fhir.instant import DATETIME_PATTERN, InvalidInstant, parse_instant
from slotlinks.fhir.ndjson import MAX_NESTING_DEPTH, nests_too_deeply, split_error_path
from slotlinks.fhir.resources import (
    RESOURCE_DECODER,
    RESOURCE_TYPES,
    AnyResource,
    Extension,
    HealthcareService,
    Location,
    PractitionerRole,
    Reference,
    Resource,
    Schedule,
    Slot,
    SlotStatus,
)
from slotlinks.fhir.urls import MAX_BOOKING_LINK_CHARS, is_booking_link

__all__ = ["SCHEDULE_ACTOR_TYPES", "decode_and_validate", "validate_resource"]

#: What a Schedule's actors may be (2021: Location; 2026 IG adds the other three).
SCHEDULE_ACTOR_TYPES = frozenset({"Location", "PractitionerRole", "Practitioner", "HealthcareService"})

_ORG = frozenset({"Organization"})
_LOCATION = frozenset({"Location"})
_SLOT_STATUSES = frozenset(get_args(SlotStatus))
_DATETIME_RE = re.compile(DATETIME_PATTERN)
_VALUE_FIELDS = tuple(f for f in Extension.__struct_fields__ if f.startswith("value"))

# Where each known extension belongs; elsewhere it is a warning, not an error (it may still be useful).
_CONTEXT = {
    ext.BOOKING_DEEP_LINK: "Slot",
    ext.BOOKING_PHONE: "Slot",
    ext.SLOT_CAPACITY: "Slot",
    ext.VACCINE_PRODUCT: "Schedule",
    ext.VACCINE_DOSE: "Schedule",
    ext.SPECIALTY: "Schedule",
    ext.HAS_AVAILABILITY: "Schedule",
    ext.TIMEZONE: "Location",
    ext.LAST_SOURCE_SYNC: "meta",
}


class _Report:
    """Collects issues under one resource type's name."""

    def __init__(self, rtype: str) -> None:
        self.rtype = rtype
        self.issues: list[Issue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(Issue(message, expression=(f"{self.rtype}.{path}",)))

    def warning(self, path: str, message: str) -> None:
        self.issues.append(Issue(message, severity="warning", expression=(f"{self.rtype}.{path}",)))

    def instant(self, path: str, text: str | None) -> datetime | None:
        if text is None:
            return None
        try:
            return parse_instant(text)
        except InvalidInstant as exc:
            self.error(path, str(exc))
            return None

    def reference(self, path: str, ref: Reference | None, allowed: frozenset[str], *, required: bool) -> None:
        if ref is None or ref.reference is None:
            if required:
                self.error(f"{path}.reference", f"a reference to a {' or '.join(sorted(allowed))} is required")
            return
        try:
            parsed = parse_reference(ref.reference)
        except InvalidReference as exc:
            self.error(f"{path}.reference", str(exc))
            return
        if parsed.type not in allowed:
            self.error(
                f"{path}.reference",
                f"reference {ref.reference!r} points at a {parsed.type}, expected a {' or '.join(sorted(allowed))}",
            )

    def references(self, path: str, refs: Sequence[Reference], allowed: frozenset[str]) -> None:
        for i, ref in enumerate(refs):
            self.reference(f"{path}[{i}]", ref, allowed, required=False)


def validate_resource(resource: Resource) -> list[Issue]:
    """Every problem the schema does not catch, as issues (empty when the resource is valid).

    Errors break the specification or FHIR R4; warnings flag a known extension out of its place.
    """
    report = _Report(type(resource).__name__)
    if not is_valid_id(resource.id):
        report.error("id", f"id {resource.id!r} is not 1-64 characters from A-Z a-z 0-9 - .")
    if resource.meta is not None:
        report.instant("meta.lastUpdated", resource.meta.lastUpdated)
        _check_extensions(report, "meta.extension", resource.meta.extension, "meta")
    _check_extensions(report, "extension", resource.extension, report.rtype)
    if isinstance(resource, Slot):
        _check_slot(report, resource)
    elif isinstance(resource, Schedule):
        _check_schedule(report, resource)
    elif isinstance(resource, Location):
        _check_location(report, resource)
    elif isinstance(resource, PractitionerRole):
        _check_practitioner_role(report, resource)
    elif isinstance(resource, HealthcareService):
        _check_healthcare_service(report, resource)
    return report.issues


def _check_slot(report: _Report, slot: Slot) -> None:
    if slot.status not in _SLOT_STATUSES:
        report.error("status", f"status {slot.status!r} is not one of {', '.join(sorted(_SLOT_STATUSES))}")
    start = report.instant("start", slot.start)
    end = report.instant("end", slot.end)
    if start is not None and end is not None and end <= start:
        report.error("end", f"Slot.end {slot.end} is not after Slot.start {slot.start}")
    report.reference("schedule", slot.schedule, frozenset({"Schedule"}), required=True)


def _check_schedule(report: _Report, schedule: Schedule) -> None:
    if not schedule.actor:
        report.error("actor", "a Schedule needs at least one actor")
    for i, actor in enumerate(schedule.actor):
        report.reference(f"actor[{i}]", actor, SCHEDULE_ACTOR_TYPES, required=True)


def _check_location(report: _Report, location: Location) -> None:
    report.reference("managingOrganization", location.managingOrganization, _ORG, required=False)
    report.reference("partOf", location.partOf, _LOCATION, required=False)
    if location.position is not None:
        if not -90 <= location.position.latitude <= 90:
            report.error("position.latitude", f"latitude {location.position.latitude} is outside -90..90")
        if not -180 <= location.position.longitude <= 180:
            report.error("position.longitude", f"longitude {location.position.longitude} is outside -180..180")


def _check_practitioner_role(report: _Report, role: PractitionerRole) -> None:
    report.reference("practitioner", role.practitioner, frozenset({"Practitioner"}), required=False)
    report.reference("organization", role.organization, _ORG, required=False)
    report.references("location", role.location, _LOCATION)
    report.references("healthcareService", role.healthcareService, frozenset({"HealthcareService"}))


def _check_healthcare_service(report: _Report, service: HealthcareService) -> None:
    report.reference("providedBy", service.providedBy, _ORG, required=False)
    report.references("location", service.location, _LOCATION)


def _check_extensions(report: _Report, path: str, extensions: Sequence[Extension], where: str) -> None:
    for i, extension in enumerate(extensions):
        here = f"{path}[{i}]"
        present = [f for f in _VALUE_FIELDS if getattr(extension, f) is not None]
        if len(present) > 1:
            report.error(here, f"extension {extension.url} has several values: {', '.join(present)}")
        if not present and not extension.extension:
            report.error(here, f"extension {extension.url} has neither a value nor nested extensions")
        expected = ext.EXPECTED_VALUE_FIELD.get(extension.url)
        if expected is None:
            continue
        if expected not in present:
            report.error(f"{here}.{expected}", f"extension {extension.url} requires {expected}")
            continue
        context = _CONTEXT[extension.url]
        if context != where:
            report.warning(here, f"extension {extension.url} is defined for {context}, not {where}")
        _check_value(report, f"{here}.{expected}", extension.url, getattr(extension, expected))


def _check_value(report: _Report, path: str, url: str, value: Any) -> None:
    if url == ext.SLOT_CAPACITY and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        report.error(path, f"slot-capacity must be a non-negative integer, got {value!r}")
    elif url == ext.VACCINE_DOSE and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        report.error(path, f"vaccine-dose must be a positive integer, got {value!r}")
    elif url == ext.BOOKING_DEEP_LINK:
        if not is_booking_link(value):
            shown = repr(value[:100]) + ("..." if len(value) > 100 else "")
            report.error(
                path,
                "booking-deep-link must be an absolute http(s) URL without user-info, "
                f"at most {MAX_BOOKING_LINK_CHARS} characters long, got {shown}",
            )
    elif url == ext.BOOKING_PHONE and not value.strip():
        report.error(path, "booking-phone must not be blank")
    elif url == ext.HAS_AVAILABILITY and value not in ext.HAS_AVAILABILITY_CODES:
        codes = ", ".join(sorted(ext.HAS_AVAILABILITY_CODES))
        report.error(path, f"has-availability must be one of {codes}, got {value!r}")
    elif url == ext.LAST_SOURCE_SYNC and not _DATETIME_RE.fullmatch(value):
        report.error(path, f"lastSourceSync must be a FHIR dateTime, got {value!r}")
    elif url == ext.TIMEZONE and not _is_time_zone(value):
        report.error(path, f"timezone must be an IANA time zone name, got {value!r}")


def _is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class _Peek(msgspec.Struct):
    resourceType: str | None = None  # noqa: N815


def _expression(json_path: str, line: bytes | str) -> str:
    """`$.extension[1].valueInteger` -> `Slot.extension[1].valueInteger`, when the type is readable."""
    try:
        rtype = msgspec.json.decode(line, type=_Peek).resourceType
    except (msgspec.MsgspecError, UnicodeDecodeError):
        return json_path
    if rtype not in RESOURCE_TYPES:
        return json_path
    return rtype + json_path[1:]


def decode_and_validate(line: bytes | str) -> AnyResource:
    """Decode one resource of any of the six types and run `validate_resource` on it.

    Raises `InvalidInput` carrying every issue (with its expression) when decoding fails or any
    error is found; warnings alone do not fail. This is the admin API's entry point for one resource.
    """
    raw = line.encode(errors="replace") if isinstance(line, str) else line
    if nests_too_deeply(raw):
        raise InvalidInput(f"the resource is nested more than {MAX_NESTING_DEPTH} levels deep")
    try:
        resource = RESOURCE_DECODER.decode(line)
    except msgspec.ValidationError as exc:
        path, message = split_error_path(str(exc))
        raise InvalidInput(message, expression=(_expression(path, line),)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"not valid JSON: {exc}") from None
    issues = validate_resource(resource)
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    raise_invalid(errors, issues=issues)
    return resource

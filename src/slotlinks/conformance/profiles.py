"""The two profiles a publication is checked against, and the checks that read one resource.

`vaccine`: the 2021 specification (smart-on-fhir/smart-scheduling-links specification.md) with the
Inferno test kit's profiles vaccine-location, vaccine-schedule and vaccine-slot: Location, Schedule and
Slot files only; Slot status `free` | `busy`; a VTrckS PIN; booking link and phone SHOULD.
`general` (default): the 2026 HL7 IG draft: PractitionerRole, HealthcareService and Practitioner files
too, `busy-tentative` and `busy-unavailable`, virtual services, no VTrckS.

Each function below runs every check that concerns one resource and reports through `emit`; checks
the active profile does not run are dropped by `Results`, so the functions need not know the profile
except where the same check judges differently (Slot status).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from slotlinks.fhir import extensions as ext
from slotlinks.fhir.instant import InvalidInstant, parse_instant
from slotlinks.fhir.resources import Location, PractitionerRole, Schedule, Slot
from slotlinks.fhir.urls import is_http_url as is_absolute_http

__all__ = [
    "GENERAL",
    "PROFILES",
    "VACCINE",
    "Emit",
    "Profile",
    "check_location",
    "check_practitioner_role",
    "check_schedule",
    "check_slot",
    "is_absolute_http",
    "is_virtual",
]

#: `emit(check_id, message)`: the caller knows where (file:line) the resource is.
Emit = Callable[[str, str], None]

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
# A VTrckS PIN is a short code (real ones: 6-10 letters and digits; the spec's examples use
# `fake-vtrcks-pin-00`). What is not a PIN is prose: spaces, or nothing at all.
_VTRCKS_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]{2,39}")
_NPI = re.compile(r"[12][0-9]{9}")


@dataclass(frozen=True, slots=True)
class Profile:
    """What a profile allows: Slot statuses, the output types clients know, the types required."""

    name: str
    slot_statuses: frozenset[str]
    known_types: tuple[str, ...]
    required_types: tuple[str, ...]


VACCINE = Profile(
    name="vaccine",
    slot_statuses=frozenset({"free", "busy"}),
    known_types=("Location", "Schedule", "Slot"),
    required_types=("Location", "Schedule", "Slot"),
)
GENERAL = Profile(
    name="general",
    slot_statuses=frozenset({"free", "busy", "busy-tentative", "busy-unavailable"}),
    known_types=("Location", "PractitionerRole", "HealthcareService", "Practitioner", "Schedule", "Slot"),
    required_types=("Schedule", "Slot"),
)
PROFILES: dict[str, Profile] = {p.name: p for p in (GENERAL, VACCINE)}


def is_virtual(location: Location) -> bool:
    """A telehealth Location (2026 "Location File": virtualService, or physicalType `vi`)."""
    if location.virtualService:
        return True
    physical = location.physicalType
    return physical is not None and any(c.code == "vi" for c in physical.coding)


def check_location(location: Location, emit: Emit) -> None:
    """vaccine-location (2021) and the 2026 Location File rules."""
    address = location.address
    # vaccine-location: name 1.., telecom 1..*, phone/url entries with a value, full address.
    missing = [] if location.name else ["name"]
    if not location.telecom:
        missing.append("telecom")
    if address is None:
        missing.append("address")
    else:
        missing += [f"address.{f}" for f in ("line", "city", "state", "postalCode") if not getattr(address, f)]
    if missing:
        emit("location.vaccine-profile", f"Location/{location.id} lacks {', '.join(missing)}")
    for i, telecom in enumerate(location.telecom):
        if telecom.system in ("phone", "url") and not telecom.value:
            emit("location.vaccine-profile", f"Location/{location.id} telecom[{i}] ({telecom.system}) has no value")
    systems = {t.system for t in location.telecom}
    if not {"phone", "url"} <= systems:
        lacking = " and ".join(s for s in ("phone", "url") if s not in systems)
        emit("location.phone-and-url", f"Location/{location.id} has no {lacking} telecom")
    for identifier in location.identifier:
        if identifier.system == ext.VTRCKS and not _VTRCKS_PIN.fullmatch(identifier.value or ""):
            emit("location.vtrcks-pin-format", f"VTrckS value {identifier.value!r} does not look like a PIN")
    # 2026: address required; physical places SHOULD give a full postal address.
    if address is None:
        emit("location.address", f"Location/{location.id} has no address")
    elif not is_virtual(location):
        partial = [f for f in ("line", "city", "state", "postalCode") if not getattr(address, f)]
        if partial:
            emit("location.address-complete", f"Location/{location.id} address lacks {', '.join(partial)}")
    for i, service in enumerate(location.virtualService):
        if not (
            service.addressUrl
            or service.addressString
            or service.addressContactPoint
            or service.addressExtendedContactDetail
        ):
            emit("location.virtual-service", f"Location/{location.id} virtualService[{i}] gives no address[x]")
        elif service.addressUrl is not None and not is_absolute_http(service.addressUrl):
            emit(
                "location.virtual-service",
                f"virtualService[{i}].addressUrl {service.addressUrl!r} is not absolute http(s)",
            )


def check_schedule(schedule: Schedule, emit: Emit) -> None:
    """vaccine-schedule (2021): one Location actor, the C19 service type, vaccine-product rules."""
    actors = [a.reference or "" for a in schedule.actor]
    if len(actors) != 1 or not actors[0].startswith("Location/"):
        emit("schedule.vaccine-actor", f"Schedule/{schedule.id} actors {actors} are not exactly one Location")
    _check_c19_service_type(schedule, emit)
    products = ext.find_extensions(schedule, ext.VACCINE_PRODUCT)
    for product in products:
        coding = product.valueCoding
        if coding is None:
            continue  # a missing/wrong value[x] is `extension.value-type`
        if coding.system != ext.CVX or not coding.code or not coding.display:
            emit(
                "schedule.vaccine-product",
                f"Schedule/{schedule.id} vaccine-product {coding.system}|{coding.code} "
                "needs system http://hl7.org/fhir/sid/cvx, code and display",
            )
    if len(products) > 1:
        emit(
            "schedule.vaccine-product-repeat", f"Schedule/{schedule.id} has {len(products)} vaccine-product extensions"
        )


def _check_c19_service_type(schedule: Schedule, emit: Emit) -> None:
    codings = [c for concept in schedule.serviceType for c in concept.coding]
    c19 = [c for c in codings if c.code == "covid19-immunization"]
    immunization = any(c.system == ext.HL7_SERVICE_TYPE and c.code == "57" for c in codings)
    wrong = [c for c in c19 if c.system != ext.SMART_SERVICE_TYPE]
    if wrong:
        emit(
            "schedule.vaccine-service-type",
            f"covid19-immunization coding's system is not {ext.SMART_SERVICE_TYPE} (got {wrong[0].system})",
        )
    elif not c19 or not immunization:
        lacking = [n for n, ok in (("57 Immunization", immunization), ("covid19-immunization", bool(c19))) if not ok]
        emit("schedule.vaccine-service-type", f"Schedule/{schedule.id} serviceType lacks {' and '.join(lacking)}")


def check_slot(slot: Slot, profile: Profile, emit: Emit, *, bad_extensions: frozenset[str] = frozenset()) -> None:
    """Slot File rules of both versions, and vaccine-slot's warnings.

    `bad_extensions`: URLs of extensions dropped for a wrong value type (already reported); they
    still count as present for the "has a booking link / capacity" warnings.
    """
    if slot.status not in profile.slot_statuses:
        allowed = " | ".join(sorted(profile.slot_statuses))
        emit("slot.status", f"Slot/{slot.id} status {slot.status!r} is not {allowed}")
    link = ext.booking_deep_link(slot)
    if link is not None and not is_absolute_http(link):
        emit("slot.booking-link-url", f"booking-deep-link {link!r} is not an absolute http(s) URL")
    present = {e.url for e in slot.extension} | bad_extensions
    if ext.BOOKING_DEEP_LINK not in present:
        emit("slot.booking-link", f"Slot/{slot.id} has no booking-deep-link")
    if ext.BOOKING_PHONE not in present:
        emit("slot.booking-phone", f"Slot/{slot.id} has no booking-phone")
    try:
        start, end = parse_instant(slot.start), parse_instant(slot.end)
    except InvalidInstant:
        return  # reported by `resource.fhir-valid`
    if end <= start:
        emit("slot.start-before-end", f"Slot/{slot.id} start {slot.start} is not before end {slot.end}")
        return
    span = f"{slot.start} to {slot.end}"
    if end - start > _HOUR:
        emit("slot.narrow-window", f"Slot lasts over an hour: {span}")
        if ext.SLOT_CAPACITY not in present:
            emit("slot.long-without-capacity", f"Slot lasts over an hour without slot-capacity: {span}")
    if end - start > _DAY:
        emit("slot.longer-than-day", f"Slot lasts longer than a day: {span}")


def _npi_valid(value: str) -> bool:
    if not _NPI.fullmatch(value):
        return False
    total = 0
    for position, char in enumerate(reversed("80840" + value)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def check_practitioner_role(role: PractitionerRole, emit: Emit) -> None:
    """2026 "PractitionerRole File": an NPI, when given, is 10 digits with a valid check digit."""
    for identifier in role.identifier:
        if identifier.system == ext.NPI and not _npi_valid(identifier.value or ""):
            emit("practitioner-role.npi", f"PractitionerRole/{role.id} NPI {identifier.value!r} is not a valid NPI")

"""Checks of the 2021 vaccine profiles (`--profile vaccine`): Inferno's vaccine-location,
vaccine-schedule and vaccine-slot.

Specification (2021, smart-on-fhir/smart-scheduling-links specification.md), "Location File": a
name, a phone and a URL telecom, a full address and a VTrckS PIN identifier; "Schedule File": one
Location actor, the COVID-19 immunization service type and at most one CVX vaccine-product; "Slot
File": a booking-deep-link and a booking-phone SHOULD be given, and a Slot over an hour SHOULD say
its capacity.
"""

from __future__ import annotations

import re

from slotlinks.conformance.checks.slots import HOUR
from slotlinks.conformance.facts import Facts
from slotlinks.conformance.registry import ONLY_VACCINE, Fail, check, resource_check
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import Location, Schedule, Slot

__all__ = [
    "booking_link",
    "booking_phone",
    "long_without_capacity",
    "phone_and_url",
    "vaccine_actor",
    "vaccine_location",
    "vaccine_product",
    "vaccine_product_repeat",
    "vaccine_service_type",
    "vtrcks",
    "vtrcks_pin_format",
]

# A VTrckS PIN is a short code (real ones: 6-10 letters and digits; the spec's examples use
# `fake-vtrcks-pin-00`). What is not a PIN is prose: spaces, or nothing at all.
_VTRCKS_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]{2,39}")


@resource_check(
    Location,
    "location.vaccine-profile",
    "required",
    "Location File (2021)",
    "Location has name, telecom and address line/city/state/postalCode",
    profiles=ONLY_VACCINE,
)
def vaccine_location(fail: Fail, location: Location, facts: Facts) -> None:
    """vaccine-location: name 1.., telecom 1..*, phone/url entries with a value, a full address."""
    address = location.address
    missing = [] if location.name else ["name"]
    if not location.telecom:
        missing.append("telecom")
    if address is None:
        missing.append("address")
    else:
        missing += [f"address.{f}" for f in ("line", "city", "state", "postalCode") if not getattr(address, f)]
    if missing:
        fail(facts.where, f"Location/{location.id} lacks {', '.join(missing)}")
    for i, telecom in enumerate(location.telecom):
        if telecom.system in ("phone", "url") and not telecom.value:
            fail(facts.where, f"Location/{location.id} telecom[{i}] ({telecom.system}) has no value")


@resource_check(
    Location,
    "location.phone-and-url",
    "recommended",
    "Location File (2021)",
    "Location has a phone and a URL telecom (vaccine-location-1)",
    profiles=ONLY_VACCINE,
)
def phone_and_url(fail: Fail, location: Location, facts: Facts) -> None:
    """vaccine-location-1: a phone and a URL among the telecoms."""
    systems = {t.system for t in location.telecom}
    if not {"phone", "url"} <= systems:
        lacking = " and ".join(s for s in ("phone", "url") if s not in systems)
        fail(facts.where, f"Location/{location.id} has no {lacking} telecom")


@check(
    "location.vtrcks",
    "required",
    "Location File (2021)",
    "At least one Location has a VTrckS PIN identifier",
    profiles=ONLY_VACCINE,
)
def vtrcks(fail: Fail, locations_read: int, pin_seen: bool) -> None:
    """Once every file is read: some Location carried a VTrckS identifier with a value."""
    if locations_read and not pin_seen:
        fail("Location files", "No Locations included a VTrckS PIN.")


@resource_check(
    Location,
    "location.vtrcks-pin-format",
    "info",
    "Location File (2021)",
    "VTrckS identifier values look like PINs",
    profiles=ONLY_VACCINE,
)
def vtrcks_pin_format(fail: Fail, location: Location, facts: Facts) -> None:
    """A VTrckS identifier's value is a short code, not prose."""
    for identifier in location.identifier:
        if identifier.system == ext.VTRCKS and not _VTRCKS_PIN.fullmatch(identifier.value or ""):
            fail(facts.where, f"VTrckS value {identifier.value!r} does not look like a PIN")


@resource_check(
    Schedule,
    "schedule.vaccine-actor",
    "required",
    "Schedule File (2021)",
    "Schedule has exactly one actor, a Location",
    profiles=ONLY_VACCINE,
)
def vaccine_actor(fail: Fail, schedule: Schedule, facts: Facts) -> None:
    """vaccine-schedule: exactly one actor, and it is a Location."""
    actors = [a.reference or "" for a in schedule.actor]
    if len(actors) != 1 or not actors[0].startswith("Location/"):
        fail(facts.where, f"Schedule/{schedule.id} actors {actors} are not exactly one Location")


@resource_check(
    Schedule,
    "schedule.vaccine-service-type",
    "required",
    "Schedule File (2021)",
    "serviceType has 57 Immunization and covid19-immunization",
    profiles=ONLY_VACCINE,
)
def vaccine_service_type(fail: Fail, schedule: Schedule, facts: Facts) -> None:
    """serviceType codes HL7 `57` (Immunization) and SMART `covid19-immunization` in its own system."""
    codings = [c for concept in schedule.serviceType for c in concept.coding]
    c19 = [c for c in codings if c.code == "covid19-immunization"]
    immunization = any(c.system == ext.HL7_SERVICE_TYPE and c.code == "57" for c in codings)
    wrong = [c for c in c19 if c.system != ext.SMART_SERVICE_TYPE]
    if wrong:
        fail(
            facts.where,
            f"covid19-immunization coding's system is not {ext.SMART_SERVICE_TYPE} (got {wrong[0].system})",
        )
    elif not c19 or not immunization:
        lacking = [n for n, ok in (("57 Immunization", immunization), ("covid19-immunization", bool(c19))) if not ok]
        fail(facts.where, f"Schedule/{schedule.id} serviceType lacks {' and '.join(lacking)}")


@resource_check(
    Schedule,
    "schedule.vaccine-product",
    "required",
    "Schedule File (2021)",
    "vaccine-product is a CVX Coding with code and display",
    profiles=ONLY_VACCINE,
)
def vaccine_product(fail: Fail, schedule: Schedule, facts: Facts) -> None:
    """Each vaccine-product is a CVX Coding with a code and a display."""
    for product in ext.find_extensions(schedule, ext.VACCINE_PRODUCT):
        coding = product.valueCoding
        if coding is None:
            continue  # a missing/wrong value[x] is `extension.value-type`
        if coding.system != ext.CVX or not coding.code or not coding.display:
            fail(
                facts.where,
                f"Schedule/{schedule.id} vaccine-product {coding.system}|{coding.code} "
                "needs system http://hl7.org/fhir/sid/cvx, code and display",
            )


@resource_check(
    Schedule,
    "schedule.vaccine-product-repeat",
    "recommended",
    "Schedule File (2021)",
    "vaccine-product does not repeat (vaccine-schedule-1)",
    profiles=ONLY_VACCINE,
)
def vaccine_product_repeat(fail: Fail, schedule: Schedule, facts: Facts) -> None:
    """vaccine-schedule-1: at most one vaccine-product extension."""
    products = ext.find_extensions(schedule, ext.VACCINE_PRODUCT)
    if len(products) > 1:
        fail(facts.where, f"Schedule/{schedule.id} has {len(products)} vaccine-product extensions")


@resource_check(
    Slot,
    "slot.long-without-capacity",
    "recommended",
    "Slot File (2021)",
    "Slots over an hour carry slot-capacity",
    profiles=ONLY_VACCINE,
)
def long_without_capacity(fail: Fail, slot: Slot, facts: Facts) -> None:
    """A Slot over an hour says how many people it takes."""
    long = facts.start is not None and facts.end is not None and facts.end - facts.start > HOUR
    if long and ext.SLOT_CAPACITY not in facts.extension_urls:
        fail(facts.where, f"Slot lasts over an hour without slot-capacity: {slot.start} to {slot.end}")


@resource_check(
    Slot,
    "slot.booking-link",
    "recommended",
    "Slot File (2021)",
    "Slot has a booking-deep-link (vaccine-slot-1)",
    profiles=ONLY_VACCINE,
)
def booking_link(fail: Fail, slot: Slot, facts: Facts) -> None:
    """vaccine-slot-1: a booking-deep-link (one dropped for a wrongly typed value still counts)."""
    if ext.BOOKING_DEEP_LINK not in facts.extension_urls:
        fail(facts.where, f"Slot/{slot.id} has no booking-deep-link")


@resource_check(
    Slot,
    "slot.booking-phone",
    "recommended",
    "Slot File (2021)",
    "Slot has a booking-phone (vaccine-slot-2)",
    profiles=ONLY_VACCINE,
)
def booking_phone(fail: Fail, slot: Slot, facts: Facts) -> None:
    """vaccine-slot-2: a booking-phone (one dropped for a wrongly typed value still counts)."""
    if ext.BOOKING_PHONE not in facts.extension_urls:
        fail(facts.where, f"Slot/{slot.id} has no booking-phone")

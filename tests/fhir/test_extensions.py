from __future__ import annotations

import pytest

from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import Coding, Extension, Location, Meta, Reference, Schedule, Slot


def _slot(*extensions: Extension) -> Slot:
    return Slot(
        id="s1",
        schedule=Reference(reference="Schedule/1"),
        status="free",
        start="2021-03-01T14:00:00Z",
        end="2021-03-01T14:15:00Z",
        extension=list(extensions),
    )


def _schedule(*extensions: Extension) -> Schedule:
    return Schedule(id="1", actor=[Reference(reference="Location/1")], extension=list(extensions))


_BASE = "http://fhir-registry.smarthealthit.org/StructureDefinition/"


@pytest.mark.parametrize(
    ("constant", "url"),
    [
        (ext.BOOKING_DEEP_LINK, _BASE + "booking-deep-link"),
        (ext.BOOKING_PHONE, _BASE + "booking-phone"),
        (ext.SLOT_CAPACITY, _BASE + "slot-capacity"),
        (ext.VACCINE_PRODUCT, _BASE + "vaccine-product"),
        (ext.VACCINE_DOSE, _BASE + "vaccine-dose"),
        (ext.SPECIALTY, _BASE + "specialty"),
        (ext.HAS_AVAILABILITY, _BASE + "has-availability"),
        (ext.LAST_SOURCE_SYNC, "http://hl7.org/fhir/StructureDefinition/lastSourceSync"),
        (ext.TIMEZONE, "http://hl7.org/fhir/StructureDefinition/timezone"),
        (ext.HL7_SERVICE_TYPE, "http://terminology.hl7.org/CodeSystem/service-type"),
        (ext.SMART_SERVICE_TYPE, "http://fhir-registry.smarthealthit.org/CodeSystem/service-type"),
        (ext.SNOMED_CT, "http://snomed.info/sct"),
        (ext.CVX, "http://hl7.org/fhir/sid/cvx"),
        (ext.NPI, "http://hl7.org/fhir/sid/us-npi"),
        (ext.VTRCKS, "https://cdc.gov/vaccines/programs/vtrcks"),
    ],
)
def test_urls_are_the_specs(constant: str, url: str) -> None:
    assert constant == url


def test_slot_extensions() -> None:
    slot = _slot(
        ext.make_extension(ext.BOOKING_DEEP_LINK, "https://portal.example.org/book?slot=1"),
        ext.make_extension(ext.BOOKING_PHONE, "000-000-0000"),
        ext.make_extension(ext.SLOT_CAPACITY, 100),
    )
    assert slot.extension[0].valueUrl == "https://portal.example.org/book?slot=1"
    assert slot.extension[1].valueString == "000-000-0000"
    assert slot.extension[2].valueInteger == 100
    assert ext.booking_deep_link(slot) == "https://portal.example.org/book?slot=1"
    assert ext.booking_phone(slot) == "000-000-0000"
    assert ext.slot_capacity(slot) == 100
    assert ext.extension_value(slot, ext.SLOT_CAPACITY) == 100


def test_missing_extensions_read_as_none() -> None:
    slot = _slot()
    assert ext.booking_deep_link(slot) is None
    assert ext.booking_phone(slot) is None
    assert ext.slot_capacity(slot) is None
    assert ext.extension_value(None, ext.SLOT_CAPACITY) is None
    assert ext.extension_values(slot, ext.VACCINE_DOSE) == []


def test_zero_capacity_is_not_missing() -> None:
    assert ext.slot_capacity(_slot(ext.make_extension(ext.SLOT_CAPACITY, 0))) == 0


def test_wrongly_typed_values_read_as_none() -> None:
    slot = _slot(
        Extension(url=ext.SLOT_CAPACITY, valueString="5"),
        Extension(url=ext.BOOKING_DEEP_LINK, valueInteger=3),
    )
    assert ext.slot_capacity(slot) is None
    assert ext.booking_deep_link(slot) is None
    assert ext.slot_capacity(_slot(Extension(url=ext.SLOT_CAPACITY, valueBoolean=True))) is None


def test_schedule_extensions() -> None:
    moderna = Coding(system=ext.CVX, code="207", display="Moderna COVID-19 Vaccine")
    general = Coding(system=ext.SNOMED_CT, code="394802001", display="General medicine")
    schedule = _schedule(
        ext.make_extension(ext.VACCINE_DOSE, 1),
        ext.make_extension(ext.VACCINE_DOSE, 2),
        ext.make_extension(ext.VACCINE_PRODUCT, moderna),
        ext.make_extension(ext.SPECIALTY, general),
        ext.make_extension(ext.HAS_AVAILABILITY, "some"),
    )
    assert ext.vaccine_doses(schedule) == [1, 2]
    assert ext.vaccine_products(schedule) == [moderna]
    assert ext.specialty(schedule) == general
    assert ext.has_availability(schedule) == "some"
    assert schedule.extension[4].valueCode == "some"
    assert [e.url for e in ext.find_extensions(schedule, ext.VACCINE_DOSE)] == [ext.VACCINE_DOSE] * 2


@pytest.mark.parametrize("code", ["some", "none", "unknown"])
def test_has_availability_codes(code: str) -> None:
    assert ext.has_availability(_schedule(ext.make_extension(ext.HAS_AVAILABILITY, code))) == code


def test_has_availability_unknown_code_reads_as_none() -> None:
    assert ext.has_availability(_schedule(ext.make_extension(ext.HAS_AVAILABILITY, "maybe"))) is None
    assert ext.has_availability(_schedule()) is None


def test_last_source_sync_on_meta() -> None:
    meta = Meta(extension=[ext.make_extension(ext.LAST_SOURCE_SYNC, "2021-04-19T20:35:05.000Z")])
    assert meta.extension[0].valueDateTime == "2021-04-19T20:35:05.000Z"
    assert ext.last_source_sync(meta) == "2021-04-19T20:35:05.000Z"
    assert ext.last_source_sync(None) is None


def test_location_timezone() -> None:
    location = Location(id="1", extension=[ext.make_extension(ext.TIMEZONE, "America/New_York")])
    assert location.extension[0].valueCode == "America/New_York"
    assert ext.location_timezone(location) == "America/New_York"
    assert ext.location_timezone(Location(id="2")) is None


def test_make_extension_refuses_the_wrong_type_for_a_known_url() -> None:
    with pytest.raises(TypeError, match="valueInteger"):
        ext.make_extension(ext.SLOT_CAPACITY, "5")
    with pytest.raises(TypeError, match="valueInteger"):
        ext.make_extension(ext.SLOT_CAPACITY, True)
    with pytest.raises(TypeError, match="valueCoding"):
        ext.make_extension(ext.VACCINE_PRODUCT, "207")


def test_make_extension_for_other_urls_follows_the_python_type() -> None:
    url = "https://example.org/ext"
    assert ext.make_extension(url, True).valueBoolean is True
    assert ext.make_extension(url, 3).valueInteger == 3
    assert ext.make_extension(url, "x").valueString == "x"
    assert ext.make_extension(url, Coding(code="c")).valueCoding == Coding(code="c")


def test_extension_value_picks_whichever_value_is_set() -> None:
    assert Extension(url="u", valueBoolean=False).value is False
    assert Extension(url="u", valueDecimal=1.5).value == 1.5
    assert Extension(url="u", valueReference=Reference(reference="Location/1")).value == Reference(
        reference="Location/1"
    )
    assert Extension(url="u").value is None


def test_with_extension_replaces_or_appends() -> None:
    a = ext.make_extension(ext.SLOT_CAPACITY, 1)
    b = ext.make_extension(ext.SLOT_CAPACITY, 2)
    phone = ext.make_extension(ext.BOOKING_PHONE, "1")
    assert ext.with_extension([a, phone], b) == [phone, b]
    assert ext.with_extension([a], b, replace=False) == [a, b]

from __future__ import annotations

from typing import Any

import orjson
import pytest

from slotlinks.errors import InvalidInput
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import (
    Extension,
    HealthcareService,
    Location,
    Meta,
    Position,
    Practitioner,
    PractitionerRole,
    Reference,
    Resource,
    Schedule,
    Slot,
    decode_resource,
)
from slotlinks.fhir.validate import decode_and_validate, validate_resource
from tests.fhir import REALWORLD


def _slot(**changes: Any) -> Slot:
    fields: dict[str, Any] = {
        "id": "s1",
        "schedule": Reference(reference="Schedule/1"),
        "status": "free",
        "start": "2021-03-10T15:00:00-05:00",
        "end": "2021-03-10T15:20:00-05:00",
    }
    fields.update(changes)
    return Slot(**fields)


def _errors(resource: Resource) -> list[tuple[str, ...]]:
    return [i.expression for i in validate_resource(resource) if i.severity == "error"]


def test_a_good_slot_has_no_issues() -> None:
    slot = _slot(
        extension=[
            ext.make_extension(ext.BOOKING_DEEP_LINK, "https://portal.example.org/book?slot=1"),
            ext.make_extension(ext.BOOKING_PHONE, "000-000-0000"),
            ext.make_extension(ext.SLOT_CAPACITY, 0),
        ]
    )
    assert validate_resource(slot) == []


def test_the_spec_examples_and_walgreens_are_valid() -> None:
    for corpus in ("smart-examples", "walgreens"):
        for path in (REALWORLD / corpus).glob("*.ndjson"):
            for line in path.read_bytes().splitlines():
                assert validate_resource(decode_resource(line)) == [], f"{path}: {line[:80]!r}"


def test_slot_must_end_after_it_starts() -> None:
    assert _errors(_slot(end="2021-03-10T15:00:00-05:00")) == [("Slot.end",)]
    # Same instant written in two offsets is still not "after".
    assert _errors(_slot(end="2021-03-10T20:00:00Z")) == [("Slot.end",)]
    assert _errors(_slot(end="2021-03-10T20:00:01Z")) == []
    (issue,) = validate_resource(_slot(end="2021-03-10T14:00:00-05:00"))
    assert "is not after" in issue.diagnostics


def test_slot_instants_must_be_real_dates() -> None:
    assert _errors(_slot(start="2021-02-30T15:00:00Z")) == [("Slot.start",)]
    assert _errors(_slot(end="2021-03-10T15:20:00")) == [("Slot.end",)]


def test_slot_status_checked_for_resources_built_in_code() -> None:
    assert _errors(_slot(status="open")) == [("Slot.status",)]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("Location/1", "expected a Schedule"),
        ("Schedule/a b", "invalid id"),
        ("10", "Type/id"),
        (None, "is required"),
    ],
)
def test_slot_schedule_must_reference_a_schedule(reference: str | None, message: str) -> None:
    (issue,) = validate_resource(_slot(schedule=Reference(reference=reference)))
    assert issue.expression == ("Slot.schedule.reference",)
    assert message in issue.diagnostics


def test_absolute_schedule_reference_is_fine() -> None:
    assert validate_resource(_slot(schedule=Reference(reference="https://x.example/fhir/Schedule/1"))) == []


def test_schedule_actors() -> None:
    good = Schedule(
        id="1",
        actor=[
            Reference(reference="Location/1"),
            Reference(reference="PractitionerRole/r"),
            Reference(reference="Practitioner/p"),
            Reference(reference="HealthcareService/h"),
        ],
    )
    assert validate_resource(good) == []
    bad = Schedule(id="1", actor=[Reference(reference="Location/1"), Reference(reference="Organization/o")])
    assert _errors(bad) == [("Schedule.actor[1].reference",)]
    assert _errors(Schedule(id="1", actor=[])) == [("Schedule.actor",)]
    assert _errors(Schedule(id="1", actor=[Reference(display="somewhere")])) == [("Schedule.actor[0].reference",)]


def test_invalid_id_in_code_built_resource() -> None:
    assert _errors(Location(id="a b")) == [("Location.id",)]
    assert _errors(Location(id="x" * 65)) == [("Location.id",)]


@pytest.mark.parametrize(
    ("extension", "expression"),
    [
        (Extension(url=ext.SLOT_CAPACITY, valueInteger=-1), "Slot.extension[0].valueInteger"),
        (Extension(url=ext.SLOT_CAPACITY, valueString="5"), "Slot.extension[0].valueInteger"),
        (Extension(url=ext.SLOT_CAPACITY, valueBoolean=True), "Slot.extension[0].valueInteger"),
        (Extension(url=ext.BOOKING_DEEP_LINK, valueUrl="/book?slot=1"), "Slot.extension[0].valueUrl"),
        (Extension(url=ext.BOOKING_DEEP_LINK, valueUrl="ftp://x.example/1"), "Slot.extension[0].valueUrl"),
        (Extension(url=ext.BOOKING_DEEP_LINK, valueUrl="https://"), "Slot.extension[0].valueUrl"),
        (Extension(url=ext.BOOKING_DEEP_LINK, valueUrl="http://u:p@evil.example/b"), "Slot.extension[0].valueUrl"),
        (Extension(url=ext.BOOKING_DEEP_LINK, valueUrl="https://x.co/" + "x" * 2100), "Slot.extension[0].valueUrl"),
        (Extension(url=ext.BOOKING_DEEP_LINK, valueString="https://x.example"), "Slot.extension[0].valueUrl"),
        (Extension(url=ext.BOOKING_PHONE, valueString="  "), "Slot.extension[0].valueString"),
        (Extension(url="https://example.org/other"), "Slot.extension[0]"),
    ],
)
def test_slot_extension_values(extension: Extension, expression: str) -> None:
    assert _errors(_slot(extension=[extension])) == [(expression,)]


def test_extension_with_two_values() -> None:
    bad = Extension(url=ext.SLOT_CAPACITY, valueInteger=1, valueString="1")
    assert _errors(_slot(extension=[bad])) == [("Slot.extension[0]",)]


@pytest.mark.parametrize(
    ("extension", "expression"),
    [
        (Extension(url=ext.HAS_AVAILABILITY, valueCode="maybe"), "Schedule.extension[0].valueCode"),
        (Extension(url=ext.VACCINE_DOSE, valueInteger=0), "Schedule.extension[0].valueInteger"),
        (Extension(url=ext.VACCINE_PRODUCT, valueString="207"), "Schedule.extension[0].valueCoding"),
        (Extension(url=ext.SPECIALTY, valueCode="394802001"), "Schedule.extension[0].valueCoding"),
    ],
)
def test_schedule_extension_values(extension: Extension, expression: str) -> None:
    schedule = Schedule(id="1", actor=[Reference(reference="Location/1")], extension=[extension])
    assert _errors(schedule) == [(expression,)]


def test_location_timezone_and_position() -> None:
    good = Location(id="1", extension=[ext.make_extension(ext.TIMEZONE, "America/New_York")])
    assert validate_resource(good) == []
    bad = Location(
        id="1",
        extension=[ext.make_extension(ext.TIMEZONE, "Mars/Olympus")],
        position=Position(latitude=91, longitude=-181),
        managingOrganization=Reference(reference="Location/2"),
    )
    assert _errors(bad) == [
        ("Location.extension[0].valueCode",),
        ("Location.managingOrganization.reference",),
        ("Location.position.latitude",),
        ("Location.position.longitude",),
    ]
    assert _errors(Location(id="1", extension=[ext.make_extension(ext.TIMEZONE, "../etc/passwd")])) == [
        ("Location.extension[0].valueCode",)
    ]


def test_meta_last_source_sync_and_last_updated() -> None:
    good = Meta(
        lastUpdated="2021-04-19T20:35:05Z",
        extension=[ext.make_extension(ext.LAST_SOURCE_SYNC, "2021-04-19T20:35:05.000Z")],
    )
    assert validate_resource(Location(id="1", meta=good)) == []
    bad = Meta(lastUpdated="2021-04-19", extension=[Extension(url=ext.LAST_SOURCE_SYNC, valueDateTime="yesterday")])
    assert _errors(Location(id="1", meta=bad)) == [
        ("Location.meta.lastUpdated",),
        ("Location.meta.extension[0].valueDateTime",),
    ]


def test_extension_out_of_place_is_a_warning() -> None:
    location = Location(id="1", extension=[ext.make_extension(ext.SLOT_CAPACITY, 3)])
    (issue,) = validate_resource(location)
    assert issue.severity == "warning"
    assert issue.expression == ("Location.extension[0]",)
    assert "defined for Slot" in issue.diagnostics


def test_references_of_the_2026_resources() -> None:
    role = PractitionerRole(
        id="r",
        practitioner=Reference(reference="Location/1"),
        organization=Reference(display="Berkshire Family Medicine"),
        location=[Reference(reference="Location/1"), Reference(reference="Schedule/1")],
        healthcareService=[Reference(reference="HealthcareService/h")],
    )
    assert _errors(role) == [("PractitionerRole.practitioner.reference",), ("PractitionerRole.location[1].reference",)]
    service = HealthcareService(
        id="h", providedBy=Reference(reference="Organization/o"), location=[Reference(reference="Slot/1")]
    )
    assert _errors(service) == [("HealthcareService.location[0].reference",)]
    assert validate_resource(Practitioner(id="p")) == []


def test_decode_and_validate_returns_the_resource() -> None:
    line = orjson.dumps(
        {
            "resourceType": "Slot",
            "id": "1",
            "schedule": {"reference": "Schedule/1"},
            "status": "busy-tentative",
            "start": "2021-03-10T15:00:00Z",
            "end": "2021-03-10T15:20:00Z",
        }
    )
    slot = decode_and_validate(line)
    assert isinstance(slot, Slot)
    assert decode_and_validate(line.decode()) == slot


def test_decode_and_validate_reports_decode_errors_with_an_expression() -> None:
    line = (
        b'{"resourceType":"Slot","id":"C28","schedule":{"reference":"Schedule/C2"},"status":"busy",'
        b'"start":"2021-05-18T09:00:00.000Z","end":"2021-05-18T19:00:00.000Z","extension":[{"url":'
        b'"http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity","valueInteger":"0"}]}'
    )
    with pytest.raises(InvalidInput) as caught:
        decode_and_validate(line)
    assert caught.value.expression == ("Slot.extension[0].valueInteger",)
    assert caught.value.issues[0].expression == ("Slot.extension[0].valueInteger",)
    assert "got `str`" in caught.value.message


@pytest.mark.parametrize(
    ("line", "expression"),
    [
        (b'{"resourceType":"Organization","id":"1"}', ("$.resourceType",)),
        (b'{"resourceType":"Location"}', ("Location",)),
        (b"{", ()),
        (b'{"resourceType":"Location","id":"\xff"}', ()),
    ],
)
def test_decode_and_validate_other_failures(line: bytes, expression: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_and_validate(line)
    assert caught.value.expression == expression
    assert caught.value.status == 400


def test_decode_and_validate_collects_every_issue() -> None:
    line = orjson.dumps(
        {
            "resourceType": "Slot",
            "id": "1",
            "schedule": {"reference": "Location/1"},
            "status": "free",
            "start": "2021-03-10T15:00:00Z",
            "end": "2021-03-10T14:00:00Z",
            "extension": [{"url": ext.SLOT_CAPACITY, "valueInteger": 2}, {"url": ext.TIMEZONE, "valueCode": "UTC"}],
        }
    )
    with pytest.raises(InvalidInput) as caught:
        decode_and_validate(line)
    assert [(i.severity, i.expression) for i in caught.value.issues] == [
        ("warning", ("Slot.extension[1]",)),
        ("error", ("Slot.end",)),
        ("error", ("Slot.schedule.reference",)),
    ]
    assert caught.value.message.endswith("(and 1 more)")


def test_warnings_alone_do_not_fail() -> None:
    line = orjson.dumps(
        {"resourceType": "Location", "id": "1", "extension": [{"url": ext.SLOT_CAPACITY, "valueInteger": 1}]}
    )
    assert isinstance(decode_and_validate(line), Location)

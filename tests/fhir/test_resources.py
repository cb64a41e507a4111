from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from slotlinks.fhir import extensions as ext
from slotlinks.fhir.ndjson import LineError, read_ndjson
from slotlinks.fhir.resources import (
    RESOURCE_DECODER,
    RESOURCE_DECODERS,
    RESOURCE_TYPES,
    Coding,
    ContactPoint,
    HealthcareService,
    HumanName,
    Location,
    Meta,
    Practitioner,
    PractitionerRole,
    Reference,
    Schedule,
    Slot,
    VirtualServiceDetail,
    decode_resource,
    encode_resource,
)
from tests.fhir import REALWORLD

SMART_EXAMPLES = REALWORLD / "smart-examples"


def _lines(path: Path) -> list[tuple[int, bytes]]:
    return [(i, line) for i, line in enumerate(path.read_bytes().splitlines(), 1) if line.strip()]


def _corpus_files(corpus: str) -> list[Path]:
    folder = REALWORLD / corpus
    return sorted(folder.glob("*.ndjson")) if folder.is_dir() else []


# --- real data -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _corpus_files("smart-examples"), ids=lambda p: p.name)
def test_smart_examples_round_trip_exactly(path: Path) -> None:
    lines = _lines(path)
    assert lines
    for number, line in lines:
        resource = decode_resource(line)
        assert orjson.loads(encode_resource(resource)) == orjson.loads(line), f"{path.name}:{number}"


def test_smart_examples_have_the_documented_counts() -> None:
    counts: dict[str, int] = {}
    for path in _corpus_files("smart-examples"):
        for _, line in _lines(path):
            name = type(decode_resource(line)).__name__
            counts[name] = counts.get(name, 0) + 1
    assert counts == {"Location": 10, "Schedule": 10, "Slot": 300}


@pytest.mark.parametrize("path", _corpus_files("walgreens"), ids=lambda p: p.name)
def test_walgreens_decodes_and_round_trips(path: Path) -> None:
    for _, line in _lines(path):
        assert orjson.loads(encode_resource(decode_resource(line))) == orjson.loads(line)


def test_walgreens_values() -> None:
    (_, line), *_ = _lines(REALWORLD / "walgreens" / "locations.ndjson")
    location = RESOURCE_DECODERS["Location"].decode(line)
    assert isinstance(location, Location)
    assert location.position is not None
    assert (location.position.latitude, location.position.longitude) == (61.19594828, -149.86860492)
    assert [i.system for i in location.identifier][1] == ext.NPI
    assert location.telecom[0] == ContactPoint(system="phone", value="907-6448400")
    (_, line), *_ = _lines(REALWORLD / "walgreens" / "Slot-abc.ndjson")
    slot = RESOURCE_DECODERS["Slot"].decode(line)
    assert ext.slot_capacity(slot) == 5
    assert ext.booking_phone(slot) == "1-800-925-4733"
    assert slot.schedule.reference == "Schedule/13656"


def test_cvs_string_capacity_is_reported_with_its_path() -> None:
    with (REALWORLD / "cvs" / "slot.ndjson").open("rb") as fp:
        results = list(read_ndjson(fp, RESOURCE_DECODER))
    assert results == [
        LineError(1, "$.extension[1].valueInteger", "Expected `int | null`, got `str`"),
        LineError(2, "$.extension[1].valueInteger", "Expected `int | null`, got `str`"),
    ]
    for name in ("location.ndjson", "schedule.ndjson"):
        (only,) = list(read_ndjson((REALWORLD / "cvs" / name).read_bytes(), RESOURCE_DECODER))
        assert not isinstance(only, LineError)


# --- the 2026 resources, from the IG's examples ------------------------------------------------------

PRACTITIONER_ROLE: dict[str, Any] = {
    "resourceType": "PractitionerRole",
    "id": "doc-smith-role",
    "identifier": [
        {"system": "https://healthsystem.example.com/practitioner-role-directory", "value": "ROLE-12345"},
        {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567890"},
    ],
    "active": True,
    "period": {"start": "2020-01-01"},
    "practitioner": {"reference": "Practitioner/doc-smith", "display": "Dr. John Robert Smith"},
    "organization": {"reference": "Organization/berkshire", "display": "Berkshire Family Medicine"},
    "code": [{"coding": [{"system": "http://snomed.info/sct", "code": "309343006", "display": "Physician"}]}],
    "specialty": [{"coding": [{"system": "http://snomed.info/sct", "code": "394802001"}]}],
    "location": [{"reference": "Location/123", "display": "Berkshire Family Medicine - Pittsfield"}],
    "healthcareService": [{"reference": "HealthcareService/online-primary-care"}],
    "telecom": [{"system": "phone", "value": "413-555-0123"}],
    "availableTime": [
        {
            "daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
            "availableStartTime": "09:00:00",
            "availableEndTime": "17:00:00",
        }
    ],
    "notAvailable": [{"description": "Vacation", "during": {"start": "2026-07-01", "end": "2026-07-14"}}],
}

HEALTHCARE_SERVICE: dict[str, Any] = {
    "resourceType": "HealthcareService",
    "id": "online-primary-care",
    "active": True,
    "providedBy": {"reference": "Organization/acme-health", "display": "ACME Health System"},
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/service-category", "code": "17"}]}],
    "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "308335008"}], "text": "Primary Care Visit"}],
    "specialty": [{"coding": [{"system": "http://snomed.info/sct", "code": "394814009"}]}],
    "location": [{"reference": "Location/main-clinic", "display": "Main Street Clinic"}],
    "name": "Primary Care Appointments - Online Booking",
    "comment": "Walk-in available",
    "telecom": [{"system": "url", "value": "https://appointments.acmehealth.org", "use": "work"}],
    "serviceProvisionCode": [{"coding": [{"code": "cost"}]}],
    "appointmentRequired": True,
    "availableTime": [{"daysOfWeek": ["sat"], "allDay": True}],
}

PRACTITIONER: dict[str, Any] = {
    "resourceType": "Practitioner",
    "id": "doc-smith",
    "identifier": [{"use": "official", "system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567890"}],
    "active": True,
    "name": [
        {
            "use": "official",
            "text": "Dr. John Robert Smith",
            "family": "Smith",
            "given": ["John", "Robert"],
            "prefix": ["Dr."],
        }
    ],
    "telecom": [{"system": "email", "value": "jsmith@example.org", "use": "work", "rank": 1}],
    "gender": "male",
    "qualification": [{"code": {"coding": [{"code": "MD"}]}, "period": {"start": "2001"}}],
}

VIRTUAL_LOCATION: dict[str, Any] = {
    "resourceType": "Location",
    "id": "telehealth",
    "meta": {"lastUpdated": "2026-03-01T12:00:00.000Z", "source": "https://example.org/Location/9"},
    "status": "active",
    "name": "Telehealth",
    "mode": "kind",
    "telecom": [{"system": "phone", "value": "413-555-0123"}],
    "virtualService": [
        {
            "channelType": {"system": "http://hl7.org/fhir/virtual-service-type", "code": "zoom"},
            "addressUrl": "https://zoom.example.org/j/123",
            "additionalInfo": ["https://example.org/telehealth-help"],
            "maxParticipants": 2,
        }
    ],
    "hoursOfOperation": [{"daysOfWeek": ["mon"], "openingTime": "08:00:00", "closingTime": "17:00:00"}],
    "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": "America/New_York"}],
}

HELD_SLOT: dict[str, Any] = {
    "resourceType": "Slot",
    "id": "789",
    "schedule": {"reference": "Schedule/456"},
    "status": "busy-tentative",
    "start": "2021-03-10T15:00:00-05:00",
    "end": "2021-03-10T15:20:00-05:00",
    "appointmentType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "ROUTINE"}]},
}

AGGREGATED_SCHEDULE: dict[str, Any] = {
    "resourceType": "Schedule",
    "id": "123",
    "meta": {
        "source": "https://api.flynnspharmacy.example.org/fhir/smart-scheduling/Schedule/9",
        "extension": [{"url": ext.LAST_SOURCE_SYNC, "valueDateTime": "2021-04-19T20:35:05.000Z"}],
    },
    "serviceType": [{"coding": [{"system": ext.HL7_SERVICE_TYPE, "code": "124", "display": "General Practice"}]}],
    "actor": [{"reference": "Location/123", "display": "Pittsfield"}, {"reference": "PractitionerRole/doc-smith-role"}],
    "extension": [{"url": ext.HAS_AVAILABILITY, "valueCode": "unknown"}],
}

EXAMPLES_2026 = [PRACTITIONER_ROLE, HEALTHCARE_SERVICE, PRACTITIONER, VIRTUAL_LOCATION, HELD_SLOT, AGGREGATED_SCHEDULE]


@pytest.mark.parametrize("example", EXAMPLES_2026, ids=lambda e: e["resourceType"])
def test_2026_resources_round_trip(example: dict[str, Any]) -> None:
    raw = orjson.dumps(example)
    resource = decode_resource(raw)
    assert type(resource).__name__ == example["resourceType"]
    assert orjson.loads(encode_resource(resource)) == example
    assert RESOURCE_DECODERS[example["resourceType"]].decode(raw) == resource


def test_typed_access_to_2026_fields() -> None:
    location = decode_resource(orjson.dumps(VIRTUAL_LOCATION))
    assert isinstance(location, Location)
    assert location.virtualService[0] == VirtualServiceDetail(
        channelType=Coding(system="http://hl7.org/fhir/virtual-service-type", code="zoom"),
        addressUrl="https://zoom.example.org/j/123",
        additionalInfo=["https://example.org/telehealth-help"],
        maxParticipants=2,
    )
    assert location.meta == Meta(lastUpdated="2026-03-01T12:00:00.000Z", source="https://example.org/Location/9")
    role = decode_resource(orjson.dumps(PRACTITIONER_ROLE))
    assert isinstance(role, PractitionerRole)
    assert role.practitioner == Reference(reference="Practitioner/doc-smith", display="Dr. John Robert Smith")
    assert role.availableTime[0].daysOfWeek == ["mon", "tue", "wed", "thu", "fri"]
    practitioner = decode_resource(orjson.dumps(PRACTITIONER))
    assert isinstance(practitioner, Practitioner)
    assert practitioner.name[0] == HumanName(
        use="official", text="Dr. John Robert Smith", family="Smith", given=["John", "Robert"], prefix=["Dr."]
    )
    service = decode_resource(orjson.dumps(HEALTHCARE_SERVICE))
    assert isinstance(service, HealthcareService)
    assert service.appointmentRequired is True


# --- decoding rules -----------------------------------------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    raw = orjson.dumps({**HELD_SLOT, "text": {"status": "generated", "div": "<div/>"}, "modifierExtension": []})
    assert encode_resource(decode_resource(raw)) == encode_resource(decode_resource(orjson.dumps(HELD_SLOT)))


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"start": "2021-03-10T15:00:00"}, "$.start"),
        ({"end": "2021-03-10T15:00:00-05"}, "$.end"),
        ({"start": "2021-13-10T15:00:00Z"}, "$.start"),
        ({"status": "open"}, "$.status"),
        ({"id": "a b"}, "$.id"),
        ({"id": "x" * 65}, "$.id"),
        ({"schedule": "Schedule/1"}, "$.schedule"),
        ({"meta": {"lastUpdated": "yesterday"}}, "$.meta.lastUpdated"),
        ({"extension": [{"url": ext.SLOT_CAPACITY, "valueInteger": 1.5}]}, "$.extension[0].valueInteger"),
        ({"extension": [{"valueInteger": 1}]}, "$.extension[0]"),
        ({"resourceType": "Organization"}, "$.resourceType"),
    ],
)
def test_decode_errors_carry_the_json_path(change: dict[str, Any], path: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(f" - at `{path}`")):
        decode_resource(orjson.dumps({**HELD_SLOT, **change}))


def test_required_fields() -> None:
    slot = {k: v for k, v in HELD_SLOT.items() if k != "end"}
    with pytest.raises(msgspec.ValidationError, match="missing required field `end`"):
        decode_resource(orjson.dumps(slot))
    with pytest.raises(msgspec.ValidationError, match="missing required field `id`"):
        decode_resource(b'{"resourceType":"Location"}')
    with pytest.raises(msgspec.ValidationError, match="missing required field `actor`"):
        decode_resource(b'{"resourceType":"Schedule","id":"1"}')


@pytest.mark.parametrize("status", ["free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error"])
def test_every_slot_status(status: str) -> None:
    slot = decode_resource(orjson.dumps({**HELD_SLOT, "status": status}))
    assert isinstance(slot, Slot)
    assert slot.status == status


def test_encoding_omits_null_and_empty_fields() -> None:
    slot = Slot(
        id="1",
        schedule=Reference(reference="Schedule/1"),
        status="free",
        start="2021-03-10T15:00:00Z",
        end="2021-03-10T15:20:00Z",
    )
    assert encode_resource(slot) == (
        b'{"resourceType":"Slot","id":"1","schedule":{"reference":"Schedule/1"},"status":"free",'
        b'"start":"2021-03-10T15:00:00Z","end":"2021-03-10T15:20:00Z"}'
    )
    assert b"null" not in encode_resource(Location(id="x", name="n"))
    assert encode_resource(Location(id="x")) == b'{"resourceType":"Location","id":"x"}'


def test_resource_types_and_decoders_cover_the_six() -> None:
    expected = {"Location", "Schedule", "Slot", "PractitionerRole", "HealthcareService", "Practitioner"}
    assert set(RESOURCE_TYPES) == expected == set(RESOURCE_DECODERS)
    assert RESOURCE_TYPES["Schedule"] is Schedule


def test_typed_decoder_rejects_another_type() -> None:
    with pytest.raises(msgspec.ValidationError, match="resourceType"):
        RESOURCE_DECODERS["Location"].decode(orjson.dumps(HELD_SLOT))

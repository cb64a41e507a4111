"""Typed SMART Scheduling Links resources, as msgspec Structs with FHIR's own field names.

Covers the resources of both specification versions: Location, Schedule and Slot (2021,
"Location File", "Schedule File", "Slot File") and PractitionerRole, HealthcareService and
Practitioner (2026 IG), with the R4 fields real feeds carry. Fields FHIR has but we do not model are
ignored on decode, so a resource may lose them on a round trip; value-set bindings other than
`Slot.status` are left to `validate.py` and the conformance checker.

Instants and ids are constrained by pattern, so a decode error carries the JSON path of the bad
value (e.g. `Expected str matching regex ... - at $.start`). Decoders and the encoder are built
once, at import, and are safe to share.
"""

# FHIR's own camelCase field names are the point here.
# ruff: noqa: N815

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

import msgspec

from slotlinks.fhir.ids import ID_PATTERN
from slotlinks.fhir.instant import DATETIME_PATTERN, INSTANT_PATTERN

__all__ = [
    "RESOURCE_DECODER",
    "RESOURCE_DECODERS",
    "RESOURCE_TYPES",
    "Address",
    "AnyResource",
    "AvailableTime",
    "CodeableConcept",
    "Coding",
    "ContactPoint",
    "DateTime",
    "ExtendedContactDetail",
    "Extension",
    "HealthcareService",
    "HoursOfOperation",
    "HumanName",
    "Id",
    "Identifier",
    "Instant",
    "Location",
    "Meta",
    "NotAvailable",
    "Period",
    "Position",
    "Practitioner",
    "PractitionerRole",
    "Qualification",
    "Quantity",
    "Range",
    "Reference",
    "Resource",
    "Schedule",
    "ServiceEligibility",
    "Slot",
    "SlotStatus",
    "VirtualServiceDetail",
    "decode_resource",
    "encode_resource",
]


def _anchored(pattern: str) -> str:
    # msgspec searches rather than full-matches, and `$` alone would accept a trailing newline.
    return f"^(?:{pattern})$(?!\\n)"


Instant = Annotated[str, msgspec.Meta(pattern=_anchored(INSTANT_PATTERN))]
DateTime = Annotated[str, msgspec.Meta(pattern=_anchored(DATETIME_PATTERN))]
Id = Annotated[str, msgspec.Meta(pattern=_anchored(ID_PATTERN))]
SlotStatus = Literal["free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error"]
DayOfWeek = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Element(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """Base of every datatype: keyword-only construction, no null or empty field on encode."""


# --- datatypes -------------------------------------------------------------------------------------


class Coding(_Element, kw_only=True):
    system: str | None = None
    version: str | None = None
    code: str | None = None
    display: str | None = None
    userSelected: bool | None = None


class CodeableConcept(_Element, kw_only=True):
    coding: list[Coding] = []
    text: str | None = None


class Period(_Element, kw_only=True):
    start: DateTime | None = None
    end: DateTime | None = None


class Quantity(_Element, kw_only=True):
    value: float | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class Range(_Element, kw_only=True):
    low: Quantity | None = None
    high: Quantity | None = None


class Reference(_Element, kw_only=True):
    """FHIR's Reference datatype; parse `.reference` with `ids.parse_reference`."""

    reference: str | None = None
    type: str | None = None
    identifier: Identifier | None = None
    display: str | None = None


class Identifier(_Element, kw_only=True):
    use: str | None = None
    type: CodeableConcept | None = None
    system: str | None = None
    value: str | None = None
    period: Period | None = None


class ContactPoint(_Element, kw_only=True):
    system: str | None = None
    value: str | None = None
    use: str | None = None
    rank: int | None = None
    period: Period | None = None


class Address(_Element, kw_only=True):
    use: str | None = None
    type: str | None = None
    text: str | None = None
    line: list[str] = []
    city: str | None = None
    district: str | None = None
    state: str | None = None
    postalCode: str | None = None
    country: str | None = None
    period: Period | None = None


class Position(_Element, kw_only=True):
    longitude: float
    latitude: float
    altitude: float | None = None


class HumanName(_Element, kw_only=True):
    use: str | None = None
    text: str | None = None
    family: str | None = None
    given: list[str] = []
    prefix: list[str] = []
    suffix: list[str] = []
    period: Period | None = None


class Extension(_Element, kw_only=True):
    """A FHIR extension with the value[x] variants SMART Scheduling Links uses.

    Exactly one value (or nested `extension`) is expected; `validate.py` checks the type each known
    URL requires. Other value[x] variants are dropped on decode.
    """

    url: str
    valueUrl: str | None = None
    valueUri: str | None = None
    valueString: str | None = None
    valueInteger: int | None = None
    valueDecimal: float | None = None
    valueBoolean: bool | None = None
    valueCode: str | None = None
    valueDateTime: DateTime | None = None
    valueCoding: Coding | None = None
    valueCodeableConcept: CodeableConcept | None = None
    valueReference: Reference | None = None
    valueRange: Range | None = None
    extension: list[Extension] = []

    @property
    def value(self) -> Any:
        """The one value[x] that is set, or None."""
        for name in _VALUE_FIELDS:
            v = getattr(self, name)
            if v is not None:
                return v
        return None


_VALUE_FIELDS = tuple(f for f in Extension.__struct_fields__ if f.startswith("value"))


class Meta(_Element, kw_only=True):
    versionId: str | None = None
    lastUpdated: Instant | None = None
    source: str | None = None
    profile: list[str] = []
    tag: list[Coding] = []
    extension: list[Extension] = []


class HoursOfOperation(_Element, kw_only=True):
    """Location.hoursOfOperation (R4): local wall-clock times, `hh:mm:ss`."""

    daysOfWeek: list[DayOfWeek] = []
    allDay: bool | None = None
    openingTime: str | None = None
    closingTime: str | None = None


class AvailableTime(_Element, kw_only=True):
    """PractitionerRole/HealthcareService.availableTime (R4)."""

    daysOfWeek: list[DayOfWeek] = []
    allDay: bool | None = None
    availableStartTime: str | None = None
    availableEndTime: str | None = None


class NotAvailable(_Element, kw_only=True):
    description: str
    during: Period | None = None


class ExtendedContactDetail(_Element, kw_only=True):
    purpose: CodeableConcept | None = None
    name: list[HumanName] = []
    telecom: list[ContactPoint] = []
    address: Address | None = None
    organization: Reference | None = None
    period: Period | None = None


class VirtualServiceDetail(_Element, kw_only=True):
    """Location.virtualService (2026 IG, "Location File"; FHIR R5 VirtualServiceDetail): telehealth."""

    channelType: Coding | None = None
    addressUrl: str | None = None
    addressString: str | None = None
    addressContactPoint: ContactPoint | None = None
    addressExtendedContactDetail: ExtendedContactDetail | None = None
    additionalInfo: list[str] = []
    maxParticipants: int | None = None
    sessionKey: str | None = None


class ServiceEligibility(_Element, kw_only=True):
    """HealthcareService.eligibility (R4): who the service is for, as a code and in words."""

    extension: list[Extension] = []
    code: CodeableConcept | None = None
    comment: str | None = None


class Qualification(_Element, kw_only=True):
    identifier: list[Identifier] = []
    code: CodeableConcept
    period: Period | None = None
    issuer: Reference | None = None


# --- resources -------------------------------------------------------------------------------------


class Resource(_Element, kw_only=True, tag_field="resourceType"):
    """Base of the six resources: `resourceType` is the tag, `id` is required (spec: every line has one)."""

    id: Id
    meta: Meta | None = None
    extension: list[Extension] = []


class Location(Resource, kw_only=True, tag=True):
    """A place where appointments happen (spec "Location File"; 2026 adds `virtualService`)."""

    identifier: list[Identifier] = []
    status: Literal["active", "suspended", "inactive"] | None = None
    name: str | None = None
    alias: list[str] = []
    description: str | None = None
    mode: Literal["instance", "kind"] | None = None
    type: list[CodeableConcept] = []
    telecom: list[ContactPoint] = []
    address: Address | None = None
    physicalType: CodeableConcept | None = None
    position: Position | None = None
    managingOrganization: Reference | None = None
    partOf: Reference | None = None
    hoursOfOperation: list[HoursOfOperation] = []
    availabilityExceptions: str | None = None
    virtualService: list[VirtualServiceDetail] = []


class Schedule(Resource, kw_only=True, tag=True):
    """The service offered by one or more actors, to which Slots belong (spec "Schedule File")."""

    identifier: list[Identifier] = []
    active: bool | None = None
    serviceCategory: list[CodeableConcept] = []
    serviceType: list[CodeableConcept] = []
    specialty: list[CodeableConcept] = []
    actor: list[Reference]
    planningHorizon: Period | None = None
    comment: str | None = None


class Slot(Resource, kw_only=True, tag=True):
    """One bookable (or busy) window on a Schedule (spec "Slot File")."""

    identifier: list[Identifier] = []
    serviceCategory: list[CodeableConcept] = []
    serviceType: list[CodeableConcept] = []
    specialty: list[CodeableConcept] = []
    appointmentType: CodeableConcept | None = None
    schedule: Reference
    status: SlotStatus
    start: Instant
    end: Instant
    overbooked: bool | None = None
    comment: str | None = None


class PractitionerRole(Resource, kw_only=True, tag=True):
    """What a practitioner does, where (2026 IG "PractitionerRole File")."""

    identifier: list[Identifier] = []
    active: bool | None = None
    period: Period | None = None
    practitioner: Reference | None = None
    organization: Reference | None = None
    code: list[CodeableConcept] = []
    specialty: list[CodeableConcept] = []
    location: list[Reference] = []
    healthcareService: list[Reference] = []
    telecom: list[ContactPoint] = []
    availableTime: list[AvailableTime] = []
    notAvailable: list[NotAvailable] = []
    availabilityExceptions: str | None = None


class HealthcareService(Resource, kw_only=True, tag=True):
    """A service bookable without naming a practitioner (2026 IG "Healthcare Service Resource")."""

    identifier: list[Identifier] = []
    active: bool | None = None
    providedBy: Reference | None = None
    category: list[CodeableConcept] = []
    type: list[CodeableConcept] = []
    specialty: list[CodeableConcept] = []
    location: list[Reference] = []
    name: str | None = None
    comment: str | None = None
    telecom: list[ContactPoint] = []
    serviceProvisionCode: list[CodeableConcept] = []
    eligibility: list[ServiceEligibility] = []
    appointmentRequired: bool | None = None
    availableTime: list[AvailableTime] = []
    notAvailable: list[NotAvailable] = []
    availabilityExceptions: str | None = None


class Practitioner(Resource, kw_only=True, tag=True):
    """A person who provides care (2026 IG "Practitioner File")."""

    identifier: list[Identifier] = []
    active: bool | None = None
    name: list[HumanName] = []
    telecom: list[ContactPoint] = []
    address: list[Address] = []
    gender: Literal["male", "female", "other", "unknown"] | None = None
    qualification: list[Qualification] = []
    # R4's shape (a language per CodeableConcept, BCP-47 codes), which the 2026 IG's R4 base keeps.
    communication: list[CodeableConcept] = []


AnyResource: TypeAlias = Location | Schedule | Slot | PractitionerRole | HealthcareService | Practitioner

#: resourceType -> Struct class, for the six types we read and write.
RESOURCE_TYPES: dict[str, type[Resource]] = {
    cls.__name__: cls for cls in (Location, Schedule, Slot, PractitionerRole, HealthcareService, Practitioner)
}

#: One decoder for any of the six types, dispatching on `resourceType`.
RESOURCE_DECODER: msgspec.json.Decoder[AnyResource] = msgspec.json.Decoder(AnyResource)

#: One decoder per type, for files whose type the manifest already names.
RESOURCE_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    name: msgspec.json.Decoder(cls) for name, cls in RESOURCE_TYPES.items()
}

_ENCODER = msgspec.json.Encoder()


def decode_resource(data: bytes | str) -> AnyResource:
    """Decode one JSON resource of any of the six types; raises `msgspec.ValidationError`/`DecodeError`."""
    return RESOURCE_DECODER.decode(data)


def encode_resource(resource: msgspec.Struct) -> bytes:
    """Minified JSON with no null or empty field, as NDJSON lines require ("Bulk Publication")."""
    return _ENCODER.encode(resource)

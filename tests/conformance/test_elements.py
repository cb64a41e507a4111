"""The checker's element table (`conformance.elements`) is FHIR's: every element of every type it
lists, with its type and whether it repeats, as `fhir.resources` (a development dependency, generated
from the FHIR specification) defines them: R4B for the R4 types (the same for these), R5 for the two
datatypes of the 2026 draft's `Location.virtualService`.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from slotlinks.conformance.elements import ELEMENTS, PRIMITIVES, Element, primitive_problem

#: Our type -> the fhir.resources class (module path, class name) that defines it.
CLASSES: dict[str, tuple[str, str]] = {
    "Location": ("R4B.location", "Location"),
    "Location.position": ("R4B.location", "LocationPosition"),
    "Location.hoursOfOperation": ("R4B.location", "LocationHoursOfOperation"),
    "Schedule": ("R4B.schedule", "Schedule"),
    "Slot": ("R4B.slot", "Slot"),
    "PractitionerRole": ("R4B.practitionerrole", "PractitionerRole"),
    "AvailableTime": ("R4B.practitionerrole", "PractitionerRoleAvailableTime"),
    "NotAvailable": ("R4B.practitionerrole", "PractitionerRoleNotAvailable"),
    "HealthcareService": ("R4B.healthcareservice", "HealthcareService"),
    "HealthcareService.eligibility": ("R4B.healthcareservice", "HealthcareServiceEligibility"),
    "Practitioner": ("R4B.practitioner", "Practitioner"),
    "Practitioner.qualification": ("R4B.practitioner", "PractitionerQualification"),
    "Coding": ("R4B.coding", "Coding"),
    "CodeableConcept": ("R4B.codeableconcept", "CodeableConcept"),
    "Period": ("R4B.period", "Period"),
    "Reference": ("R4B.reference", "Reference"),
    "Identifier": ("R4B.identifier", "Identifier"),
    "ContactPoint": ("R4B.contactpoint", "ContactPoint"),
    "Address": ("R4B.address", "Address"),
    "HumanName": ("R4B.humanname", "HumanName"),
    "Attachment": ("R4B.attachment", "Attachment"),
    "Meta": ("R4B.meta", "Meta"),
    "Narrative": ("R4B.narrative", "Narrative"),
    "Extension": ("R4B.extension", "Extension"),
    "Element": ("R4B.element", "Element"),
    "VirtualServiceDetail": ("virtualservicedetail", "VirtualServiceDetail"),
    "ExtendedContactDetail": ("extendedcontactdetail", "ExtendedContactDetail"),
}

#: Where our table departs from fhir.resources on purpose: the 2026 draft's Location adds
#: `virtualService`; R4 extensions may carry a Meta, which R4B dropped, and R4B added these Extension
#: value types, which an R4 feed cannot carry.
OURS_ONLY = {("Location", "virtualService"), ("Extension", "valueMeta")}
THEIRS_ONLY = {("Extension", "valueCodeableReference"), ("Extension", "valueRatioRange")}
#: fhir.resources names a backbone element's type after its owner; ours are shared or dotted.
SAME_TYPE = {
    "PractitionerRoleAvailableTime": "AvailableTime",
    "PractitionerRoleNotAvailable": "NotAvailable",
    "HealthcareServiceAvailableTime": "AvailableTime",
    "HealthcareServiceNotAvailable": "NotAvailable",
    "LocationPosition": "Location.position",
    "LocationHoursOfOperation": "Location.hoursOfOperation",
    "HealthcareServiceEligibility": "HealthcareService.eligibility",
    "PractitionerQualification": "Practitioner.qualification",
}


def _their_type(annotation: str) -> str:
    """Our name for the FHIR type in a fhir.resources field annotation."""
    # The primitive's marker closes its `Annotated[...]`: `Id()`, `PositiveInt(min_length=1, ...)`.
    primitive = re.search(r"(\w+)\([^()]*\)\]", annotation) or re.search(r"fhir_core\.types\.(\w+) object", annotation)
    if primitive:
        name = "uuid" if primitive.group(1) == "UuidVersion" else primitive.group(1)
        return name[0].lower() + name[1:]
    if re.fullmatch(r"(?:typing\.Optional\[)?bool(?: \| None|\])?", annotation):
        return "boolean"
    complex_type = re.search(r"abc\.(\w+)Type", annotation)
    assert complex_type, annotation
    return SAME_TYPE.get(complex_type.group(1), complex_type.group(1))


def theirs(ftype: str) -> dict[str, Element]:
    """fhir.resources' elements of `ftype`: its JSON names, types and whether they repeat."""
    module, name = CLASSES[ftype]
    cls: Any = getattr(importlib.import_module(f"fhir.resources.{module}"), name)
    out = {}
    for field in cls.model_fields.values():
        if not (field.json_schema_extra or {}).get("element_property"):
            continue
        annotation = repr(field.annotation)
        out[field.alias] = Element(_their_type(annotation), "List[" in annotation)
    return out


def test_every_type_in_the_table_is_checked_here() -> None:
    assert set(ELEMENTS) == set(CLASSES)


@pytest.mark.parametrize("ftype", sorted(CLASSES))
def test_the_table_has_fhirs_elements_types_and_repetition(ftype: str) -> None:
    ours = {name: e for name, e in ELEMENTS[ftype].items() if (ftype, name) not in OURS_ONLY}
    expected = {name: e for name, e in theirs(ftype).items() if (ftype, name) not in THEIRS_ONLY}
    assert ours == expected


def test_only_value_types_we_do_not_model_are_opaque() -> None:
    used = {e.type for elements in ELEMENTS.values() for e in elements.values()}
    complex_types = set(ELEMENTS) | {"Resource"}
    opaque = used - PRIMITIVES - complex_types  # value[x] types we walk for nulls and empties only
    assert opaque == {
        "Age", "Annotation", "ContactDetail", "Contributor", "Count", "DataRequirement", "Distance",
        "Dosage", "Duration", "Expression", "Money", "ParameterDefinition", "Quantity", "Range", "Ratio",
        "RelatedArtifact", "SampledData", "Signature", "Timing", "TriggerDefinition", "UsageContext",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("ftype", "good", "bad"),
    [
        ("id", "loc-1.a", "loc_1"),
        ("instant", "2026-06-01T09:00:00.5-04:00", "2026-06-01T09:00:00"),
        ("dateTime", "2026-06", "2026-06-01T09:00"),
        ("date", "2026-02-28", "2026-2-28"),
        ("time", "09:30:00", "9:30"),
        ("code", "busy-tentative", " busy"),
        ("uri", "urn:oid:1.2.3", "http://x y"),
        ("oid", "urn:oid:2.16.840", "2.16.840"),
        ("uuid", "urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "c757873d-ec9a-4326-a141-556f43239520"),
        ("base64Binary", "aGVsbG8=", "not base64!"),
        ("positiveInt", 1, 0),
        ("unsignedInt", 0, -1),
        ("integer", -3, 3.5),
        ("decimal", 46.07, "46.07"),
        ("boolean", False, 0),
        ("string", "x", 1),
    ],
)
def test_primitive_formats(ftype: str, good: object, bad: object) -> None:
    assert primitive_problem(ftype, good) is None
    assert primitive_problem(ftype, bad) is not None

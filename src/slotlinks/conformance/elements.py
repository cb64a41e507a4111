"""The FHIR R4 elements of the six resources we check, and the formats of FHIR's primitive types.

FHIR R4 "JSON Representation of Resources": a resource holds only the elements its type defines;
an element that repeats is a JSON array, one that does not is a single value; a primitive's value
may carry its `id` and extensions in a `_name` sibling. FHIR R4 "Data Types" gives each primitive a
JSON type and a format. The 2026 IG draft ("Location File") adds `virtualService` (FHIR R5's
VirtualServiceDetail) to Location, so that element and its two R5 datatypes are listed too.

`ELEMENTS` maps a type to its elements: name -> `Element(type, repeats)`. A type not in `ELEMENTS`
and not primitive (an extension's `valueTiming`, say) is opaque: only FHIR JSON's rules on nulls and
empty values reach inside it. tests/conformance/test_elements.py holds this table to `fhir.resources`
(a development dependency only, which the product cannot import).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from slotlinks.fhir.ids import ID_PATTERN
from slotlinks.fhir.instant import DATETIME_PATTERN, INSTANT_PATTERN

__all__ = ["CHECKED_TYPES", "ELEMENTS", "FORMATS", "PRIMITIVES", "Element", "primitive_problem"]


class Element(NamedTuple):
    """One element of a type: its FHIR type and whether it repeats (a JSON array)."""

    type: str
    repeats: bool


# Each type's own elements, `name:Type` (`*` when it repeats). Every complex type also has the
# Element's `id` and `extension`, every resource the DomainResource elements, every backbone
# element `modifierExtension`: those are added below, not repeated here.
_OWN: dict[str, str] = {
    # --- the six resources (backbone elements are named `Resource.part`) ---
    "Location": "identifier:Identifier* status:code operationalStatus:Coding name:string alias:string* "
    "description:string mode:code type:CodeableConcept* telecom:ContactPoint* address:Address "
    "physicalType:CodeableConcept position:Location.position managingOrganization:Reference partOf:Reference "
    "hoursOfOperation:Location.hoursOfOperation* availabilityExceptions:string endpoint:Reference* "
    "virtualService:VirtualServiceDetail*",
    "Location.position": "longitude:decimal latitude:decimal altitude:decimal",
    "Location.hoursOfOperation": "daysOfWeek:code* allDay:boolean openingTime:time closingTime:time",
    "Schedule": "identifier:Identifier* active:boolean serviceCategory:CodeableConcept* "
    "serviceType:CodeableConcept* specialty:CodeableConcept* actor:Reference* planningHorizon:Period comment:string",
    "Slot": "identifier:Identifier* serviceCategory:CodeableConcept* serviceType:CodeableConcept* "
    "specialty:CodeableConcept* appointmentType:CodeableConcept schedule:Reference status:code start:instant "
    "end:instant overbooked:boolean comment:string",
    "PractitionerRole": "identifier:Identifier* active:boolean period:Period practitioner:Reference "
    "organization:Reference code:CodeableConcept* specialty:CodeableConcept* location:Reference* "
    "healthcareService:Reference* telecom:ContactPoint* availableTime:AvailableTime* "
    "notAvailable:NotAvailable* availabilityExceptions:string endpoint:Reference*",
    "HealthcareService": "identifier:Identifier* active:boolean providedBy:Reference category:CodeableConcept* "
    "type:CodeableConcept* specialty:CodeableConcept* location:Reference* name:string comment:string "
    "extraDetails:markdown photo:Attachment telecom:ContactPoint* coverageArea:Reference* "
    "serviceProvisionCode:CodeableConcept* eligibility:HealthcareService.eligibility* program:CodeableConcept* "
    "characteristic:CodeableConcept* communication:CodeableConcept* referralMethod:CodeableConcept* "
    "appointmentRequired:boolean availableTime:AvailableTime* notAvailable:NotAvailable* "
    "availabilityExceptions:string endpoint:Reference*",
    "HealthcareService.eligibility": "code:CodeableConcept comment:markdown",
    "Practitioner": "identifier:Identifier* active:boolean name:HumanName* telecom:ContactPoint* "
    "address:Address* gender:code birthDate:date photo:Attachment* qualification:Practitioner.qualification* "
    "communication:CodeableConcept*",
    "Practitioner.qualification": "identifier:Identifier* code:CodeableConcept period:Period issuer:Reference",
    # PractitionerRole's and HealthcareService's backbone elements are alike in R4.
    "AvailableTime": "daysOfWeek:code* allDay:boolean availableStartTime:time availableEndTime:time",
    "NotAvailable": "description:string during:Period",
    # --- datatypes ---
    "Coding": "system:uri version:string code:code display:string userSelected:boolean",
    "CodeableConcept": "coding:Coding* text:string",
    "Period": "start:dateTime end:dateTime",
    "Reference": "reference:string type:uri identifier:Identifier display:string",
    "Identifier": "use:code type:CodeableConcept system:uri value:string period:Period assigner:Reference",
    "ContactPoint": "system:code value:string use:code rank:positiveInt period:Period",
    "Address": "use:code type:code text:string line:string* city:string district:string state:string "
    "postalCode:string country:string period:Period",
    "HumanName": "use:code text:string family:string given:string* prefix:string* suffix:string* period:Period",
    "Attachment": "contentType:code language:code data:base64Binary url:url size:unsignedInt hash:base64Binary "
    "title:string creation:dateTime",
    "Meta": "versionId:id lastUpdated:instant source:uri profile:canonical* security:Coding* tag:Coding*",
    "Narrative": "status:code div:xhtml",
    "Extension": "url:uri",
    "Element": "",
    # FHIR R5 datatypes the 2026 draft's Location.virtualService uses.
    "VirtualServiceDetail": "channelType:Coding addressUrl:url addressString:string addressContactPoint:ContactPoint "
    "addressExtendedContactDetail:ExtendedContactDetail additionalInfo:url* maxParticipants:positiveInt "
    "sessionKey:string",
    "ExtendedContactDetail": "purpose:CodeableConcept name:HumanName* telecom:ContactPoint* address:Address "
    "organization:Reference period:Period",
}

#: The resource types whose elements are known (the six a SMART Scheduling Links publication holds).
CHECKED_TYPES: frozenset[str] = frozenset(
    {"Location", "Schedule", "Slot", "PractitionerRole", "HealthcareService", "Practitioner"}
)

_DOMAIN_RESOURCE = "id:id meta:Meta implicitRules:uri language:code text:Narrative contained:Resource*"

# Extension.value[x]: every R4 type an extension may carry.
_VALUE_TYPES = (
    "base64Binary boolean canonical code date dateTime decimal id instant integer markdown oid positiveInt "
    "string time unsignedInt uri url uuid Address Age Annotation Attachment CodeableConcept Coding ContactPoint "
    "Count Distance Duration HumanName Identifier Money Period Quantity Range Ratio Reference SampledData "
    "Signature Timing ContactDetail Contributor DataRequirement Expression ParameterDefinition RelatedArtifact "
    "TriggerDefinition UsageContext Dosage Meta"
)


def _parse(spec: str) -> dict[str, Element]:
    out = {}
    for item in spec.split():
        name, _, rtype = item.partition(":")
        out[name] = Element(rtype.rstrip("*"), rtype.endswith("*"))
    return out


def _build() -> dict[str, dict[str, Element]]:
    table: dict[str, dict[str, Element]] = {}
    for name, spec in _OWN.items():
        own = _parse(spec)
        base = _parse("id:string extension:Extension*")
        if name in CHECKED_TYPES:
            base = _parse(_DOMAIN_RESOURCE + " extension:Extension* modifierExtension:Extension*")
        elif "." in name or name in ("AvailableTime", "NotAvailable"):
            base["modifierExtension"] = Element("Extension", True)
        table[name] = base | own
    table["Extension"] |= {f"value{t[0].upper()}{t[1:]}": Element(t, False) for t in _VALUE_TYPES.split()}
    table["Extension"]["extension"] = Element("Extension", True)
    return table


#: type -> element name -> Element, for the six resources and the datatypes they use.
ELEMENTS: dict[str, dict[str, Element]] = _build()

_DATE = r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12][0-9]|3[01]))?)?"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?"
_NO_SPACE = r"\S+"

#: Each string primitive's format (FHIR R4 "Data Types"), whole-string regular expressions.
FORMATS: dict[str, re.Pattern[str]] = {
    "id": re.compile(ID_PATTERN),
    "instant": re.compile(INSTANT_PATTERN),
    "dateTime": re.compile(DATETIME_PATTERN),
    "date": re.compile(_DATE),
    "time": re.compile(_TIME),
    "code": re.compile(r"[^\s]+(?: [^\s]+)*"),
    "uri": re.compile(_NO_SPACE),
    "url": re.compile(_NO_SPACE),
    "canonical": re.compile(_NO_SPACE),
    "oid": re.compile(r"urn:oid:[0-2](?:\.(?:0|[1-9][0-9]*))+"),
    "uuid": re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "base64Binary": re.compile(r"(?:\s*[0-9a-zA-Z+/=]{4}\s*)+"),
}
_STRINGS = frozenset({"string", "markdown", "xhtml"}) | FORMATS.keys()
_INTEGERS = {"integer": None, "positiveInt": 1, "unsignedInt": 0}

#: The primitive types: their JSON value is a string, number or boolean, never an object.
PRIMITIVES: frozenset[str] = _STRINGS | _INTEGERS.keys() | {"decimal", "boolean"}


def primitive_problem(ftype: str, value: object) -> str | None:
    """Why `value` is not a valid JSON value of the primitive `ftype`, or None when it is."""
    if ftype in _STRINGS:
        if not isinstance(value, str):
            return f"is not a JSON string ({ftype})"
        pattern = FORMATS.get(ftype)
        if pattern is not None and value and pattern.fullmatch(value) is None:
            return f"{value!r} is not a valid {ftype}"
        return None
    if ftype == "boolean":
        return None if isinstance(value, bool) else "is not true or false (boolean)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"is not a JSON number ({ftype})"
    if ftype in _INTEGERS:
        least = _INTEGERS[ftype]
        if not isinstance(value, int):
            return f"{value!r} is not a whole number ({ftype})"
        if least is not None and value < least:
            return f"{value!r} is below {least} ({ftype})"
    return None

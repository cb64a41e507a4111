"""The search parameters we support, as data (FHIR R4 search, http://hl7.org/fhir/R4/search.html).

Each resource type has a table of `ParamDef`s: the parameter's FHIR type (token, string, date,
reference, special `near`) and the element(s) it reads. `request.py` parses values by type; the
matching modules (`tokens`, `strings`, `dates`, `references`, `near`) evaluate them. The same table
feeds the CapabilityStatement, so `/metadata` lists exactly what is implemented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from slotlinks.errors import InvalidInput

__all__ = [
    "PARAMS",
    "PREFIXES",
    "RESOURCE_TYPES",
    "ParamDef",
    "ParamType",
    "invalid",
]

ParamType = Literal["token", "string", "date", "reference", "special", "number"]

#: Comparison prefixes of ordered types (search.html#prefix).
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


@dataclass(frozen=True, slots=True)
class ParamDef:
    """One search parameter of one resource type: `path` names the element(s) it reads."""

    name: str
    type: ParamType
    path: str
    doc: str
    targets: tuple[str, ...] = ()  # reference parameters: the types they may point at


def invalid(param: str, message: str) -> InvalidInput:
    """A 400 for a malformed value, naming the parameter (search.html#errors)."""
    return InvalidInput(f"search parameter {param!r}: {message}", expression=[param])


_COMMON = (
    ParamDef("_id", "token", "id", "Logical id of the resource"),
    ParamDef("_lastUpdated", "date", "meta.lastUpdated", "When the resource last changed"),
)

_ACTORS = ("Location", "PractitionerRole", "HealthcareService", "Practitioner")

PARAMS: dict[str, dict[str, ParamDef]] = {
    "Slot": {
        p.name: p
        for p in (
            *_COMMON,
            ParamDef("schedule", "reference", "schedule", "The Schedule the slot belongs to", ("Schedule",)),
            ParamDef("start", "date", "start", "Slot start"),
            ParamDef("end", "date", "end", "Slot end"),
            ParamDef("status", "token", "status", "free | busy | busy-unavailable | busy-tentative"),
            ParamDef("service-type", "token", "serviceType", "Service type (of the slot's Schedule)"),
            ParamDef("specialty", "token", "specialty", "Specialty (of the slot's Schedule)"),
            ParamDef("appointment-type", "token", "appointmentType", "Appointment type of the slot"),
            ParamDef("identifier", "token", "identifier", "A Slot identifier"),
        )
    },
    "Schedule": {
        p.name: p
        for p in (
            *_COMMON,
            ParamDef("actor", "reference", "actor", "An actor of the schedule", _ACTORS),
            ParamDef("date", "date", "planningHorizon", "Planning horizon overlapping the date"),
            ParamDef("service-type", "token", "serviceType", "Service type"),
            ParamDef("specialty", "token", "specialty", "Specialty"),
            ParamDef("active", "token", "active", "true | false"),
            ParamDef("identifier", "token", "identifier", "A Schedule identifier"),
        )
    },
    "Location": {
        p.name: p
        for p in (
            *_COMMON,
            ParamDef("near", "special", "position", "lat|long|distance|units (units km or mi_us)"),
            ParamDef("address", "string", "address", "Any part of the address"),
            ParamDef("address-city", "string", "address.city", "City"),
            ParamDef("address-state", "string", "address.state", "State"),
            ParamDef("address-postalcode", "string", "address.postalCode", "Postal code"),
            ParamDef("name", "string", "name", "Name or alias"),
            ParamDef("identifier", "token", "identifier", "A Location identifier"),
            ParamDef("type", "token", "type", "Location type"),
        )
    },
    "PractitionerRole": {
        p.name: p
        for p in (
            *_COMMON,
            ParamDef("specialty", "token", "specialty", "Specialty"),
            ParamDef("role", "token", "code", "Role code"),
            ParamDef("location", "reference", "location", "Where the role is performed", ("Location",)),
            ParamDef("practitioner", "reference", "practitioner", "The practitioner", ("Practitioner",)),
            ParamDef("identifier", "token", "identifier", "A PractitionerRole identifier (e.g. NPI)"),
        )
    },
    "HealthcareService": {
        p.name: p
        for p in (
            *_COMMON,
            ParamDef("specialty", "token", "specialty", "Specialty"),
            ParamDef("service-type", "token", "type", "Service type"),
            ParamDef("location", "reference", "location", "Where the service is offered", ("Location",)),
            ParamDef("name", "string", "name", "Service name"),
            ParamDef("identifier", "token", "identifier", "A HealthcareService identifier"),
        )
    },
    "Practitioner": {
        p.name: p
        for p in (
            *_COMMON,
            ParamDef("name", "string", "name", "Any part of the name"),
            ParamDef("identifier", "token", "identifier", "A Practitioner identifier (e.g. NPI)"),
        )
    },
}

# An alias common clients use (R4 names it `service-type`; the element is `type`).
PARAMS["HealthcareService"]["type"] = ParamDef("type", "token", "type", "Alias of service-type")

RESOURCE_TYPES: tuple[str, ...] = tuple(PARAMS)

"""The descriptive resources: what search needs from a Location, Practitioner, PractitionerRole,
HealthcareService and Schedule, derived at ingest as columns of its row.

Specification, the resource sections of SMART Scheduling Links: Schedules point at their actors
(Location, PractitionerRole, HealthcareService, Practitioner), which say where, who and what. Search
needs each Schedule's Location as our own key plus text and code keys, so a search is a plain indexed
join. A Schedule's columns depend on the other resources of its generation (`Lookups`); they are
derived once more, with everything in place, when the load is resolved (resolve.py). Who its slots
are for comes from its services (its HealthcareService actors, else its roles' `healthcareService`)
and the languages from its practitioners (audience.py).
"""

from __future__ import annotations

import re
from typing import Any

from slotlinks.discovery.geo import zip_point
from slotlinks.discovery.ingest.audience import languages_of, service_audience
from slotlinks.discovery.ingest.fastslot import reference_id
from slotlinks.fhir.extensions import location_timezone, specialty, vaccine_products
from slotlinks.fhir.resources import (
    CodeableConcept,
    Coding,
    HealthcareService,
    Location,
    Practitioner,
    PractitionerRole,
    Reference,
    Schedule,
)

__all__ = [
    "Lookups",
    "healthcare_service_row",
    "location_row",
    "practitioner_role_row",
    "practitioner_row",
    "schedule_row",
    "zip_info",
]

_ZIP_RE = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_VIRTUAL_WORDS = ("telehealth", "virtual", "video visit", "telemedicine")


def zip_info(postal_code: str) -> tuple[float, float, str | None] | None:
    """(latitude, longitude, IANA time zone) of a US ZIP code's centroid, from the offline `zipcodes`;
    ZIP+4 codes may come with or without their hyphen."""
    m = _ZIP_RE.fullmatch(postal_code.strip())
    return zip_point(m.group(1)) if m else None


def location_row(loc: Location) -> dict[str, Any]:
    """Location columns: address parts, position (else the ZIP centroid), time zone, phone, virtual."""
    addr = loc.address
    postal = addr.postalCode if addr else None
    found = zip_info(postal) if postal else None
    lat = lon = None
    positioned = loc.position is not None
    if loc.position is not None:
        lat, lon = loc.position.latitude, loc.position.longitude
    elif found is not None:
        lat, lon = found[0], found[1]
    phone = next((c.value for c in loc.telecom if c.system == "phone" and c.value), None)
    physical = loc.physicalType.coding if loc.physicalType else []
    return {
        "name": loc.name or "",
        "city": addr.city if addr else None,
        "state": (addr.state or "")[:8] or None if addr else None,
        "postal_code": (postal or "")[:16] or None,
        "latitude": lat,
        "longitude": lon,
        "positioned": positioned,
        "tz": location_timezone(loc) or (found[2] if found else None),
        "phone": phone,
        "virtual": bool(loc.virtualService) or any(c.code == "vi" for c in physical),
        "organization_text": _unique_lower([_display(loc.managingOrganization)]),
    }


def _display(reference: Reference | None) -> str:
    return reference.display or "" if reference is not None else ""


def practitioner_row(practitioner: Practitioner) -> dict[str, Any]:
    name = ""
    for n in practitioner.name:
        name = n.text or " ".join([*n.prefix, *n.given, n.family or "", *n.suffix]).strip()
        if name:
            break
    return {"name": name, "languages": languages_of(practitioner)}


def practitioner_role_row(role: PractitionerRole) -> dict[str, Any]:
    practitioner = role.practitioner
    return {
        "practitioner_source_id": reference_id(practitioner.reference if practitioner else None, "Practitioner"),
        "location_source_id": _first_location(role.location),
        "practitioner_name": practitioner.display if practitioner else None,
        "organization_text": _unique_lower([_display(role.organization)]),
    }


def _first_location(references: list[Reference]) -> str | None:
    return next((i for i in (reference_id(r.reference, "Location") for r in references) if i), None)


def healthcare_service_row(service: HealthcareService) -> dict[str, Any]:
    return {
        "name": service.name,
        "location_source_id": _first_location(service.location),
    }


def _concept_parts(concepts: list[CodeableConcept], texts: list[str], codes: list[str]) -> None:
    for concept in concepts:
        _coding_parts(concept.coding, texts, codes)
        if concept.text:
            texts.append(concept.text)


def _coding_parts(codings: list[Coding], texts: list[str], codes: list[str]) -> None:
    for coding in codings:
        if coding.display:
            texts.append(coding.display)
        if coding.code:
            codes.append(f"{coding.system or ''}|{coding.code}".replace(" ", "%20"))


def _unique_lower(items: list[str]) -> str:
    seen: dict[str, None] = {}
    for item in items:
        text = " ".join(item.lower().split())
        if text:
            seen.setdefault(text, None)
    return " ".join(seen)


def service_name(schedule: Schedule) -> str | None:
    """What a patient reads as the Schedule's service: its first serviceType that names one, by its
    text, else its first display (the lower-cased `service_text` is for matching, not for reading)."""
    for concept in schedule.serviceType:
        name = concept.text or next((c.display for c in concept.coding if c.display), None)
        if name:
            return name
    return None


def schedule_row(schedule: Schedule, lookups: Lookups) -> dict[str, Any]:
    """Schedule search keys: location, service text, codes, practitioner names, virtual."""
    texts: list[str] = []
    codes: list[str] = []
    names: list[str] = []
    organizations: list[str] = []
    _concept_parts(schedule.serviceType + schedule.specialty, texts, codes)
    spec = specialty(schedule)
    _coding_parts([spec] if spec else [], texts, codes)
    _coding_parts(vaccine_products(schedule), texts, codes)
    location_id = None
    service_virtual = False
    services: list[HealthcareService] = []
    role_services: list[HealthcareService] = []
    languages: list[str | None] = []
    for actor in schedule.actor:
        ref = actor.reference or ""
        if loc_id := reference_id(ref, "Location"):
            location_id = location_id or loc_id
        elif role_id := reference_id(ref, "PractitionerRole"):
            role_loc, name, organization = lookups.roles.get(role_id, (None, None, ""))
            location_id = location_id or role_loc
            if name or actor.display:
                names.append(name or actor.display or "")
            organizations.append(organization)
            practitioner_id, service_ids = lookups.role_links.get(role_id, (None, ()))
            languages.append(lookups.languages.get(practitioner_id or ""))
            role_services.extend(h for h in (lookups.services.get(i) for i in service_ids) if h is not None)
        elif service_id := reference_id(ref, "HealthcareService"):
            service = lookups.services.get(service_id)
            if service is not None:
                services.append(service)
                own: list[str] = [service.name] if service.name else []
                _concept_parts(service.type + service.specialty + service.category, own, codes)
                texts.extend(own)
                organizations.append(_display(service.providedBy))
                service_virtual = any(w in x.lower() for x in own for w in _VIRTUAL_WORDS)
                location_id = location_id or healthcare_service_row(service)["location_source_id"]
        elif practitioner_id := reference_id(ref, "Practitioner"):
            languages.append(lookups.languages.get(practitioner_id))
            if actor.display:
                names.append(actor.display)
    service_text = _unique_lower(texts)
    spoken = " ".join(dict.fromkeys(code for text in languages if text for code in text.split()))
    return {
        "location_source_id": location_id,
        "service_text": service_text,
        "service_name": service_name(schedule),
        "codes": " ".join(dict.fromkeys(codes)),
        "practitioner_text": _unique_lower(names),
        "virtual": service_virtual or any(w in service_text for w in _VIRTUAL_WORDS),
        "organization_text": _unique_lower(organizations),
        "practitioner_display": "; ".join(dict.fromkeys(" ".join(n.split()) for n in names if n.strip())),
        **service_audience(services or role_services),
        "languages": spoken or None,
    }


class Lookups:
    """What deriving a Schedule's columns needs from the other resources of its generation
    (resolve.py `load_lookups` reads them from the store)."""

    def __init__(
        self,
        locations: dict[str, tuple[int, bool]],
        roles: dict[str, tuple[str | None, str | None, str]],
        services: dict[str, HealthcareService],
        role_links: dict[str, tuple[str | None, tuple[str, ...]]] | None = None,
        languages: dict[str, str | None] | None = None,
    ) -> None:
        self.locations = locations  # source id -> (pk, virtual)
        self.roles = roles  # source id -> (location source id, practitioner name, organization text)
        self.services = services
        # PractitionerRole source id -> (its Practitioner's source id, its HealthcareServices' source ids)
        self.role_links = role_links or {}
        self.languages = languages or {}  # Practitioner source id -> languages (practitioner_row)

    @classmethod
    def empty(cls) -> Lookups:
        return cls({}, {}, {})

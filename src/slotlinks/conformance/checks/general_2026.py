"""Checks of the 2026 HL7 IG draft (`--profile general`, the default) that the 2021 profiles lack.

Specification (2026 draft), "Location File": a telehealth Location (virtualService, or physicalType
`vi`) gives each virtualService an address[x], and an `addressUrl` is an absolute http(s) URL. (Its
address, which the Location profile requires of every Location, is `profiles_2026`'s.)
"PractitionerRole File": an NPI identifier, when given, is a valid NPI.
"""

from __future__ import annotations

import re

from slotlinks.conformance.facts import Facts
from slotlinks.conformance.registry import ONLY_GENERAL, Fail, resource_check
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import Location, PractitionerRole
from slotlinks.fhir.urls import is_http_url

__all__ = ["is_virtual", "npi", "virtual_service"]

_NPI = re.compile(r"[12][0-9]{9}")


def is_virtual(location: Location) -> bool:
    """A telehealth Location (2026 "Location File": virtualService, or physicalType `vi`)."""
    if location.virtualService:
        return True
    physical = location.physicalType
    return physical is not None and any(c.code == "vi" for c in physical.coding)


@resource_check(
    Location,
    "location.virtual-service",
    "required",
    "Location File (2026)",
    "virtualService entries give an address; addressUrl is absolute",
    profiles=ONLY_GENERAL,
)
def virtual_service(fail: Fail, location: Location, facts: Facts) -> None:
    """Each virtualService gives an address[x]; an `addressUrl` is an absolute http(s) URL."""
    for i, service in enumerate(location.virtualService):
        if not (
            service.addressUrl
            or service.addressString
            or service.addressContactPoint
            or service.addressExtendedContactDetail
        ):
            fail(facts.where, f"Location/{location.id} virtualService[{i}] gives no address[x]")
        elif service.addressUrl is not None and not is_http_url(service.addressUrl):
            fail(facts.where, f"virtualService[{i}].addressUrl {service.addressUrl!r} is not absolute http(s)")


def _npi_valid(value: str) -> bool:
    """10 digits starting 1 or 2, with a Luhn check digit over the `80840` prefix (CMS NPI standard)."""
    if not _NPI.fullmatch(value):
        return False
    total = 0
    for position, char in enumerate(reversed("80840" + value)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


@resource_check(
    PractitionerRole,
    "practitioner-role.npi",
    "required",
    "PractitionerRole File (2026)",
    "NPI identifiers are valid 10-digit NPIs",
    profiles=ONLY_GENERAL,
)
def npi(fail: Fail, role: PractitionerRole, facts: Facts) -> None:
    """An NPI, when given, is 10 digits with a valid check digit."""
    for identifier in role.identifier:
        if identifier.system == ext.NPI and not _npi_valid(identifier.value or ""):
            fail(facts.where, f"PractitionerRole/{role.id} NPI {identifier.value!r} is not a valid NPI")

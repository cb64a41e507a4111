"""The two profiles a publication is checked against.

`vaccine`: the 2021 specification (smart-on-fhir/smart-scheduling-links specification.md) with the
Inferno test kit's profiles vaccine-location, vaccine-schedule and vaccine-slot: Location, Schedule and
Slot files only; Slot status `free` | `busy`; a VTrckS PIN; booking link and phone SHOULD.
`general` (default): the 2026 HL7 IG draft: PractitionerRole, HealthcareService and Practitioner files
too, `busy-tentative` and `busy-unavailable`, virtual services, no VTrckS.

Which checks a profile runs is declared with each check (`registry.check(..., profiles=...)`); a
`Profile` holds what the checks that judge differently per profile need to know.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GENERAL", "PROFILES", "VACCINE", "Profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    """What a profile allows: Slot statuses, the output types clients know, the types required."""

    name: str
    slot_statuses: frozenset[str]
    known_types: tuple[str, ...]
    required_types: tuple[str, ...]


VACCINE = Profile(
    name="vaccine",
    slot_statuses=frozenset({"free", "busy"}),
    known_types=("Location", "Schedule", "Slot"),
    required_types=("Location", "Schedule", "Slot"),
)
GENERAL = Profile(
    name="general",
    slot_statuses=frozenset({"free", "busy", "busy-tentative", "busy-unavailable"}),
    known_types=("Location", "PractitionerRole", "HealthcareService", "Practitioner", "Schedule", "Slot"),
    required_types=("Schedule", "Slot"),
)
PROFILES: dict[str, Profile] = {p.name: p for p in (GENERAL, VACCINE)}

"""Who a slot is for, as publishers say it: the code systems and extension the provider writes and
the search tool reads (issue 13), named once here so both sides agree on them.

- `ACCEPTING_PATIENTS`: HL7's CodeSystem for `Slot.appointmentType` (the 2026 IG's must-support) and
  for the patient status among `HealthcareService.eligibility` codes.
- `ELIGIBILITY`: the project's CodeSystem for the deciding questions and the published eligibility
  codes (`referral-required`, `no-referral-required`, `age-range`).
- `ELIGIBILITY_VALUE`: FHIR's cross-version extension for R5's `HealthcareService.eligibility.value[x]`
  in an R4 resource; an age range is a `valueRange` of UCUM years (`a`), both bounds inclusive.
- `BCP47` and `LANGUAGES`: `Practitioner.communication` codes and the English names we know.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "ACCEPTING_PATIENTS",
    "AGE_RANGE",
    "BCP47",
    "ELIGIBILITY",
    "ELIGIBILITY_VALUE",
    "LANGUAGES",
    "NO_REFERRAL_REQUIRED",
    "PATIENT_CODES",
    "REFERRAL_REQUIRED",
    "UCUM",
    "language_name",
]

ACCEPTING_PATIENTS = "http://terminology.hl7.org/CodeSystem/accepting-patients"
#: The accepting-patients codes, in the CodeSystem's order.
PATIENT_CODES = ("newpt", "existptonly", "existptfam", "nopt")

ELIGIBILITY = "urn:slotlinks:fhir:eligibility"
REFERRAL_REQUIRED = "referral-required"
NO_REFERRAL_REQUIRED = "no-referral-required"
AGE_RANGE = "age-range"
ELIGIBILITY_VALUE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-HealthcareService.eligibility.value"
UCUM = "http://unitsofmeasure.org"

BCP47 = "urn:ietf:bcp:47"
#: Language codes we know the English name of (others are published without a display).
LANGUAGES: Mapping[str, str] = MappingProxyType({
    "en": "English", "es": "Spanish", "pt": "Portuguese", "vi": "Vietnamese", "ht": "Haitian Creole",
    "zh": "Chinese", "ko": "Korean", "tl": "Tagalog", "ru": "Russian", "ar": "Arabic", "fr": "French",
    "hi": "Hindi", "pl": "Polish", "so": "Somali", "hmn": "Hmong",
})  # fmt: skip


def language_name(code: str) -> str | None:
    """The English name of a BCP-47 code (`pt-BR` is Portuguese), None when we do not know it."""
    code = code.lower()
    return LANGUAGES.get(code) or LANGUAGES.get(code.split("-")[0])

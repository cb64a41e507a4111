"""An `Audience` as we publish it: `Slot.appointmentType` and `HealthcareService.eligibility`.

- `Slot.appointmentType` (2026 IG, must-support) codes who may book from
  `http://terminology.hl7.org/CodeSystem/accepting-patients`; that system has no "new patients only",
  so such slots carry `newpt` and say "New patients only" in `text`.
- `HealthcareService.eligibility` (R4: a code and a comment in words) carries, under our own CodeSystem
  `urn:slotlinks:fhir:eligibility`: `referral-required` or `no-referral-required` (always one: "unknown"
  is what a publication without it means), and `age-range` with the range machine-readable as R5's
  `eligibility.value[x]` through FHIR's cross-version extension, a `valueRange` of UCUM years (`a`),
  both bounds inclusive in whole years. Who may book is repeated there with the accepting-patients code.
Eligibility entries under other systems (a provider's own) are kept as they are.
"""

from __future__ import annotations

from typing import Any

import msgspec

from slotlinks.fhir.audience import ACCEPTING_PATIENTS, ELIGIBILITY_VALUE, UCUM
from slotlinks.fhir.resources import (
    CodeableConcept,
    Coding,
    Extension,
    HealthcareService,
    Quantity,
    Range,
    ServiceEligibility,
)
from slotlinks.provider.records.audience import ELIGIBILITY, Audience, Patients

__all__ = [
    "ACCEPTING_PATIENTS",
    "ELIGIBILITY_VALUE",
    "appointment_type",
    "patients_coding",
    "service_eligibility",
    "with_service_audience",
]


# (code, the CodeSystem's display, what we say)
_PATIENTS: dict[Patients, tuple[str, str, str]] = {
    "all": ("newpt", "Accepting new and existing patients", "New and existing patients"),
    "new": ("newpt", "Accepting new and existing patients", "New patients only"),
    "existing": ("existptonly", "Accepting existing patients only", "Existing patients only"),
    "existing-and-family": (
        "existptfam",
        "Accepting existing patients and their families only",
        "Existing patients and their families only",
    ),
    "none": ("nopt", "Not Accepting", "Not accepting patients"),
}


def patients_coding(patients: Patients) -> tuple[Coding, str]:
    code, display, text = _PATIENTS[patients]
    return Coding(system=ACCEPTING_PATIENTS, code=code, display=display), text


def appointment_type(audience: Audience) -> dict[str, Any]:
    """`Slot.appointmentType` as JSON, for the renderer's per-schedule fragment."""
    coding, text = patients_coding(audience.patients)
    return {"coding": [msgspec.to_builtins(coding)], "text": text}


def _years(value: int) -> Quantity:
    return Quantity(value=value, unit="years", system=UCUM, code="a")


def _age_text(audience: Audience) -> str:
    low, high = audience.min_age, audience.max_age
    if low is not None and high is not None:
        return f"Ages {low}\u2013{high}"
    return f"Ages {low} and over" if low is not None else f"Ages {high} and under"


def _ours(
    code: str, display: str, text: str, comment: str, extension: list[Extension] | None = None
) -> ServiceEligibility:
    return ServiceEligibility(
        extension=extension or [],
        code=CodeableConcept(coding=[Coding(system=ELIGIBILITY, code=code, display=display)], text=text),
        comment=comment,
    )


def service_eligibility(audience: Audience) -> list[ServiceEligibility]:
    """The eligibility entries that say `audience`."""
    coding, text = patients_coding(audience.patients)
    entries = [ServiceEligibility(code=CodeableConcept(coding=[coding], text=text), comment=f"{text}.")]
    if audience.referral:
        entries.append(
            _ours(
                "referral-required",
                "Referral required",
                "Referral needed",
                "A referral from your clinician is needed to book.",
            )
        )
    else:
        entries.append(
            _ours(
                "no-referral-required", "No referral required", "No referral needed", "You can book without a referral."
            )
        )
    if audience.min_age is not None or audience.max_age is not None:
        low = _years(audience.min_age) if audience.min_age is not None else None
        high = _years(audience.max_age) if audience.max_age is not None else None
        words = _age_text(audience)
        entries.append(
            _ours(
                "age-range",
                "Age range",
                words,
                f"{words} (age in whole years on the day of the visit).",
                [Extension(url=ELIGIBILITY_VALUE, valueRange=Range(low=low, high=high))],
            )
        )
    return entries


def _is_ours(entry: ServiceEligibility) -> bool:
    codings = entry.code.coding if entry.code else []
    return any(c.system in (ELIGIBILITY, ACCEPTING_PATIENTS) for c in codings)


def with_service_audience(service: HealthcareService, audience: Audience) -> HealthcareService:
    """The service with our eligibility entries saying `audience` (the provider's other entries kept)."""
    kept = [e for e in service.eligibility if not _is_ours(e)]
    return msgspec.structs.replace(service, eligibility=[*service_eligibility(audience), *kept])

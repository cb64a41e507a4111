"""Who a slot is for, read from what any publisher says (issue 13): the patient status of a Slot, the
referral requirement and age range of its Schedule's services, the languages of its practitioners.

What is not published stays unknown (NULL), never guessed:
- a Slot's patient status is the first `appointmentType` coding from HL7's accepting-patients system
  (`fhir.audience.PATIENT_CODES`); a Schedule's is the same code among its services' `eligibility`
  entries, which search falls back on for a Slot that says nothing;
- a service's referral requirement is our eligibility code `referral-required` or
  `no-referral-required`; its age range is the `valueRange` in UCUM years on an `age-range` entry.
  Bounds are kept as whole years a patient's age (in whole years) is compared with, rounded down, so
  "6 months and up" does not exclude a baby of 0;
- `ages_stated` says the services state their eligibility in codes we read at all, so an absent age
  range means "no age limit" rather than "not said" (an age range we cannot read leaves it False);
- a practitioner's languages are the BCP-47 codes of `communication` (the primary language subtag,
  lower-cased, space-separated); none published is NULL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from slotlinks.fhir.audience import (
    ACCEPTING_PATIENTS,
    AGE_RANGE,
    BCP47,
    ELIGIBILITY,
    ELIGIBILITY_VALUE,
    NO_REFERRAL_REQUIRED,
    PATIENT_CODES,
    REFERRAL_REQUIRED,
    UCUM,
)
from slotlinks.fhir.resources import CodeableConcept, HealthcareService, Practitioner, Quantity

__all__ = ["SCHEDULE_AUDIENCE_COLUMNS", "languages_of", "patients_of", "service_audience"]

#: The Schedule columns `service_audience` gives.
SCHEDULE_AUDIENCE_COLUMNS = ("patients", "referral", "min_age", "max_age", "ages_stated")

_PATIENTS = frozenset(PATIENT_CODES)
_YEARS = frozenset({"a", "yr", "year", "years"})
_MAX_AGE = 150


class _Coding(Protocol):
    @property
    def system(self) -> str | None: ...
    @property
    def code(self) -> str | None: ...


class _Concept(Protocol):
    @property
    def coding(self) -> Sequence[_Coding]: ...


def patients_of(concept: _Concept | None) -> str | None:
    """The accepting-patients code of `Slot.appointmentType` (typed or plain decode), or None."""
    if concept is None:
        return None
    for coding in concept.coding:
        if coding.system == ACCEPTING_PATIENTS and coding.code in _PATIENTS:
            return coding.code
    return None


def _years(quantity: Quantity | None) -> int | None:
    """A bound in whole years, or None when it is absent or not plainly a number of years."""
    if quantity is None or quantity.value is None or not math.isfinite(quantity.value):
        return None
    unit = quantity.code if quantity.system == UCUM and quantity.code else quantity.unit
    if (unit or "").lower() not in _YEARS or not 0 <= quantity.value <= _MAX_AGE:
        return None
    return math.floor(quantity.value)


def _codes(concept: CodeableConcept | None) -> Iterable[tuple[str | None, str | None]]:
    return ((c.system, c.code) for c in (concept.coding if concept else []))


def service_audience(services: Sequence[HealthcareService]) -> dict[str, Any]:
    """`SCHEDULE_AUDIENCE_COLUMNS` from a Schedule's services, the first that says each thing winning."""
    found: dict[str, Any] = dict.fromkeys(SCHEDULE_AUDIENCE_COLUMNS)
    stated = ages_seen = unreadable = False
    for service in services:
        for entry in service.eligibility:
            for system, code in _codes(entry.code):
                if system == ACCEPTING_PATIENTS and code in _PATIENTS:
                    stated = True
                    found["patients"] = found["patients"] or code
                elif system == ELIGIBILITY and code in (REFERRAL_REQUIRED, NO_REFERRAL_REQUIRED):
                    stated = True
                    if found["referral"] is None:
                        found["referral"] = code == REFERRAL_REQUIRED
                elif system == ELIGIBILITY and code == AGE_RANGE and not ages_seen:
                    stated = ages_seen = True
                    ranges = [e.valueRange for e in entry.extension if e.url == ELIGIBILITY_VALUE and e.valueRange]
                    if ranges:
                        found["min_age"], found["max_age"] = _years(ranges[0].low), _years(ranges[0].high)
                    unreadable = found["min_age"] is None and found["max_age"] is None
    found["ages_stated"] = stated and not unreadable
    return found


def languages_of(practitioner: Practitioner) -> str | None:
    """The primary language subtags a practitioner publishes, space-separated, or None."""
    codes: dict[str, None] = {}
    for concept in practitioner.communication:
        for coding in concept.coding:
            if coding.system == BCP47 and coding.code:
                primary = coding.code.split("-")[0].lower()
                if primary.isascii() and primary.isalpha():
                    codes.setdefault(primary, None)
    return " ".join(codes) or None

"""Realistic generated providers for demos, tests and benchmarks: places, services, names, questionnaires.

- `catalog`: A catalog of realistic services, and name material, for generated demo providers.
- `generate`: `slotlinks generate provider`: a realistic, deterministic provider for demos, tests and benchmarks.
- `questionnaires`: Realistic pre-booking questionnaires for generated providers (`slotlinks generate provider`).
- `spanish`: Spanish for the demo's questionnaires, so a patient who reads Spanish meets no English question.
"""

from __future__ import annotations

from slotlinks.provider.demo.catalog import (
    CREDENTIALS,
    CVX,
    FAMILY_NAMES,
    GIVEN_NAMES,
    SERVICE_TYPE,
    SERVICES,
    SERVICES_BY_KEY,
    SMART_SERVICE_TYPE,
    SNOMED,
    ServiceKind,
    holiday_closures,
    organization_name,
    person_name,
    service,
    street_address,
    us_holidays,
)
from slotlinks.provider.demo.generate import GenerateOptions, generate_provider
from slotlinks.provider.demo.questionnaires import neurology_questionnaire

__all__ = [
    "CREDENTIALS",
    "CVX",
    "FAMILY_NAMES",
    "GIVEN_NAMES",
    "SERVICES",
    "SERVICES_BY_KEY",
    "SERVICE_TYPE",
    "SMART_SERVICE_TYPE",
    "SNOMED",
    "GenerateOptions",
    "ServiceKind",
    "generate_provider",
    "holiday_closures",
    "neurology_questionnaire",
    "organization_name",
    "person_name",
    "service",
    "street_address",
    "us_holidays",
]

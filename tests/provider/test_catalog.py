"""The service catalog's codings and hours, name material, and US holidays."""

from __future__ import annotations

import random
from datetime import date
from zoneinfo import ZoneInfo

import pytest

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
    holiday_closures,
    organization_name,
    person_name,
    service,
    us_holidays,
)
from slotlinks.provider.schedule.opening_hours import validate_rule
from slotlinks.provider.schedule.slot_times import expand

# Specialty codes of FHIR R4 ValueSet c80-practice-codes used by the catalog, with their displays
# there; pediatrics (394537008) is the one deliberate exception (the value set has no such concept).
PRACTICE_CODES = {
    "394814009": "General practice",
    "409968004": "Preventive medicine",
    "394582007": "Dermatology",
    "394591006": "Neurology",
    "394579002": "Cardiology",
    "394602003": "Rehabilitation",
    "394585009": "Obstetrics and gynecology",
    "394913002": "Psychotherapy",
    "394915009": "General pathology",
    "394583002": "Endocrinology",
    "394594003": "Ophthalmology",
    "408444009": "Dental-General dental practice",
}


def test_the_required_kinds_are_present() -> None:
    required = {
        "primary-care", "urgent-care", "flu-vaccine", "covid-vaccine", "dermatology", "neurology",
        "cardiology", "physical-therapy", "pediatrics", "womens-health", "behavioral-health",
        "telehealth", "lab",
    }  # fmt: skip
    assert required <= set(SERVICES_BY_KEY)
    assert len(SERVICES_BY_KEY) == len(SERVICES)  # keys are unique


@pytest.mark.parametrize("kind", SERVICES, ids=lambda k: k.key)
def test_codings_are_well_formed(kind: object) -> None:
    from slotlinks.provider.demo.catalog import ServiceKind

    assert isinstance(kind, ServiceKind)
    assert kind.specialty.system == SNOMED
    if kind.key != "pediatrics":
        assert PRACTICE_CODES[kind.specialty.code] == kind.specialty.display
    assert kind.service_types
    assert kind.service_types[0].system == SERVICE_TYPE
    assert all(c.system in (SERVICE_TYPE, SMART_SERVICE_TYPE) for c in kind.service_types)
    assert all(c.code and c.display for c in kind.service_types)
    assert kind.role.system == SNOMED
    assert kind.role.code.isdigit()
    assert set(kind.credentials) <= set(CREDENTIALS)
    assert kind.description
    assert len(kind.description) < 120  # patient-facing, one line


@pytest.mark.parametrize("kind", SERVICES, ids=lambda k: k.key)
def test_hours_make_valid_rules_that_open_slots(kind: object) -> None:
    from slotlinks.provider.demo.catalog import ServiceKind

    assert isinstance(kind, ServiceKind)
    rules = kind.rules("sched-1")
    assert [r.id for r in rules] == [f"sched-1-{i}" for i in range(1, len(rules) + 1)]
    for r in rules:
        assert validate_rule(r) == []
        assert (r.slot_minutes, r.capacity) == (kind.slot_minutes, kind.capacity)
    week = list(expand(rules, [], ZoneInfo("America/Chicago"), date(2026, 5, 4), date(2026, 5, 10)))
    assert len(week) > 10


def test_immunizations_carry_cvx_products() -> None:
    for key in ("flu-vaccine", "covid-vaccine"):
        kind = service(key)
        assert kind.service_types[0].code == "57"
        assert kind.vaccine_products
        assert all(p.system == CVX and p.code.isdigit() for p in kind.vaccine_products)
        assert not kind.needs_practitioner
    covid = service("covid-vaccine")
    assert [c.code for c in covid.service_types] == ["57", "covid19-immunization"]
    assert {p.code for p in service("flu-vaccine").vaccine_products} == {"150", "197"}
    others = [k for k in SERVICES if k.key not in ("flu-vaccine", "covid-vaccine")]
    assert all(not k.vaccine_products for k in others)


def test_virtual_services() -> None:
    virtual = {k.key for k in SERVICES if k.virtual}
    assert {"telehealth", "teletherapy"} == virtual
    assert "540" in {c.code for c in service("telehealth").service_types}


def test_known_codes() -> None:
    assert service("primary-care").specialty.code == "394814009"
    assert service("primary-care").service_types[0].code == "124"
    assert service("dermatology").specialty.code == "394582007"
    assert service("neurology").specialty.code == "394591006"
    assert service("cardiology").specialty.code == "394579002"
    assert service("primary-care").role.code == "309343006"


def test_unknown_service_lists_known_keys() -> None:
    with pytest.raises(KeyError, match="unknown service 'podiatry'; known: primary-care"):
        service("podiatry")


def test_name_material_is_varied_and_deterministic() -> None:
    assert len(set(GIVEN_NAMES)) == len(GIVEN_NAMES) >= 50
    assert len(set(FAMILY_NAMES)) == len(FAMILY_NAMES) >= 50
    assert {"MD", "DO", "NP", "PA", "PT", "PharmD"} <= set(CREDENTIALS)
    a, b = random.Random(7), random.Random(7)
    assert [person_name(a) for _ in range(5)] == [person_name(b) for _ in range(5)]
    names = {organization_name(random.Random(i), city="Tucson", county="Pima County") for i in range(60)}
    assert len(names) > 10
    assert all("{" not in n for n in names)
    assert all("County County" not in n for n in names)


# --- holidays -------------------------------------------------------------------------------------


def test_us_holidays_2026() -> None:
    assert us_holidays(2026) == [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 1, 19), "Martin Luther King Jr. Day"),
        (date(2026, 5, 25), "Memorial Day"),
        (date(2026, 7, 3), "Independence Day (observed)"),  # July 4 is a Saturday
        (date(2026, 9, 7), "Labor Day"),
        (date(2026, 11, 26), "Thanksgiving Day"),
        (date(2026, 12, 25), "Christmas Day"),
    ]


def test_us_holidays_2027_observed_dates() -> None:
    holidays = dict(us_holidays(2027))
    assert holidays[date(2027, 1, 1)] == "New Year's Day"
    assert holidays[date(2027, 1, 18)] == "Martin Luther King Jr. Day"
    assert holidays[date(2027, 5, 31)] == "Memorial Day"
    assert holidays[date(2027, 7, 5)] == "Independence Day (observed)"  # Sunday -> Monday
    assert holidays[date(2027, 9, 6)] == "Labor Day"
    assert holidays[date(2027, 11, 25)] == "Thanksgiving Day"
    assert holidays[date(2027, 12, 24)] == "Christmas Day (observed)"  # Saturday -> Friday
    # January 1, 2028 is a Saturday: observed on Friday, December 31, 2027 ...
    assert holidays[date(2027, 12, 31)] == "New Year's Day (observed)"
    assert len(holidays) == 8
    # ... so 2028's own list has no New Year's Day.
    assert not any("New Year" in name for _, name in us_holidays(2028))


@pytest.mark.parametrize("year", range(2020, 2040))
def test_us_holidays_fall_on_weekdays(year: int) -> None:
    holidays = us_holidays(year)
    assert all(d.weekday() < 5 and d.year == year for d, _ in holidays)
    assert [d for d, _ in holidays] == sorted(d for d, _ in holidays)
    assert 6 <= len(holidays) <= 8


def test_holiday_closures() -> None:
    closures = holiday_closures(date(2026, 11, 1), date(2027, 1, 31))
    assert [(c.day, c.reason) for c in closures] == [
        (date(2026, 11, 26), "Thanksgiving Day"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2027, 1, 1), "New Year's Day"),
        (date(2027, 1, 18), "Martin Luther King Jr. Day"),
    ]
    assert all(c.start is None and c.end is None for c in closures)

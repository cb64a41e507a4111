"""A catalog of realistic services, and name material, for generated demo providers.

Each `ServiceKind` carries the codings a Schedule, HealthcareService and PractitionerRole need
(SPEC-NOTES, Resources): a SNOMED CT specialty (the Schedule ``specialty`` extension and
PractitionerRole/HealthcareService ``specialty``), HL7 service-type codings (Schedule
``serviceType``), a SNOMED CT occupation for PractitionerRole ``code``, and for immunizations the CVX
codings of the ``vaccine-product`` extension. Typical hours are kept as `rules.Rule`-shaped data.

Where the codes come from (checked against the published tables, not recalled):

* specialties: FHIR R4 ValueSet ``c80-practice-codes`` (SNOMED CT, displays as listed there). It has
  no general-pediatrics concept, so pediatrics uses SNOMED CT 394537008 "Pediatric specialty".
* service types: ``http://terminology.hl7.org/CodeSystem/service-type`` (e.g. 57 Immunization, 124
  General Practice, 556 Walk-in Centre /Non-Emergency, 540 Online Service).
* practitioner roles: SNOMED CT occupations (309343006 Physician, as in the 2026 IG's example).
* vaccines: CDC CVX codes (``http://hl7.org/fhir/sid/cvx``), with the CDC's short descriptions.

Everything here is invented demo data except the codes and the holiday rules.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from types import MappingProxyType

from slotlinks.provider.records.practitioner_profile import LANGUAGES
from slotlinks.provider.schedule.opening_hours import Closure, Rule, parse_weekdays

__all__ = [
    "CREDENTIALS",
    "CVX",
    "FAMILY_NAMES",
    "FEMININE_NAMES",
    "GIVEN_NAMES",
    "LANGUAGES",
    "ORGANIZATION_PATTERNS",
    "SERVICES",
    "SERVICES_BY_KEY",
    "SERVICE_TYPE",
    "SMART_SERVICE_TYPE",
    "SNOMED",
    "STREET_NAMES",
    "STREET_SUFFIXES",
    "Coding",
    "ServiceKind",
    "WeeklyHours",
    "clinician_languages",
    "holiday_closures",
    "organization_name",
    "person_name",
    "service",
    "street_address",
    "us_holidays",
]

SNOMED = "http://snomed.info/sct"
SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
SMART_SERVICE_TYPE = "http://fhir-registry.smarthealthit.org/CodeSystem/service-type"
CVX = "http://hl7.org/fhir/sid/cvx"


@dataclass(frozen=True, slots=True)
class Coding:
    """A FHIR Coding: ``system`` + ``code`` + human ``display``."""

    system: str
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Opening hours in `rules.Rule` shape: ``weekdays`` as text (``"mon-fri"``), local times."""

    weekdays: str
    start: time
    end: time

    def to_rule(self, rule_id: str, slot_minutes: int, capacity: int) -> Rule:
        """The `Rule` that opens these hours with the given slot length and capacity."""
        return Rule(rule_id, parse_weekdays(self.weekdays), self.start, self.end, slot_minutes, capacity)


@dataclass(frozen=True, slots=True)
class ServiceKind:
    """One kind of bookable service and how a typical provider offers it."""

    key: str
    display: str
    specialty: Coding
    service_types: tuple[Coding, ...]
    role: Coding
    slot_minutes: int
    capacity: int
    hours: tuple[WeeklyHours, ...]
    needs_practitioner: bool
    virtual: bool
    description: str
    credentials: tuple[str, ...]
    vaccine_products: tuple[Coding, ...] = ()
    # Who the service is for (`records.audience`): "all", "new", "existing", "existing-and-family".
    patients: str = "all"
    referral: bool = False
    min_age: int | None = None
    max_age: int | None = None
    # Whether each clinician keeps a panel: some are full (existing patients only), some only take on
    # new patients in intake visits.
    panel: bool = False
    # HealthcareService.serviceProvisionCode (service-provision-conditions) and appointmentRequired.
    fees: str = "cost"
    appointment_required: bool = True

    def rules(self, prefix: str) -> list[Rule]:
        """This service's typical weekly hours as rules with ids ``{prefix}-1``, ``{prefix}-2`` ..."""
        return [
            hours.to_rule(f"{prefix}-{i}", self.slot_minutes, self.capacity)
            for i, hours in enumerate(self.hours, start=1)
        ]


def _sct(code: str, display: str) -> Coding:
    return Coding(SNOMED, code, display)


def _st(code: str, display: str) -> Coding:
    return Coding(SERVICE_TYPE, code, display)


def _hours(weekdays: str, start: str, end: str) -> WeeklyHours:
    return WeeklyHours(weekdays, time.fromisoformat(start), time.fromisoformat(end))


_PHYSICIAN = _sct("309343006", "Physician")
_PHARMACIST = _sct("46255001", "Pharmacist")
_PHYSIOTHERAPIST = _sct("36682004", "Physiotherapist")
_NURSE = _sct("106292003", "Professional nurse")
_PSYCHOLOGIST = _sct("59944000", "Psychologist")
_DENTIST = _sct("106289002", "Dentist")
_GENERAL_PRACTICE = _sct("394814009", "General practice")
_IMMUNIZATION = _st("57", "Immunization")

SERVICES: tuple[ServiceKind, ...] = (
    ServiceKind(
        key="primary-care",
        display="Primary care visit",
        specialty=_GENERAL_PRACTICE,
        service_types=(_st("124", "General Practice"),),
        role=_PHYSICIAN,
        slot_minutes=20,
        capacity=1,
        hours=(_hours("mon-fri", "08:00", "17:00"), _hours("sat", "09:00", "12:00")),
        needs_practitioner=True,
        virtual=False,
        description="Check-ups, new concerns, prescriptions and referrals with your own clinician.",
        credentials=("MD", "DO", "NP", "PA"),
        panel=True,
    ),
    ServiceKind(
        key="urgent-care",
        display="Urgent care",
        specialty=_GENERAL_PRACTICE,
        service_types=(_st("556", "Walk-in Centre /Non-Emergency"),),
        role=_PHYSICIAN,
        slot_minutes=15,
        capacity=2,
        hours=(_hours("daily", "08:00", "20:00"),),
        needs_practitioner=False,
        virtual=False,
        description="Same-day care for minor injuries and illnesses. Call 911 for emergencies.",
        credentials=("MD", "DO", "NP", "PA"),
        appointment_required=False,
    ),
    ServiceKind(
        key="flu-vaccine",
        display="Flu vaccine",
        specialty=_sct("409968004", "Preventive medicine"),
        service_types=(_IMMUNIZATION,),
        role=_PHARMACIST,
        slot_minutes=10,
        capacity=4,
        hours=(_hours("mon-fri", "09:00", "19:00"), _hours("sat,sun", "10:00", "16:00")),
        needs_practitioner=False,
        virtual=False,
        description="Seasonal influenza shot for ages 6 months and up; high-dose vaccine for 65+.",
        credentials=("PharmD",),
        vaccine_products=(
            Coding(CVX, "150", "Influenza, injectable, quadrivalent, preservative free"),
            Coding(CVX, "197", "Influenza, high-dose, quadrivalent"),
        ),
        fees="free",
        min_age=3,
    ),
    ServiceKind(
        key="covid-vaccine",
        display="COVID-19 vaccine",
        specialty=_sct("409968004", "Preventive medicine"),
        service_types=(
            _IMMUNIZATION,
            Coding(SMART_SERVICE_TYPE, "covid19-immunization", "COVID-19 Immunization Appointment"),
        ),
        role=_PHARMACIST,
        slot_minutes=15,
        capacity=3,
        hours=(_hours("mon-fri", "09:00", "18:00"), _hours("sat", "10:00", "15:00")),
        needs_practitioner=False,
        virtual=False,
        description="Updated COVID-19 vaccine. Bring your vaccination card if you have one.",
        credentials=("PharmD",),
        vaccine_products=(
            Coding(CVX, "309", "COVID-19, mRNA, LNP-S, PF, tris-sucrose, 30 mcg/0.3 mL"),
            Coding(CVX, "312", "COVID-19, mRNA, LNP-S, PF, 50 mcg/0.5 mL"),
            Coding(CVX, "313", "COVID-19, subunit, rS-nanoparticle, adjuvanted, PF, 5 mcg/0.5 mL"),
        ),
        fees="free",
        min_age=5,
    ),
    ServiceKind(
        key="dermatology",
        display="Dermatology",
        specialty=_sct("394582007", "Dermatology"),
        service_types=(_st("168", "Dermatology"),),
        role=_PHYSICIAN,
        slot_minutes=30,
        capacity=1,
        hours=(_hours("tue-thu", "08:30", "16:30"),),
        needs_practitioner=True,
        virtual=False,
        description="Skin, hair and nail conditions, mole checks and skin cancer screening.",
        credentials=("MD", "DO", "PA"),
    ),
    ServiceKind(
        key="neurology",
        display="Neurology",
        specialty=_sct("394591006", "Neurology"),
        service_types=(_st("177", "Neurology"),),
        role=_PHYSICIAN,
        slot_minutes=45,
        capacity=1,
        hours=(_hours("mon,wed,fri", "09:00", "16:00"),),
        needs_practitioner=True,
        virtual=False,
        description="Headache, seizures, nerve and muscle disorders. Some visits need a referral.",
        credentials=("MD", "DO"),
        referral=True,
    ),
    ServiceKind(
        key="cardiology",
        display="Cardiology",
        specialty=_sct("394579002", "Cardiology"),
        service_types=(_st("165", "Cardiology"),),
        role=_PHYSICIAN,
        slot_minutes=30,
        capacity=1,
        hours=(_hours("mon-thu", "08:00", "16:00"),),
        needs_practitioner=True,
        virtual=False,
        description="Heart rhythm, blood pressure, chest pain follow-up and cardiac testing.",
        credentials=("MD", "DO", "NP"),
    ),
    ServiceKind(
        key="physical-therapy",
        display="Physical therapy",
        specialty=_sct("394602003", "Rehabilitation"),
        service_types=(_st("65", "Physiotherapy"),),
        role=_PHYSIOTHERAPIST,
        slot_minutes=45,
        capacity=1,
        hours=(_hours("mon-fri", "07:00", "19:00"),),
        needs_practitioner=True,
        virtual=False,
        description="Recovery from injury or surgery, back and joint pain, balance and strength.",
        credentials=("PT", "DPT"),
    ),
    ServiceKind(
        key="pediatrics",
        display="Pediatrics",
        specialty=_sct("394537008", "Pediatric specialty"),
        service_types=(_st("200", "Paediatric Medicine"),),
        role=_PHYSICIAN,
        slot_minutes=20,
        capacity=1,
        hours=(_hours("mon-fri", "08:00", "17:00"), _hours("sat", "09:00", "12:00")),
        needs_practitioner=True,
        virtual=False,
        description="Well-child visits, sports physicals, childhood vaccines and sick visits.",
        credentials=("MD", "DO", "NP"),
        min_age=0,
        max_age=17,
        panel=True,
    ),
    ServiceKind(
        key="womens-health",
        display="Women's health / OB-GYN",
        specialty=_sct("394585009", "Obstetrics and gynecology"),
        service_types=(_st("186", "Obstetrics & Gynaecology"), _st("559", "Women's Health")),
        role=_PHYSICIAN,
        slot_minutes=30,
        capacity=1,
        hours=(_hours("mon-fri", "08:00", "16:30"),),
        needs_practitioner=True,
        virtual=False,
        description="Annual exams, prenatal care, contraception and menopause care.",
        credentials=("MD", "DO", "NP", "CNM"),
        panel=True,
    ),
    ServiceKind(
        key="behavioral-health",
        display="Behavioral health",
        specialty=_sct("394913002", "Psychotherapy"),
        service_types=(_st("142", "Psychology"),),
        role=_PSYCHOLOGIST,
        slot_minutes=50,
        capacity=1,
        hours=(_hours("mon-fri", "09:00", "17:00"), _hours("tue,thu", "17:00", "20:00")),
        needs_practitioner=True,
        virtual=False,
        description="Counseling and therapy for anxiety, depression, stress and life changes.",
        credentials=("PhD", "PsyD", "LCSW"),
        panel=True,
    ),
    ServiceKind(
        key="telehealth",
        display="Virtual visit",
        specialty=_GENERAL_PRACTICE,
        service_types=(_st("124", "General Practice"), _st("540", "Online Service")),
        role=_PHYSICIAN,
        slot_minutes=15,
        capacity=1,
        hours=(_hours("mon-fri", "07:00", "21:00"), _hours("sat,sun", "09:00", "17:00")),
        needs_practitioner=True,
        virtual=True,
        description="See a clinician by video from home for common illnesses and prescription refills.",
        credentials=("MD", "DO", "NP", "PA"),
        patients="existing-and-family",
    ),
    ServiceKind(
        key="teletherapy",
        display="Virtual therapy session",
        specialty=_sct("394913002", "Psychotherapy"),
        service_types=(_st("142", "Psychology"), _st("540", "Online Service")),
        role=_PSYCHOLOGIST,
        slot_minutes=50,
        capacity=1,
        hours=(_hours("mon-fri", "08:00", "20:00"),),
        needs_practitioner=True,
        virtual=True,
        description="Talk therapy by secure video with a licensed therapist.",
        credentials=("PhD", "PsyD", "LCSW"),
    ),
    ServiceKind(
        key="lab",
        display="Lab work / blood draw",
        specialty=_sct("394915009", "General pathology"),
        service_types=(_st("159", "Pathology - General"),),
        role=_NURSE,
        slot_minutes=10,
        capacity=3,
        hours=(_hours("mon-fri", "07:00", "15:00"), _hours("sat", "08:00", "12:00")),
        needs_practitioner=False,
        virtual=False,
        description="Blood draws and specimen drop-off for tests your clinician ordered.",
        credentials=("RN",),
        patients="existing",
    ),
    ServiceKind(
        key="endocrinology",
        display="Diabetes and endocrinology",
        specialty=_sct("394583002", "Endocrinology"),
        service_types=(_st("169", "Endocrinology"),),
        role=_PHYSICIAN,
        slot_minutes=30,
        capacity=1,
        hours=(_hours("mon,wed,thu", "08:00", "16:00"),),
        needs_practitioner=True,
        virtual=False,
        description="Diabetes, thyroid and hormone conditions.",
        credentials=("MD", "DO", "NP"),
    ),
    ServiceKind(
        key="ophthalmology",
        display="Eye care",
        specialty=_sct("394594003", "Ophthalmology"),
        service_types=(_st("217", "Ophthalmology"),),
        role=_PHYSICIAN,
        slot_minutes=20,
        capacity=1,
        hours=(_hours("mon-fri", "08:00", "17:00"),),
        needs_practitioner=True,
        virtual=False,
        description="Eye exams, glaucoma and cataract evaluation, diabetic eye checks.",
        credentials=("MD", "DO"),
    ),
    ServiceKind(
        key="dental",
        display="Dental cleaning and exam",
        specialty=_sct("408444009", "Dental-General dental practice"),
        service_types=(_st("88", "General Dental"),),
        role=_DENTIST,
        slot_minutes=60,
        capacity=1,
        hours=(_hours("mon-thu", "08:00", "17:00"), _hours("fri", "08:00", "13:00")),
        needs_practitioner=True,
        virtual=False,
        description="Routine cleanings, exams and X-rays; new patients welcome.",
        credentials=("DDS", "DMD"),
        panel=True,
    ),
)

SERVICES_BY_KEY: Mapping[str, ServiceKind] = MappingProxyType({s.key: s for s in SERVICES})


def service(key: str) -> ServiceKind:
    """The service kind named ``key``; KeyError lists the known keys."""
    try:
        return SERVICES_BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown service {key!r}; known: {', '.join(SERVICES_BY_KEY)}") from None


# ---------------------------------------------------------------------------------------------------
# Name material: varied across origins so generated directories look like real US ones.

GIVEN_NAMES: tuple[str, ...] = (
    "Aaliyah", "Aarav", "Abigail", "Adebayo", "Aiko", "Alejandro", "Amara", "Ana", "Andrei",
    "Anh", "Aisha", "Benjamin", "Camila", "Carlos", "Chen", "Chloe", "Daniel", "Deepa", "Diego",
    "Dmitri", "Elena", "Emeka", "Emily", "Fatima", "Gabriel", "Grace", "Hana", "Hiroshi",
    "Ibrahim", "Imani", "Isabella", "James", "Jamal", "Javier", "Jin", "Joseph", "Kavya",
    "Keanu", "Kwame", "Layla", "Leilani", "Liam", "Lucia", "Malik", "Maria", "Mateo", "Mei",
    "Michael", "Minh", "Nadia", "Naomi", "Nia", "Noah", "Olga", "Omar", "Priya", "Rafael",
    "Ravi", "Rosa", "Samuel", "Santiago", "Sarah", "Seo-yeon", "Sofia", "Tariq", "Thandiwe",
    "Tomas", "Valentina", "Wei", "William", "Yasmin", "Yusuf", "Zainab", "Zoe",
)  # fmt: skip

FAMILY_NAMES: tuple[str, ...] = (
    "Abubakar", "Adeyemi", "Ahmed", "Alvarez", "Anderson", "Bautista", "Begay", "Brown",
    "Castillo", "Chang", "Chavez", "Cohen", "Das", "Davis", "Diaz", "Dubois", "Eriksen",
    "Fernandez", "Fitzgerald", "Garcia", "Goldberg", "Gonzalez", "Gupta", "Haddad", "Hernandez",
    "Horvath", "Hussain", "Ivanova", "Jackson", "Johnson", "Kahananui", "Kapoor", "Kim",
    "Kowalski", "Le", "Lee", "Lopez", "Martinez", "Mensah", "Miller", "Morales", "Murphy",
    "Nakamura", "Nguyen", "Novak", "Obi", "O'Brien", "Okafor", "Olsen", "Park", "Patel",
    "Petrov", "Ramirez", "Reyes", "Robinson", "Rossi", "Sanchez", "Schmidt", "Shah", "Silva",
    "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Thompson", "Torres", "Tran", "Washington",
    "Williams", "Wilson", "Wong", "Yazzie", "Yilmaz", "Zhang",
)  # fmt: skip

# Given names above that are usually women's; the others are usually men's or either (Anh, Chen,
# Jin, Minh and Wei are left out of both: a generated clinician with such a name publishes no gender).
FEMININE_NAMES: frozenset[str] = frozenset({
    "Aaliyah", "Abigail", "Aiko", "Aisha", "Amara", "Ana", "Camila", "Chloe", "Deepa", "Elena",
    "Emily", "Fatima", "Grace", "Hana", "Imani", "Isabella", "Kavya", "Layla", "Leilani", "Lucia",
    "Maria", "Mei", "Nadia", "Naomi", "Nia", "Olga", "Priya", "Rosa", "Sarah", "Seo-yeon", "Sofia",
    "Thandiwe", "Valentina", "Yasmin", "Zainab", "Zoe",
})  # fmt: skip
EITHER_NAMES: frozenset[str] = frozenset({"Anh", "Chen", "Jin", "Minh", "Wei"})


# The share of clinicians who also speak each language besides English: roughly how common the
# language is at home in the state (US Census ACS), so Spanish everywhere, Portuguese and Haitian
# Creole in New England and Florida, Vietnamese on the coasts and in Texas. Invented proportions.
_LANGUAGE_SHARE: Mapping[str, float] = MappingProxyType(
    {"es": 0.12, "zh": 0.02, "vi": 0.015, "tl": 0.01, "ko": 0.01, "ar": 0.01, "ru": 0.01, "fr": 0.01, "hi": 0.015}
)
_STATE_LANGUAGE_SHARE: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "CA": {"es": 0.3, "zh": 0.06, "vi": 0.04, "tl": 0.04, "ko": 0.03},
    "TX": {"es": 0.33, "vi": 0.03},
    "FL": {"es": 0.28, "ht": 0.05, "pt": 0.02},
    "NY": {"es": 0.2, "zh": 0.06, "ru": 0.04, "ht": 0.03},
    "MA": {"es": 0.12, "pt": 0.08, "ht": 0.04, "vi": 0.03, "zh": 0.04},
    "RI": {"es": 0.15, "pt": 0.08},
    "NJ": {"es": 0.2, "pt": 0.03, "ko": 0.03},
    "WA": {"es": 0.1, "vi": 0.04, "zh": 0.04, "ko": 0.03, "ru": 0.03},
    "AZ": {"es": 0.28}, "NM": {"es": 0.3},
    "IL": {"es": 0.18, "pl": 0.03},
    "MN": {"es": 0.05, "so": 0.03, "hmn": 0.03},
})  # fmt: skip


def clinician_languages(rng: random.Random, state: str) -> list[str]:
    """The BCP-47 codes of the languages a clinician in `state` speaks: English, and others by share."""
    shares = {**_LANGUAGE_SHARE, **_STATE_LANGUAGE_SHARE.get(state, {})}
    return ["en", *(code for code, share in shares.items() if rng.random() < share)]


CREDENTIALS: tuple[str, ...] = (
    "MD", "DO", "NP", "PA", "PT", "DPT", "PharmD", "RN", "CNM", "PhD", "PsyD", "LCSW", "DDS", "DMD",
)  # fmt: skip

STREET_NAMES: tuple[str, ...] = (
    "Main", "Oak", "Maple", "Cedar", "Elm", "Pine", "Washington", "Lincoln", "Park", "Lake",
    "Hill", "River", "Spring", "Church", "Center", "Highland", "Sunset", "Jefferson", "Franklin",
    "Madison", "Chestnut", "Walnut", "Willow", "Meadow", "Forest", "Prospect", "Union", "Market",
    "Harbor", "Mill", "Bridge", "College", "Summit", "Magnolia", "Cherry", "Valley", "King",
    "Martin Luther King Jr", "Cesar Chavez", "Broad",
)  # fmt: skip

STREET_SUFFIXES: tuple[str, ...] = (
    "St", "Ave", "Rd", "Blvd", "Dr", "Ln", "Way", "Ct", "Pl", "Pkwy", "Hwy", "Ter",
)  # fmt: skip

ORGANIZATION_PATTERNS: tuple[str, ...] = (
    "{city} Family Health",
    "{city} Community Health Center",
    "{city} Medical Group",
    "{family} Family Medicine",
    "{city} Pediatrics",
    "{county} Health Partners",
    "{city} Urgent Care",
    "{city} Neighborhood Pharmacy",
    "{state_name} Specialty Care",
    "{city} Physical Therapy & Sports Medicine",
    "{city} Women's Health",
    "{river} Valley Health",
    "{city} Wellness Clinic",
    "{family} & {family2} Dermatology",
)


def street_address(rng: random.Random) -> str:
    """A plausible street address line such as ``1420 Maple Ave`` or ``88 Oak St, Suite 210``."""
    line = f"{rng.randint(1, 9899)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIXES)}"
    if rng.random() < 0.3:
        line += f", Suite {rng.randint(1, 9)}{rng.randint(0, 4)}0"
    return line


_RIVERS = ("Blue", "Cedar", "Clear", "Green", "Pine", "Silver", "Stone", "Willow")


def person_name(rng: random.Random) -> tuple[str, str]:
    """A (given, family) name pair drawn from the lists above."""
    return rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)


def organization_name(rng: random.Random, *, city: str, county: str = "", state_name: str = "") -> str:
    """A plausible organization name for a provider in ``city`` (see ORGANIZATION_PATTERNS)."""
    pattern = rng.choice(ORGANIZATION_PATTERNS)
    return pattern.format(
        city=city,
        county=county.removesuffix(" County") or city,
        state_name=state_name or city,
        family=rng.choice(FAMILY_NAMES),
        family2=rng.choice(FAMILY_NAMES),
        river=rng.choice(_RIVERS),
    )


# ---------------------------------------------------------------------------------------------------
# US federal holidays (5 U.S.C. 6103): a clinic's usual closures.


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0=Monday) of the month; n = -1 for the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    # A Saturday holiday is observed on the Friday before, a Sunday one on the Monday after.
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def us_holidays(year: int) -> list[tuple[date, str]]:
    """US federal holidays observed in ``year``, sorted, as (date, name).

    New Year's Day, Martin Luther King Jr. Day, Memorial Day, Independence Day, Labor Day,
    Thanksgiving and Christmas. Fixed-date holidays falling on a weekend are listed on their observed
    weekday with "(observed)". When New Year's Day of ``year + 1`` is a Saturday it is observed on
    December 31 of ``year`` and listed here (and not in ``year + 1``), so every observed date appears
    in exactly one year's list.
    """
    fixed = [
        (date(year, 1, 1), "New Year's Day"),
        (date(year, 7, 4), "Independence Day"),
        (date(year, 12, 25), "Christmas Day"),
        (date(year + 1, 1, 1), "New Year's Day"),
    ]
    result = [
        (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
    ]
    for day, name in fixed:
        observed = _observed(day)
        if observed.year == year:
            result.append((observed, name if observed == day else f"{name} (observed)"))
    return sorted(result)


def holiday_closures(first_day: date, last_day: date) -> list[Closure]:
    """Whole-day `Closure` s for the US federal holidays observed between the two dates (inclusive)."""
    return [
        Closure(day, reason=name)
        for year in range(first_day.year, last_day.year + 1)
        for day, name in us_holidays(year)
        if first_day <= day <= last_day
    ]

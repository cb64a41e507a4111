"""`slotlinks generate provider`: a realistic, deterministic provider for demos, tests and benchmarks.

Locations sit at real US ZIP codes (the offline `zipcodes` data), each offering a mix of services from
the catalog, each service a HealthcareService: practitioner-led services also get Practitioners (with
their NPI, languages in the state's proportions and, for most, a published gender), PractitionerRoles
and one Schedule per clinician; walk-in style services get one Schedule. Virtual services (telehealth)
get one virtual Location per state, at the address of the state's first clinic. Who may book each
service (referral, age range, new or existing patients; some clinicians' panels are full, some take
only new patients) is set through `audience_store`, as staff would. Opening hours become availability
rules, US holidays closures, and the rules become slots; a share of the slots is already busy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from sqlalchemy import Integer, cast, func, select, update

from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import (
    Address,
    CodeableConcept,
    Coding,
    ContactPoint,
    Extension,
    HealthcareService,
    HumanName,
    Identifier,
    Location,
    Position,
    Practitioner,
    PractitionerRole,
    Reference,
    Schedule,
    VirtualServiceDetail,
)
from slotlinks.provider.demo import catalog
from slotlinks.provider.demo.catalog import street_address
from slotlinks.provider.demo.questionnaires import seed_questionnaires
from slotlinks.provider.demo.spanish import translate_stored_questionnaires
from slotlinks.provider.places import Place, phone_for, pick_places
from slotlinks.provider.records.audience import Audience, Patients, owner_audience
from slotlinks.provider.records.audience_store import set_audience
from slotlinks.provider.records.npi import make_npi
from slotlinks.provider.records.practitioner_profile import BCP47, LANGUAGES
from slotlinks.provider.records.resources import put_resource
from slotlinks.provider.schedule.regenerate import regenerate, save_closure, save_rule
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.settings import PORTAL_URL_SETTING
from slotlinks.provider.store.store import Change, ProviderStore

__all__ = ["GenerateOptions", "generate_provider"]

NAME_SETTING = "name"
HORIZON_SETTING = "horizon_days"
# Share of generated slots (in percent) that start out busy, as a real schedule would.
BUSY_PERCENT = 22

LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
_CORE = ("primary-care",)
_LIKELY = {"flu-vaccine": 0.7, "covid-vaccine": 0.5, "lab": 0.5, "urgent-care": 0.3}
_SPECIALTY_CHANCE = 0.3
# Of a clinic's clinicians who keep a panel, the first stays open to everyone; of the others, the share
# whose panel is full and the share who see only new patients.
_PANEL_FULL, _NEW_ONLY = 0.35, 0.3
# The share of clinicians who publish their gender.
_PUBLISH_GENDER = 0.7
SERVICE_PROVISION = "http://terminology.hl7.org/CodeSystem/service-provision-conditions"
_FEES = {"free": "Free", "cost": "Fees apply"}


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    name: str
    locations: int
    states: tuple[str, ...]
    days: int
    seed: int
    portal_url: str
    today: date


def _coding(c: catalog.Coding) -> Coding:
    return Coding(system=c.system, code=c.code, display=c.display)


def _concept(codings: tuple[catalog.Coding, ...], text: str) -> CodeableConcept:
    return CodeableConcept(coding=[_coding(c) for c in codings], text=text)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-") or "provider"


class _Builder:
    """Accumulates the resources of one generated provider, writing each through the records layer."""

    def __init__(self, change: Change, options: GenerateOptions) -> None:
        self.change = change
        self.options = options
        self.rng = random.Random(options.seed)
        self.org = Reference(display=options.name)
        self.facility_system = f"urn:slotlinks:{_slug(options.name)}:facility"
        self.counters: dict[str, int] = {}
        self.schedules: list[tuple[str, catalog.ServiceKind]] = []
        self.services: list[tuple[str, catalog.ServiceKind]] = []
        self.panels: list[tuple[str, Patients]] = []  # schedules whose clinician's panel differs
        self.addresses: dict[str, Address] = {}

    def next_id(self, prefix: str) -> str:
        n = self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}-{n:05d}"

    def location(self, place: Place, *, virtual: bool = False, run_from: str | None = None) -> str:
        """A clinic at `place`, or a virtual Location run from the clinic `run_from` (its address)."""
        loc_id = self.next_id("loc")
        address = self.addresses[run_from] if run_from else None
        name = f"{self.options.name} Virtual Care ({place.state})" if virtual else f"{self.options.name} {place.city}"
        phone = phone_for(place, self.rng)
        resource = Location(
            id=loc_id,
            status="active",
            name=name,
            description="Video visits from home" if virtual else None,
            telecom=[
                ContactPoint(system="phone", value=phone),
                ContactPoint(system="url", value=self.options.portal_url),
            ],
            address=address
            or Address(
                line=[street_address(self.rng)],
                city=place.city,
                district=place.county or None,
                state=place.state,
                postalCode=place.zip,
                country="US",
            ),
            position=None if virtual else Position(latitude=place.lat, longitude=place.long),
            # R4's way to say "no physical place"; `virtualService` adds the 2026 IG's details.
            physicalType=CodeableConcept(coding=[Coding(system=LOCATION_PHYSICAL_TYPE, code="vi", display="Virtual")])
            if virtual
            else None,
            identifier=[Identifier(system=self.facility_system, value=f"F{1000 + int(loc_id[4:])}")],
            extension=[Extension(url=ext.TIMEZONE, valueCode=place.tz)],
            virtualService=[
                VirtualServiceDetail(
                    channelType=Coding(
                        system="http://hl7.org/fhir/virtual-service-type",
                        code="zoom",
                        display="Zoom web conferencing",
                    ),
                    addressUrl=self.options.portal_url,
                )
            ]
            if virtual
            else [],
        )
        put_resource(self.change, resource)
        if resource.address is not None:
            self.addresses[loc_id] = resource.address
        return loc_id

    def schedule(self, kind: catalog.ServiceKind, actors: list[str]) -> str:
        schedule_id = self.next_id("sch")
        extensions = [Extension(url=ext.SPECIALTY, valueCoding=_coding(kind.specialty))]
        if kind.vaccine_products:
            extensions.append(Extension(url=ext.VACCINE_PRODUCT, valueCoding=_coding(kind.vaccine_products[0])))
        put_resource(
            self.change,
            Schedule(
                id=schedule_id,
                active=True,
                serviceType=[_concept(kind.service_types, kind.display)],
                specialty=[_concept((kind.specialty,), kind.specialty.display)],
                actor=[Reference(reference=a) for a in actors],
                comment=kind.description,
                extension=extensions,
            ),
        )
        for rule in kind.rules(f"{schedule_id}-r"):
            save_rule(self.change, schedule_id, rule)
        first, last = self.options.today, self.options.today + timedelta(days=self.options.days)
        for i, closure in enumerate(catalog.holiday_closures(first, last), start=1):
            save_closure(self.change, schedule_id, f"{schedule_id}-c{i}", closure)
        self.schedules.append((schedule_id, kind))
        return schedule_id

    def healthcare_service(self, kind: catalog.ServiceKind, loc_id: str) -> str:
        hcs_id = self.next_id("hcs")
        put_resource(
            self.change,
            HealthcareService(
                id=hcs_id,
                active=True,
                providedBy=self.org,
                type=[_concept(kind.service_types, kind.display)],
                specialty=[_concept((kind.specialty,), kind.specialty.display)],
                location=[Reference(reference=f"Location/{loc_id}")],
                name=kind.display,
                comment=kind.description,
                serviceProvisionCode=[
                    CodeableConcept(
                        coding=[Coding(system=SERVICE_PROVISION, code=kind.fees, display=_FEES[kind.fees])],
                        text=_FEES[kind.fees],
                    )
                ],
                appointmentRequired=kind.appointment_required,
            ),
        )
        self.services.append((hcs_id, kind))
        return hcs_id

    def practitioner(self, place: Place, credential: str) -> tuple[str, str, str]:
        """A Practitioner (NPI, languages, gender when published); returns its id, display name and NPI."""
        given, family = catalog.person_name(self.rng)
        prac_id = self.next_id("prac")
        npi = make_npi(self.rng)
        languages = catalog.clinician_languages(self.rng, place.state)
        gender: Literal["female", "male"] | None = None
        if given not in catalog.EITHER_NAMES and self.rng.random() < _PUBLISH_GENDER:
            gender = "female" if given in catalog.FEMININE_NAMES else "male"
        display = f"{given} {family}, {credential}"
        put_resource(
            self.change,
            Practitioner(
                id=prac_id,
                active=True,
                identifier=[Identifier(use="official", system=ext.NPI, value=npi)],
                name=[HumanName(text=display, family=family, given=[given], suffix=[credential])],
                gender=gender,
                communication=[
                    CodeableConcept(coding=[Coding(system=BCP47, code=c, display=LANGUAGES[c])], text=LANGUAGES[c])
                    for c in languages
                ],
            ),
        )
        return prac_id, display, npi

    def practitioner_service(self, kind: catalog.ServiceKind, loc_id: str, place: Place) -> None:
        hcs_id = self.healthcare_service(kind, loc_id)
        for n in range(self.rng.choice((1, 1, 2))):
            prac_id, display, npi = self.practitioner(place, self.rng.choice(kind.credentials))
            role_id = self.next_id("role")
            put_resource(
                self.change,
                PractitionerRole(
                    id=role_id,
                    active=True,
                    practitioner=Reference(reference=f"Practitioner/{prac_id}", display=display),
                    organization=self.org,
                    code=[_concept((kind.role,), kind.role.display)],
                    specialty=[_concept((kind.specialty,), kind.specialty.display)],
                    location=[Reference(reference=f"Location/{loc_id}")],
                    healthcareService=[Reference(reference=f"HealthcareService/{hcs_id}")],
                    telecom=[ContactPoint(system="phone", value=phone_for(place, self.rng))],
                    identifier=[Identifier(system=ext.NPI, value=npi)],
                ),
            )
            schedule_id = self.schedule(
                kind, [f"PractitionerRole/{role_id}", f"Location/{loc_id}", f"HealthcareService/{hcs_id}"]
            )
            if kind.panel and n:
                draw = self.rng.random()
                if draw < _PANEL_FULL:
                    self.panels.append((schedule_id, "existing"))
                elif draw < _PANEL_FULL + _NEW_ONLY:
                    self.panels.append((schedule_id, "new"))

    def walk_in_service(self, kind: catalog.ServiceKind, loc_id: str) -> None:
        hcs_id = self.healthcare_service(kind, loc_id)
        self.schedule(kind, [f"Location/{loc_id}", f"HealthcareService/{hcs_id}"])

    def offer(self, kind: catalog.ServiceKind, loc_id: str, place: Place) -> None:
        if kind.needs_practitioner:
            self.practitioner_service(kind, loc_id, place)
        else:
            self.walk_in_service(kind, loc_id)

    def set_audiences(self) -> None:
        """Who may book, as staff set it: per service from the catalog, then clinicians' panels."""
        for hcs_id, kind in self.services:
            audience = Audience(kind.patients, kind.referral, kind.min_age, kind.max_age)  # type: ignore[arg-type]
            if audience != owner_audience(self.change.conn, "HealthcareService", hcs_id):
                set_audience(self.change, "HealthcareService", hcs_id, audience)
        kinds = dict(self.schedules)
        for schedule_id, patients in self.panels:
            kind = kinds[schedule_id]
            set_audience(
                self.change, "Schedule", schedule_id, Audience(patients, kind.referral, kind.min_age, kind.max_age)
            )

    def services_for_location(self) -> list[catalog.ServiceKind]:
        chosen = [catalog.service(key) for key in _CORE]
        for key, chance in _LIKELY.items():
            if self.rng.random() < chance:
                chosen.append(catalog.service(key))
        for kind in catalog.SERVICES:
            if kind.key in _CORE or kind.key in _LIKELY or kind.virtual:
                continue
            if self.rng.random() < _SPECIALTY_CHANCE:
                chosen.append(kind)
        return chosen


def generate_provider(store: ProviderStore, options: GenerateOptions) -> dict[str, int]:
    """Writes a generated provider into `store` (one transaction) and returns counts per resource type."""
    if options.locations < 1:
        raise ValueError("--locations must be at least 1")
    if not 1 <= options.days <= 366:
        raise ValueError("--days must be between 1 and 366")
    with store.change() as change:
        builder = _Builder(change, options)
        store.set_setting(change, PORTAL_URL_SETTING, options.portal_url.rstrip("/"))
        store.set_setting(change, NAME_SETTING, options.name)
        store.set_setting(change, HORIZON_SETTING, str(options.days))
        places = pick_places(list(options.states), options.locations, builder.rng)
        first_in_state: dict[str, Place] = {}
        clinic_in_state: dict[str, str] = {}
        for place in places:
            first_in_state.setdefault(place.state, place)
            loc_id = builder.location(place)
            clinic_in_state.setdefault(place.state, loc_id)
            for kind in builder.services_for_location():
                builder.offer(kind, loc_id, place)
        virtual_kinds = [k for k in catalog.SERVICES if k.virtual]
        for place in first_in_state.values():
            loc_id = builder.location(place, virtual=True, run_from=clinic_in_state[place.state])
            for kind in virtual_kinds:
                builder.practitioner_service(kind, loc_id, place)
        regenerate(change, today=options.today, horizon_days=options.days)
        seed_questionnaires(change, builder.schedules)
        builder.set_audiences()
        translate_stored_questionnaires(change)
        _mark_some_busy(change, options.seed)
        return _counts(change)


def _mark_some_busy(change: Change, seed: int) -> None:
    s = t.slot.c
    # Deterministic for a seed on both SQLite and PostgreSQL: integer arithmetic on stored columns.
    # Schedule ids are `sch-NNNNN`, so their number mixes schedules apart.
    schedule_number = cast(func.substr(s.schedule_id, 5), Integer)
    mix = (s.start_ms / 60_000 * 7919 + schedule_number * 104_729 + seed) % 100
    change.conn.execute(update(t.slot).where(s.active, mix < BUSY_PERCENT).values(status="busy"))


def _counts(change: Change) -> dict[str, int]:
    counts = {}
    for name, table in t.RESOURCE_TABLES.items():
        counts[name] = int(change.conn.execute(select(func.count()).select_from(table)).scalar_one())
    slots = change.conn.execute(select(func.count()).select_from(t.slot).where(t.slot.c.active))
    counts["Slot"] = int(slots.scalar_one())
    return counts

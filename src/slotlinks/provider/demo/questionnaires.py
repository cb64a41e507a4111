"""Realistic pre-booking questionnaires for generated providers (`slotlinks generate provider`).

* Neurology (on each neurology HealthcareService): a referral is required (else not eligible: the
  audience's deciding question, `records.audience`, so the publication says so too) and the reason
  for the visit must be one of the clinic's listed diagnoses (else the scheduling team calls).
* Immunizations (on each vaccine HealthcareService): age from the date of birth (children under the
  pharmacy's minimum age need a call) and which dose this is (beyond the series: not eligible).

Diagnoses are SNOMED CT disorder concepts; the birth-date item is coded LOINC 21112-8 so the booking
form's date of birth answers it. Demo content, not clinical guidance.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from slotlinks.provider.demo.catalog import SNOMED, ServiceKind
from slotlinks.provider.portal.eligibility import ELIGIBILITY_RULE
from slotlinks.provider.portal.questionnaires import BIRTH_DATE, LOINC, put_questionnaire
from slotlinks.provider.records.audience import Audience, with_audience
from slotlinks.provider.records.resources import refresh_audience
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change

__all__ = ["immunization_questionnaire", "neurology_questionnaire", "seed_questionnaires"]

_DIAGNOSES = (
    ("37796009", "Migraine"),
    ("84757009", "Epilepsy"),
    ("24700007", "Multiple sclerosis"),
    ("49049000", "Parkinson's disease"),
    ("302226006", "Peripheral neuropathy"),
)


def _rule(item: str, unmet: str, message: str, *requirements: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": ELIGIBILITY_RULE,
        "extension": [
            {"url": "item", "valueString": item},
            *requirements,
            {"url": "unmet", "valueCode": unmet},
            {"url": "message", "valueString": message},
        ],
    }


def neurology_questionnaire() -> dict[str, Any]:
    options = [{"valueCoding": {"system": SNOMED, "code": c, "display": d}} for c, d in _DIAGNOSES]
    options.append({"valueCoding": {"system": "urn:slotlinks:answer", "code": "other", "display": "Something else"}})
    made = with_audience(_neurology_questions(options), Audience(referral=True))
    for rule in made["extension"]:  # the clinic's own words for the referral it requires
        for part in rule["extension"]:
            if part["url"] == "message" and "referral" in part["valueString"]:
                part["valueString"] = "Neurology visits need a referral. Your primary care clinician can send one."
    return made


def _neurology_questions(options: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Questionnaire",
        "status": "active",
        "title": "Before your neurology visit",
        "item": [
            {
                "linkId": "diagnosis",
                "type": "choice",
                "required": True,
                "text": "Which condition is the visit for?",
                "enableWhen": [{"question": "referral", "operator": "=", "answerBoolean": True}],
                "answerOption": options,
            },
            {"linkId": "notes", "type": "string", "text": "Anything else the clinician should know? (optional)"},
        ],
        "extension": [
            _rule(
                "diagnosis",
                "needs-call",
                "For other conditions, our scheduling team will find the right specialist for you.",
                *({"url": "anyOf", "valueCoding": {"system": SNOMED, "code": c}} for c, _ in _DIAGNOSES),
            ),
        ],
    }


def immunization_questionnaire(kind: ServiceKind) -> dict[str, Any]:
    # The youngest age booked online is the service's audience (`kind.min_age`): younger children call.
    min_age, max_dose = kind.min_age or 0, 2 if kind.key == "flu-vaccine" else 3
    return {
        "resourceType": "Questionnaire",
        "status": "active",
        "title": f"Before your {kind.display.lower()}",
        "item": [
            {
                "linkId": "birthDate",
                "type": "date",
                "required": True,
                "text": "Date of birth",
                "code": [{"system": LOINC, "code": BIRTH_DATE, "display": "Birth date"}],
            },
            {
                "linkId": "dose",
                "type": "integer",
                "required": True,
                "text": "Which dose of this vaccine will this be for you this season? (1 for the first)",
            },
            {
                "linkId": "allergy",
                "type": "boolean",
                "required": True,
                "text": "Have you ever had a severe allergic reaction to a vaccine?",
            },
        ],
        "extension": [
            _rule(
                "birthDate",
                "needs-call",
                f"Children under {min_age} are vaccinated by appointment with a nurse; please call us.",
                {"url": "minAge", "valueInteger": min_age},
            ),
            _rule(
                "dose",
                "not-eligible",
                f"This vaccine is given as at most {max_dose} doses per season.",
                {"url": "minValue", "valueInteger": 1},
                {"url": "maxValue", "valueInteger": max_dose},
            ),
            _rule(
                "allergy",
                "needs-call",
                "After a severe reaction, a pharmacist should talk with you before your visit.",
                {"url": "equals", "valueBoolean": False},
            ),
        ],
    }


def seed_questionnaires(change: Change, schedules: list[tuple[str, ServiceKind]]) -> int:
    """Stores the demo questionnaires for generated schedules; returns how many were stored."""
    stored = 0
    services: set[str] = set()
    for schedule_id, kind in schedules:
        if kind.key != "neurology" and not kind.vaccine_products:
            continue
        text = change.conn.execute(select(t.schedule.c.resource).where(t.schedule.c.id == schedule_id)).scalar()
        for actor in orjson.loads(text or "{}").get("actor", []):
            reference = str(actor.get("reference") or "")
            if reference.startswith("HealthcareService/") and reference not in services:
                services.add(reference)
                made = neurology_questionnaire() if kind.key == "neurology" else immunization_questionnaire(kind)
                put_questionnaire(change, "HealthcareService", reference.split("/", 1)[1], orjson.dumps(made))
                refresh_audience(change, "HealthcareService", reference.split("/", 1)[1])
                stored += 1
    return stored

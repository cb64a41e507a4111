"""Who a schedule's slots are for: new or existing patients, referral, age range (issue 13).

One source of truth: the pre-booking questionnaire the portal asks (`portal.questionnaires`, its
rules in `portal.eligibility`). What we publish is read from that questionnaire's rules, never kept
beside it, so the publication cannot say "no referral needed" where the portal refuses a patient
without one. The admin API's audience settings (`set_audience`) write the deciding questions and
their rules into that questionnaire, first in it.

A rule counts when the portal would refuse online booking (`not-eligible` or `needs-call`) and it
stands on a deciding question:
- a boolean item coded `ELIGIBILITY|referral`: a referral is required;
- a choice item coded `ELIGIBILITY|patient-status` (answers `new`, `existing`, `existing-family`):
  who may book;
- the birth-date item (LOINC 21112-8, answered by the booking form): `minAge`/`maxAge` in whole years.
A provider's own questions about other things change nothing published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import orjson
from sqlalchemy import Connection, select

from slotlinks.fhir.audience import ELIGIBILITY
from slotlinks.provider.portal.eligibility import ELIGIBILITY_RULE, parse_rules
from slotlinks.provider.portal.questionnaires import (
    BIRTH_DATE,
    LOINC,
    Item,
    QCoding,
    Questionnaire,
    questionnaire_for_schedule,
)
from slotlinks.provider.store import tables as t

__all__ = [
    "ELIGIBILITY",
    "PATIENTS",
    "Audience",
    "Patients",
    "audience_of",
    "owner_audience",
    "schedule_audience",
    "with_audience",
]

REFERRAL = "referral"
PATIENT_STATUS = "patient-status"

Patients = Literal["all", "new", "existing", "existing-and-family", "none"]
PATIENTS: tuple[Patients, ...] = ("all", "new", "existing", "existing-and-family", "none")

# Who may book, as the answers of the patient-status question that pass its rule.
_ALLOWED: dict[Patients, tuple[str, ...]] = {
    "all": ("new", "existing", "existing-family"),
    "new": ("new",),
    "existing": ("existing",),
    "existing-and-family": ("existing", "existing-family"),
    "none": (),
}
_ANSWERS = (
    ("new", "No, I would be a new patient"),
    ("existing", "Yes, I am a patient here"),
    ("existing-family", "No, but a member of my family is"),
)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may book: `patients`, whether a referral is required, the age range in whole years."""

    patients: Patients = "all"
    referral: bool = False
    min_age: int | None = None
    max_age: int | None = None


def _coded(item: Item, code: str) -> bool:
    return any(c.system == ELIGIBILITY and c.code == code for c in item.code)


def _patients(allowed: set[str]) -> Patients:
    if "new" in allowed:
        return "all" if {"existing", "existing-family"} <= allowed else "new"
    if "existing-family" in allowed:
        return "existing-and-family"
    return "existing" if "existing" in allowed else "none"


def audience_of(questionnaire: Questionnaire | None) -> Audience:
    """Who may book through this questionnaire (None or not active: anyone)."""
    if questionnaire is None or questionnaire.status != "active":
        return Audience()
    items = {i.linkId: i for i in questionnaire.item}
    patients: set[str] = set(_ALLOWED["all"])
    referral = False
    min_age: int | None = None
    max_age: int | None = None
    for rule in parse_rules(questionnaire):
        item = items[rule.item]
        if item.is_birth_date:
            if rule.min_age is not None:
                min_age = rule.min_age if min_age is None else max(min_age, rule.min_age)
            if rule.max_age is not None:
                max_age = rule.max_age if max_age is None else min(max_age, rule.max_age)
        elif _coded(item, REFERRAL) and rule.equals is True:
            referral = True
        elif _coded(item, PATIENT_STATUS):
            passing = [*rule.any_of, *([rule.equals] if isinstance(rule.equals, QCoding) else [])]
            patients &= {c.code for c in passing if c.code}
    return Audience(_patients(patients), referral, min_age, max_age)


def schedule_audience(conn: Connection, schedule_id: str) -> Audience:
    """Who may book this schedule's slots: read from the very questionnaire the portal asks them."""
    return audience_of(questionnaire_for_schedule(conn, schedule_id))


def _own_questionnaire(conn: Connection, owner_type: str, owner_id: str) -> dict[str, Any] | None:
    owner = f"{owner_type}/{owner_id}"
    text = conn.execute(select(t.questionnaire.c.resource).where(t.questionnaire.c.owner == owner)).scalar()
    return None if text is None else dict(orjson.loads(text))


def owner_audience(conn: Connection, owner_type: str, owner_id: str) -> Audience:
    """A Schedule's audience as its slots ask it; a HealthcareService's from its own questionnaire."""
    if owner_type == "Schedule":
        return schedule_audience(conn, owner_id)
    own = _own_questionnaire(conn, owner_type, owner_id)
    return audience_of(None if own is None else msgspec.convert(own, Questionnaire))


# --- writing the deciding questions ------------------------------------------------------------------


def _rule(item: str, message: str, *requirements: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": ELIGIBILITY_RULE,
        "extension": [
            {"url": "item", "valueString": item},
            *requirements,
            {"url": "unmet", "valueCode": "not-eligible"},
            {"url": "message", "valueString": message},
        ],
    }


def _rule_item(rule: dict[str, Any]) -> str | None:
    for part in rule.get("extension", []):
        if part.get("url") == "item":
            return str(part.get("valueString"))
    return None


def _is_age_rule(rule: dict[str, Any]) -> bool:
    return any(part.get("url") in ("minAge", "maxAge") for part in rule.get("extension", []))


def _item_codes(item: dict[str, Any]) -> set[tuple[str | None, str | None]]:
    return {(c.get("system"), c.get("code")) for c in item.get("code", [])}


def _age_words(audience: Audience) -> str:
    low, high = audience.min_age, audience.max_age
    if low is not None and high is not None:
        return f"patients aged {low} to {high}"
    return f"patients aged {low} and over" if low is not None else f"patients aged {high} and under"


def with_audience(questionnaire: dict[str, Any] | None, audience: Audience) -> dict[str, Any]:
    """The questionnaire (FHIR JSON; None: a new one) with its deciding questions and their rules set
    to `audience`, first among its items. Age rules on the birth-date item are the audience's alone."""
    base = dict(questionnaire or {"resourceType": "Questionnaire", "status": "active", "title": "Before your visit"})
    ours = {(ELIGIBILITY, REFERRAL), (ELIGIBILITY, PATIENT_STATUS)}
    old_items = [i for i in base.get("item", []) if not (_item_codes(i) & ours)]
    gone = {str(i.get("linkId")) for i in base.get("item", []) if _item_codes(i) & ours}
    birth = next((i for i in old_items if (LOINC, BIRTH_DATE) in _item_codes(i) and i.get("type") == "date"), None)
    births = {str(i.get("linkId")) for i in old_items if (LOINC, BIRTH_DATE) in _item_codes(i)}
    rules = [
        e
        for e in base.get("extension", [])
        if not (
            e.get("url") == ELIGIBILITY_RULE
            and (_rule_item(e) in gone or (_rule_item(e) in births and _is_age_rule(e)))
        )
    ]
    items: list[dict[str, Any]] = []
    if audience.patients != "all":
        items.append(
            {
                "linkId": "patient-status",
                "type": "choice",
                "required": True,
                "text": "Are you already a patient here?",
                "code": [{"system": ELIGIBILITY, "code": PATIENT_STATUS}],
                "answerOption": [
                    {"valueCoding": {"system": ELIGIBILITY, "code": code, "display": text}} for code, text in _ANSWERS
                ],
            }
        )
        passing = [
            {"url": "anyOf", "valueCoding": {"system": ELIGIBILITY, "code": c}} for c in _ALLOWED[audience.patients]
        ]
        message = {
            "new": "These appointments are for new patients. Existing patients can book a follow-up visit.",
            "existing": "These appointments are for patients we already care for.",
            "existing-and-family": "These appointments are for our patients and members of their families.",
            "none": "These appointments are not open for booking online. Please call us.",
        }[audience.patients]
        # An empty anyOf would be no requirement at all: "none" refuses every answer through `equals`.
        requirement = passing or [{"url": "equals", "valueString": "nobody"}]
        rules.append(_rule("patient-status", message, *requirement))
    if audience.referral:
        items.append(
            {
                "linkId": "referral",
                "type": "boolean",
                "required": True,
                "text": "Do you have a referral for this visit from your clinician?",
                "code": [{"system": ELIGIBILITY, "code": REFERRAL}],
            }
        )
        rules.append(
            _rule(
                "referral",
                "This visit needs a referral. Your primary care clinician can send one.",
                {"url": "equals", "valueBoolean": True},
            )
        )
    if audience.min_age is not None or audience.max_age is not None:
        if birth is None:
            birth = {
                "linkId": "birthDate",
                "type": "date",
                "required": True,
                "text": "Date of birth",
                "code": [{"system": LOINC, "code": BIRTH_DATE, "display": "Birth date"}],
            }
            items.append(birth)
        bounds = [
            *([{"url": "minAge", "valueInteger": audience.min_age}] if audience.min_age is not None else []),
            *([{"url": "maxAge", "valueInteger": audience.max_age}] if audience.max_age is not None else []),
        ]
        rules.append(_rule(str(birth["linkId"]), f"This service is for {_age_words(audience)}.", *bounds))
    base["item"] = items + old_items
    base["extension"] = rules
    if not base["extension"]:
        del base["extension"]
    return base

"""Eligibility rules on a pre-booking Questionnaire: eligible, not eligible, or needs a call.

Advertising a slot promises no one may book it; the portal is where the provider's rules live
(SPEC-NOTES, "Roles"). Rules are a complex extension on the Questionnaire, repeated once per rule:

    {"url": "urn:slotlinks:fhir:eligibility-rule",
     "extension": [
       {"url": "item",     "valueString": "<linkId of the question>"},
       {"url": "minAge",   "valueInteger": 3},     date item: age in whole years on the visit day
       {"url": "maxAge",   "valueInteger": 64},
       {"url": "minValue", "valueInteger": 1},     integer item
       {"url": "maxValue", "valueInteger": 2},
       {"url": "equals",   "valueBoolean": true},  or valueInteger / valueString / valueCoding
       {"url": "anyOf",    "valueCoding": {...}},  repeats: the answer must be one of these codes
       {"url": "unmet",    "valueCode": "not-eligible" | "needs-call"},
       {"url": "message",  "valueString": "shown to the patient when the rule is not met"}
     ]}

`item` and `unmet` are required and at least one requirement is. A rule whose question was not
answered (not enabled, or optional and left blank) is skipped. The outcome is `not-eligible` if any
such rule is unmet, else `needs-call` if any is, else `eligible`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from slotlinks.errors import InvalidInput
from slotlinks.provider.portal.questionnaires import Answer, QCoding, QExtension, Questionnaire, translated

__all__ = ["ELIGIBILITY_RULE", "Decision", "Rule", "age_on", "decide", "parse_rules"]

ELIGIBILITY_RULE = "urn:slotlinks:fhir:eligibility-rule"
Outcome = Literal["eligible", "not-eligible", "needs-call"]


@dataclass(frozen=True, slots=True)
class Rule:
    item: str
    unmet: Literal["not-eligible", "needs-call"]
    message: str
    min_age: int | None = None
    max_age: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    equals: Any = None
    any_of: tuple[QCoding, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    messages: tuple[str, ...] = field(default=())


def _value(ext: QExtension) -> Any:
    for value in (ext.valueBoolean, ext.valueInteger, ext.valueString, ext.valueCoding, ext.valueCode):
        if value is not None:
            return value
    return None


def parse_rules(questionnaire: Questionnaire) -> list[Rule]:
    """The questionnaire's rules, checked against its items (InvalidInput on a malformed one)."""
    items = {i.linkId: i for i in questionnaire.item}
    rules = []
    for n, ext in enumerate(e for e in questionnaire.extension if e.url == ELIGIBILITY_RULE):
        where = f"Questionnaire.extension[{ELIGIBILITY_RULE}][{n}]"
        parts: dict[str, Any] = {}
        any_of: list[QCoding] = []
        for sub in ext.extension:
            if sub.url == "message":  # shown to the patient: in the page's language when translated
                parts["message"] = translated(sub.valueString, sub.valueString_)
            elif sub.url == "anyOf" and sub.valueCoding is not None:
                any_of.append(sub.valueCoding)
            elif sub.url in ("item", "unmet", "message", "minAge", "maxAge", "minValue", "maxValue", "equals"):
                parts[sub.url] = _value(sub)
            else:
                raise InvalidInput(f"{where}: unknown part {sub.url!r}", expression=[where])
        item = items.get(str(parts.get("item")))
        if item is None:
            raise InvalidInput(f"{where}: `item` must name a question of this questionnaire", expression=[where])
        if parts.get("unmet") not in ("not-eligible", "needs-call"):
            raise InvalidInput(f"{where}: `unmet` must be not-eligible or needs-call", expression=[where])
        if ("minAge" in parts or "maxAge" in parts) and item.type != "date":
            raise InvalidInput(f"{where}: minAge/maxAge need a date item", expression=[where])
        if ("minValue" in parts or "maxValue" in parts) and item.type != "integer":
            raise InvalidInput(f"{where}: minValue/maxValue need an integer item", expression=[where])
        if not any_of and not any(k in parts for k in ("minAge", "maxAge", "minValue", "maxValue", "equals")):
            raise InvalidInput(f"{where}: a rule needs at least one requirement", expression=[where])
        rules.append(
            Rule(
                item=item.linkId,
                unmet=parts["unmet"],
                message=str(parts.get("message") or ""),
                min_age=parts.get("minAge"),
                max_age=parts.get("maxAge"),
                min_value=parts.get("minValue"),
                max_value=parts.get("maxValue"),
                equals=parts.get("equals"),
                any_of=tuple(any_of),
            )
        )
    return rules


def age_on(birth: date, day: date) -> int:
    """Age in whole years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _same_code(a: QCoding, b: QCoding) -> bool:
    return a.code == b.code and (a.system is None or b.system is None or a.system == b.system)


def _met(rule: Rule, answer: Answer, visit_day: date) -> bool:
    if rule.min_age is not None or rule.max_age is not None:
        if not isinstance(answer, date):
            return False
        age = age_on(answer, visit_day)
        if (rule.min_age is not None and age < rule.min_age) or (rule.max_age is not None and age > rule.max_age):
            return False
    if rule.min_value is not None or rule.max_value is not None:
        if not isinstance(answer, int) or isinstance(answer, bool):
            return False
        if (rule.min_value is not None and answer < rule.min_value) or (
            rule.max_value is not None and answer > rule.max_value
        ):
            return False
    if rule.equals is not None:
        if isinstance(rule.equals, QCoding):
            if not (isinstance(answer, QCoding) and _same_code(answer, rule.equals)):
                return False
        elif isinstance(answer, QCoding):
            if answer.code != rule.equals:
                return False
        elif answer != rule.equals or type(answer) is not type(rule.equals):
            return False
    return not rule.any_of or (isinstance(answer, QCoding) and any(_same_code(answer, c) for c in rule.any_of))


def decide(rules: list[Rule], answers: Mapping[str, Answer], visit_day: date) -> Decision:
    """Eligible, not eligible or needs a call, with the messages of the rules not met."""
    refused: list[str] = []
    call: list[str] = []
    for rule in rules:
        answer = answers.get(rule.item)
        if answer is None or _met(rule, answer, visit_day):
            continue
        (refused if rule.unmet == "not-eligible" else call).append(rule.message)
    if refused:
        return Decision("not-eligible", tuple(m for m in refused if m))
    if call:
        return Decision("needs-call", tuple(m for m in call if m))
    return Decision("eligible")

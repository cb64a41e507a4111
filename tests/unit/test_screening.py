"""Which questions come first (`screening.deciding_items`): derived from the eligibility rules, with
every earlier item their `enableWhen` chains depend on, in the questionnaire's order."""

from __future__ import annotations

from typing import Any

import orjson

from slotlinks.provider.portal.eligibility import ELIGIBILITY_RULE
from slotlinks.provider.portal.questionnaires import parse_questionnaire
from slotlinks.provider.portal.screening import deciding_items, first_fields
from slotlinks.provider.records.audience import Audience, with_audience


def _when(question: str) -> list[dict[str, Any]]:
    return [{"question": question, "operator": "=", "answerBoolean": True}]


def _questionnaire(*rule_items: str) -> dict[str, Any]:
    return {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {"linkId": "a", "type": "boolean", "text": "A?"},
            {"linkId": "free", "type": "string", "text": "Anything else?"},
            {"linkId": "b", "type": "boolean", "text": "B?", "enableWhen": _when("a")},
            {"linkId": "c", "type": "boolean", "text": "C?", "enableWhen": _when("b")},
        ],
        "extension": [
            {
                "url": ELIGIBILITY_RULE,
                "extension": [
                    {"url": "item", "valueString": item},
                    {"url": "equals", "valueBoolean": True},
                    {"url": "unmet", "valueCode": "not-eligible"},
                ],
            }
            for item in rule_items
        ],
    }


def test_a_rule_brings_its_question_and_the_whole_enable_when_chain_first() -> None:
    questionnaire = parse_questionnaire(orjson.dumps(_questionnaire("c")))
    assert [i.linkId for i in deciding_items(questionnaire)] == ["a", "b", "c"]
    assert first_fields(questionnaire) == {"q-a", "q-b", "q-c"}


def test_without_rules_nothing_comes_first() -> None:
    assert deciding_items(parse_questionnaire(orjson.dumps(_questionnaire()))) == []
    assert deciding_items(None) == []


def test_an_age_rule_asks_the_date_of_birth_first() -> None:
    made = with_audience(_questionnaire("a"), Audience(min_age=65))
    questionnaire = parse_questionnaire(orjson.dumps(made))
    assert first_fields(questionnaire) == {"q-a", "birthDate"}

"""The booking form's pure decisions, tested directly: the patient's fields, the answers to a
questionnaire, and the eligibility rules on them. No store, no HTTP."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from slotlinks.errors import InvalidInput
from slotlinks.provider.demo.catalog import service
from slotlinks.provider.demo.questionnaires import immunization_questionnaire, neurology_questionnaire
from slotlinks.provider.portal.eligibility import age_on, decide, parse_rules
from slotlinks.provider.portal.patient import Patient, validate_patient
from slotlinks.provider.portal.questionnaires import QCoding, Questionnaire, parse_answers, parse_questionnaire

TODAY = date(2026, 11, 24)
VISIT = date(2026, 11, 25)
PATIENT = {"name": "  Ada   Lovelace ", "birthDate": "1980-12-10", "phone": "617-555-0100", "email": ""}


def _neurology() -> Questionnaire:
    return parse_questionnaire(orjson.dumps(neurology_questionnaire()))


def _flu() -> Questionnaire:
    return parse_questionnaire(orjson.dumps(immunization_questionnaire(service("flu-vaccine"))))


# --- the patient -----------------------------------------------------------------------------------


def test_a_complete_form_gives_the_patient_with_the_name_tidied() -> None:
    checked = validate_patient(PATIENT, today=TODAY)
    assert checked.errors == {}
    assert checked.patient == Patient("Ada Lovelace", date(1980, 12, 10), "617-555-0100", None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"birthDate": "10/12/1980"}, "birthDate"),
        ({"birthDate": "2026-11-25"}, "birthDate"),
        ({"birthDate": "1890-01-01"}, "birthDate"),
        ({"phone": "555-01"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "", "email": ""}, "phone"),
        ({"email": "ada@example"}, "email"),
    ],
)
def test_each_wrong_field_gets_its_own_message(changes: dict[str, str], field: str) -> None:
    checked = validate_patient({**PATIENT, **changes}, today=TODAY)
    assert checked.patient is None
    assert list(checked.errors) == [field]
    assert checked.errors[field].startswith("Please")


def test_an_email_alone_is_enough_to_reach_the_patient() -> None:
    checked = validate_patient({**PATIENT, "phone": "", "email": "ada@example.com"}, today=TODAY)
    assert checked.patient is not None
    assert (checked.patient.phone, checked.patient.email) == (None, "ada@example.com")


# --- the answers -----------------------------------------------------------------------------------


def test_answers_are_typed_and_disabled_questions_dropped() -> None:
    questionnaire = _neurology()
    parsed = parse_answers(
        questionnaire, {"q-referral": "no", "q-diagnosis": "http://snomed.info/sct|37796009", "q-notes": " hi "}, None
    )
    # `diagnosis` is asked only when there is a referral.
    assert parsed.errors == {}
    assert parsed.answers == {"referral": False, "notes": "hi"}
    parsed = parse_answers(questionnaire, {"q-referral": "yes", "q-diagnosis": "http://snomed.info/sct|37796009"}, None)
    assert parsed.answers["diagnosis"] == QCoding(system="http://snomed.info/sct", code="37796009", display="Migraine")


def test_required_and_malformed_answers_are_named_by_question() -> None:
    parsed = parse_answers(_flu(), {"q-dose": "first", "q-allergy": ""}, date(1980, 12, 10))
    assert parsed.errors == {"dose": "Please enter a whole number.", "allergy": "Please answer this question."}
    assert parsed.answers == {"birthDate": date(1980, 12, 10)}
    unknown = parse_answers(_neurology(), {"q-referral": "yes", "q-diagnosis": "urn:x|nothing"}, None)
    assert unknown.errors == {"diagnosis": "Please choose one of the answers."}


# --- eligibility -----------------------------------------------------------------------------------


def test_every_rule_met_is_eligible() -> None:
    questionnaire = _flu()
    answers = parse_answers(questionnaire, {"q-dose": "2", "q-allergy": "no"}, date(1980, 12, 10)).answers
    assert decide(parse_rules(questionnaire), answers, VISIT).outcome == "eligible"


def test_not_eligible_outweighs_needs_a_call_and_brings_only_its_messages() -> None:
    questionnaire = _flu()
    answers = parse_answers(questionnaire, {"q-dose": "3", "q-allergy": "yes"}, date(2025, 1, 1)).answers
    decision = decide(parse_rules(questionnaire), answers, VISIT)
    assert decision.outcome == "not-eligible"
    assert decision.messages == ("This vaccine is given as at most 2 doses per season.",)


def test_unmet_needs_call_rules_bring_their_messages() -> None:
    questionnaire = _flu()
    answers = parse_answers(questionnaire, {"q-dose": "1", "q-allergy": "yes"}, date(2025, 1, 1)).answers
    decision = decide(parse_rules(questionnaire), answers, VISIT)
    assert decision.outcome == "needs-call"
    assert len(decision.messages) == 2


def test_a_rule_on_an_unanswered_question_is_skipped() -> None:
    questionnaire = _neurology()
    answers = parse_answers(questionnaire, {"q-referral": "no"}, None).answers
    decision = decide(parse_rules(questionnaire), answers, VISIT)
    # Only the referral rule applies: `diagnosis` was not asked.
    assert decision.outcome == "not-eligible"
    assert len(decision.messages) == 1


def test_age_is_counted_in_whole_years_on_the_visit_day() -> None:
    assert age_on(date(2023, 11, 25), VISIT) == 3
    assert age_on(date(2023, 11, 26), VISIT) == 2
    assert age_on(date(2024, 2, 29), date(2027, 2, 28)) == 2


def test_a_rule_naming_no_question_of_the_questionnaire_is_refused() -> None:
    broken = neurology_questionnaire()
    broken["extension"][0]["extension"][0]["valueString"] = "no-such-item"
    with pytest.raises(InvalidInput, match="item"):
        parse_questionnaire(orjson.dumps(broken))

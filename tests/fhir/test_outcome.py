from __future__ import annotations

import orjson

from slotlinks.errors import InvalidInput, Issue, NotFound, RateLimited, SlotUnavailable
from slotlinks.fhir.outcome import issue_to_dict, operation_outcome, outcome_bytes


def test_outcome_from_an_error() -> None:
    outcome = operation_outcome(NotFound("no Slot with id 7", expression=["Slot.id"]))
    assert outcome == {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "not-found", "diagnostics": "no Slot with id 7", "expression": ["Slot.id"]}
        ],
    }


def test_outcome_of_a_rate_limit_is_throttled() -> None:
    assert operation_outcome(RateLimited(30)) == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "throttled", "diagnostics": "too many attempts; retry after 30 s"}],
    }


def test_outcome_of_a_capability_error_has_its_parent_code() -> None:
    outcome = operation_outcome(SlotUnavailable("s1", "taken"))
    assert outcome["issue"] == [
        {"severity": "error", "code": "conflict", "diagnostics": "Slot/s1 is no longer available (taken)"}
    ]


def test_outcome_from_an_error_with_issues() -> None:
    error = InvalidInput(
        "two problems",
        issues=[Issue("bad end", expression=("Slot.end",)), Issue("no phone", severity="warning", code="incomplete")],
    )
    outcome = operation_outcome(error)
    assert outcome["issue"] == [
        {"severity": "error", "code": "invalid", "diagnostics": "bad end", "expression": ["Slot.end"]},
        {"severity": "warning", "code": "incomplete", "diagnostics": "no phone"},
    ]


def test_outcome_from_issues_and_from_nothing() -> None:
    assert operation_outcome([Issue("x")])["issue"] == [{"severity": "error", "code": "invalid", "diagnostics": "x"}]
    assert operation_outcome([]) == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": "No issues found"}],
    }


def test_outcome_bytes_is_compact_json() -> None:
    data = outcome_bytes(InvalidInput("bad"))
    assert orjson.loads(data) == operation_outcome(InvalidInput("bad"))
    assert b" " not in data.replace(b"bad", b"")


def test_issue_to_dict_omits_empty_expression() -> None:
    assert "expression" not in issue_to_dict(Issue("x"))

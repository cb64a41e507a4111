"""FHIR R4 OperationOutcome from our errors (http://hl7.org/fhir/R4/operationoutcome.html).

Every FHIR endpoint answers failures with an OperationOutcome (ARCHITECTURE.md, "HTTP"); the error
handler of each app calls `outcome_bytes(error)` and takes the HTTP status from `error.status`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from slotlinks.errors import Issue, SlotlinksError

__all__ = ["issue_to_dict", "operation_outcome", "outcome_bytes"]


def issue_to_dict(issue: Issue) -> dict[str, Any]:
    """One `OperationOutcome.issue`; `expression` is left out when empty (FHIR forbids empty arrays)."""
    out: dict[str, Any] = {"severity": issue.severity, "code": issue.code, "diagnostics": issue.diagnostics}
    if issue.expression:
        out["expression"] = list(issue.expression)
    return out


def operation_outcome(error_or_issues: SlotlinksError | Iterable[Issue]) -> dict[str, Any]:
    """An OperationOutcome for an error (its issues) or for a list of issues.

    `issue` is 1..* in FHIR, so an empty list yields one `information` issue saying all is well.
    """
    if isinstance(error_or_issues, SlotlinksError):
        issues: Iterable[Issue] = error_or_issues.issues
    else:
        issues = error_or_issues
    entries = [issue_to_dict(i) for i in issues]
    if not entries:
        entries = [{"severity": "information", "code": "informational", "diagnostics": "No issues found"}]
    return {"resourceType": "OperationOutcome", "issue": entries}


def outcome_bytes(error_or_issues: SlotlinksError | Iterable[Issue]) -> bytes:
    """`operation_outcome(...)` as compact JSON bytes, ready for an `application/fhir+json` body."""
    return orjson.dumps(operation_outcome(error_or_issues))

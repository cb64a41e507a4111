"""The 2026 draft's six profiles, rule by rule: a feed that conforms passes every check, and the same
feed with one rule broken once fails exactly that rule's check, at that resource's line.

The rules are read from the checker's own tables (`profiles_2026`), so a rule added there is tested
here without a new test; each table row is one test case.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from slotlinks.conformance import checks_for, run_validation
from slotlinks.conformance.checks import profiles_2026
from slotlinks.conformance.elements import ELEMENTS
from slotlinks.conformance.results import CheckResult
from tests.conformance.conftest import full_resources, write_full_feed

#: Checks that fail beside the rule's: the typed decoder cannot do without the element, or only
#: knows the element's codes (the line is then also invalid FHIR to it), or others point at the id.
ALSO_FAILS = {
    "schedule.actor": {"resource.fhir-valid"},
    "schedule.actor-reference": {"resource.fhir-valid"},
    "practitioner-role.id": {"resource.fhir-valid", "schedule.actors-resolve"},
    "healthcare-service.id": {"resource.fhir-valid"},
    "practitioner.id": {"resource.fhir-valid"},
    "healthcare-service.not-available-description": {"resource.fhir-valid"},
    "location.status-binding": {"resource.fhir-valid"},
    "location.mode-binding": {"resource.fhir-valid"},
    "location.hours-of-operation-days-of-week-binding": {"resource.fhir-valid"},
    "practitioner-role.available-time-days-of-week-binding": {"resource.fhir-valid"},
    "healthcare-service.available-time-days-of-week-binding": {"resource.fhir-valid"},
    "practitioner.gender-binding": {"resource.fhir-valid"},
}


def _rules() -> list[tuple[str, Any]]:
    """(check id, table row) for every rule of every profile."""
    return list(profiles_2026.ROWS.items())


def _holder(resource: dict[str, Any], parents: list[str]) -> tuple[dict[str, Any], str]:
    """The first object at `parents` under `resource`, and its type (for the element table)."""
    node, ftype = resource, resource["resourceType"]
    for name in parents:
        ftype = ELEMENTS[ftype][name].type
        value = node[name]
        node = value[0] if isinstance(value, list) else value
    return node, ftype


def _break(resource: dict[str, Any], row: Any) -> None:
    """Break `row`'s rule once in `resource` (a conforming copy)."""
    if isinstance(row, profiles_2026.Slice):
        extra = next(e for e in resource["extension"] if e["url"] == row.url)
        resource["extension"].append(copy.deepcopy(extra))
        return
    *parents, leaf = row.path.split(".")
    node, ftype = _holder(resource, parents)
    element = ELEMENTS[ftype][leaf]
    if isinstance(row, profiles_2026.Binding):
        bad: Any = {"coding": [{"system": "https://example.org/types", "code": "x"}]}
        if element.type == "code":
            bad = ["not-a-code"] if element.repeats else "not-a-code"
        node[leaf] = bad
    elif row.min and leaf in node:
        del node[leaf]
    else:  # a maximum below what the element allows: one more than the maximum
        node[leaf] = node[leaf] * (row.max + 1)


def _failed(report: Any) -> dict[str, CheckResult]:
    return {r.check.id: r for r in report.results if r.status == "failed"}


def test_the_conforming_feed_passes_every_check_strictly(tmp_path: Path) -> None:
    report = run_validation(str(write_full_feed(tmp_path / "f", full_resources())), profile="general")
    assert _failed(report) == {}
    assert report.exit_code(strict=True) == 0
    assert len(report.resources) == 6


def test_every_rule_of_the_tables_is_tested_and_declared_for_general_only() -> None:
    ids = [check_id for check_id, _ in _rules()]
    assert len(ids) == len(set(ids)) == sum(len(c) for c in profiles_2026.RULES.values())
    assert {c.check.profiles for checkers in profiles_2026.RULES.values() for c in checkers} == {frozenset({"general"})}


@pytest.mark.parametrize(("check_id", "row"), _rules(), ids=[i for i, _ in _rules()])
def test_each_rule_broken_once_is_caught_by_its_check(tmp_path: Path, check_id: str, row: Any) -> None:
    resources = full_resources()
    _break(resources[row.rtype][0], row)
    report = run_validation(str(write_full_feed(tmp_path / "f", resources)), profile="general")
    failed = _failed(report)
    assert check_id in failed, sorted(failed)
    assert failed[check_id].count == 1
    assert failed[check_id].examples[0].where == f"{row.rtype.lower()}.ndjson:1"
    assert set(failed) - {check_id} <= ALSO_FAILS.get(check_id, set())
    assert check_id not in {c.id for c in checks_for("vaccine")}


def test_a_preferred_binding_is_recommended_and_fails_only_strict(tmp_path: Path) -> None:
    resources = full_resources()
    resources["Slot"][0]["appointmentType"] = {"text": "New patients"}
    report = run_validation(str(write_full_feed(tmp_path / "f", resources)), profile="general")
    assert set(_failed(report)) == {"slot.appointment-type-binding"}
    assert report.exit_code(strict=False) == 0
    assert report.exit_code(strict=True) == 1
    assert (
        "appointmentType (no coding) has no code from"
        in _failed(report)["slot.appointment-type-binding"].examples[0].message
    )


def test_a_virtual_location_still_needs_the_full_address(tmp_path: Path) -> None:
    resources = full_resources()
    virtual = resources["Location"][0]
    virtual["virtualService"] = [{"addressUrl": "https://video.example.org/room/1"}]
    virtual["address"] = {"state": "VA"}
    report = run_validation(str(write_full_feed(tmp_path / "f", resources)), profile="general")
    assert set(_failed(report)) == {
        "location.address-line",
        "location.address-city",
        "location.address-postal-code",
    }
    message = _failed(report)["location.address-city"].examples[0].message
    assert message == "Location/loc-1 has 0 address.city (Location.address.city is 1..1)"


def test_a_child_rule_applies_to_each_parent_present(tmp_path: Path) -> None:
    resources = full_resources()
    resources["Location"][0]["telecom"].append({"system": "email"})
    report = run_validation(str(write_full_feed(tmp_path / "f", resources)), profile="general")
    assert set(_failed(report)) == {"location.telecom-value"}
    assert _failed(report)["location.telecom-value"].examples[0].message == (
        "Location/loc-1 has 0 telecom[2].value (Location.telecom.value is 1..1)"
    )

"""FHIR JSON's own rules: no null, no empty string, array or object (both profiles); only the
elements a type defines, arrays exactly where elements repeat, primitives in their type's format
(`--profile general`). Each case breaks one value of the conforming six-type feed once, and the
finding names the file, the line and the JSON path. A recorded real feed with `"code": null` inside
a coding fails both profiles.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from slotlinks.conformance import run_validation
from slotlinks.conformance.results import CheckResult
from slotlinks.conformance.screen import clean
from tests.conformance.conftest import full_resources, write_full_feed

WASHINGTON = Path(__file__).parent / "data" / "washington"


def _set(resource: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at `path` (`telecom[0].system`) in `resource`."""
    steps = [int(s) if s.isdigit() else s for s in re.findall(r"[^.\[\]]+", path)]
    node: Any = resource
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value


def _failed(report: Any) -> dict[str, CheckResult]:
    return {r.check.id: r for r in report.results if r.status == "failed"}


#: (resource type, path, value, check id, message): one value broken once.
CASES: list[tuple[str, str, Any, str, str]] = [
    ("Location", "name", None, "json.no-null", "$.name is null"),
    ("Location", "address.line[0]", None, "json.no-null", "$.address.line[0] is null"),
    ("Slot", "appointmentType.coding[0].code", None, "json.no-null", "$.appointmentType.coding[0].code is null"),
    ("Slot", "appointmentType.coding", None, "json.no-null", "$.appointmentType.coding is null"),
    ("Location", "description", "", "json.no-empty", "$.description is an empty string"),
    ("Practitioner", "name[0].given", [], "json.no-empty", "$.name[0].given is an empty array"),
    ("Practitioner", "meta", {}, "json.no-empty", "$.meta is an empty object"),
    (
        "Schedule",
        "extension",
        [{"url": "https://example.org/when", "valueTiming": {"code": {"text": ""}}}],
        "json.no-empty",
        "$.extension[0].valueTiming.code.text is an empty string",
    ),
    ("Location", "colour", "blue", "json.known-elements", "$.colour: Location has no element `colour`"),
    (
        "Location",
        "telecom[0].sytem",
        "phone",
        "json.known-elements",
        "$.telecom[0].sytem: ContactPoint has no element `sytem`",
    ),
    ("Location", "_colour", {"id": "x"}, "json.known-elements", "$._colour: Location has no element `_colour`"),
    (
        "HealthcareService",
        "_name",
        {"extension": [{"url": "https://example.org/x", "valueString": "y"}], "colour": 1},
        "json.known-elements",
        "$._name.colour: Element has no element `colour`",
    ),
    ("Practitioner", "gender", ["female"], "json.element-shape", "$.gender is an array, but does not repeat"),
    (
        "HealthcareService",
        "category",
        {"text": "General"},
        "json.element-shape",
        "$.category repeats, so it is an array",
    ),
    (
        "Schedule",
        "planningHorizon",
        "next month",
        "json.element-shape",
        "$.planningHorizon is not a JSON object (Period)",
    ),
    ("Location", "alias", [{"text": "x"}], "json.element-shape", "$.alias[0] is a JSON object"),
    (
        "Practitioner",
        "birthDate",
        "1990-13-01",
        "json.primitive-format",
        "$.birthDate '1990-13-01' is not a valid date",
    ),
    (
        "Location",
        "identifier[0].system",
        "https://clinic.example.org/my sites",
        "json.primitive-format",
        "$.identifier[0].system 'https://clinic.example.org/my sites' is not a valid uri",
    ),
    ("Location", "telecom[0].rank", 0, "json.primitive-format", "$.telecom[0].rank 0 is below 1 (positiveInt)"),
    (
        "Location",
        "telecom[0].rank",
        1.5,
        "json.primitive-format",
        "$.telecom[0].rank 1.5 is not a whole number (positiveInt)",
    ),
    (
        "Location",
        "position",
        {"latitude": "38.8", "longitude": -77.1},
        "json.primitive-format",
        "$.position.latitude is not a JSON number (decimal)",
    ),
    ("Slot", "comment", 7, "json.primitive-format", "$.comment is not a JSON string (string)"),
    ("Slot", "meta", {"versionId": "a b"}, "json.primitive-format", "$.meta.versionId 'a b' is not a valid id"),
    (
        "Slot",
        "meta",
        {"lastUpdated": "2026-06-01T09:00:00"},
        "json.primitive-format",
        "$.meta.lastUpdated '2026-06-01T09:00:00' is not a valid instant",
    ),
    (
        "Schedule",
        "identifier[0].use",
        "usual ",
        "json.primitive-format",
        "$.identifier[0].use 'usual ' is not a valid code",
    ),
    ("Practitioner", "active", "true", "json.primitive-format", "$.active is not true or false (boolean)"),
]

#: Checks that fail beside the case's: the typed decoder also refuses a value of the wrong JSON type,
#: and a binding or cardinality rule also reads the broken element.
ALSO_FAILS: dict[str, set[str]] = {
    "$.name is null": {"location.name"},
    "$.address.line[0] is null": {"location.address-line", "resource.fhir-valid"},
    # The kernel's Extension does not model valueTiming, so it sees an extension without a value.
    "$.extension[0].valueTiming.code.text is an empty string": {"extension.value-type"},
    "$.appointmentType.coding[0].code is null": {"slot.appointment-type-binding"},
    "$.appointmentType.coding is null": {"slot.appointment-type-binding", "resource.fhir-valid"},
    "$.gender is an array, but does not repeat": {"resource.fhir-valid"},
    "$.category repeats, so it is an array": {"resource.fhir-valid"},
    "$.planningHorizon is not a JSON object (Period)": {"resource.fhir-valid"},
    "$.alias[0] is a JSON object": {"resource.fhir-valid"},
    "$.telecom[0].rank 1.5 is not a whole number (positiveInt)": {"resource.fhir-valid"},
    "$.position.latitude is not a JSON number (decimal)": {"resource.fhir-valid"},
    "$.comment is not a JSON string (string)": {"resource.fhir-valid"},
    "$.meta.lastUpdated '2026-06-01T09:00:00' is not a valid instant": {"resource.fhir-valid"},
    "$.identifier[0].use 'usual ' is not a valid code": {"schedule.identifier-use-binding"},
    "$.active is not true or false (boolean)": {"resource.fhir-valid"},
}


@pytest.mark.parametrize(("rtype", "path", "value", "check_id", "message"), CASES, ids=[c[4] for c in CASES])
def test_each_json_rule_broken_once_is_caught_with_its_path(
    tmp_path: Path, rtype: str, path: str, value: Any, check_id: str, message: str
) -> None:
    resources = full_resources()
    _set(resources[rtype][0], path, value)
    report = run_validation(str(write_full_feed(tmp_path / "f", resources)), profile="general")
    failed = _failed(report)
    assert check_id in failed, sorted(failed)
    assert [(e.where, e.message) for e in failed[check_id].examples] == [(f"{rtype.lower()}.ndjson:1", message)]
    assert set(failed) - {check_id} <= ALSO_FAILS.get(message, set())


def test_nulls_and_empties_fail_the_vaccine_profile_too_but_unknown_elements_do_not(tmp_path: Path) -> None:
    resources = full_resources()
    del resources["PractitionerRole"], resources["HealthcareService"], resources["Practitioner"]
    resources["Schedule"][0]["actor"] = [{"reference": "Location/loc-1"}]
    resources["Location"][0]["description"] = ""
    resources["Location"][0]["colour"] = "blue"
    resources["Slot"][0]["comment"] = None
    report = run_validation(str(write_full_feed(tmp_path / "f", resources)), profile="vaccine")
    failed = _failed(report)
    assert [(e.where, e.message) for e in failed["json.no-empty"].examples] == [
        ("location.ndjson:1", "$.description is an empty string")
    ]
    assert [(e.where, e.message) for e in failed["json.no-null"].examples] == [("slot.ndjson:1", "$.comment is null")]
    assert "json.known-elements" not in {r.check.id for r in report.results}
    assert report.exit_code(strict=False) == 1


def test_a_primitive_extension_and_null_placeholders_in_its_array_are_valid_json(tmp_path: Path) -> None:
    resources = full_resources()
    note = {"extension": [{"url": "https://example.org/source", "valueString": "front desk"}]}
    resources["Location"][0]["_name"] = note
    resources["Location"][0]["alias"] = ["Main clinic", "Old clinic"]
    resources["Location"][0]["_alias"] = [None, note]
    report = run_validation(str(write_full_feed(tmp_path / "f", resources)), profile="general")
    assert _failed(report) == {}


def test_the_washington_feed_with_null_codes_fails_both_profiles_naming_file_line_and_path(tmp_path: Path) -> None:
    feed = shutil.copytree(WASHINGTON, tmp_path / "washington")
    for profile in ("general", "vaccine"):
        report = run_validation(str(feed), profile=profile)
        nulls = _failed(report)["json.no-null"]
        assert nulls.count == 3
        assert [(e.where, e.message) for e in nulls.examples] == [
            ("schedules.ndjson:1", "$.extension[0].valueCoding.code is null"),
            ("schedules.ndjson:1", "$.extension[1].valueCoding.code is null"),
            ("schedules.ndjson:2", "$.extension[0].valueCoding.code is null"),
        ]
        assert report.exit_code(strict=False) == 1


def test_the_screen_passes_the_conforming_lines_and_declines_every_broken_one() -> None:
    # The fast path's contract (`screen.py`): never accept a line the walk would report.
    for rtype, resources in full_resources().items():
        assert clean(rtype, json.dumps(resources[0]).encode()), rtype
    for rtype, path, value, _, message in CASES:
        resource = full_resources()[rtype][0]
        _set(resource, path, value)
        assert not clean(rtype, json.dumps(resource).encode()), message
    for line in (WASHINGTON / "schedules.ndjson").read_bytes().splitlines():
        assert not clean("Schedule", line)
    assert not clean("Slot", b'{"resourceType":"Slot","id":"s","meta":{ }}')


def test_lines_nested_too_deeply_are_reported_not_a_crash(tmp_path: Path) -> None:
    resources = full_resources()
    feed = write_full_feed(tmp_path / "f", resources)
    slot = json.dumps(resources["Slot"][0])
    too_deep = slot[:-1] + ',"x":' + "[" * 5000 + "]" * 5000 + "}"
    # Extensions within extensions, 400 deep (readable), around an empty value (so the walk must look).
    inner = '{"url":"https://example.org/x","valueString":""}'
    nested = '{"url":"https://example.org/x","extension":[' * 400 + inner + "]}" * 400
    deep_extensions = json.dumps(dict(resources["Slot"][0], id="s2", extension=[]))
    deep_extensions = deep_extensions.replace('"extension": []', f'"extension": [{nested}]')
    (feed / "slot.ndjson").write_text(f"{too_deep}\n{deep_extensions}\n")
    failed = _failed(run_validation(str(feed), profile="general"))
    assert [(e.where, e.message) for e in failed["ndjson.json-object"].examples] == [
        ("slot.ndjson:1", "line nests arrays or objects too deeply to be read")
    ]
    assert [(e.where, e.message) for e in failed["json.element-shape"].examples] == [
        ("slot.ndjson:2", "$ nests too deeply to be checked element by element")
    ]

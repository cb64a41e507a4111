"""An independent check: what we encode must be valid FHIR for the `fhir.resources` models.

R4B for everything R4 has; R5 for `Location.virtualService`, which the 2026 IG borrows from R5.
(`fhir.resources` checks structure and datatypes, not value-set bindings such as `Slot.status`.)
"""

from __future__ import annotations

import importlib
from typing import Any

import orjson
import pytest

from slotlinks.errors import InvalidInput, Issue
from slotlinks.fhir.outcome import operation_outcome
from slotlinks.fhir.resources import decode_resource, encode_resource
from tests.fhir import REALWORLD
from tests.fhir.test_resources import EXAMPLES_2026, VIRTUAL_LOCATION

pytest.importorskip("fhir.resources")


def _model(resource_type: str, version: str = "R4B") -> Any:
    package = "fhir.resources" if version == "R5" else f"fhir.resources.{version}"
    module = importlib.import_module(f"{package}.{resource_type.lower()}")
    return getattr(module, resource_type)


def _check(encoded: bytes, version: str = "R4B") -> None:
    data = orjson.loads(encoded)
    model = _model(data["resourceType"], version).model_validate(data)
    assert model.id == data.get("id")


def _corpus_lines() -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for corpus in ("smart-examples", "walgreens", "cvs"):
        folder = REALWORLD / corpus
        for path in sorted(folder.glob("*.ndjson")):
            if corpus == "cvs" and path.name == "slot.ndjson":
                continue  # the string capacity is rejected on decode, as it should be
            found += [(f"{corpus}/{path.name}", line) for line in path.read_bytes().splitlines()[:5]]
    return found


@pytest.mark.parametrize(("where", "line"), _corpus_lines(), ids=lambda v: v if isinstance(v, str) else "")
def test_encoded_corpus_resources_are_valid_r4b(where: str, line: bytes) -> None:
    _check(encode_resource(decode_resource(line)))


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES_2026 if e is not VIRTUAL_LOCATION], ids=lambda e: e["resourceType"]
)
def test_encoded_2026_resources_are_valid_r4b(example: dict[str, Any]) -> None:
    _check(encode_resource(decode_resource(orjson.dumps(example))))


def test_virtual_service_location_is_valid_r5_and_the_rest_r4b() -> None:
    # The 2026 IG puts R5's virtualService on an otherwise R4 Location: check each part in its version.
    data = orjson.loads(encode_resource(decode_resource(orjson.dumps(VIRTUAL_LOCATION))))
    r4_only = ("telecom", "hoursOfOperation")  # R5 replaced these with contact and Availability
    _check(orjson.dumps({k: v for k, v in data.items() if k not in r4_only}), "R5")
    _check(orjson.dumps({k: v for k, v in data.items() if k != "virtualService"}))


def test_operation_outcome_is_valid_r4b() -> None:
    outcome = operation_outcome(InvalidInput("bad", issues=[Issue("bad end", expression=("Slot.end",))]))
    _model("OperationOutcome").model_validate(outcome)
    _model("OperationOutcome").model_validate(operation_outcome([]))


def test_corpus_is_present() -> None:
    assert _corpus_lines()

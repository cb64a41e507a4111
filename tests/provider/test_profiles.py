"""Every resource a generated provider publishes, in its `$bulk-publish` files and through its FHIR REST
API, meets the 2026 draft IG's profiles (HL7/smart-scheduling-links `input/fsh/profiles/`), element by
element: an oracle of its own, written from the profiles as a table, independent of the product's
validator; and its structure is valid FHIR for the `fhir.resources` models (R4B; R5 for the
`virtualService` element the 2026 IG takes from R5)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from slotlinks.config import sqlite_url
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.publication.snapshots import export
from slotlinks.provider.store.store import open_store
from tests.provider.conftest import RunningProvider, small_options

BASE = "https://slots.example.org/fhir"
NPI = "http://hl7.org/fhir/sid/us-npi"
APPOINTMENT_TYPE_SYSTEMS = {
    "http://terminology.hl7.org/CodeSystem/accepting-patients",
    "http://terminology.hl7.org/CodeSystem/v2-0276",
}
MANY = None

# (element path, min, max): each path is counted within every instance of its parent path, as FHIR's
# cardinality reads (`telecom.system 1..1` is one system in each telecom). Must-support elements we
# promise to fill are listed with min 1 and marked (ours).
PROFILES: dict[str, list[tuple[str, int, int | None]]] = {
    "Location": [
        ("identifier", 1, MANY),
        ("name", 1, 1),
        ("telecom", 1, MANY),
        ("telecom.system", 1, 1),
        ("telecom.value", 1, 1),
        ("address", 1, 1),
        ("address.line", 1, MANY),
        ("address.city", 1, 1),
        ("address.state", 1, 1),
        ("address.postalCode", 1, 1),
    ],
    "Practitioner": [
        ("id", 1, 1),
        ("identifier", 1, 1),
        ("identifier.system", 1, 1),
        ("identifier.value", 1, 1),
        ("name", 1, MANY),  # ours
        ("communication", 1, MANY),  # ours: the languages spoken
    ],
    "PractitionerRole": [
        ("id", 1, 1),
        ("practitioner", 1, 1),  # ours
        ("location", 1, MANY),  # ours
        ("healthcareService", 1, MANY),  # ours
        ("identifier", 1, MANY),  # the NPI, SHALL when available
    ],
    "HealthcareService": [
        ("id", 1, 1),
        ("active", 1, 1),
        ("providedBy", 0, 1),
        ("category", 0, 1),
        ("type", 1, 1),
        ("specialty", 1, 1),
        ("location", 1, 1),
        ("name", 1, 1),
        ("comment", 0, 1),
        ("serviceProvisionCode", 0, 1),
        ("appointmentRequired", 1, 1),  # ours
        ("eligibility", 2, MANY),  # ours: who may book, and the referral answer
        ("notAvailable.description", 1, 1),
    ],
    "Schedule": [
        ("actor", 1, MANY),
        ("actor.reference", 1, 1),
        ("serviceType", 1, MANY),
    ],
    "Slot": [
        ("schedule", 1, 1),
        ("status", 1, 1),
        ("start", 1, 1),
        ("end", 1, 1),
        ("appointmentType", 1, 1),  # ours: must-support
        ("appointmentType.coding", 1, MANY),
    ],
}


def _values(node: Any, path: list[str]) -> Iterator[Any]:
    """The instances of `path` under `node` (arrays flattened)."""
    if not path:
        yield node
        return
    value = node.get(path[0]) if isinstance(node, dict) else None
    for item in value if isinstance(value, list) else ([] if value is None else [value]):
        yield from _values(item, path[1:])


def _count(node: Any) -> int:
    return len(node) if isinstance(node, list) else (0 if node is None else 1)


def profile_problems(resource: dict[str, Any]) -> list[str]:
    """What breaks the profile table, or FHIR JSON's rule of no null and no empty value."""
    problems = []
    for path, low, high in PROFILES[resource["resourceType"]]:
        *parent, leaf = path.split(".")
        for holder in _values(resource, parent):
            n = _count(holder.get(leaf)) if isinstance(holder, dict) else 0
            if n < low or (high is not None and n > high):
                problems.append(
                    f"{resource['resourceType']}/{resource.get('id')}: {path} has {n}, wants {low}..{high or '*'}"
                )
    for system in (c.get("system") for c in _values(resource, ["appointmentType", "coding"])):
        if system not in APPOINTMENT_TYPE_SYSTEMS:
            problems.append(f"Slot/{resource.get('id')}: appointmentType from {system}")
    for identifier in _values(resource, ["identifier"]) if resource["resourceType"] == "Practitioner" else []:
        if identifier.get("system") != NPI or not str(identifier.get("value", "")).isdigit():
            problems.append(f"Practitioner/{resource.get('id')}: identifier is not an NPI")
    problems += [f"{resource['resourceType']}/{resource.get('id')}: {where}" for where in _empties(resource, "$")]
    return problems


def _empties(node: Any, where: str) -> Iterator[str]:
    if node is None or node in ("", [], {}):
        yield f"{where} is null or empty"
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _empties(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _empties(value, f"{where}[{i}]")


def fhir_structure(resource: dict[str, Any]) -> None:
    """Raises unless `fhir.resources` accepts the resource (R4B; `virtualService` as R5's datatype)."""
    data = dict(resource)
    virtual = data.pop("virtualService", None)
    module = importlib.import_module(f"fhir.resources.R4B.{data['resourceType'].lower()}")
    getattr(module, data["resourceType"]).model_validate(data)
    if virtual is not None:
        from fhir.resources.virtualservicedetail import VirtualServiceDetail

        for detail in virtual:
            VirtualServiceDetail.model_validate(detail)


def _check_all(resources: list[dict[str, Any]]) -> None:
    kinds = {r["resourceType"] for r in resources}
    assert kinds == set(PROFILES), kinds
    problems = [p for r in resources for p in profile_problems(r)]
    assert not problems, problems[:20]
    for resource in resources:
        if resource["resourceType"] != "Slot" or resource["id"].endswith("0"):  # every tenth Slot suffices
            fhir_structure(resource)


def _violating(rtype: str, path: str, count: int) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": rtype, "id": "x"}
    node = resource
    *parent, leaf = path.split(".")
    for step in parent:
        node[step] = {}
        node = node[step]
    node.pop(leaf, None)
    if count:
        node[leaf] = [{"system": "urn:x", "value": "1"}] * count
    return resource


def test_the_oracle_catches_each_cardinality_broken_once() -> None:
    """A table that cannot fail proves nothing: each row, broken on either side, is caught."""
    for rtype, rows in PROFILES.items():
        for path, low, high in rows:
            broken = ([0] if low else []) + ([high + 1] if high is not None else [])
            for count in broken:
                problems = profile_problems(_violating(rtype, path, count))
                assert any(f" {path} has {count}," in p for p in problems), (rtype, path, count, problems)


def test_bulk_publication_meets_the_profiles(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "p.db"))
    generate_provider(store, small_options(states=("MA", "FL", "CA"), locations=4, days=3))
    export(store, tmp_path / "site", BASE)
    store.dispose()
    manifest = orjson.loads((tmp_path / "site" / "$bulk-publish").read_bytes())
    resources = []
    for output in manifest["output"]:
        path = tmp_path / "site" / output["url"][len(BASE) + 1 :]
        resources += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    _check_all(resources)


@pytest.mark.parametrize("rtype", list(PROFILES))
def test_fhir_rest_api_meets_the_profiles(running_provider: RunningProvider, rtype: str) -> None:
    url: str | None = f"{running_provider.origin}/fhir/{rtype}?_count=500"
    found = []
    while url:
        bundle = httpx.get(url, timeout=30).raise_for_status().json()
        found += [entry["resource"] for entry in bundle.get("entry", [])]
        following = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
        url = following[0].replace(running_provider.base, running_provider.origin + "/fhir") if following else None
        if rtype == "Slot" and len(found) > 1500:
            break
    assert found
    problems = [p for r in found for p in profile_problems(r)]
    assert not problems, problems[:20]
    for resource in found[:200]:
        fhir_structure(resource)

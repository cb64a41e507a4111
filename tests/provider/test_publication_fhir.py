"""An independent cross-check: every resource a generated provider publishes is valid FHIR according to
the `fhir.resources` models (R4B; R5 for a Location carrying the 2026 IG's `virtualService`), and the
manifest and references hold together the way a strict conformance check expects."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import orjson

from slotlinks.config import sqlite_url
from slotlinks.fhir.instant import parse_instant
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.publication.snapshots import export
from slotlinks.provider.store.store import open_store
from tests.provider.conftest import small_options

BASE = "https://slots.example.org/fhir"


def _model(resource_type: str, version: str) -> Any:
    package = "fhir.resources" if version == "R5" else f"fhir.resources.{version}"
    return getattr(importlib.import_module(f"{package}.{resource_type.lower()}"), resource_type)


def _check(resource: dict[str, Any]) -> None:
    # The 2026 IG carries telehealth details in `Location.virtualService`, an element FHIR R4 gained only
    # in R5 (VirtualServiceDetail): check that element with the R5 datatype and the rest as R4B.
    virtual = resource.pop("virtualService", None)
    _model(resource["resourceType"], "R4B").model_validate(resource)
    if virtual is not None:
        from fhir.resources.virtualservicedetail import VirtualServiceDetail

        for detail in virtual:
            VirtualServiceDetail.model_validate(detail)


def test_every_published_resource_is_valid_fhir(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "p.db"))
    counts = generate_provider(store, small_options(locations=2, days=3))
    export(store, tmp_path / "site", BASE)
    store.dispose()

    manifest = orjson.loads((tmp_path / "site" / "$bulk-publish").read_bytes())
    parse_instant(manifest["transactionTime"])
    seen: dict[str, int] = {}
    ids: dict[str, set[str]] = {}
    references: list[str] = []
    for output in manifest["output"]:
        assert output["url"].startswith(BASE + "/")
        assert output["extension"]["state"]
        path = tmp_path / "site" / output["url"][len(BASE) + 1 :]
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            kind = resource["resourceType"]
            assert kind == output["type"]
            _check(resource)
            seen[kind] = seen.get(kind, 0) + 1
            assert resource["id"] not in ids.setdefault(kind, set()), "ids are unique per type"
            ids[kind].add(resource["id"])
            if kind == "Slot":
                assert parse_instant(resource["start"]) < parse_instant(resource["end"])
                references.append(resource["schedule"]["reference"])
                link = next(e["valueUrl"] for e in resource["extension"] if e["url"].endswith("booking-deep-link"))
                assert link.startswith("https://portal.example.org/book/")
            if kind == "Schedule":
                references += [actor["reference"] for actor in resource["actor"]]
            if kind == "PractitionerRole":
                npi = [i["value"] for i in resource["identifier"] if i["system"] == "http://hl7.org/fhir/sid/us-npi"]
                assert len(npi) == 1
    assert seen == {k: v for k, v in counts.items() if v}
    for reference in references:
        kind, _, target = reference.partition("/")
        assert target in ids[kind], f"{reference} does not resolve"

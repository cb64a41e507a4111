"""What the aggregate publishes: new ids, rewritten references, provenance, has-availability, validity."""

from __future__ import annotations

import importlib
from typing import Any

import orjson
import pytest
from sqlalchemy import update

from slotlinks.discovery.aggregate import aggregate_id
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.extensions import HAS_AVAILABILITY, LAST_SOURCE_SYNC
from slotlinks.fhir.ids import is_valid_id, parse_reference
from slotlinks.fhir.instant import ms_to_instant, parse_instant
from slotlinks.fhir.resources import RESOURCE_DECODERS
from slotlinks.fhir.validate import validate_resource
from tests.discovery_aggregate.conftest import NOW_MS, UPSTREAM_SYNC, URL_A, URL_B, Aggregate


def _source(resource: dict[str, Any], url: str) -> str | None:
    found = [i["value"] for i in resource.get("identifier", []) if i.get("system") == url]
    return found[0] if found else None


def _availability(resource: dict[str, Any]) -> str:
    codes = [e["valueCode"] for e in resource["extension"] if e["url"] == HAS_AVAILABILITY]
    assert len(codes) == 1
    return str(codes[0])


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def schedules_by_source(aggregate: Aggregate) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for kind, res in aggregate.resources():
        if kind == "Schedule":
            url = URL_A if _source(res, URL_A) else URL_B
            out[(url, str(_source(res, url)))] = res
    return out


def test_aggregate_id_forms() -> None:
    assert aggregate_id(3, "loc1") == "3.loc1"
    assert aggregate_id(3, "slot1", 1764000000000) == "3.slot1.1764000000000"
    hashed = aggregate_id(3, "x" * 70)
    assert hashed.startswith("3-")
    assert is_valid_id(hashed)
    assert aggregate_id(3, "a b") != aggregate_id(3, "a_b")
    assert aggregate_id(3, "a b", 1) != aggregate_id(3, "a b", 2)
    assert aggregate_id(1, "2.x") != aggregate_id(12, "x")
    assert aggregate_id(3, "x" * 70, 5) == aggregate_id(3, "x" * 70, 5), "stable"


def test_ids_unique_and_every_reference_resolves(aggregate: Aggregate) -> None:
    resources = aggregate.resources()
    ids: dict[str, set[str]] = {}
    references: list[str] = []
    for kind, res in resources:
        assert res["resourceType"] == kind
        assert is_valid_id(res["id"])
        assert res["id"] not in ids.setdefault(kind, set()), f"duplicate {kind} id {res['id']}"
        ids[kind].add(res["id"])
        references += _references(res)
    assert references
    for reference in references:
        parsed = parse_reference(reference)
        assert parsed.id in ids[parsed.type], f"{reference} does not resolve"
    counts = {kind: len(v) for kind, v in ids.items()}
    # A: 2 locations, B: 1; the orphan slot (its Schedule missing) is left out; both slot1s of A kept.
    assert counts == {
        "Location": 3,
        "Practitioner": 1,
        "HealthcareService": 1,
        "PractitionerRole": 1,
        "Schedule": 4,
        "Slot": 6,
    }
    unresolvable = next(res for kind, res in resources if kind == "PractitionerRole")["organization"]
    assert unresolvable == {"type": "Organization", "identifier": {"system": URL_A, "value": "org1"}}


def test_provenance_on_every_resource(aggregate: Aggregate) -> None:
    a, b = aggregate.publishers["A"], aggregate.publishers["B"]
    synced = {URL_A: ms_to_instant(NOW_MS - 60_000), URL_B: ms_to_instant(NOW_MS - 2 * 86_400_000)}
    bases = {URL_A: "https://a.example/fhir", URL_B: "https://b.example/pub"}
    slot1_ids = set()
    for kind, res in aggregate.resources():
        url = URL_A if _source(res, URL_A) else URL_B
        source_id = _source(res, url)
        assert source_id is not None, res
        assert res["meta"]["source"] == f"{bases[url]}/{kind}/{source_id}"
        assert "versionId" not in res["meta"]
        parse_instant(res["meta"]["lastUpdated"])
        sync = [e["valueDateTime"] for e in res["meta"]["extension"] if e["url"] == LAST_SOURCE_SYNC]
        expected = UPSTREAM_SYNC if kind == "Practitioner" else synced[url]
        assert sync == [expected]
        publisher = a if url == URL_A else b
        if kind != "Slot":
            assert res["id"] == aggregate_id(publisher, source_id)
        elif source_id == "slot1" and url == URL_A:
            slot1_ids.add(res["id"])
    assert len(slot1_ids) == 2, "reused slot ids become distinct ids"


def test_old_generations_never_appear(aggregate: Aggregate) -> None:
    sources = {(_source(res, URL_A) or _source(res, URL_B)) for _, res in aggregate.resources()}
    assert not sources & {"old-loc", "old-sched", "old-slot", "orphan"}
    # Flipping A back to generation 1 shows only generation 1.
    with aggregate.store.write() as conn:
        conn.execute(update(t.publisher).where(t.publisher.c.id == aggregate.publishers["A"]).values(generation=1))
    sources_a = {_source(res, URL_A) for _, res in aggregate.resources()} - {None}
    assert sources_a == {"old-loc", "old-sched", "old-slot"}


def test_has_availability(aggregate: Aggregate) -> None:
    schedules = schedules_by_source(aggregate)
    assert _availability(schedules[(URL_A, "s-free")]) == "some"
    assert _availability(schedules[(URL_A, "s-busy")]) == "none", "only busy and past free slots"
    assert _availability(schedules[(URL_A, "s-tele")]) == "some"
    assert _availability(schedules[(URL_B, "s-free")]) == "unknown", "B's last sync failed"
    b_slots = [res for kind, res in aggregate.resources() if kind == "Slot" and _source(res, URL_B)]
    assert len(b_slots) == 1, "a failing publisher's data is still published"


def test_availability_follows_the_clock(aggregate: Aggregate) -> None:
    # Twenty minutes without a successful sync of A (max-age 300 s): its data is stale.
    aggregate.clock.advance(minutes=20)
    schedules = schedules_by_source(aggregate)
    assert {_availability(s) for s in schedules.values()} == {"unknown"}
    # A syncs again three days later: s-tele's only free slot has started, s-free still has one.
    aggregate.clock.advance(days=3)
    now = int(aggregate.clock().timestamp() * 1000)
    with aggregate.store.write() as conn:
        conn.execute(
            update(t.publisher)
            .where(t.publisher.c.id == aggregate.publishers["A"])
            .values(last_success_ms=now, last_attempt_ms=now)
        )
    schedules = schedules_by_source(aggregate)
    assert _availability(schedules[(URL_A, "s-free")]) == "some"
    assert _availability(schedules[(URL_A, "s-tele")]) == "none"


def _model(resource_type: str, version: str) -> Any:
    package = "fhir.resources" if version == "R5" else f"fhir.resources.{version}"
    return getattr(importlib.import_module(f"{package}.{resource_type.lower()}"), resource_type)


def test_every_line_decodes_validates_and_is_valid_fhir(aggregate: Aggregate) -> None:
    seen_virtual = False
    for kind, res in aggregate.resources():
        line = orjson.dumps(res)
        decoded = RESOURCE_DECODERS[kind].decode(line)
        errors = [i for i in validate_resource(decoded) if i.severity == "error"]
        assert not errors, (res, errors)
        # Location.virtualService (2026 IG) is an R5 element: check it with the R5 datatype, the rest as R4B.
        virtual = res.pop("virtualService", None)
        _model(kind, "R4B").model_validate(res)
        if virtual is not None:
            from fhir.resources.virtualservicedetail import VirtualServiceDetail

            seen_virtual = True
            for detail in virtual:
                VirtualServiceDetail.model_validate(detail)
    assert seen_virtual


@pytest.mark.parametrize("kind", ["Location", "Schedule", "Slot"])
def test_outputs_carry_states(aggregate: Aggregate, kind: str) -> None:
    outputs = [o for o in aggregate.manifest()["output"] if o["type"] == kind]
    assert outputs
    for output in outputs:
        assert set(output["extension"]["state"]) <= {"MA", "RI"}
        assert output["extension"]["state"]
    if kind == "Slot":
        names = {o["url"].rsplit("/", 1)[1] for o in outputs}
        assert names == {"slots-MA-2026-W48.ndjson", "slots-MA-2026-W49.ndjson", "slots-RI-2026-W48.ndjson"}

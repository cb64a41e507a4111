"""Who a slot is for, ingested from any publisher (issue 13): our generated provider, and a
hand-written other publisher's feed with and without the information. Unknown stays NULL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from slotlinks.config import Settings
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.fhir.audience import ACCEPTING_PATIENTS, BCP47, ELIGIBILITY, ELIGIBILITY_VALUE, UCUM
from tests.discovery.conftest import RawServer, run_provider, sync

V2_0276 = "http://terminology.hl7.org/CodeSystem/v2-0276"


def _eligibility(code: str, system: str = ELIGIBILITY, **extra: Any) -> dict[str, Any]:
    return {"code": {"coding": [{"system": system, "code": code}]}, **extra}


def _years(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "years", "system": UCUM, "code": "a"}


def _other_feed(raw: RawServer, prefix: str, *, stated: bool) -> str:
    """Another publisher's feed: Schedule `kids` through a PractitionerRole whose service is for ages 0
    to 17 without a referral, `heart` with a HealthcareService actor that needs a referral; with
    `stated` False the same resources without any of the information."""
    loc = {"resourceType": "Location", "id": "l1", "name": "Elm Clinic", "address": {"postalCode": "02114"}}
    kids_service: dict[str, Any] = {"resourceType": "HealthcareService", "id": "hs-kids", "name": "Pediatrics"}
    heart_service: dict[str, Any] = {"resourceType": "HealthcareService", "id": "hs-heart", "name": "Cardiology"}
    doctor: dict[str, Any] = {"resourceType": "Practitioner", "id": "p1", "name": [{"text": "Dr. Ana Souza"}]}
    slot_type: dict[str, Any] = {"coding": [{"system": V2_0276, "code": "ROUTINE"}]}
    if stated:
        range_ = {"url": ELIGIBILITY_VALUE, "valueRange": {"low": _years(0), "high": _years(17.5)}}
        kids_service["eligibility"] = [
            _eligibility("no-referral-required"),
            _eligibility("age-range", extension=[range_]),
            _eligibility("newpt", ACCEPTING_PATIENTS),
        ]
        heart_service["eligibility"] = [_eligibility("referral-required"), {"comment": "Adults only"}]
        doctor["communication"] = [
            {"coding": [{"system": BCP47, "code": "pt-BR"}]},
            {"coding": [{"system": BCP47, "code": "es"}]},
            {"text": "Klingon"},
        ]
        slot_type["coding"].append({"system": ACCEPTING_PATIENTS, "code": "existptfam"})
    role = {
        "resourceType": "PractitionerRole",
        "id": "r1",
        "practitioner": {"reference": "Practitioner/p1"},
        "location": [{"reference": "Location/l1"}],
        "healthcareService": [{"reference": "HealthcareService/hs-kids"}],
    }
    schedules = [
        {"resourceType": "Schedule", "id": "kids", "actor": [{"reference": "PractitionerRole/r1"}]},
        {
            "resourceType": "Schedule",
            "id": "heart",
            "actor": [{"reference": "Location/l1"}, {"reference": "HealthcareService/hs-heart"}],
        },
    ]

    def slot(i: int, schedule: str, **more: Any) -> bytes:
        return orjson.dumps(
            {
                "resourceType": "Slot",
                "id": f"{schedule}-{i}",
                "schedule": {"reference": f"Schedule/{schedule}"},
                "status": "free",
                "start": f"2026-03-01T1{i}:00:00Z",
                "end": f"2026-03-01T1{i}:30:00Z",
                **more,
            }
        )

    files = {
        "Location": [loc],
        "Practitioner": [doctor],
        "HealthcareService": [kids_service, heart_service],
        "PractitionerRole": [role],
        "Schedule": schedules,
    }
    outputs = []
    for rtype, resources in files.items():
        raw.file(f"/{prefix}/{rtype}.ndjson", [orjson.dumps(r) for r in resources])
        outputs.append((rtype, f"/{prefix}/{rtype}.ndjson"))
    # A typed Slot (a comment takes it off the fast path) and plain ones: both routes give the column.
    lines = [slot(1, "kids", appointmentType=slot_type), slot(2, "kids", appointmentType=slot_type, comment="x")]
    lines.append(slot(3, "heart"))
    raw.file(f"/{prefix}/Slot.ndjson", lines)
    outputs.append(("Slot", f"/{prefix}/Slot.ndjson"))
    return raw.manifest(f"/{prefix}/$bulk-publish", outputs)


def _audiences(store: DiscoveryStore, publisher_id: int) -> tuple[dict[str, tuple[Any, ...]], dict[str, Any]]:
    s, sl = t.schedule.c, t.slot.c
    with store.read() as conn:
        schedules = {
            r.source_id: (r.patients, r.referral, r.min_age, r.max_age, r.ages_stated, r.languages)
            for r in conn.execute(select(t.schedule).where(s.publisher_id == publisher_id))
        }
        slots = {r.source_id: r.patients for r in conn.execute(select(t.slot).where(sl.publisher_id == publisher_id))}
    return schedules, slots


def test_another_publishers_feed_with_the_information(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    pid = registry.add_publisher(store, url=_other_feed(raw, "with", stated=True), name="elm").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    schedules, slots = _audiences(store, pid)
    # Through the role's service; ages rounded down to whole years; languages as primary subtags.
    assert schedules["kids"] == ("newpt", False, 0, 17, True, "pt es")
    # An entry in words only is not read; the referral code is.
    assert schedules["heart"] == (None, True, None, None, True, None)
    assert slots == {"kids-1": "existptfam", "kids-2": "existptfam", "heart-3": None}


def test_another_publishers_feed_without_it_stays_unknown(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    pid = registry.add_publisher(store, url=_other_feed(raw, "without", stated=False), name="elm").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    schedules, slots = _audiences(store, pid)
    assert schedules == {
        "kids": (None, None, None, None, False, None),
        "heart": (None, None, None, None, False, None),
    }
    assert set(slots.values()) == {None}  # a v2-0276 code says what kind of visit, not who may book


def test_our_generated_provider(store: DiscoveryStore, settings: Settings, tmp_path: Path) -> None:
    with run_provider(tmp_path, "Alpha Health", seed=3) as provider:
        pid = registry.add_publisher(store, url=provider.manifest_url, name="alpha").id
        result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    schedules, slots = _audiences(store, pid)
    assert None not in slots.values()  # every Slot says who it is for
    assert {"newpt", "existptonly"} <= set(slots.values())
    assert all(stated and referral is not None for _, referral, _, _, stated, _ in schedules.values())
    assert {True, False} == {referral for _, referral, *_ in schedules.values()}
    assert any(low is not None or high is not None for _, _, low, high, _, _ in schedules.values())
    spoken = {code for *_, languages in schedules.values() if languages for code in languages.split()}
    assert "en" in spoken
    assert len(spoken) > 1

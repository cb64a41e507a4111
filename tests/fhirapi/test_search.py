"""Search and read over a generated provider, through a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from slotlinks.fhir.instant import instant_to_ms
from slotlinks.fhirapi.near import distance_km
from slotlinks.provider.publication.render import render_slot
from slotlinks.provider.store.settings import PORTAL_URL_SETTING
from tests.fhirapi.conftest import DERMATOLOGY, FhirServer


def _codes(resource: dict[str, Any], element: str) -> set[str]:
    return {c["code"] for concept in resource.get(element, []) for c in concept.get("coding", [])}


def test_metadata_read_and_404(fhir_server: FhirServer) -> None:
    meta = fhir_server.client.get("/metadata").json()
    assert meta["resourceType"] == "CapabilityStatement"
    slot = next(r for r in meta["rest"][0]["resource"] if r["type"] == "Slot")
    assert {"schedule", "start", "end", "status", "specialty"} <= {p["name"] for p in slot["searchParam"]}
    for rtype in ("Location", "Schedule", "PractitionerRole", "HealthcareService", "Practitioner"):
        first = fhir_server.fhir.resources(rtype)[0]
        got = fhir_server.client.get(f"/{rtype}/{first['id']}")
        assert got.status_code == 200
        assert got.json() == first
    missing = fhir_server.client.get("/Slot/no-such-slot")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert fhir_server.client.get("/Location/bad id!").status_code == 404


def test_slot_json_is_the_published_json(fhir_server: FhirServer) -> None:
    bundle = fhir_server.search("Slot", {"_count": "5"})
    with fhir_server.store.read() as conn:
        portal = fhir_server.store.get_setting(PORTAL_URL_SETTING, conn=conn)
        for entry in bundle["entry"]:
            published = render_slot(conn, portal, entry["resource"]["id"])
            assert published is not None
            assert entry["resource"] == orjson.loads(published)
            assert fhir_server.client.get(f"/Slot/{entry['resource']['id']}").json() == entry["resource"]


def test_slot_dates_statuses_and_total(fhir_server: FhirServer) -> None:
    all_slots = fhir_server.search("Slot", {"_total": "accurate", "_count": "0"})["total"]
    assert all_slots > 1000
    for params, check in [
        ({"start": "2026-11-30"}, lambda s: s["start"].startswith("2026-11-30")),
        ({"start": "2026-11"}, lambda s: s["start"].startswith("2026-11")),
        ({"start": "ne2026-11-30"}, lambda s: not s["start"].startswith("2026-11-30")),
        ({"start": "ge2026-12-01T10:00"}, lambda s: s["start"][:16] >= "2026-12-01T10:00"),
        ({"start": "gt2026-12-01"}, lambda s: s["start"][:10] > "2026-12-01"),
        ({"start": "sa2026-12-01"}, lambda s: s["start"][:10] > "2026-12-01"),
        ({"start": "lt2026-11-26"}, lambda s: s["start"][:10] < "2026-11-26"),
        ({"start": "eb2026-11-26"}, lambda s: s["start"][:10] < "2026-11-26"),
        ({"start": "le2026-11-26"}, lambda s: s["start"][:10] <= "2026-11-26"),
        (
            {"start": "ge2026-11-30T15:00:00Z"},
            lambda s: instant_to_ms(s["start"]) >= instant_to_ms("2026-11-30T15:00:00Z"),
        ),
        ({"end": "le2026-11-25T12:00"}, lambda s: s["end"][:16] <= "2026-11-25T12:00"),
        ({"status": "busy"}, lambda s: s["status"] == "busy"),
        ({"status": "http://hl7.org/fhir/slotstatus|free"}, lambda s: s["status"] == "free"),
    ]:
        bundle = fhir_server.search("Slot", {**params, "_total": "accurate", "_count": "1000"})
        found = [e["resource"] for e in bundle.get("entry", [])]
        assert 0 < bundle["total"] < all_slots, params
        assert all(check(s) for s in found), params
        assert len(found) == min(bundle["total"], 1000)
    free = fhir_server.search("Slot", {"status": "free", "_summary": "count"})
    busy = fhir_server.search("Slot", {"status": "busy", "_summary": "count"})
    assert "entry" not in free
    assert free["total"] + busy["total"] == all_slots
    assert fhir_server.search("Slot", {"status": "free,busy", "_summary": "count"})["total"] == all_slots
    assert fhir_server.search("Slot", {"status": "other|free", "_summary": "count"})["total"] == 0


def test_slot_schedule_level_params_and_chains(fhir_server: FhirServer) -> None:
    schedules = fhir_server.fhir.resources("Schedule")
    derm = {s["id"] for s in schedules if "394582007" in _codes(s, "specialty")}
    assert derm
    for value in (DERMATOLOGY, "394582007", "http://snomed.info/sct|"):
        ids = fhir_server.ids("Slot", [("specialty", value), ("start", "ge2026-11-30")])
        if value.endswith("|"):
            assert len(ids) > 0
        else:
            assert ids
            assert {i.rsplit("-", 1)[0] for i in ids} <= derm
    schedule = sorted(derm)[0]
    by_ref = fhir_server.ids("Slot", [("schedule", f"Schedule/{schedule}")])
    assert by_ref == fhir_server.ids("Slot", [("schedule", schedule)])
    assert by_ref
    assert all(i.startswith(schedule) for i in by_ref)
    actor = next(s for s in schedules if s["id"] == schedule)["actor"]
    loc = next(a["reference"] for a in actor if a["reference"].startswith("Location/"))
    assert fhir_server.ids("Slot", [("schedule.actor", loc), ("schedule", schedule)]) == by_ref
    assert fhir_server.ids("Slot", [("schedule.actor", "Location/nowhere")]) == []
    service = next(iter(_codes(next(s for s in schedules if s["id"] == schedule), "serviceType")))
    assert fhir_server.ids("Slot", [("service-type", service), ("schedule", schedule)]) == by_ref
    assert fhir_server.ids("Slot", [("appointment-type", "ROUTINE")]) == []
    assert fhir_server.ids("Slot", [("identifier", "x|y")]) == []
    some = by_ref[:3]
    assert sorted(fhir_server.ids("Slot", [("_id", ",".join(some))])) == sorted(some)


def test_user_story_dermatology_near_a_zip_next_week(fhir_server: FhirServer) -> None:
    # "A FHIR client finds free dermatology slots near a ZIP code next week and pages through them."
    derm = [s for s in fhir_server.fhir.resources("Schedule") if "394582007" in _codes(s, "specialty")]
    loc_id = next(a["reference"] for a in derm[0]["actor"] if a["reference"].startswith("Location/"))
    location = fhir_server.client.get(f"/{loc_id}").json()
    lat, lon = location["position"]["latitude"], location["position"]["longitude"]
    params = [
        ("status", "free"),
        ("specialty", DERMATOLOGY),
        ("schedule.actor:Location.near", f"{lat}|{lon}|25|mi_us"),
        ("start", "ge2026-11-30"),
        ("start", "lt2026-12-07"),
        ("_count", "20"),
        ("_total", "accurate"),
    ]
    bundle = fhir_server.search("Slot", params)
    total = bundle["total"]
    assert total > 20
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        for entry in bundle.get("entry", []):
            slot = entry["resource"]
            assert slot["status"] == "free"
            assert "2026-11-30" <= slot["start"][:10] < "2026-12-07"
            seen.append(slot["id"])
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nxt:
            break
        response = fhir_server.client.get(nxt[0])
        assert response.status_code == 200
        bundle = response.json()
    assert pages == -(-total // 20)
    assert len(seen) == len(set(seen)) == total
    starts = [fhir_server.client.get(f"/Slot/{i}").json()["start"] for i in seen[:40]]
    assert [instant_to_ms(s) for s in starts] == sorted(instant_to_ms(s) for s in starts)
    # Same question with the literal Boston point works (possibly with no results here).
    boston = fhir_server.client.get(
        "/Slot?status=free&specialty=http://snomed.info/sct|394582007"
        "&schedule.actor:Location.near=42.36|-71.06|25|mi_us&start=ge2026-11-30&start=lt2026-12-07&_count=20"
    )
    assert boston.status_code == 200


def test_location_params_and_distance_sort(fhir_server: FhirServer) -> None:
    locations = [r for r in fhir_server.fhir.resources("Location") if r.get("position")]
    first = locations[0]
    lat, lon = first["position"]["latitude"], first["position"]["longitude"]
    bundle = fhir_server.search("Location", {"near": f"{lat}|{lon}|500|km"})
    found = [e["resource"] for e in bundle["entry"]]
    distances = [distance_km(lat, lon, r["position"]["latitude"], r["position"]["longitude"]) for r in found]
    assert distances == sorted(distances)
    assert found[0]["id"] == first["id"]
    desc = fhir_server.search("Location", {"near": f"{lat}|{lon}|500|km", "_sort": "-near"})
    assert [e["resource"]["id"] for e in desc["entry"]] == [r["id"] for r in reversed(found)]
    assert fhir_server.ids("Location", {"near": f"{lat}|{lon}|0.001|km"}) == [first["id"]]
    city = first["address"]["city"]
    assert first["id"] in fhir_server.ids("Location", {"address-city": city.upper()[:4]})
    assert first["id"] in fhir_server.ids("Location", {"address": first["address"]["postalCode"]})
    assert first["id"] in fhir_server.ids("Location", {"address-postalcode": first["address"]["postalCode"]})
    assert first["id"] in fhir_server.ids("Location", {"address-state": first["address"]["state"].lower()})
    assert first["id"] in fhir_server.ids("Location", {"name": first["name"].lower()})
    ident = first["identifier"][0]
    assert fhir_server.ids("Location", {"identifier": f"{ident['system']}|{ident['value']}"}) == [first["id"]]
    assert fhir_server.ids("Location", {"identifier": ident["value"]}) == [first["id"]]
    assert fhir_server.ids("Location", {"name": "zzz-nothing"}) == []


def test_schedule_roles_services_practitioners(fhir_server: FhirServer) -> None:
    schedule = fhir_server.fhir.resources("Schedule")[0]
    actor = schedule["actor"][0]["reference"]
    assert schedule["id"] in fhir_server.ids("Schedule", {"actor": actor})
    assert schedule["id"] in fhir_server.ids("Schedule", {"active": "true"})
    assert fhir_server.ids("Schedule", {"active": "false"}) == []
    assert schedule["id"] in fhir_server.ids("Schedule", {"date": "2026-11-30"})
    specialty = sorted(_codes(schedule, "specialty"))[0]
    assert schedule["id"] in fhir_server.ids("Schedule", {"specialty": specialty})
    role = fhir_server.fhir.resources("PractitionerRole")[0]
    prac = role["practitioner"]["reference"]
    assert fhir_server.ids("PractitionerRole", {"practitioner": prac}) == [role["id"]]
    assert role["id"] in fhir_server.ids("PractitionerRole", {"location": role["location"][0]["reference"]})
    npi = role["identifier"][0]["value"]
    assert fhir_server.ids("PractitionerRole", {"identifier": npi}) == [role["id"]]
    service = fhir_server.fhir.resources("HealthcareService")[0]
    assert service["id"] in fhir_server.ids("HealthcareService", {"name": service["name"][:3].lower()})
    service_code = sorted(_codes(service, "type"))[0]
    assert service["id"] in fhir_server.ids("HealthcareService", {"service-type": service_code})
    practitioner = fhir_server.fhir.resources("Practitioner")[0]
    family = practitioner["name"][0]["family"]
    assert practitioner["id"] in fhir_server.ids("Practitioner", {"name": family.upper()})
    updated = practitioner["meta"]["lastUpdated"]
    assert practitioner["id"] in fhir_server.ids("Practitioner", {"_lastUpdated": f"le{updated}"})
    assert fhir_server.ids("Practitioner", {"_lastUpdated": f"gt{updated}"}) == []
    assert fhir_server.ids("Practitioner", {"_id": practitioner["id"]}) == [practitioner["id"]]


def test_include_revinclude_elements(fhir_server: FhirServer) -> None:
    bundle = fhir_server.search("Slot", {"_count": "3", "_include": "Slot:schedule", "_elements": "start"})
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    included = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert len(matches) == 3
    assert {e["resource"]["resourceType"] for e in included} == {"Schedule"}
    for entry in matches:
        assert set(entry["resource"]) == {"resourceType", "id", "meta", "start"}
        assert entry["resource"]["meta"]["tag"][0]["code"] == "SUBSETTED"
    schedule_id = fhir_server.fhir.resources("Schedule")[0]["id"]
    bundle = fhir_server.search(
        "Schedule", {"_id": schedule_id, "_revinclude": "Slot:schedule", "_include": "Schedule:actor"}
    )
    kinds = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]]
    assert kinds[0] == ("Schedule", "match")
    assert ("Slot", "include") in kinds
    assert ("Location", "include") in kinds


def test_last_updated_on_slots(fhir_server: FhirServer) -> None:
    total = fhir_server.search("Slot", {"_summary": "count"})["total"]
    assert fhir_server.search("Slot", {"_lastUpdated": "ge2000", "_summary": "count"})["total"] == total
    assert fhir_server.search("Slot", {"_lastUpdated": "lt2000", "_summary": "count"})["total"] == 0
    today = date.today().isoformat()
    assert fhir_server.search("Slot", {"_lastUpdated": f"le{today}T23:59:59Z", "_summary": "count"})["total"] == total


def test_post_search_and_strict_and_errors(fhir_server: FhirServer) -> None:
    client = fhir_server.client
    posted = client.post("/Slot/_search", data={"status": "busy", "_summary": "count"})
    assert posted.status_code == 200
    assert posted.json()["total"] == fhir_server.search("Slot", {"status": "busy", "_summary": "count"})["total"]
    assert client.get("/Slot", params={"bogus": "1", "_count": "1"}).status_code == 200
    strict = client.get("/Slot", params={"bogus": "1"}, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert strict.json()["issue"][0]["expression"] == ["bogus"]
    for name, value in [
        ("start", "2026-13-01"),
        ("end", "xx"),
        ("_count", "-1"),
        ("_sort", "color"),
        ("schedule", "Location/x"),
        ("schedule.actor:Location.near", "91|0|1|km"),
        ("_cursor", "garbage!"),
        ("_include", "Slot:nothing"),
        ("status:fuzzy", "free"),
    ]:
        response = client.get("/Slot", params={name: value})
        assert response.status_code == 400, (name, value)
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["expression"] == [name], (name, value)

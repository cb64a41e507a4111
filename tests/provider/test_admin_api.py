"""The admin API over a real uvicorn server, on SQLite and PostgreSQL: auth, CRUD of every type, slots,
rules and closures as seen in the publication, all-or-nothing import, settings and limits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import orjson
import pytest

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import Slot
from slotlinks.provider.app import create_app
from slotlinks.provider.store.store import ProviderStore, open_store
from tests.conftest import nested_location
from tests.servers import serve

TOKEN = "test-admin-token-0123456789"
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # a Monday, 06:00 in Boston
PUBLIC_BASE = "http://127.0.0.1:8001"


@dataclass
class Env:
    client: httpx.Client
    store: ProviderStore
    settings: Settings
    origin: str

    def publication(self, since: str | None = None) -> list[dict[str, Any]]:
        """Every resource of the live publication (or of its `_since` view), read like a client would."""
        params = {"_since": since} if since else None
        manifest = httpx.get(f"{self.origin}/fhir/$bulk-publish", params=params)
        assert manifest.status_code == 200, manifest.text
        out = []
        for output in manifest.json()["output"]:
            url = output["url"].replace(PUBLIC_BASE, self.origin)
            body = httpx.get(url, headers={"Accept": "application/fhir+ndjson"})
            assert body.status_code == 200, body.text
            out += [orjson.loads(line) for line in body.content.splitlines() if line]
        return out

    def slots(self, since: str | None = None) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.publication(since) if r["resourceType"] == "Slot"}

    def transaction_time(self) -> str:
        return str(httpx.get(f"{self.origin}/fhir/$bulk-publish").json()["transactionTime"])


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path, "admin_token": TOKEN, "horizon_days": 7, **changes}
    return Settings(**values)


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Env]:
    store = open_store(db_url, clock=FixedClock(NOW))
    settings = _settings(tmp_path, max_import_bytes=200_000)
    with serve(create_app(settings, store)) as origin:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=f"{origin}/admin", headers=headers, timeout=30) as client:
            yield Env(client, store, settings, origin)


def location(loc_id: str = "loc-1", **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": loc_id,
        "name": "Boston Clinic",
        "telecom": [{"system": "phone", "value": "(617) 555-0100"}],
        "address": {"line": ["1 Main St"], "city": "Boston", "state": "MA", "postalCode": "02114"},
        **changes,
    }


def schedule(sched_id: str = "sch-1", *actors: str) -> dict[str, Any]:
    refs = actors or ("Location/loc-1",)
    return {"resourceType": "Schedule", "id": sched_id, "actor": [{"reference": a} for a in refs]}


def fhir(value: dict[str, Any]) -> dict[str, Any]:
    return {"content": orjson.dumps(value), "headers": {"Content-Type": "application/fhir+json"}}


def expressions(response: httpx.Response) -> list[str]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return [e for issue in outcome["issue"] for e in issue.get("expression", [])]


def setup_clinic(env: Env, rule: dict[str, Any] | None = None) -> None:
    assert env.client.post("/Location", **fhir(location())).status_code == 201
    assert env.client.post("/Schedule", **fhir(schedule())).status_code == 201
    rule = rule or {"weekdays": "mon-fri", "start": "09:00", "end": "10:00", "slotMinutes": 30}
    assert env.client.post("/Schedule/sch-1/rules", json={"id": "weekday", **rule}).status_code == 201


def test_every_route_needs_the_token_and_nothing_changes_without_it(env: Env, tmp_path: Path) -> None:
    before = env.store.state().version
    with httpx.Client(base_url=env.client.base_url, timeout=30) as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
            response = anonymous.post("/Location", headers=headers, content=orjson.dumps(location()))
            assert response.status_code == 401
            assert response.json()["issue"][0]["code"] == "login"
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert anonymous.get("/Location/loc-1", headers=headers).status_code == 401
            assert anonymous.put("/settings", headers=headers, json={"name": "x"}).status_code == 401
            assert anonymous.post("/$import", headers=headers, content=b"{}").status_code == 401
    assert env.store.state().version == before
    assert env.client.get("/Location/loc-1").status_code == 404
    # With no usable token configured the admin API refuses everyone, even an empty bearer.
    with serve(create_app(_settings(tmp_path / "off", admin_token="short"), env.store)) as origin:
        for token in ("short", TOKEN):
            response = httpx.get(f"{origin}/admin/settings", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401


def test_create_read_update_deactivate_every_type(env: Env) -> None:
    c = env.client
    created = c.post("/Location", **fhir(location()))
    assert created.status_code == 201
    assert created.headers["Location"].endswith("/admin/Location/loc-1")
    assert created.headers["Content-Type"].startswith("application/fhir+json")
    assert created.json()["meta"]["lastUpdated"].endswith("Z")
    bodies = [
        {"resourceType": "Practitioner", "id": "p1", "name": [{"family": "Lee", "given": ["Ada"]}]},
        {
            "resourceType": "HealthcareService",
            "id": "h1",
            "name": "Flu shots",
            "location": [{"reference": "Location/loc-1"}],
        },
        {
            "resourceType": "PractitionerRole",
            "id": "r1",
            "practitioner": {"reference": "Practitioner/p1"},
            "location": [{"reference": "Location/loc-1"}],
            "healthcareService": [{"reference": "HealthcareService/h1"}],
        },
        schedule("sch-1", "PractitionerRole/r1"),
    ]
    for body in bodies:
        response = c.post(f"/{body['resourceType']}", **fhir(body))
        assert response.status_code == 201, response.text
        assert c.post(f"/{body['resourceType']}", **fhir(body)).status_code == 409
    ids = [("Location", "loc-1"), ("Practitioner", "p1"), ("HealthcareService", "h1"), ("PractitionerRole", "r1")]
    ids.append(("Schedule", "sch-1"))
    for rtype, rid in ids:
        read = c.get(f"/{rtype}/{rid}")
        assert read.status_code == 200
        assert read.json()["resourceType"] == rtype
    renamed = c.put("/Location/loc-1", **fhir(location(name="Renamed Clinic")))
    assert renamed.status_code == 200
    assert c.get("/Location/loc-1").json()["name"] == "Renamed Clinic"
    created_by_put = c.put("/Practitioner/p2", **fhir({"resourceType": "Practitioner", "id": "p2"}))
    assert created_by_put.status_code == 201
    mismatch = c.put("/Practitioner/p3", **fhir({"resourceType": "Practitioner", "id": "p2"}))
    assert (mismatch.status_code, expressions(mismatch)) == (400, ["Practitioner.id"])
    wrong_type = c.put("/Location/p2", **fhir({"resourceType": "Practitioner", "id": "p2"}))
    assert (wrong_type.status_code, expressions(wrong_type)) == (400, ["resourceType"])

    bundle = c.get("/Practitioner", params={"_count": 1}).json()
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 2)
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["p1"]
    assert any(link["relation"] == "next" for link in bundle["link"])

    for rtype, rid in reversed(ids):
        gone = c.delete(f"/{rtype}/{rid}")
        assert gone.status_code == 200
        if rtype == "Location":
            assert gone.json()["status"] == "inactive"
        else:
            assert gone.json()["active"] is False
    assert c.get("/Practitioner", params={"active": "true"}).json()["total"] == 1
    assert c.get("/Schedule", params={"active": "true"}).json()["total"] == 0
    assert c.get("/Schedule").json()["total"] == 1
    assert c.get("/Location/nope").status_code == 404
    assert c.get("/Patient/x").status_code == 404
    assert c.get("/Practitioner", params={"_count": "lots"}).status_code == 400


def test_errors_carry_the_field_path(env: Env) -> None:
    c = env.client
    c.post("/Location", **fhir(location()))
    missing = c.post("/Schedule", **fhir(schedule("sch-1", "Location/loc-1", "Location/ghost")))
    assert (missing.status_code, expressions(missing)) == (400, ["Schedule.actor[1]"])
    role = {"resourceType": "PractitionerRole", "id": "r", "healthcareService": [{"reference": "HealthcareService/x"}]}
    assert expressions(c.post("/PractitionerRole", **fhir(role))) == ["PractitionerRole.healthcareService[0]"]
    bad_lat = c.post("/Location", **fhir(location("loc-2", position={"latitude": 99, "longitude": 0})))
    assert (bad_lat.status_code, expressions(bad_lat)) == (400, ["Location.position.latitude"])
    bad_type = c.post("/Location", **fhir(location("loc-3", name=7)))
    assert (bad_type.status_code, expressions(bad_type)) == (400, ["Location.name"])
    no_zone = c.post("/Location", **fhir(location("loc-4", address={"state": "MA"})))
    assert no_zone.status_code == 400
    assert "time zone" in no_zone.json()["issue"][0]["diagnostics"]
    assert c.post("/Location", content=b"{nope").status_code == 400
    bad_rule = c.post(
        "/Schedule/loc-1/rules", json={"weekdays": "mon", "start": "09:00", "end": "10:00", "slotMinutes": 30}
    )
    assert bad_rule.status_code == 404


def test_rules_become_published_slots_in_local_time(env: Env) -> None:
    setup_clinic(env)
    rules = env.client.get("/Schedule/sch-1/rules").json()
    assert [(r["id"], r["weekdays"], r["slotMinutes"], r["active"]) for r in rules] == [
        ("weekday", "mon-fri", 30, True)
    ]
    slots = env.slots()
    assert len(slots) == 5 * 2
    first = slots["sch-1-202606011300"]
    assert (first["start"], first["end"], first["status"]) == (
        "2026-06-01T09:00:00-04:00",
        "2026-06-01T09:30:00-04:00",
        "free",
    )
    assert first["schedule"] == {"reference": "Schedule/sch-1"}
    assert {"url": ext.BOOKING_PHONE, "valueString": "(617) 555-0100"} in first["extension"]
    changed = env.client.put(
        "/Schedule/sch-1/rules/weekday",
        json={"weekdays": "mon,wed", "start": "14:00", "end": "15:00", "slotMinutes": 60, "capacity": 4},
    )
    assert changed.status_code == 200, changed.text
    slots = env.slots()
    assert sorted(s["start"] for s in slots.values()) == ["2026-06-01T14:00:00-04:00", "2026-06-03T14:00:00-04:00"]
    assert {"url": ext.SLOT_CAPACITY, "valueInteger": 4} in next(iter(slots.values()))["extension"]
    bad = env.client.post(
        "/Schedule/sch-1/rules", json={"weekdays": "mon", "start": "10:00", "end": "09:00", "slotMinutes": 30}
    )
    assert (bad.status_code, expressions(bad)) == (400, ["end"])
    unknown = env.client.post(
        "/Schedule/sch-1/rules", json={"weekdays": "mon", "start": "10:00", "end": "11:00", "slot_minutes": 30}
    )
    assert unknown.status_code == 400
    ended = env.client.delete("/Schedule/sch-1/rules/weekday")
    assert (ended.status_code, ended.json()["active"]) == (200, False)
    assert env.slots() == {}


def test_closure_removes_the_day_and_since_reports_it_busy_unavailable(env: Env) -> None:
    setup_clinic(env)
    before = env.transaction_time()
    closure = env.client.post("/Schedule/sch-1/closures", json={"day": "2026-06-02", "reason": "Staff training"})
    assert closure.status_code == 201, closure.text
    assert closure.headers["Location"].endswith(f"/admin/Schedule/sch-1/closures/{closure.json()['id']}")
    assert not [s for s in env.slots().values() if s["start"].startswith("2026-06-02")]
    changed = env.slots(since=before)
    assert len(changed) == 2
    assert {s["status"] for s in changed.values()} == {"busy-unavailable"}
    assert all(s["start"].startswith("2026-06-02") for s in changed.values())
    listed = env.client.get("/Schedule/sch-1/closures").json()
    assert [(c["day"], c["reason"]) for c in listed] == [("2026-06-02", "Staff training")]
    lifted = env.client.delete(f"/Schedule/sch-1/closures/{listed[0]['id']}")
    assert lifted.status_code == 200
    assert len(env.slots()) == 10
    bad = env.client.post("/Schedule/sch-1/closures", json={"day": "June 2"})
    assert (bad.status_code, expressions(bad)) == (400, ["day"])


def test_slot_status_changes_show_in_the_next_publication(env: Env) -> None:
    setup_clinic(env)
    slot_id = "sch-1-202606011300"
    patched = env.client.patch(f"/Slot/{slot_id}", json={"status": "busy"})
    assert (patched.status_code, patched.json()["status"]) == (200, "busy")
    assert env.slots()[slot_id]["status"] == "busy"
    assert env.client.patch(f"/Slot/{slot_id}", json={"status": "free"}).status_code == 200
    assert env.slots()[slot_id]["status"] == "free"
    bad = env.client.patch(f"/Slot/{slot_id}", json={"status": "maybe"})
    assert (bad.status_code, expressions(bad)) == (400, ["status"])
    assert env.client.patch("/Slot/nope", json={"status": "busy"}).status_code == 404

    hand = {
        "resourceType": "Slot",
        "schedule": {"reference": "Schedule/sch-1"},
        "status": "free",
        "start": "2026-06-06T10:00:00-04:00",
        "end": "2026-06-06T12:00:00-04:00",
        "extension": [{"url": ext.SLOT_CAPACITY, "valueInteger": 5}],
    }
    made = env.client.post("/Slot", **fhir(hand))
    assert made.status_code == 201, made.text
    made_id = made.json()["id"]
    assert made.headers["Location"].endswith(f"/admin/Slot/{made_id}")
    published = env.slots()[made_id]
    assert published == env.client.get(f"/Slot/{made_id}").json()
    assert {"url": ext.SLOT_CAPACITY, "valueInteger": 5} in published["extension"]
    reversed_times = env.client.post("/Slot", **fhir({**hand, "end": "2026-06-06T09:00:00-04:00"}))
    assert (reversed_times.status_code, expressions(reversed_times)) == (400, ["Slot.end"])


def test_import_is_all_or_nothing_and_reports_line_3(env: Env) -> None:
    lines = [
        orjson.dumps(schedule()),  # refers forward to the Location on line 2
        orjson.dumps(location()),
        orjson.dumps(
            {
                "resourceType": "Slot",
                "id": "s1",
                "schedule": {"reference": "Schedule/sch-1"},
                "status": "free",
                "start": "2026-06-03 09:00",
                "end": "2026-06-03T09:30:00-04:00",
            }
        ),
    ]
    ndjson = {"headers": {"Content-Type": "application/fhir+ndjson"}}
    before = env.store.state().version
    failed = env.client.post("/$import", content=b"\n".join(lines), **ndjson)  # type: ignore[arg-type]
    assert failed.status_code == 400
    assert expressions(failed) == ["line 3: $.start"]
    assert env.store.state().version == before
    assert env.client.get("/Location/loc-1").status_code == 404
    assert env.client.get("/Schedule").json()["total"] == 0

    fixed = [*lines[:2], lines[2].replace(b"2026-06-03 09:00", b"2026-06-03T09:00:00-04:00")]
    done = env.client.post("/$import", content=b"\n".join(fixed), **ndjson)  # type: ignore[arg-type]
    assert done.status_code == 200, done.text
    assert done.json()["imported"] == {
        "Location": 1, "Practitioner": 0, "HealthcareService": 0, "PractitionerRole": 0, "Schedule": 1, "Slot": 1
    }  # fmt: skip
    assert env.slots()["s1"]["start"] == "2026-06-03T09:00:00-04:00"


def test_import_of_a_deeply_nested_line_names_the_line(env: Env) -> None:
    lines = [orjson.dumps(location()), nested_location(2000), orjson.dumps(location("loc-2"))]
    failed = env.client.post("/$import", content=b"\n".join(lines), headers={"Content-Type": "application/fhir+ndjson"})
    assert failed.status_code == 400, failed.text
    assert expressions(failed) == ["line 2: $"]
    assert "nested more than" in failed.json()["issue"][0]["diagnostics"]
    assert env.client.get("/Location/loc-1").status_code == 404


def test_a_deeply_nested_resource_is_refused(env: Env) -> None:
    body = {"content": nested_location(2000), "headers": {"Content-Type": "application/fhir+json"}}
    for refused in (env.client.post("/Location", **body), env.client.put("/Location/deep", **body)):  # type: ignore[arg-type]
        assert refused.status_code == 400, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"
        assert "nested more than" in refused.json()["issue"][0]["diagnostics"]
    assert env.client.get("/Location/deep").status_code == 404


def test_import_of_the_specification_examples(env: Env, realworld: Path) -> None:
    examples = realworld / "smart-examples"
    files = ["locations.ndjson", "schedules.ndjson", *sorted(p.name for p in examples.glob("slots-*.ndjson"))]
    # The example files do not end with a newline, so join them with one.
    body = b"\n".join((examples / name).read_bytes().strip() for name in files)
    done = env.client.post("/$import", content=body, headers={"Content-Type": "application/fhir+ndjson"})
    assert done.status_code == 200, done.text
    counts = done.json()["imported"]
    assert (counts["Location"], counts["Schedule"], counts["Slot"]) == (10, 10, 300)
    published = env.publication()
    assert sum(r["resourceType"] == "Location" for r in published) == 10
    schedule_json = env.client.get("/Schedule/10").json()
    assert schedule_json["actor"] == [{"reference": "Location/0"}]
    slot = env.client.get("/Slot/20").json()
    assert (slot["start"], slot["schedule"]) == ("2021-03-01T14:00:00.000Z", {"reference": "Schedule/10"})
    assert {"url": ext.SLOT_CAPACITY, "valueInteger": 100} in slot["extension"]
    assert {"url": ext.BOOKING_PHONE, "valueString": "000-000-0000"} in slot["extension"]


def test_portal_url_change_changes_deep_links(env: Env) -> None:
    setup_clinic(env)
    assert env.client.get("/settings").json() == {"portalUrl": "", "name": ""}
    before = env.transaction_time()
    saved = env.client.put("/settings", json={"portalUrl": "https://book.example.org/", "name": "Example Health"})
    assert saved.json() == {"portalUrl": "https://book.example.org", "name": "Example Health"}
    for slot_id, slot in env.slots(since=before).items():
        link = ext.booking_deep_link(msgspec.json.decode(orjson.dumps(slot), type=Slot))
        assert link == f"https://book.example.org/book/{slot_id}"
    assert len(env.slots(since=before)) == 10
    bad = env.client.put("/settings", json={"portalUrl": "javascript:alert(1)"})
    assert (bad.status_code, expressions(bad)) == (400, ["portalUrl"])


def test_regenerate_and_oversized_import(env: Env) -> None:
    setup_clinic(env)
    regenerated = env.client.post("/$regenerate")
    assert regenerated.status_code == 200
    assert regenerated.json()["added"] == 0
    too_big = env.client.post("/$import", content=b"\n" * (env.settings.max_import_bytes + 1))
    assert too_big.status_code == 413
    assert too_big.json()["issue"][0]["code"] == "too-long"

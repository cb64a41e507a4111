"""Who a slot is for: what the publication says agrees with what the booking portal decides, for every
generated schedule, and staff set it (and clinicians' languages and gender) through the admin API."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson

from slotlinks.config import sqlite_url
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.portal.eligibility import decide, parse_rules
from slotlinks.provider.portal.questionnaires import QCoding, questionnaire_for_schedule
from slotlinks.provider.publication.snapshots import export
from slotlinks.provider.store.store import open_store
from tests.provider.conftest import ADMIN_TOKEN, TODAY, RunningProvider, small_options

BASE = "https://slots.example.org/fhir"
ELIGIBILITY = "urn:slotlinks:fhir:eligibility"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Who may book, by published accepting-patients code and text: the patient-status answers that pass.
ALLOWED = {
    ("newpt", "New and existing patients"): {"new", "existing", "existing-family"},
    ("newpt", "New patients only"): {"new"},
    ("existptonly", "Existing patients only"): {"existing"},
    ("existptfam", "Existing patients and their families only"): {"existing", "existing-family"},
}


def _published(tmp_path: Path) -> tuple[Any, dict[str, dict[str, Any]]]:
    store = open_store(sqlite_url(tmp_path / "p.db"))
    generate_provider(store, small_options(locations=6, states=("MA", "FL"), days=2))
    export(store, tmp_path / "site", BASE)
    by_type: dict[str, dict[str, Any]] = {}
    for path in (tmp_path / "site").glob("*.ndjson"):
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            key = resource["id"]
            if resource["resourceType"] == "Slot":
                key = resource["schedule"]["reference"]  # one slot per schedule is enough
            by_type.setdefault(resource["resourceType"], {})[key] = resource
    return store, by_type


def _eligibility_codes(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["code"]: e for e in service["eligibility"] for c in e["code"]["coding"] if c["system"] == ELIGIBILITY}


def _birth(age: int) -> date:
    return date(TODAY.year - age, 1, 1)


def test_publication_and_portal_agree_for_every_generated_schedule(tmp_path: Path) -> None:
    store, published = _published(tmp_path)
    seen: set[str] = set()
    with store.read() as conn:
        for schedule in published["Schedule"].values():
            slot = published["Slot"][f"Schedule/{schedule['id']}"]
            service_ref = next(
                a["reference"] for a in schedule["actor"] if a["reference"].startswith("HealthcareService/")
            )
            service = published["HealthcareService"][service_ref.split("/")[1]]
            codes = _eligibility_codes(service)
            questionnaire = questionnaire_for_schedule(conn, schedule["id"])
            rules = parse_rules(questionnaire) if questionnaire else []
            items = questionnaire.item if questionnaire else []

            def outcome(item_code: tuple[str, str], answer: Any, items: Any = items, rules: Any = rules) -> str:
                linked = [i.linkId for i in items if any((c.system, c.code) == item_code for c in i.code)]
                return decide(rules, dict.fromkeys(linked, answer), TODAY).outcome if linked else "eligible"

            # A referral: the portal refuses a patient without one exactly where the publication says so.
            assert not [i for i in items if "referral" in (i.text or "").lower() and not i.code], "uncoded referral"
            without = outcome((ELIGIBILITY, "referral"), False)
            assert ("referral-required" in codes) == (without != "eligible"), schedule["id"]
            assert ("no-referral-required" in codes) == (without == "eligible")
            # The age range: eligible exactly inside it.
            birth = ("http://loinc.org", "21112-8")
            bounds = codes.get("age-range", {}).get("extension", [{}])[0].get("valueRange", {})
            low, high = bounds.get("low", {}).get("value", 0), bounds.get("high", {}).get("value", 200)
            for age in {low - 1, low, high, high + 1, 0, 100} - {-1, 200, 201}:
                assert (outcome(birth, _birth(age)) == "eligible") == (low <= age <= high), (schedule["id"], age)
            # New or existing: each answer passes exactly when the slot's appointmentType lets it book.
            coding = slot["appointmentType"]["coding"][0]
            allowed = ALLOWED[(coding["code"], slot["appointmentType"]["text"])]
            for status in ("new", "existing", "existing-family"):
                answer = QCoding(system=ELIGIBILITY, code=status)
                passes = outcome((ELIGIBILITY, "patient-status"), answer) == "eligible"
                assert passes == (status in allowed), (schedule["id"], status)
            seen.add(slot["appointmentType"]["text"])
            seen |= set(codes)
    store.dispose()
    # The generated mix has each kind of audience at least once.
    assert {"New patients only", "Existing patients only", "referral-required", "age-range"} <= seen, seen


def _put(provider: RunningProvider, path: str, body: Any) -> httpx.Response:
    return httpx.put(f"{provider.origin}/admin/{path}", json=body, headers=AUTH, timeout=30)


def _fhir(provider: RunningProvider, path: str) -> Any:
    return httpx.get(f"{provider.origin}/fhir/{path}", timeout=30).raise_for_status().json()


def test_staff_set_who_may_book_over_http_and_the_publication_follows(running_provider: RunningProvider) -> None:
    provider = running_provider
    services = _fhir(provider, "HealthcareService?_count=500")["entry"]
    service = next(e["resource"] for e in services if e["resource"]["name"] == "Primary care visit")
    assert "no-referral-required" in _eligibility_codes(service)
    schedules = _fhir(provider, f"Schedule?actor=HealthcareService/{service['id']}&_count=500")["entry"]
    schedule_id = schedules[0]["resource"]["id"]

    made = _put(provider, f"HealthcareService/{service['id']}/audience", {"referralRequired": True, "minAge": 18})
    assert made.status_code == 200, made.text
    assert made.json() == {"patients": "all", "referralRequired": True, "minAge": 18, "maxAge": None}
    after = _fhir(provider, f"HealthcareService/{service['id']}")
    codes = _eligibility_codes(after)
    assert "referral-required" in codes
    assert "no-referral-required" not in codes
    assert codes["age-range"]["code"]["text"] == "Ages 18 and over"
    assert codes["age-range"]["extension"][0]["valueRange"]["low"] == {
        "value": 18,
        "unit": "years",
        "system": "http://unitsofmeasure.org",
        "code": "a",
    }

    made = _put(provider, f"Schedule/{schedule_id}/audience", {"patients": "existing", "referralRequired": True})
    assert made.status_code == 200, made.text
    read = httpx.get(f"{provider.origin}/admin/Schedule/{schedule_id}/audience", headers=AUTH, timeout=30).json()
    assert read == {"patients": "existing", "referralRequired": True, "minAge": None, "maxAge": None}
    slot = _fhir(provider, f"Slot?schedule=Schedule/{schedule_id}&_count=1")["entry"][0]["resource"]
    assert slot["appointmentType"]["coding"][0]["code"] == "existptonly"
    # The portal asks the same: the schedule's questionnaire now refuses a new patient.
    questionnaire = httpx.get(f"{provider.origin}/admin/Schedule/{schedule_id}/questionnaire", headers=AUTH).json()
    assert [i["linkId"] for i in questionnaire["item"]][:2] == ["patient-status", "referral"]

    # Bad input is refused with an OperationOutcome naming the field, and changes nothing.
    for body, field in (({"minAge": 20, "maxAge": 10}, "minAge"), ({"patients": "everyone"}, "patients")):
        refused = _put(provider, f"Schedule/{schedule_id}/audience", body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"
        assert field in refused.text
    again = httpx.get(f"{provider.origin}/admin/Schedule/{schedule_id}/audience", headers=AUTH, timeout=30).json()
    assert again == read
    assert _put(provider, "Schedule/nope/audience", {}).status_code == 404


def test_clinicians_set_their_languages_and_gender_over_http(running_provider: RunningProvider) -> None:
    provider = running_provider
    practitioner = _fhir(provider, "Practitioner?_count=1")["entry"][0]["resource"]
    path = f"Practitioner/{practitioner['id']}/profile"
    made = _put(provider, path, {"languages": ["en", "ht", "pt-BR"], "gender": "female"})
    assert made.status_code == 200, made.text
    published = _fhir(provider, f"Practitioner/{practitioner['id']}")
    assert [c["coding"][0] for c in published["communication"]] == [
        {"system": "urn:ietf:bcp:47", "code": "en", "display": "English"},
        {"system": "urn:ietf:bcp:47", "code": "ht", "display": "Haitian Creole"},
        {"system": "urn:ietf:bcp:47", "code": "pt-BR", "display": "Portuguese"},
    ]
    assert published["gender"] == "female"
    assert published["identifier"] == practitioner["identifier"]  # the NPI stays

    assert _put(provider, path, {"languages": ["es"]}).json() == {"languages": ["es"], "gender": None}
    assert "gender" not in _fhir(provider, f"Practitioner/{practitioner['id']}")
    for body in ({"languages": ["not a code"]}, {"gender": "robot"}, {"languages": "es"}):
        refused = _put(provider, path, body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"
    assert _fhir(provider, f"Practitioner/{practitioner['id']}")["communication"][0]["coding"][0]["code"] == "es"

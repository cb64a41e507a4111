"""Admin routes for questionnaires and sources, and the referral outcome API (SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import func, select

from slotlinks.provider.demo.questionnaires import neurology_questionnaire
from slotlinks.provider.store import tables as t
from tests.portal.conftest import PATIENT, Browser, Portal, first_schedule, make_slot
from tests.provider.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_questionnaire_admin_routes(portal: Portal) -> None:
    schedule_id = first_schedule(portal.store)
    url = f"{portal.origin}/admin/Schedule/{schedule_id}/questionnaire"
    body = orjson.dumps(neurology_questionnaire())
    assert httpx.put(url, content=body).status_code == 401
    assert httpx.get(url, headers=ADMIN).status_code == 404
    made = httpx.put(url, content=body, headers=ADMIN)
    assert made.status_code == 200, made.text
    assert httpx.get(url, headers=ADMIN).json()["item"][0]["linkId"] == "referral"
    broken = neurology_questionnaire()
    broken["extension"][0]["extension"][0]["valueString"] = "no-such-item"
    refused = httpx.put(url, content=orjson.dumps(broken), headers=ADMIN)
    assert refused.status_code == 400
    assert "item" in refused.text
    bad_enable = neurology_questionnaire()
    bad_enable["item"][1]["enableWhen"][0]["question"] = "later"
    assert httpx.put(url, content=orjson.dumps(bad_enable), headers=ADMIN).status_code == 400
    assert (
        httpx.put(f"{portal.origin}/admin/Schedule/nope/questionnaire", content=body, headers=ADMIN).status_code == 404
    )
    assert httpx.delete(url, headers=ADMIN).status_code == 204


def _register(portal: Portal, source: str, secret: str) -> None:
    response = httpx.put(
        f"{portal.origin}/admin/sources/{source}",
        json={"secret": secret, "returnUrl": f"https://{source}.example/results?x=1"},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    assert "secret" not in response.json()


def test_referral_outcomes_for_their_source_only(portal: Portal) -> None:
    _register(portal, "finder", "finder-secret-0123456789")
    _register(portal, "other", "other-secret-0123456789")
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as browser:
        browser.land_and_hold(slot_id, source="finder", referral="ref-api")
        done = browser.submit(action="book", **PATIENT)
        assert "Back to your search" in done.text
        assert 'href="https://finder.example/results?x=1&amp;booking-referral=ref-api"' in done.text
    url = f"{portal.origin}/referrals/ref-api"
    answer = httpx.get(url, headers={"Authorization": "Bearer finder-secret-0123456789"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["outcome"] == "booked"
    assert body["start"] == "2026-11-25T10:00:00-05:00"
    assert body["location"]["reference"].startswith("Location/")
    for private in ("Ada", "Lovelace", "617", "ada@example.com", "1980"):
        assert private not in answer.text
    assert httpx.get(url, headers={"Authorization": "Bearer other-secret-0123456789"}).status_code == 404
    assert httpx.get(url, headers={"Authorization": "Bearer wrong-secret-0123456789"}).status_code == 404
    assert httpx.get(url).status_code == 404
    # Holding alone, then letting the hold run out, reads as called off (expired).
    with Browser(portal.origin) as browser:
        browser.land_and_hold(make_slot(portal.store, 1, slot_id="slot-two"), source="finder", referral="ref-exp")
    portal.clock.advance(minutes=11)
    body = httpx.get(
        f"{portal.origin}/referrals/ref-exp", headers={"Authorization": "Bearer finder-secret-0123456789"}
    ).json()
    assert (body["outcome"], body["reason"]) == ("called-off", "expired")


def test_generated_provider_has_questionnaires(portal: Portal) -> None:
    with portal.store.read() as conn:
        owners = list(conn.execute(select(t.questionnaire.c.owner)).scalars())
        schedules = conn.execute(select(func.count()).select_from(t.schedule)).scalar_one()
    assert schedules > 0
    assert any(o.startswith("HealthcareService/") for o in owners), owners

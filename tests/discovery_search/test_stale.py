"""The stale-slot check against a tiny FHIR server on 127.0.0.1: free → redirect; busy → alternatives;
404, slow or unreachable → redirect; private addresses refused unless allowed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from starlette.responses import JSONResponse, Response

from slotlinks.config import Settings
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery_search.conftest import (
    HOUR,
    NOW_MS,
    SERVICE_TYPE,
    Data,
    add_location,
    add_schedule,
    add_slot,
    build_app,
)
from tests.servers import free_port, serve

SLOT_START = "2026-11-26T09:00:00-05:00"  # the start of the fixture's slot "bp1"


@dataclass
class FhirState:
    status: str = "free"
    start: str = SLOT_START
    code: int = 200
    delay: float = 0.0
    seen: list[str] = field(default_factory=list)


def fhir_app(state: FhirState) -> FastAPI:
    app = FastAPI()

    @app.get("/r4/Slot/{slot_id}")
    def read(slot_id: str) -> Response:
        state.seen.append(slot_id)
        if state.delay:
            time.sleep(state.delay)
        if state.code != 200:
            return Response(status_code=state.code)
        return JSONResponse(
            {"resourceType": "Slot", "id": slot_id, "status": state.status, "start": state.start},
            media_type="application/fhir+json",
        )

    return app


@pytest.fixture
def fhir() -> Iterator[tuple[str, FhirState]]:
    state = FhirState()
    with serve(fhir_app(state)) as origin:
        yield origin, state


def point_publisher(store: DiscoveryStore, data: Data, url: str) -> None:
    with store.write() as conn:
        conn.execute(update(t.publisher).where(t.publisher.c.id == data.pub1).values(url=url))


def go(settings: Settings, store: DiscoveryStore, slot_pk: int) -> httpx.Response:
    with serve(build_app(settings, store)) as origin:
        return httpx.get(f"{origin}/go/{slot_pk}", timeout=10)


def referral_count(store: DiscoveryStore) -> int:
    with store.read() as conn:
        return len(conn.execute(select(t.referral.c.id)).all())


def test_free_redirects(settings: Settings, store: DiscoveryStore, data: Data, fhir: tuple[str, FhirState]) -> None:
    origin, state = fhir
    point_publisher(store, data, f"{origin}/r4/$bulk-publish")
    response = go(settings, store, data.slots["boston_primary"])
    assert response.status_code == 303
    assert state.seen == ["bp1"]
    assert referral_count(store) == 1


def test_busy_shows_next_times_here_and_nearby(
    settings: Settings, store: DiscoveryStore, data: Data, fhir: tuple[str, FhirState]
) -> None:
    origin, state = fhir
    state.status = "busy-tentative"
    point_publisher(store, data, f"{origin}/r4/$bulk-publish")
    with store.write() as conn:  # another primary-care location 3 miles away, of the other publisher
        brookline = add_location(conn, data.pub2, "Brookline Primary", (42.3318, -71.1212))
        schedule = add_schedule(conn, data.pub2, brookline, "primary care", f"{SERVICE_TYPE}|124")
        nearby_slot = add_slot(conn, data.pub2, schedule, NOW_MS + 5 * HOUR)
    response = go(settings, store, data.slots["boston_primary"])
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "just taken" in response.text
    assert "Next open times at Boston Downtown Clinic" in response.text
    assert f"/go/{data.slots['boston_primary2']}" in response.text
    # Our data still holds the slot as free, but the page never offers the time just taken.
    assert f'"/go/{data.slots["boston_primary"]}' not in response.text
    assert "Open times nearby" in response.text
    assert "Brookline Primary" in response.text
    assert f"/go/{nearby_slot}" in response.text
    assert "Worcester Health Center" not in response.text  # 38 miles away
    assert "Cambridge Pharmacy" not in response.text  # another service
    assert referral_count(store) == 0


@pytest.mark.parametrize("case", ["not-found", "method-not-allowed", "other-start", "slow"])
def test_inconclusive_answers_redirect(
    settings: Settings, store: DiscoveryStore, data: Data, fhir: tuple[str, FhirState], case: str
) -> None:
    origin, state = fhir
    state.status = "busy"
    if case == "not-found":
        state.code = 404
    elif case == "method-not-allowed":
        state.code = 405
    elif case == "other-start":
        state.start = "2026-12-01T09:00:00-05:00"  # the same id reused for another slot
    else:
        state.delay = 3.0
    point_publisher(store, data, f"{origin}/r4/$bulk-publish")
    started = time.monotonic()
    response = go(settings, store, data.slots["boston_primary"])
    assert response.status_code == 303
    assert time.monotonic() - started < 2.9
    assert state.seen == ["bp1"]


def test_unreachable_redirects(settings: Settings, store: DiscoveryStore, data: Data) -> None:
    point_publisher(store, data, f"http://127.0.0.1:{free_port()}/r4/$bulk-publish")
    assert go(settings, store, data.slots["boston_primary"]).status_code == 303


def test_private_address_is_not_contacted_unless_allowed(
    settings: Settings, store: DiscoveryStore, data: Data, fhir: tuple[str, FhirState]
) -> None:
    origin, state = fhir
    state.status = "busy"
    point_publisher(store, data, f"{origin}/r4/$bulk-publish")
    strict = Settings(source_id="test-finder", discovery_url="https://find.example", allow_private_networks=False)
    assert go(strict, store, data.slots["boston_primary"]).status_code == 303
    assert state.seen == []

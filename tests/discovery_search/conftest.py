"""Search fixtures: a discovery store filled directly (no sync engine) with a small, known data set.

Publisher 1 ("Commonwealth Health") and 2 ("Ocean State Clinics") are at generation 1; rows of
generation 0 (an older data set of publisher 1, at the very centre of the search) must stay invisible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, insert

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.discovery.search.pages import web_router
from slotlinks.discovery.search.routes_api import search_router
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.web.errors import install_error_handlers
from slotlinks.web.i18n import install_language

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
HOUR = 3_600_000
DAY = 24 * HOUR
BOSTON = (42.3611, -71.0682)  # the centroid of ZIP 02114
CAMBRIDGE = (42.3736, -71.1097)
WORCESTER = (42.2626, -71.8023)
PROVIDENCE = (41.8240, -71.4128)
SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
CVX = "http://hl7.org/fhir/sid/cvx"


def add_publisher(conn: Connection, name: str, url: str, *, generation: int = 1, **extra: Any) -> int:
    values = {"url": url, "name": name, "created_ms": NOW_MS - DAY, "generation": generation}
    values.update(extra)
    return int(conn.execute(insert(t.publisher).values(**values)).inserted_primary_key[0])


def add_location(
    conn: Connection,
    publisher_id: int,
    name: str,
    position: tuple[float, float] | None,
    *,
    generation: int = 1,
    virtual: bool = False,
    **extra: Any,
) -> int:
    values: dict[str, Any] = {
        "publisher_id": publisher_id,
        "generation": generation,
        "source_id": f"loc-{name.lower().replace(' ', '-')}"[:64],
        "resource": "{}",
        "updated_ms": NOW_MS,
        "name": name,
        "latitude": position[0] if position else None,
        "longitude": position[1] if position else None,
        "positioned": position is not None,
        "tz": "America/New_York",
        "virtual": virtual,
        "city": "Boston",
        "state": "MA",
        "postal_code": "02114",
        "phone": "617-555-0100",
    }
    values.update(extra)
    return int(conn.execute(insert(t.location).values(**values)).inserted_primary_key[0])


def add_schedule(
    conn: Connection,
    publisher_id: int,
    location_pk: int,
    service_text: str,
    codes: str = "",
    *,
    generation: int = 1,
    practitioner: str = "",
    virtual: bool = False,
    organization: str = "",
    practitioner_display: str = "",
) -> int:
    values = {
        "publisher_id": publisher_id,
        "generation": generation,
        "source_id": f"sch-{location_pk}-{service_text[:20].replace(' ', '-')}",
        "resource": "{}",
        "updated_ms": NOW_MS,
        "location_pk": location_pk,
        "service_text": service_text,
        "codes": codes,
        "practitioner_text": practitioner,
        "virtual": virtual,
        "organization_text": organization,
        "practitioner_display": practitioner_display,
    }
    return int(conn.execute(insert(t.schedule).values(**values)).inserted_primary_key[0])


def add_slot(
    conn: Connection,
    publisher_id: int,
    schedule_pk: int,
    start_ms: int,
    *,
    generation: int = 1,
    status: str = "free",
    capacity: int = 1,
    minutes: int = 20,
    link: str | None = "https://portal.example.org/book?slot=1",
    phone: str | None = "617-555-0199",
    source_id: str | None = None,
) -> int:
    values = {
        "publisher_id": publisher_id,
        "generation": generation,
        "source_id": source_id or f"slot-{schedule_pk}-{start_ms}",
        "resource": "{}",
        "updated_ms": NOW_MS,
        "schedule_source_id": f"sch-{schedule_pk}",
        "schedule_pk": schedule_pk,
        "start_ms": start_ms,
        "end_ms": start_ms + minutes * 60_000,
        "status": status,
        "capacity": capacity,
        "booking_link": link,
        "booking_phone": phone,
    }
    return int(conn.execute(insert(t.slot).values(**values)).inserted_primary_key[0])


@dataclass
class Data:
    """The pks of the fixture's rows, by role."""

    pub1: int = 0
    pub2: int = 0
    boston: int = 0
    cambridge: int = 0
    worcester: int = 0
    providence: int = 0
    virtual: int = 0
    old_location: int = 0
    slots: dict[str, int] = field(default_factory=dict)


# Port 9 (discard) on loopback: nothing listens, so the stale-slot re-read fails fast and the redirect proceeds.
CLOSED_MANIFEST = "http://127.0.0.1:9/r4/$bulk-publish"


def fill(conn: Connection, *, manifest_url: str = CLOSED_MANIFEST) -> Data:
    d = Data()
    d.pub1 = add_publisher(conn, "Commonwealth Health", manifest_url, last_success_ms=NOW_MS - 3 * 60_000)
    d.pub2 = add_publisher(
        conn, "Ocean State Clinics", "https://ocean.example/$bulk-publish", last_success_ms=NOW_MS - 2 * HOUR
    )
    d.boston = add_location(conn, d.pub1, "Boston Downtown Clinic", BOSTON)
    d.cambridge = add_location(conn, d.pub1, "Cambridge Pharmacy", CAMBRIDGE, city="Cambridge")
    d.worcester = add_location(
        conn, d.pub1, "Worcester Health Center", WORCESTER, city="Worcester", organization_text="harbor medical group"
    )
    d.providence = add_location(conn, d.pub2, "Providence Family Practice", PROVIDENCE, city="Providence", state="RI")
    d.virtual = add_location(conn, d.pub2, "Ocean State Video Visits", None, virtual=True, city=None)
    d.old_location = add_location(conn, d.pub1, "Old Generation Clinic", BOSTON, generation=0)

    primary = f"{SERVICE_TYPE}|124"
    alice = {"practitioner": "dr. alice smith", "practitioner_display": "Dr. Alice Smith"}
    s_primary = add_schedule(conn, d.pub1, d.boston, "primary care", primary, **alice)
    s_derm = add_schedule(
        conn,
        d.pub1,
        d.boston,
        "dermatology",
        "http://snomed.info/sct|394582007",
        practitioner="dr. bob jones",
        organization="bay skin associates",
        practitioner_display="Dr. Bob Jones",
    )
    s_vax = add_schedule(conn, d.pub1, d.cambridge, "immunization covid-19", f"{SERVICE_TYPE}|57 {CVX}|207")
    s_worc = add_schedule(conn, d.pub1, d.worcester, "primary care", primary)
    s_prov = add_schedule(conn, d.pub2, d.providence, "primary care", primary)
    s_video = add_schedule(conn, d.pub2, d.virtual, "telehealth primary care", primary, virtual=True)
    s_old = add_schedule(conn, d.pub1, d.old_location, "primary care", primary, generation=0)

    s = d.slots
    s["boston_busy"] = add_slot(conn, d.pub1, s_primary, NOW_MS + 1 * HOUR, status="busy")
    s["boston_zero"] = add_slot(conn, d.pub1, s_primary, NOW_MS + 2 * HOUR, capacity=0)
    s["boston_primary"] = add_slot(
        conn,
        d.pub1,
        s_primary,
        NOW_MS + 2 * DAY,
        link="https://portal.example.org/book?slot=abc&lang=en",
        source_id="bp1",
    )
    s["boston_primary2"] = add_slot(conn, d.pub1, s_primary, NOW_MS + 2 * DAY + HOUR)
    s["boston_derm"] = add_slot(conn, d.pub1, s_derm, NOW_MS + 5 * DAY)
    s["cambridge_vax"] = add_slot(conn, d.pub1, s_vax, NOW_MS + 3 * HOUR, capacity=5)
    s["worcester"] = add_slot(conn, d.pub1, s_worc, NOW_MS + 4 * HOUR)
    s["providence"] = add_slot(conn, d.pub2, s_prov, NOW_MS + 1 * DAY)
    s["video"] = add_slot(conn, d.pub2, s_video, NOW_MS + 30 * 60_000, link="javascript:alert(1)")
    s["boston_late"] = add_slot(conn, d.pub1, s_primary, NOW_MS + 20 * DAY)
    s["old"] = add_slot(conn, d.pub1, s_old, NOW_MS + 10 * 60_000, generation=0)
    return d


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[DiscoveryStore]:
    store = open_store(db_url, clock=clock)
    yield store
    store.dispose()


@pytest.fixture
def data(store: DiscoveryStore) -> Data:
    with store.write() as conn:
        return fill(conn)


@pytest.fixture
def settings() -> Settings:
    return Settings(source_id="test-finder", discovery_url="https://find.example", allow_private_networks=True)


def build_app(settings: Settings, store: DiscoveryStore) -> FastAPI:
    """A discovery app with just the search side's routers, as the lead mounts them."""
    app = FastAPI(title="slotlinks discovery (search tests)")
    install_error_handlers(app)
    install_language(app)
    app.include_router(search_router(settings, store))
    app.include_router(web_router(settings, store))
    return app

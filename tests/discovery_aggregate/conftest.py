"""A discovery store filled directly (no sync): three publishers with current and old generations, and
the aggregate served by a real server on 127.0.0.1 (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, Table, insert, select

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.discovery.aggregate.cache import AggregateCache
from slotlinks.discovery.aggregate.routes import aggregate_router
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.fhir.extensions import BOOKING_DEEP_LINK, LAST_SOURCE_SYNC
from slotlinks.fhir.instant import instant_to_ms
from slotlinks.web.errors import install_error_handlers
from tests.servers import serve

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
MINUTE = 60_000
PUBLIC_URL = "http://search.test:8000"
URL_A = "https://a.example/fhir/$bulk-publish"
URL_B = "https://b.example/pub/$bulk-publish"
#: Upstream (another aggregator's) lastSourceSync on A's Practitioner: earlier than our sync of A.
UPSTREAM_SYNC = "2026-11-20T08:00:00Z"


def location(rid: str, name: str, state: str, *, virtual: bool = False) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Location",
        "id": rid,
        "name": name,
        "telecom": [{"system": "phone", "value": "555-0100"}, {"system": "url", "value": "https://x.example"}],
        "address": {"line": ["1 Main St"], "city": "Town", "state": state, "postalCode": "02101"},
        "meta": {"versionId": "7", "lastUpdated": "2026-11-01T00:00:00Z"},
    }
    if virtual:
        res["virtualService"] = [
            {
                "channelType": {"system": "http://hl7.org/fhir/virtual-service-type", "code": "zoom"},
                "addressUrl": "https://zoom.example/j/1",
            }
        ]
    return res


def schedule(rid: str, *actors: str) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "id": rid,
        "actor": [{"reference": a} for a in actors],
        "serviceType": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "57"}]}],
    }


def slot(rid: str, schedule_id: str, start: str, end: str, status: str = "free") -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": rid,
        "schedule": {"reference": f"Schedule/{schedule_id}"},
        "status": status,
        "start": start,
        "end": end,
        "extension": [{"url": BOOKING_DEEP_LINK, "valueUrl": f"https://book.example/{rid}"}],
    }


@dataclass
class Feed:
    """Writes rows the way ingest would, for one publisher and generation."""

    conn: Connection
    publisher_id: int
    generation: int
    updated_ms: int = NOW_MS - 10 * MINUTE

    def add(self, table: Table, resource: dict[str, Any], **columns: Any) -> None:
        self.conn.execute(
            insert(table).values(
                publisher_id=self.publisher_id,
                generation=self.generation,
                source_id=resource["id"],
                resource=orjson.dumps(resource).decode(),
                updated_ms=self.updated_ms,
                **columns,
            )
        )

    def location(self, rid: str, state: str, *, virtual: bool = False) -> None:
        self.add(t.location, location(rid, f"Clinic {rid}", state, virtual=virtual), name=f"Clinic {rid}", state=state)

    def schedule(self, rid: str, *actors: str, location_id: str | None = None) -> None:
        self.add(t.schedule, schedule(rid, *actors), location_source_id=location_id)

    def slot(self, rid: str, schedule_id: str, start: str, minutes: int = 30, status: str = "free") -> None:
        start_ms = instant_to_ms(start)
        end = datetime.fromtimestamp((start_ms + minutes * MINUTE) / 1000, UTC).isoformat().replace("+00:00", "Z")
        self.add(
            t.slot,
            slot(rid, schedule_id, start, end, status),
            schedule_source_id=schedule_id,
            schedule_pk=self._schedule_pk(schedule_id),
            start_ms=start_ms,
            end_ms=start_ms + minutes * MINUTE,
            status=status,
        )

    def _schedule_pk(self, source_id: str) -> int | None:
        """The row of the Schedule a Slot names, as ingest resolves it (None when there is none)."""
        sc = t.schedule.c
        query = select(sc.pk).where(
            sc.publisher_id == self.publisher_id, sc.generation == self.generation, sc.source_id == source_id
        )
        pk = self.conn.execute(query.order_by(sc.pk.desc()).limit(1)).scalar()
        return None if pk is None else int(pk)


def add_publisher(conn: Connection, url: str, name: str, generation: int, **columns: Any) -> int:
    values = {"url": url, "name": name, "created_ms": NOW_MS - 86_400_000, "generation": generation, **columns}
    key = conn.execute(insert(t.publisher).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def fill(store: DiscoveryStore) -> dict[str, int]:
    """Publisher A: healthy, generation 2 current (generation 1 left behind); B: failing, same source ids."""
    with store.write() as conn:
        a = add_publisher(
            conn, URL_A, "A", 2, max_age=300, last_success_ms=NOW_MS - MINUTE, last_attempt_ms=NOW_MS - MINUTE
        )
        old = Feed(conn, a, 1, updated_ms=NOW_MS - 100 * MINUTE)
        old.location("old-loc", "MA")
        old.schedule("old-sched", "Location/old-loc", location_id="old-loc")
        old.slot("old-slot", "old-sched", "2026-11-25T10:00:00Z")
        feed = Feed(conn, a, 2)
        feed.location("loc1", "MA")
        feed.location("tele", "MA", virtual=True)
        practitioner = {
            "resourceType": "Practitioner",
            "id": "pr1",
            "name": [{"family": "Osler", "given": ["William"]}],
            "meta": {"extension": [{"url": LAST_SOURCE_SYNC, "valueDateTime": UPSTREAM_SYNC}]},
        }
        feed.add(t.practitioner, practitioner, name="William Osler")
        service = {
            "resourceType": "HealthcareService",
            "id": "hs1",
            "name": "Flu shots",
            "location": [{"reference": "Location/loc1"}],
            "providedBy": {"reference": "Organization/org1", "display": "A Health"},
        }
        feed.add(t.healthcare_service, service, name="Flu shots", location_source_id="loc1")
        role = {
            "resourceType": "PractitionerRole",
            "id": "role1",
            "practitioner": {"reference": "Practitioner/pr1"},
            "organization": {"reference": "Organization/org1"},
            "location": [{"reference": "Location/loc1"}],
            "healthcareService": [{"reference": "HealthcareService/hs1"}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
        }
        feed.add(t.practitioner_role, role, practitioner_source_id="pr1", location_source_id="loc1")
        feed.schedule("s-free", "Location/loc1", location_id="loc1")
        feed.schedule("s-busy", "PractitionerRole/role1")  # no location column: state found through the role
        feed.schedule("s-tele", "Location/tele", location_id="tele")
        # Feeds reuse slot ids: the same id for two different starts.
        feed.slot("slot1", "s-free", "2026-11-25T09:00:00-05:00")
        feed.slot("slot1", "s-free", "2026-12-02T09:00:00-05:00")
        feed.slot("b1", "s-busy", "2026-11-25T10:00:00Z", status="busy")
        feed.slot("past", "s-busy", "2026-11-23T10:00:00Z")
        feed.slot("t1", "s-tele", "2026-11-26T15:00:00Z")
        feed.slot("orphan", "missing", "2026-11-26T15:00:00Z")
        b = add_publisher(
            conn,
            URL_B,
            "B",
            1,
            failures=2,
            last_error="HTTP 503",
            max_age=300,
            last_success_ms=NOW_MS - 2 * 86_400_000,
            last_attempt_ms=NOW_MS - 5 * MINUTE,
        )
        feed_b = Feed(conn, b, 1, updated_ms=NOW_MS - 3 * 86_400_000)
        feed_b.location("loc1", "RI")
        feed_b.schedule("s-free", "Location/loc1", location_id="loc1")
        feed_b.slot("slot1", "s-free", "2026-11-25T09:00:00Z")
    return {"A": a, "B": b}


@dataclass
class Aggregate:
    store: DiscoveryStore
    clock: FixedClock
    settings: Settings
    origin: str
    publishers: dict[str, int]
    fetched: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return PUBLIC_URL + "/aggregate"

    @property
    def manifest_url(self) -> str:
        return self.base + "/$bulk-publish"

    def local(self, url: str) -> str:
        assert url.startswith(self.base), url
        return self.origin + "/aggregate" + url[len(self.base) :]

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.local(url), timeout=30, **kwargs)

    def manifest(self, **kwargs: Any) -> dict[str, Any]:
        response = self.get(self.manifest_url, **kwargs)
        assert response.status_code == 200, response.text
        return orjson.loads(response.content)  # type: ignore[no-any-return]

    def resources(self, manifest: dict[str, Any] | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Every (output type, resource) of a manifest (the full one by default)."""
        out = []
        for output in (manifest or self.manifest())["output"]:
            response = self.get(output["url"])
            assert response.status_code == 200, response.text
            out += [(output["type"], orjson.loads(line)) for line in response.content.splitlines()]
        return out


@pytest.fixture
def discovery_store(db_url: str) -> Iterator[DiscoveryStore]:
    store = open_store(db_url, clock=FixedClock(NOW))
    yield store
    store.dispose()


@pytest.fixture
def aggregate(discovery_store: DiscoveryStore, tmp_path: Path) -> Iterator[Aggregate]:
    publishers = fill(discovery_store)
    settings = Settings(data_dir=tmp_path / "data", discovery_url=PUBLIC_URL, max_age=120)
    cache = AggregateCache(discovery_store, settings, tmp_path / "aggregate-cache", recheck_ms=0)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(aggregate_router(settings, discovery_store, cache=cache))
    clock = discovery_store.clock
    assert isinstance(clock, FixedClock)
    with serve(app) as origin:
        yield Aggregate(discovery_store, clock, settings, origin, publishers)

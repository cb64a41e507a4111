"""The discovery server's FHIR API (SQLite and PostgreSQL) serves exactly the aggregate publication:
two generated providers are synced over 127.0.0.1, the discovery app is served, and every read and
search is checked against the aggregate's own NDJSON lines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert, select

from slotlinks.config import Settings
from slotlinks.discovery.aggregate import aggregate_id
from slotlinks.discovery.app import create_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.fhir.instant import instant_to_ms
from slotlinks.fhirapi.near import distance_km
from slotlinks.fhirapi.store import DESCRIPTIVE_TYPES
from tests.discovery.conftest import run_provider, sync
from tests.servers import serve_with_origin

Resource = dict[str, Any]


@dataclass
class Served:
    client: httpx.Client  # at the discovery server's FHIR base
    aggregate: dict[tuple[str, str], Resource]  # (type, id) -> the aggregate's line
    long_id: str  # a Slot whose aggregate id is the hashed form
    ghosts: list[tuple[str, str]]  # (type, id) of rows in a non-current generation

    def of_type(self, rtype: str) -> list[Resource]:
        return [r for (kind, _), r in self.aggregate.items() if kind == rtype]

    def get(self, path: str, params: Any = None) -> httpx.Response:
        return self.client.get(path, params=params)

    def page_all(self, params: list[tuple[str, str]], count: int = 250) -> tuple[list[Resource], int]:
        """Every page of a Slot search: the matches in order, and `_total=accurate`."""
        response = self.get("/Slot", [*params, ("_count", str(count)), ("_total", "accurate")])
        assert response.status_code == 200, response.text
        bundle = response.json()
        total = bundle["total"]
        found: list[Resource] = []
        while True:
            found.extend(e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match")
            nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
            if not nxt:
                return found, total
            response = self.client.get(nxt[0])
            assert response.status_code == 200, response.text
            bundle = response.json()


def _copy_rows(store: DiscoveryStore, table: Any, where: Any, change: Callable[[dict[str, Any]], None]) -> None:
    with store.write() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(table).where(where))]
        for row in rows:
            row.pop("pk")
            change(row)
        if rows:
            conn.execute(insert(table), rows)


def _add_long_id_slot(store: DiscoveryStore, publisher_id: int) -> str:
    """A current Slot whose source id is too long for a readable aggregate id."""
    s = t.slot.c
    with store.read() as conn:
        gen = conn.execute(select(t.publisher.c.generation).where(t.publisher.c.id == publisher_id)).scalar_one()
        pk = conn.execute(
            select(s.pk).where(s.publisher_id == publisher_id, s.generation == gen, s.status == "free").limit(1)
        ).scalar_one()
    long_source = "long-" + "x" * 70
    start: list[int] = []

    def change(row: dict[str, Any]) -> None:
        resource = orjson.loads(row["resource"])
        resource["id"] = long_source
        row.update(source_id=long_source, resource=orjson.dumps(resource).decode())
        start.append(row["start_ms"])

    _copy_rows(store, t.slot, s.pk == pk, change)
    return aggregate_id(publisher_id, long_source, start[0])


def _add_next_generation(store: DiscoveryStore, publisher_id: int) -> list[tuple[str, str]]:
    """Rows of a half-written next generation (and of an old one): Locations, Schedules and Slots
    under new source ids, the Slots even pointing at a current Schedule row."""
    with store.read() as conn:
        gen = conn.execute(select(t.publisher.c.generation).where(t.publisher.c.id == publisher_id)).scalar_one()
    ghosts: list[tuple[str, str]] = []
    for other in (gen + 1, gen - 1):
        for rtype, table in (("Location", t.location), ("Schedule", t.schedule), ("Slot", t.slot)):

            def change(row: dict[str, Any], rtype: str = rtype, other: int = other) -> None:
                row["source_id"] = f"ghost{other}-{row['source_id']}"
                row["generation"] = other
                start = row["start_ms"] if rtype == "Slot" else None
                ghosts.append((rtype, aggregate_id(publisher_id, row["source_id"], start)))

            c = table.c
            _copy_rows(store, table, (c.publisher_id == publisher_id) & (c.generation == gen), change)
    return ghosts


def _read_aggregate(origin: str) -> dict[tuple[str, str], Resource]:
    manifest = httpx.get(f"{origin}/aggregate/$bulk-publish", timeout=30).json()
    lines: dict[tuple[str, str], Resource] = {}
    for output in manifest["output"]:
        body = httpx.get(output["url"], timeout=60).content
        for line in body.splitlines():
            if line.strip():
                resource = orjson.loads(line)
                key = (resource["resourceType"], resource["id"])
                assert key not in lines, f"the aggregate repeats {key}"
                lines[key] = resource
    return lines


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    store = open_store(db_url)
    settings = Settings(data_dir=tmp_path / "data", allow_private_networks=True, connect_timeout=5.0, read_timeout=10.0)
    try:
        with (
            run_provider(tmp_path, "Alpha Health", seed=3) as alpha,
            run_provider(tmp_path, "Beta Care", seed=9, states=("RI",)) as beta,
        ):
            for name, provider in (("Alpha Health", alpha), ("Beta Care", beta)):
                registry.add_publisher(store, url=provider.manifest_url, name=name)
            results = sync(store, settings)
            assert all(r.outcome == "full" for r in results.values()), [r.error for r in results.values()]
        first = min(results)
        long_id = _add_long_id_slot(store, first)
        ghosts = _add_next_generation(store, first)

        def make(origin: str) -> Any:
            return create_app(replace(settings, discovery_url=origin), store, background_sync=False)

        with serve_with_origin(make) as origin, httpx.Client(base_url=f"{origin}/fhir", timeout=60) as client:
            yield Served(client, _read_aggregate(origin), long_id, ghosts)
    finally:
        store.dispose()


def test_metadata_reads_and_404(served: Served) -> None:
    meta = served.get("/metadata")
    assert meta.status_code == 200
    assert meta.headers["content-type"].startswith("application/fhir+json")
    assert meta.json()["resourceType"] == "CapabilityStatement"
    slot_params = next(r for r in meta.json()["rest"][0]["resource"] if r["type"] == "Slot")["searchParam"]
    assert {"schedule", "start", "status", "specialty"} <= {p["name"] for p in slot_params}

    for rtype in (*DESCRIPTIVE_TYPES, "Slot"):
        resources = served.of_type(rtype)
        assert resources, rtype
        picks = resources if rtype != "Slot" else resources[:: max(1, len(resources) // 25)]
        for resource in picks[:60]:
            got = served.get(f"/{rtype}/{resource['id']}")
            assert got.status_code == 200, (rtype, resource["id"], got.text)
            assert got.headers["content-type"].startswith("application/fhir+json")
            assert got.json() == resource
        # A search of the whole type returns exactly the aggregate's resources.
        bundle = served.get(f"/{rtype}", {"_count": "1000", "_total": "accurate"}).json()
        assert bundle["total"] == len(resources), rtype
        if rtype != "Slot":
            found = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
            assert found == {r["id"]: r for r in resources}, rtype

    # A Slot whose aggregate id is hashed reads and searches by that id.
    assert served.long_id.split("-", 1)[0].isdigit()
    assert "." not in served.long_id
    assert served.get(f"/Slot/{served.long_id}").json() == served.aggregate[("Slot", served.long_id)]
    some = [served.long_id, *(r["id"] for r in served.of_type("Slot")[:3])]
    by_id = served.get("/Slot", [("_id", ",".join(some))]).json()
    assert sorted(e["resource"]["id"] for e in by_id["entry"]) == sorted(some)

    # Rows of a non-current generation never appear.
    assert served.ghosts
    by_type: dict[str, list[str]] = {}
    for rtype, rid in served.ghosts:
        by_type.setdefault(rtype, []).append(rid)
    assert set(by_type) == {"Location", "Schedule", "Slot"}
    sample = [(rtype, rid) for rtype, ids in by_type.items() for rid in ids[:: max(1, len(ids) // 8)]]
    for rtype, rid in sample:
        assert (rtype, rid) not in served.aggregate
        assert served.get(f"/{rtype}/{rid}").status_code == 404, (rtype, rid)
    all_slots, total = served.page_all([], count=1000)
    assert total == len(all_slots) == len(served.of_type("Slot"))
    assert {s["id"] for s in all_slots} == {s["id"] for s in served.of_type("Slot")}

    for path in ("/Slot/1.no-such-slot.123", "/Slot/1-" + "0" * 32, "/Slot/99.x.1", "/Location/1.nope", "/Slot/x"):
        missing = served.get(path)
        assert missing.status_code == 404, path
        assert missing.json()["resourceType"] == "OperationOutcome"


def _coded(resource: Resource, element: str) -> set[str]:
    return {f"{c.get('system')}|{c.get('code')}" for cc in resource.get(element) or [] for c in cc.get("coding") or []}


def _check(served: Served, params: list[tuple[str, str]], expected: list[Resource], count: int = 250) -> None:
    found, total = served.page_all(params, count)
    ids = [r["id"] for r in found]
    assert len(ids) == len(set(ids)), f"a slot was shown twice: {params}"
    assert total == len(found), params
    assert set(ids) == {r["id"] for r in expected}, params
    assert all(r == served.aggregate[("Slot", r["id"])] for r in found), params


def test_slot_searches_match_the_aggregate_and_page_to_the_end(served: Served) -> None:
    slots = served.of_type("Slot")
    schedules = {s["id"]: s for s in served.of_type("Schedule")}
    locations = {loc["id"]: loc for loc in served.of_type("Location")}

    def schedule_of(slot: Resource) -> Resource:
        return schedules[slot["schedule"]["reference"].removeprefix("Schedule/")]

    free = [s for s in slots if s["status"] == "free"]
    assert 0 < len(free) < len(slots)
    _check(served, [("status", "free")], free)
    found, _ = served.page_all([("status", "free")])
    starts = [instant_to_ms(s["start"]) for s in found]
    assert starts == sorted(starts)

    specialty, _ = Counter(code for s in schedules.values() for code in _coded(s, "specialty")).most_common(1)[0]
    with_specialty = [s for s in slots if specialty in _coded(schedule_of(s), "specialty")]
    assert 0 < len(with_specialty) < len(slots)
    _check(served, [("specialty", specialty)], with_specialty)

    in_range = [s for s in slots if "2026-11-26" <= s["start"][:10] < "2026-11-28"]
    assert 0 < len(in_range) < len(slots)
    _check(served, [("start", "ge2026-11-26"), ("start", "lt2026-11-28")], in_range)
    lo, hi = instant_to_ms("2026-11-26T15:00:00Z"), instant_to_ms("2026-11-27T15:00:00Z")
    absolute = [s for s in slots if lo <= instant_to_ms(s["start"]) < hi]
    _check(served, [("start", "ge2026-11-26T15:00:00Z"), ("start", "lt2026-11-27T15:00:00Z")], absolute)

    point = next(loc["position"] for loc in locations.values() if loc.get("position"))
    lat, lon = point["latitude"], point["longitude"]

    def near(slot: Resource) -> bool:
        for actor in schedule_of(slot).get("actor") or []:
            loc = locations.get(str(actor.get("reference", "")).removeprefix("Location/"))
            pos = (loc or {}).get("position")
            if pos and distance_km(lat, lon, pos["latitude"], pos["longitude"]) <= 40:
                return True
        return False

    nearby = [s for s in slots if near(s)]
    assert 0 < len(nearby) < len(slots)
    _check(served, [("schedule.actor:Location.near", f"{lat}|{lon}|40|km")], nearby, count=97)
    free_nearby = [s for s in nearby if s["status"] == "free" and s["start"][:10] >= "2026-11-27"]
    _check(
        served,
        [
            ("status", "free"),
            ("start", "ge2026-11-27"),
            ("schedule.actor:Location.near", f"{lat}|{lon}|40|km"),
            ("_sort", "near"),
        ],
        free_nearby,
        count=53,
    )

    # Other orders page completely too, in the order they name.
    for sort in ("-start", "_id", "-_lastUpdated", "end"):
        found, total = served.page_all([("status", "free"), ("_sort", sort)], count=301)
        assert total == len(found) == len({r["id"] for r in found}) == len(free), sort
        if sort == "_id":
            readable = [r["id"] for r in found if r["id"] != served.long_id]
            assert readable == sorted(readable)
        if sort == "-start":
            starts = [instant_to_ms(s["start"]) for s in found]
            assert starts == sorted(starts, reverse=True)

    # Going back from the second page gives the first page again.
    first = served.get("/Slot", {"status": "free", "_count": "7"}).json()
    second = served.client.get(next(x["url"] for x in first["link"] if x["relation"] == "next")).json()
    back = served.client.get(next(x["url"] for x in second["link"] if x["relation"] == "previous")).json()
    assert [e["resource"]["id"] for e in back["entry"]] == [e["resource"]["id"] for e in first["entry"]]

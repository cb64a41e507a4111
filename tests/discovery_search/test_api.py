"""The JSON API over a real server: results, OpenAPI, and 400 OperationOutcomes naming the parameter."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from slotlinks.config import Settings
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery_search.conftest import Data, build_app
from tests.servers import serve


@pytest.fixture
def client(settings: Settings, store: DiscoveryStore, data: Data) -> Iterator[httpx.Client]:
    with serve(build_app(settings, store)) as origin, httpx.Client(base_url=origin, timeout=10) as client:
        yield client


def test_search_answers_locations_with_slots(client: httpx.Client, data: Data) -> None:
    response = client.get("/api/search", params={"near": "02114", "radius": "60mi", "service": "primary care"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["count"] == len(body["locations"]) == 3
    assert body["sort"] == "best"
    assert body["window"]["tz"] == "America/New_York"
    first = body["locations"][0]
    assert {"distance_miles", "publisher", "freshness", "as_of", "phone", "slots"} <= set(first)
    slot = first["slots"][0]
    assert {"start", "end", "status", "capacity", "link"} <= set(slot)
    assert slot["link"] == f"https://find.example/go/{slot['pk']}"
    boston = next(loc for loc in body["locations"] if loc["name"] == "Boston Downtown Clinic")
    assert {(s["service"], s["practitioner"]) for s in boston["slots"]} == {("primary care", "Dr. Alice Smith")}


def test_sort_and_limits(client: httpx.Client) -> None:
    body = client.get("/api/search", params={"near": "02114", "radius": "60mi", "sort": "nearest", "limit": "2"}).json()
    distances = [loc["distance_miles"] for loc in body["locations"]]
    assert len(distances) == 2
    assert distances == sorted(distances)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("near", "nowhere"),
        ("radius", "5 leagues"),
        ("from", "soon"),
        ("sort", "random"),
        ("limit", "many"),
        ("limit", "\u00b2"),
        ("per_location", "\u0663"),
        ("tz", "X/Y"),
        ("age", "131"),
        ("age", "-1"),
        ("age", "\u00b2"),
        ("age", "twelve"),
        ("language", "Elvish"),
        ("language", "e1"),
        ("new_patients", "maybe"),
        ("no_referral", "sometimes"),
    ],
)
def test_malformed_parameter_is_a_400_outcome(client: httpx.Client, name: str, value: str) -> None:
    response = client.get("/api/search", params={name: value})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [name]
    assert outcome["issue"][0]["code"] == "invalid"


def test_openapi_documents_the_parameters(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/search"]["get"]
    documented = {p["name"] for p in operation["parameters"]}
    assert documented == {
        "near", "radius", "service", "specialty", "vaccine", "virtual", "practitioner", "publisher", "organization",
        "from", "to", "tz", "sort", "limit", "per_location", "include_busy",
        "new_patients", "no_referral", "age", "language",
    }  # fmt: skip
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "locations" in schema["properties"]
    slot = schema["properties"]["locations"]["items"]["properties"]["slots"]["items"]
    audience = slot["properties"]["audience"]["properties"]
    assert {"patients", "referral", "min_age", "max_age", "languages", "badges"} <= set(audience)
    assert "/go/{slot_pk}" in spec["paths"]


def test_go_with_a_non_number_is_a_400(client: httpx.Client) -> None:
    assert client.get("/go/abc").status_code == 400
    assert client.get("/go/999999").status_code == 404

"""Out-of-range and malformed dates and ids thrown at the search API and pages of a real server
(issue 12, finding 7): a 400 that says what is wrong (an OperationOutcome from the API, a page from the
pages), never a 500 (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slotlinks.config import Settings
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery_search.conftest import Data, build_app
from tests.servers import serve


@pytest.fixture
def client(settings: Settings, store: DiscoveryStore, data: Data) -> Iterator[httpx.Client]:
    with serve(build_app(settings, store)) as origin, httpx.Client(base_url=origin, timeout=30) as client:
        yield client


def _is_outcome(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("application/fhir+json") and (
        response.json()["resourceType"] == "OperationOutcome"
    )


def _is_page(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html") and "<h1>" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/search?near=02114&to=9999-12-31",
        "/api/search?near=02114&from=0001-01-01",
        "/api/search?from=9999-12-31T23:00:00-12:00",
    ],
)
def test_api_refuses_dates_out_of_range(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400, response.text
    assert _is_outcome(response)
    assert "outside the dates we search" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/search?near=02114&to=9999-12-31",
        "/locations/{pk}?from=9999-12-31",
        "/locations/{pk}?from=0001-01-01",
        "/locations/99999999999999999999999",
        "/locations/0",
        "/locations/abc",
    ],
)
def test_pages_refuse_dates_and_ids_out_of_range_with_a_page(client: httpx.Client, data: Data, path: str) -> None:
    response = client.get(path.format(pk=data.boston))
    assert response.status_code == 400, response.text
    assert _is_page(response)
    assert "Please" in response.text


_EXTREME_DAYS = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(1, 1, 10)),
    st.dates(min_value=date(9999, 12, 20), max_value=date(9999, 12, 31)),
    st.dates(min_value=date(1899, 12, 20), max_value=date(1900, 1, 10)),
    st.dates(min_value=date(2999, 12, 20), max_value=date(2999, 12, 31)),
    st.dates(),
)
_DAY_TEXT = st.one_of(
    _EXTREME_DAYS.map(date.isoformat),
    st.tuples(
        _EXTREME_DAYS,
        st.sampled_from(["T00:00:00", "T23:59:59", "T12:00"]),
        st.sampled_from(["", "Z", "-12:00", "+14:00"]),
    ).map(lambda t: t[0].isoformat() + t[1] + t[2]),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.text(max_size=12),
)
_IDS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(min_size=1, max_size=12))


def test_no_500_on_any_date_or_id(client: httpx.Client, data: Data) -> None:
    @settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(
        start=st.none() | _DAY_TEXT,
        end=st.none() | _DAY_TEXT,
        pk=st.none() | _IDS,
        zone=st.sampled_from(["", "Pacific/Kiritimati", "Etc/GMT+12"]),
    )
    def check(start: str | None, end: str | None, pk: str | None, zone: str) -> None:
        params = {k: v for k, v in {"near": "02114", "from": start, "to": end, "tz": zone or None}.items() if v}
        try:
            api = client.get("/api/search", params=params)
            page = client.get("/search", params=params)
            location = client.get(f"/locations/{pk or data.boston}", params={"from": start} if start else None)
        except httpx.InvalidURL:
            return
        assert api.status_code in (200, 400), (params, api.text)
        assert api.status_code == 200 or _is_outcome(api)
        for response in (page, location):
            assert response.status_code in (200, 400, 404), (params, pk, response.text[:500])
            assert _is_page(response)

    check()


def test_a_week_either_side_of_the_last_day_searched_is_still_a_page(client: httpx.Client, data: Data) -> None:
    """The calendar's previous and next week links never lead out of what the server can show."""
    last = date(2999, 12, 31) - timedelta(days=3)
    response = client.get(f"/locations/{data.boston}", params={"from": last.isoformat()})
    assert response.status_code == 200
    assert _is_page(response)

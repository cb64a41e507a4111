"""Parsing search parameters: defaults, time windows in the patient's zone, and named 400s."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from slotlinks.discovery.search.query import parse_search
from slotlinks.errors import InvalidInput
from tests.discovery_search.conftest import NOW, NOW_MS


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_defaults() -> None:
    req = parse_search({}, now=NOW)
    assert req.start_ms == NOW_MS
    assert req.end_ms == NOW_MS + 14 * 86_400_000
    assert (req.sort, req.limit, req.per_location, req.free_only, req.radius_miles) == ("best", 20, 5, True, 25.0)
    assert req.tz == "UTC"
    assert req.near is None


def test_zip_gives_time_zone_and_dates_are_local() -> None:
    req = parse_search({"near": "02114", "from": "2026-11-24", "to": "2026-11-25"}, now=NOW)
    assert req.tz == "America/New_York"
    assert req.start_ms == ms("2026-11-24T00:00:00-05:00")
    assert req.end_ms == ms("2026-11-26T00:00:00-05:00")  # the `to` date is included
    req = parse_search({"from": "2026-07-01T08:00:00", "to": "2026-07-01T09:00:00Z", "tz": "Europe/Paris"}, now=NOW)
    assert req.start_ms == ms("2026-07-01T08:00:00+02:00")
    assert req.end_ms == int(datetime(2026, 7, 1, 9, tzinfo=UTC).timestamp() * 1000)


def test_values() -> None:
    req = parse_search(
        {
            "near": "42.36,-71.06",
            "radius": "40km",
            "virtual": "true",
            "sort": "NEAREST",
            "limit": "3",
            "per_location": "2",
        },
        now=NOW,
    )
    assert req.near is not None
    assert req.near.lat == 42.36
    assert req.radius_miles == pytest.approx(24.85, abs=0.01)
    assert (req.virtual, req.sort, req.limit, req.per_location) == (True, "nearest", 3, 2)
    assert parse_search({"service": "  ", "include_busy": "yes"}, now=NOW).service is None
    assert parse_search({"include_busy": "yes"}, now=NOW).free_only is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("near", "Boston"),
        ("near", "00000"),
        ("near", "95,10"),
        ("radius", "far"),
        ("radius", "0"),
        ("virtual", "maybe"),
        ("from", "yesterday"),
        ("from", "2026-02-30"),
        ("to", "2026-13-01"),
        ("tz", "Mars/Olympus"),
        ("sort", "cheapest"),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "1000"),
        ("per_location", "x"),
        ("include_busy", "2"),
        ("service", "x" * 201),
        ("practitioner", "a\x00b"),
    ],
)
def test_malformed_parameter_is_named(name: str, value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_search({name: value}, now=NOW)
    assert info.value.expression == (name,)
    assert name in info.value.message


def test_window_must_be_ordered_and_bounded() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_search({"from": "2026-11-24", "to": "2026-11-20"}, now=NOW)
    assert info.value.expression == ("to",)
    with pytest.raises(InvalidInput):
        parse_search({"from": "2026-01-01", "to": "2028-01-01"}, now=NOW)

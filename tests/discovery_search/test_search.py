"""Search over SQLite and PostgreSQL: geography, filters, window, free-only, generations."""

from __future__ import annotations

from datetime import datetime

import pytest

from slotlinks.discovery.search.execute import LocationResult, search
from slotlinks.discovery.search.query import parse_search
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery_search.conftest import (
    BOSTON,
    CVX,
    HOUR,
    NOW,
    NOW_MS,
    SERVICE_TYPE,
    Data,
    add_location,
    add_publisher,
    add_schedule,
    add_slot,
)


def run(store: DiscoveryStore, **params: str) -> list[LocationResult]:
    req = parse_search(params, now=NOW)
    with store.read() as conn:
        return search(conn, req, now_ms=NOW_MS, link_base="https://find.example/")


def names(results: list[LocationResult]) -> list[str]:
    return [r.name for r in results]


def test_radius_limits_locations(store: DiscoveryStore, data: Data) -> None:
    near = run(store, near="02114", radius="10mi")
    assert set(names(near)) == {"Boston Downtown Clinic", "Cambridge Pharmacy"}
    wide = run(store, near="02114", radius="50mi")
    assert {"Worcester Health Center", "Providence Family Practice"} <= set(names(wide))
    km = run(store, near="42.3611,-71.0682", radius="40km")  # 24.9 miles: Worcester (38 mi) is out
    assert "Worcester Health Center" not in names(km)
    boston = next(r for r in near if r.pk == data.boston)
    assert boston.distance_miles is not None
    assert boston.distance_miles < 0.1
    assert boston.distance_km is not None


def test_old_generation_is_invisible(store: DiscoveryStore, data: Data) -> None:
    results = run(store, near="02114", radius="5mi", include_busy="true", sort="soonest")
    assert "Old Generation Clinic" not in names(results)
    all_slots = {s.pk for r in results for s in r.slots}
    assert data.slots["old"] not in all_slots


def test_free_only_and_capacity(store: DiscoveryStore, data: Data) -> None:
    boston = next(r for r in run(store, near="02114", radius="1mi", service="primary care") if r.pk == data.boston)
    pks = [s.pk for s in boston.slots]
    assert data.slots["boston_busy"] not in pks
    assert data.slots["boston_zero"] not in pks
    assert pks[:2] == [data.slots["boston_primary"], data.slots["boston_primary2"]]
    everything = run(store, near="02114", radius="1mi", service="primary care", include_busy="true")
    statuses = [s.status for s in everything[0].slots]
    assert statuses[0] == "busy"
    vax = next(r for r in run(store, near="02114", radius="5mi", vaccine="207") if r.pk == data.cambridge)
    assert vax.slots[0].capacity == 5


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"service": "Primary Care"},
            {"Boston Downtown Clinic", "Worcester Health Center", "Providence Family Practice"},
        ),
        ({"service": "dermatology"}, {"Boston Downtown Clinic"}),
        ({"specialty": "http://snomed.info/sct|394582007"}, {"Boston Downtown Clinic"}),
        ({"specialty": "394582007"}, {"Boston Downtown Clinic"}),
        ({"service": f"{SERVICE_TYPE}|57"}, {"Cambridge Pharmacy"}),
        ({"service": "57"}, {"Cambridge Pharmacy"}),
        ({"service": f"{SERVICE_TYPE}|5"}, set()),  # tokens match whole, not by prefix
        ({"vaccine": f"{CVX}|207"}, {"Cambridge Pharmacy"}),
        ({"vaccine": f"{CVX}|208"}, set()),
        ({"practitioner": "ALICE"}, {"Boston Downtown Clinic"}),
        ({"practitioner": "nobody"}, set()),
        ({"publisher": "ocean"}, {"Providence Family Practice"}),
        ({"organization": "Ocean State"}, {"Providence Family Practice"}),  # the publisher's name
        ({"organization": "harbor medical"}, {"Worcester Health Center"}),  # a Location's organization
        ({"organization": "SKIN"}, {"Boston Downtown Clinic"}),  # a Schedule's role or service
        ({"organization": "nobody"}, set()),
        ({"service": "100%_"}, set()),  # LIKE wildcards are literal
    ],
)
def test_what_filters(store: DiscoveryStore, data: Data, params: dict[str, str], expected: set[str]) -> None:
    assert set(names(run(store, near="02114", radius="60mi", **params))) == expected


def test_publisher_by_id(store: DiscoveryStore, data: Data) -> None:
    results = run(store, near="02114", radius="60mi", publisher=str(data.pub2))
    assert {r.publisher.id for r in results} == {data.pub2}


def test_organization_of_a_schedule_selects_only_its_slots(store: DiscoveryStore, data: Data) -> None:
    (boston,) = run(store, near="02114", radius="1mi", organization="bay skin")
    assert [s.pk for s in boston.slots] == [data.slots["boston_derm"]]


def test_dermatology_slots_only_from_matching_schedule(store: DiscoveryStore, data: Data) -> None:
    (boston,) = run(store, near="02114", radius="1mi", service="dermatology")
    assert [s.pk for s in boston.slots] == [data.slots["boston_derm"]]
    assert boston.services == ["dermatology"]


def test_virtual_only_and_in_person_only(store: DiscoveryStore, data: Data) -> None:
    video = run(store, near="02114", radius="10mi", virtual="true")
    assert names(video) == ["Ocean State Video Visits"]
    assert video[0].distance_miles is None
    assert video[0].virtual
    in_person = run(store, near="02114", radius="60mi", virtual="false")
    assert "Ocean State Video Visits" not in names(in_person)
    assert "Ocean State Video Visits" not in names(run(store, near="02114", radius="60mi"))
    anywhere = run(store, virtual="true")  # no place needed for video visits
    assert names(anywhere) == ["Ocean State Video Visits"]


def test_window(store: DiscoveryStore, data: Data) -> None:
    # 2026-11-26 in Boston: only the Boston primary-care slots at now+2 days (09:00 and 10:00 local).
    results = run(store, near="02114", radius="60mi", **{"from": "2026-11-26", "to": "2026-11-26"})
    assert names(results) == ["Boston Downtown Clinic"]
    assert [s.start for s in results[0].slots] == ["2026-11-26T09:00:00-05:00", "2026-11-26T10:00:00-05:00"]
    # The default window is 14 days: the slot 20 days out is not shown, a wider window shows it.
    assert data.slots["boston_late"] not in {s.pk for r in run(store, near="02114") for s in r.slots}
    wide = run(store, near="02114", service="primary care", to="2026-12-31", per_location="10")
    assert data.slots["boston_late"] in {s.pk for r in wide for s in r.slots}


def test_per_location_and_limit(store: DiscoveryStore, data: Data) -> None:
    (boston,) = run(store, near="02114", radius="1mi", per_location="1", to="2026-12-31")
    assert len(boston.slots) == 1
    assert len(run(store, near="02114", radius="60mi", limit="2")) == 2


def test_result_fields(store: DiscoveryStore, data: Data) -> None:
    (boston,) = run(store, near="02114", radius="1mi")
    assert boston.publisher.name == "Commonwealth Health"
    assert boston.freshness == "as of 3 minutes ago"
    assert boston.as_of == "2026-11-24T13:57:00.000Z"
    assert boston.phone == "617-555-0199"
    slot = boston.slots[0]
    assert slot.link == f"https://find.example/go/{slot.pk}"
    assert slot.end > slot.start
    assert slot.status == "free"


def test_sorts(store: DiscoveryStore, data: Data) -> None:
    assert names(run(store, near="02114", radius="60mi", sort="nearest"))[:2] == [
        "Boston Downtown Clinic",
        "Cambridge Pharmacy",
    ]
    assert names(run(store, near="02114", radius="60mi", sort="soonest"))[0] == "Cambridge Pharmacy"
    # Cambridge is both near (2 mi) and soon (3 h): it wins "best" too.
    assert names(run(store, near="02114", radius="60mi"))[0] == "Cambridge Pharmacy"


def test_many_schedules_each_give_their_own_first_times(store: DiscoveryStore) -> None:
    # 250 schedules at one location take more than one statement for their next times; the latest
    # schedules have the soonest times, so the times shown come from the last of them.
    with store.write() as conn:
        pub = add_publisher(conn, "Many Schedules", "https://many.example/$bulk-publish", last_success_ms=NOW_MS)
        loc = add_location(conn, pub, "Many Schedules Clinic", BOSTON)
        for k in range(250):
            schedule = add_schedule(conn, pub, loc, f"service {k}")
            first = NOW_MS + (251 - k) * HOUR
            add_slot(conn, pub, schedule, first - HOUR // 2, status="busy")
            for start in (first, first + 10 * 60_000):
                add_slot(conn, pub, schedule, start)
    (clinic,) = run(store, near="02114", radius="1mi", per_location="50")
    expected = [(f"service {k}", NOW_MS + (251 - k) * HOUR + m * 60_000) for k in range(249, 224, -1) for m in (0, 10)]
    shown = [(s.service, int(datetime.fromisoformat(s.start).timestamp() * 1000)) for s in clinic.slots]
    assert shown == expected
    assert all(s.status == "free" for s in clinic.slots)

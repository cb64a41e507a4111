"""Keyset paging (search.html#paging) stays stable while slots change between pages."""

from __future__ import annotations

from typing import Any

from slotlinks.provider.schedule.slots import create_slot, set_slot_status
from tests.fhirapi.conftest import FhirServer


def _next(bundle: dict[str, Any], relation: str = "next") -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == relation), None)


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_paging_while_slots_change(fhir_server: FhirServer) -> None:
    params = {"start": "2026-11-30", "_count": "100", "_total": "accurate"}
    first = fhir_server.search("Slot", params)
    original_total = first["total"]
    assert original_total > 500
    everything = fhir_server.ids("Slot", {"start": "2026-11-30", "_count": "1000"})
    schedule = fhir_server.fhir.resources("Schedule")[0]["id"]
    seen: list[str] = []
    inserted_after: list[str] = []
    bundle = first
    page = 0
    while True:
        seen.extend(_ids(bundle))
        url = _next(bundle)
        if url is None:
            break
        page += 1
        with fhir_server.store.change() as change:
            # A slot before the reader's position (it must not shift pages), one after it (it shows up),
            # and status changes to rows not yet read (they keep their place).
            create_slot(
                change, schedule, "2026-11-30T00:01:00-05:00", "2026-11-30T00:02:00-05:00", slot_id=f"early-{page}"
            )
            late = f"late-{page}"
            create_slot(change, schedule, "2026-11-30T23:58:00-05:00", "2026-11-30T23:59:00-05:00", slot_id=late)
            inserted_after.append(late)
            unseen = [i for i in everything if i not in seen][-page * 3 :]
            for slot_id in unseen[:2]:
                set_slot_status(change, slot_id, "busy-unavailable")
        response = fhir_server.client.get(url)
        assert response.status_code == 200
        bundle = response.json()
    assert len(seen) == len(set(seen)), "a slot was shown twice"
    missing = set(everything) - set(seen)
    assert not missing, f"unchanged slots were skipped: {sorted(missing)[:5]}"
    assert set(inserted_after) <= set(seen)
    assert not any(i.startswith("early-") for i in seen)


def test_previous_link_goes_back(fhir_server: FhirServer) -> None:
    first = fhir_server.search("Slot", {"_count": "7", "status": "free"})
    assert _next(first, "previous") is None
    second = fhir_server.client.get(_next(first) or "").json()
    back_url = _next(second, "previous")
    assert back_url is not None
    back = fhir_server.client.get(back_url).json()
    assert _ids(back) == _ids(first)
    assert _ids(fhir_server.client.get(_next(back) or "").json()) == _ids(second)


def test_descending_and_other_sorts_page_completely(fhir_server: FhirServer) -> None:
    for sort in ("-start", "end", "_id", "-_lastUpdated"):
        expected = fhir_server.ids("Slot", {"start": "2026-12-01", "_sort": sort})
        bundle = fhir_server.search(
            "Slot", {"start": "2026-12-01", "_sort": sort, "_count": "97", "_total": "accurate"}
        )
        total = bundle["total"]
        got: list[str] = []
        while True:
            got.extend(_ids(bundle))
            url = _next(bundle)
            if url is None:
                break
            bundle = fhir_server.client.get(url).json()
        assert got[: len(expected)] == expected, sort
        assert len(got) == len(set(got)) == total, sort
    locations = fhir_server.ids("Location", {"_sort": "-_id"})
    assert locations == sorted(locations, reverse=True)
    paged = fhir_server.search("Location", {"_sort": "name", "_count": "2"})
    names: list[str] = []
    while True:
        names.extend(e["resource"]["name"] for e in paged["entry"])
        url = _next(paged)
        if url is None:
            break
        paged = fhir_server.client.get(url).json()
    assert names == sorted(names)
    assert len(names) == len(fhir_server.fhir.resources("Location"))

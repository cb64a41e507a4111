"""An incremental (`_since`) answer applied to the current generation, on both databases: a Slot
listed unchanged changes nothing, a changed one is replaced in place, `busy-unavailable` and
`entered-in-error` remove it, a new one is added and pointed at its Schedule; when an answer lists a
Slot more than once, its last mention counts."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from sqlalchemy import select

from slotlinks.config import Settings
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.search.execute import search
from slotlinks.discovery.search.query import parse_search
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import open_store
from tests.discovery.conftest import RawServer, response, sync
from tests.discovery.test_sync_failures import feed, slot


def _since_answer(raw: RawServer, prefix: str, slots: list[bytes]) -> None:
    """The publisher's manifest now answers `_since`: only `slots` changed."""
    raw.file(f"/{prefix}/since.ndjson", slots)
    body = orjson.dumps(
        {
            "transactionTime": "2026-01-02T00:00:00Z",
            "request": raw.url(f"/{prefix}/$bulk-publish?_since=2026-01-01T00:00:00Z"),
            "output": [{"type": "Slot", "url": raw.url(f"/{prefix}/since.ndjson")}],
            "error": [],
        }
    )
    raw.routes[f"/{prefix}/$bulk-publish"] = response(200, body, {"Content-Type": "application/json"})


def test_an_incremental_answer_removes_replaces_and_adds_its_slots(
    db_url: str, settings: Settings, raw: RawServer
) -> None:
    store = open_store(db_url)
    try:
        pid = registry.add_publisher(store, url=feed(raw, "p", [slot(i) for i in range(6)]), name="p").id
        assert sync(store, settings)[pid].outcome == "full"
        with store.read() as conn:
            before = {r.source_id: (r.pk, r.resource) for r in conn.execute(select(t.slot))}

        _since_answer(
            raw,
            "p",
            [
                slot(0),  # as stored
                slot(1, status="busy"),
                slot(2, status="busy-unavailable"),
                slot(3, status="busy"),  # then back as it was: the last mention counts
                slot(3),
                slot(9),  # new
                slot(10),  # new, then withdrawn in the same answer
                slot(10, status="entered-in-error"),
                slot(4, status="entered-in-error"),
                slot(4, status="busy"),  # withdrawn, then listed again: replaced
            ],
        )
        result = sync(store, settings)[pid]
        assert result.outcome == "incremental", result.error
        assert (result.counts.added, result.counts.changed, result.counts.removed) == (1, 2, 1)

        with store.read() as conn:
            after = {
                r.source_id: (r.pk, r.resource, r.status, r.schedule_pk)
                for r in conn.execute(select(t.slot).where(t.slot.c.publisher_id == pid))
            }
        assert sorted(after) == ["slot0", "slot1", "slot3", "slot4", "slot5", "slot9"]
        for unchanged in ("slot0", "slot3", "slot5"):
            assert after[unchanged][:2] == before[unchanged]
        assert after["slot1"][0] == before["slot1"][0], "replaced in place"
        assert after["slot1"][2] == after["slot4"][2] == "busy"
        assert orjson.loads(after["slot1"][1])["status"] == "busy"
        assert all(row[3] is not None for row in after.values()), "every Slot points at its Schedule"

        # Search finds the added Slot beside the loaded ones (on PostgreSQL it is stored apart from
        # its full load's partition: ingest/partitions.py) and none that became busy.
        params = {"near": "02139", "from": "2026-03-01", "to": "2026-03-01", "per_location": "10"}
        request = parse_search(params, now=datetime(2026, 3, 1, tzinfo=UTC))
        with store.read() as conn:
            (found,) = search(conn, request, now_ms=store.now_ms(), link_base="http://127.0.0.1")
        # slot0, slot3, slot5 and slot9 (10:00, 13:00, 15:00, 19:00 UTC) in the clinic's Eastern time
        assert [s.start[11:16] for s in found.slots] == ["05:00", "08:00", "10:00", "14:00"]
    finally:
        store.dispose()

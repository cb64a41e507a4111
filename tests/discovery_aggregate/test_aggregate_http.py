"""Every HTTP behaviour of the aggregate publication, against a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert, select, update

from slotlinks.discovery.aggregate.pushchanges import collect_changes
from slotlinks.discovery.push.apply import apply_changes
from slotlinks.discovery.push.notification import Change
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.changes import mark_changed
from slotlinks.fhir.instant import instant_to_ms
from tests.discovery_aggregate.conftest import NOW_MS, PUBLIC_URL, URL_A, Aggregate


def test_manifest_shape(aggregate: Aggregate) -> None:
    body = aggregate.manifest()
    assert body["request"] == f"{PUBLIC_URL}/aggregate/$bulk-publish"
    assert body["error"] == []
    assert instant_to_ms(body["transactionTime"]) <= NOW_MS
    types = [o["type"] for o in body["output"]]
    assert set(types) == {"Location", "Practitioner", "HealthcareService", "PractitionerRole", "Schedule", "Slot"}
    assert types.index("Location") < types.index("Schedule") < types.index("Slot")
    for output in body["output"]:
        assert output["url"].startswith(f"{PUBLIC_URL}/aggregate/")
        assert output["url"].endswith(".ndjson")
        assert output["extension"]["state"]


def test_forged_host_does_not_change_urls(aggregate: Aggregate) -> None:
    body = aggregate.manifest(headers={"Host": "evil.example"})
    assert all(o["url"].startswith(PUBLIC_URL) for o in body["output"])


@pytest.mark.parametrize("accept", [None, "application/json", "application/fhir+json", "text/html"])
def test_manifest_same_under_every_accept(aggregate: Aggregate, accept: str | None) -> None:
    plain = aggregate.get(aggregate.manifest_url)
    response = aggregate.get(aggregate.manifest_url, headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.content == plain.content
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("accept", [None, "application/fhir+ndjson", "application/json", "*/*"])
def test_ndjson_same_under_every_accept(aggregate: Aggregate, accept: str | None) -> None:
    url = aggregate.manifest()["output"][-1]["url"]
    plain = aggregate.get(url)
    response = aggregate.get(url, headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.content
    assert response.content == plain.content
    assert response.headers["content-type"].startswith("application/fhir+ndjson")


def test_cache_headers_and_conditional_requests(aggregate: Aggregate) -> None:
    for url in (aggregate.manifest_url, aggregate.manifest()["output"][0]["url"]):
        first = aggregate.get(url)
        assert first.headers["cache-control"] == "max-age=120"
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert aggregate.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert aggregate.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        assert aggregate.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
        old = "Mon, 01 Jan 2024 00:00:00 GMT"
        assert aggregate.get(url, headers={"If-Modified-Since": old}).status_code == 200


def test_encoded_once_per_data_version(aggregate: Aggregate) -> None:
    first = aggregate.get(aggregate.manifest_url)
    assert aggregate.get(aggregate.manifest_url).headers["etag"] == first.headers["etag"]
    with aggregate.store.write() as conn:
        conn.execute(update(t.slot).where(t.slot.c.source_id == "b1").values(updated_ms=NOW_MS - 1000))
        mark_changed(conn, aggregate.publishers["A"], NOW_MS)  # as every writer of current data does
    again = aggregate.get(aggregate.manifest_url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200, "a changed row is a new data version"
    assert again.headers["last-modified"] != first.headers["last-modified"]


def test_a_pushed_change_is_a_new_data_version(aggregate: Aggregate) -> None:
    # A notification applied between polls changes the current data without a sync: the manifest and
    # the files are rendered anew, not served from the cache of the version before.
    first = aggregate.get(aggregate.manifest_url)
    busy = {
        "resourceType": "Slot",
        "id": "t1",
        "schedule": {"reference": "Schedule/s-tele"},
        "status": "busy",
        "start": "2026-11-26T15:00:00Z",
        "end": "2026-11-26T15:30:00Z",
    }
    changes = [Change("Slot", "t1", removed=False, resource=busy), Change("Slot", "b1", removed=True, resource=None)]
    with aggregate.store.write() as conn:
        applied = apply_changes(conn, aggregate.publishers["A"], 2, changes, now_ms=NOW_MS, states_filtered=False)
    assert (applied.counts.changed, applied.counts.removed) == (1, 1)
    again = aggregate.get(aggregate.manifest_url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200, "a pushed change is a new data version"
    slots = {r["id"].split(".")[1]: r["status"] for kind, r in aggregate.resources() if kind == "Slot"}
    assert slots.get("t1") == "busy"
    assert "b1" not in slots


def test_a_pushed_removal_is_announced_to_the_aggregates_subscribers(aggregate: Aggregate) -> None:
    with aggregate.store.write() as conn:
        collect_changes(conn, since_ms=None, now_ms=NOW_MS)  # everything announced once
        assert collect_changes(conn, since_ms=NOW_MS, now_ms=NOW_MS + 1000) == []
        removal = [Change("Slot", "b1", removed=True, resource=None)]
        apply_changes(conn, aggregate.publishers["A"], 2, removal, now_ms=NOW_MS + 2000, states_filtered=False)
        found = collect_changes(conn, since_ms=NOW_MS + 1000, now_ms=NOW_MS + 3000)
    assert [(c.resource_type, c.resource_id.split(".")[1], c.removed) for c in found] == [("Slot", "b1", True)]


def test_head_matches_get_without_body(aggregate: Aggregate) -> None:
    for url in (aggregate.manifest_url, aggregate.manifest()["output"][-1]["url"]):
        identity = {"Accept-Encoding": "identity"}
        full = aggregate.get(url, headers=identity)
        head = httpx.head(aggregate.local(url), headers=identity, timeout=30)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["etag"] == full.headers["etag"]
        assert int(head.headers["content-length"]) == len(full.content)


def test_gzip_when_accepted(aggregate: Aggregate) -> None:
    for url in (aggregate.manifest_url, aggregate.manifest()["output"][-1]["url"]):
        plain = aggregate.get(url, headers={"Accept-Encoding": "identity"})
        with httpx.stream("GET", aggregate.local(url), headers={"Accept-Encoding": "gzip"}) as stream:
            assert stream.headers["content-encoding"] == "gzip"
            assert "Accept-Encoding" in stream.headers["vary"]
            assert stream.headers["etag"] != plain.headers["etag"], "one ETag per content coding"
            compressed = b"".join(stream.iter_raw())
        assert gzip.decompress(compressed) == plain.content


def test_manifest_is_indented_json_ending_in_a_newline(aggregate: Aggregate) -> None:
    for params in ({}, {"_since": "2026-01-01T00:00:00Z"}):
        raw = aggregate.get(aggregate.manifest_url, params=params).content
        assert raw == orjson.dumps(orjson.loads(raw), option=orjson.OPT_INDENT_2) + b"\n"


def test_since_manifest_is_conditional(aggregate: Aggregate) -> None:
    params = {"_since": "2026-01-01T00:00:00Z"}
    first = aggregate.get(aggregate.manifest_url, params=params)
    assert first.headers["cache-control"] == "max-age=120"
    again = aggregate.get(aggregate.manifest_url, params=params, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    other = aggregate.get(aggregate.manifest_url, params={"_since": "2026-01-02T00:00:00Z"})
    assert other.headers["etag"] != first.headers["etag"], "the instant is part of the representation"
    with aggregate.store.write() as conn:
        conn.execute(update(t.slot).where(t.slot.c.source_id == "b1").values(updated_ms=NOW_MS - 1000))
        mark_changed(conn, aggregate.publishers["A"], NOW_MS)  # as every writer of current data does
    changed = aggregate.get(aggregate.manifest_url, params=params, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200, "a change is a new `_since` answer"


def test_since_file_without_changes_is_operation_outcome(aggregate: Aggregate) -> None:
    url = aggregate.manifest()["output"][0]["url"]
    response = aggregate.get(url, params={"_since": "2099-01-01T00:00:00Z"})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def _slot_pk(aggregate: Aggregate, source_id: str) -> int:
    with aggregate.store.read() as conn:
        query = select(t.slot.c.pk).where(
            t.slot.c.publisher_id == aggregate.publishers["A"],
            t.slot.c.generation == 2,
            t.slot.c.source_id == source_id,
        )
        return int(conn.execute(query.order_by(t.slot.c.start_ms).limit(1)).scalar_one())


def _since_resources(aggregate: Aggregate, since: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    body = aggregate.manifest(params={"_since": since})
    lines = []
    for output in body["output"]:
        assert "_since=" in output["url"]
        assert output["extension"]["state"]
        lines += [orjson.loads(x) for x in aggregate.get(output["url"]).content.splitlines()]
    return body, lines


def test_since_lists_only_changes(aggregate: Aggregate) -> None:
    since = aggregate.manifest()["transactionTime"]
    body, lines = _since_resources(aggregate, since)
    assert body["output"] == []
    assert lines == []
    assert body["request"] == f"{PUBLIC_URL}/aggregate/$bulk-publish?_since={since}"
    pk = _slot_pk(aggregate, "slot1")
    with aggregate.store.write() as conn:
        conn.execute(update(t.slot).where(t.slot.c.pk == pk).values(status="busy", updated_ms=NOW_MS + 1000))
        mark_changed(conn, aggregate.publishers["A"], NOW_MS + 1000)
    body, lines = _since_resources(aggregate, since)
    assert {o["type"] for o in body["output"]} == {"Slot", "Schedule"}
    slots = [x for x in lines if x["resourceType"] == "Slot"]
    assert [(s["status"], s["start"]) for s in slots] == [("busy", "2026-11-25T09:00:00-05:00")]
    schedules = [x for x in lines if x["resourceType"] == "Schedule"]
    assert len(schedules) == 1, "the changed slot's Schedule comes along (its has-availability may change)"
    assert schedules[0]["id"] == slots[0]["schedule"]["reference"].split("/")[1]
    # HEAD on a _since file: headers only.
    head = httpx.head(aggregate.local(body["output"][-1]["url"]), timeout=30)
    assert head.status_code == 200
    assert head.content == b""


def test_since_resends_schedules_of_a_synced_publisher(aggregate: Aggregate) -> None:
    since = aggregate.manifest()["transactionTime"]
    with aggregate.store.write() as conn:
        conn.execute(
            update(t.publisher)
            .where(t.publisher.c.id == aggregate.publishers["A"])
            .values(failures=1, last_error="timeout", last_attempt_ms=NOW_MS + 1000)
        )
    _, lines = _since_resources(aggregate, since)
    assert {x["resourceType"] for x in lines} == {"Schedule"}
    assert len(lines) == 3
    for schedule in lines:
        assert any(e.get("valueCode") == "unknown" for e in schedule["extension"])


@pytest.mark.parametrize("outcome", ["full", "incremental"])
def test_since_after_removals_is_the_full_data_set(aggregate: Aggregate, outcome: str) -> None:
    full = aggregate.manifest()
    since = full["transactionTime"]

    def sync_run(removed: int) -> None:
        with aggregate.store.write() as conn:
            conn.execute(
                insert(t.sync_run).values(
                    publisher_id=aggregate.publishers["A"],
                    started_ms=NOW_MS + 1000,
                    duration_ms=500,
                    outcome=outcome,
                    http_statuses="{}",
                    removed=removed,
                )
            )

    sync_run(0)
    assert aggregate.manifest(params={"_since": since})["output"] == [], "a sync without removals"
    sync_run(3)
    body = aggregate.manifest(params={"_since": since})
    assert body == full
    assert "_since" not in body["request"]
    earlier = aggregate.manifest(params={"_since": "2030-01-01T00:00:00Z"})
    assert earlier["output"] == [], "removals before the instant do not matter"


@pytest.mark.parametrize("bad", ["yesterday", "2026-11-24", "2026-11-24T10:00:00", "2026-13-01T00:00:00Z"])
def test_bad_since_is_operation_outcome(aggregate: Aggregate, bad: str) -> None:
    for url in (aggregate.manifest_url, aggregate.manifest()["output"][0]["url"]):
        response = aggregate.get(url, params={"_since": bad})
        assert response.status_code == 400
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["expression"] == ["_since"]


def test_unknown_file_is_operation_outcome(aggregate: Aggregate) -> None:
    response = httpx.get(f"{aggregate.origin}/aggregate/nothing-here.ndjson", timeout=30)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_publisher_url_is_the_identifier_system(aggregate: Aggregate) -> None:
    location = next(res for kind, res in aggregate.resources() if kind == "Location")
    assert {"system": URL_A, "value": "loc1"} in location["identifier"]

"""Every HTTP behaviour of the publication, against a real server on 127.0.0.1 (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import select, update

from slotlinks.fhir.resources import RESOURCE_DECODER
from slotlinks.provider.publication.snapshots import export
from slotlinks.provider.store import tables as t
from tests.provider.conftest import RunningProvider


def local(provider: RunningProvider, url: str) -> str:
    """The configured public URL rewritten to the test server's real address."""
    assert url.startswith(provider.base), url
    return provider.origin + "/fhir" + url[len(provider.base) :]


def get(provider: RunningProvider, url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(local(provider, url), timeout=30, **kwargs)  # type: ignore[arg-type]


def manifest(provider: RunningProvider, **kwargs: object) -> dict[str, object]:
    response = get(provider, provider.manifest_url, **kwargs)
    assert response.status_code == 200, response.text
    return orjson.loads(response.content)  # type: ignore[no-any-return]


def test_manifest_lists_every_type_with_absolute_urls_and_states(running_provider: RunningProvider) -> None:
    body = manifest(running_provider)
    assert body["request"] == running_provider.manifest_url
    assert body["error"] == []
    outputs = body["output"]
    assert isinstance(outputs, list)
    types = {o["type"] for o in outputs}
    assert types == {"Location", "Schedule", "Slot", "Practitioner", "PractitionerRole", "HealthcareService"}
    for output in outputs:
        assert output["url"].startswith("http://publisher.test:8001/fhir/")
        assert output["extension"]["state"], output
        assert set(output["extension"]["state"]) <= {"MA", "RI"}
    slot_files = [o for o in outputs if o["type"] == "Slot"]
    assert all("-W" in o["url"] for o in slot_files), "slot files are split by state and week"


def test_manifest_is_indented_json_ending_in_a_newline(running_provider: RunningProvider) -> None:
    for params in ({}, {"_since": "2026-01-01T00:00:00Z"}):
        raw = get(running_provider, running_provider.manifest_url, params=params).content
        assert raw == orjson.dumps(orjson.loads(raw), option=orjson.OPT_INDENT_2) + b"\n"


def test_forged_host_header_does_not_change_urls(running_provider: RunningProvider) -> None:
    body = manifest(running_provider, headers={"Host": "evil.example"})
    assert all(o["url"].startswith("http://publisher.test:8001/fhir/") for o in body["output"])


def test_every_line_decodes_and_references_resolve(running_provider: RunningProvider) -> None:
    body = manifest(running_provider)
    ids: dict[str, set[str]] = {}
    slots = []
    schedules = []
    for output in body["output"]:
        response = get(running_provider, output["url"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        for line in response.content.splitlines():
            resource = RESOURCE_DECODER.decode(line)
            assert type(resource).__name__ == output["type"]
            ids.setdefault(output["type"], set()).add(resource.id)
            if output["type"] == "Slot":
                slots.append(resource)
            if output["type"] == "Schedule":
                schedules.append(resource)
    assert len(ids["Slot"]) == running_provider.counts["Slot"]
    for slot in slots:
        kind, _, schedule_id = slot.schedule.reference.partition("/")
        assert kind == "Schedule"
        assert schedule_id in ids["Schedule"]
    for schedule in schedules:
        for actor in schedule.actor:
            kind, _, actor_id = actor.reference.partition("/")
            assert actor_id in ids[kind], actor.reference
    statuses = {s.status for s in slots}
    assert statuses == {"free", "busy"}, "busy slots are published too"


@pytest.mark.parametrize("accept", [None, "application/json", "application/fhir+json"])
def test_manifest_same_under_every_accept_header(running_provider: RunningProvider, accept: str | None) -> None:
    plain = get(running_provider, running_provider.manifest_url)
    headers = {"Accept": accept} if accept else {}
    response = get(running_provider, running_provider.manifest_url, headers=headers)
    assert response.status_code == 200
    assert response.content == plain.content
    assert response.headers["content-type"].startswith("application/json")


def test_ndjson_same_with_and_without_accept(running_provider: RunningProvider) -> None:
    url = manifest(running_provider)["output"][-1]["url"]
    plain = get(running_provider, url)
    fhir = get(running_provider, url, headers={"Accept": "application/fhir+ndjson"})
    assert plain.status_code == fhir.status_code == 200
    assert plain.content
    assert plain.content == fhir.content


def test_cache_headers_and_conditional_requests(running_provider: RunningProvider) -> None:
    for url in (running_provider.manifest_url, manifest(running_provider)["output"][0]["url"]):
        first = get(running_provider, url)
        assert first.headers["cache-control"] == "max-age=120"
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert get(running_provider, url, headers={"If-None-Match": etag}).status_code == 304
        assert get(running_provider, url, headers={"If-Modified-Since": modified}).status_code == 304
        assert get(running_provider, url, headers={"If-None-Match": '"other"'}).status_code == 200
        old = "Mon, 01 Jan 2024 00:00:00 GMT"
        assert get(running_provider, url, headers={"If-Modified-Since": old}).status_code == 200


def test_change_invalidates_validators(running_provider: RunningProvider) -> None:
    first = get(running_provider, running_provider.manifest_url)
    with running_provider.store.change() as change:
        slot_id = change.conn.execute(select(t.slot.c.id).where(t.slot.c.status == "free").limit(1)).scalar_one()
        change.conn.execute(
            update(t.slot).where(t.slot.c.id == slot_id).values(status="busy", last_updated=change.stamp_ms)
        )
    again = get(running_provider, running_provider.manifest_url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200
    assert orjson.loads(again.content)["transactionTime"] > orjson.loads(first.content)["transactionTime"]


def test_head_matches_get_without_body(running_provider: RunningProvider) -> None:
    for url in (running_provider.manifest_url, manifest(running_provider)["output"][-1]["url"]):
        identity = {"Accept-Encoding": "identity"}
        full = get(running_provider, url, headers=identity)
        head = httpx.head(local(running_provider, url), headers=identity, timeout=30)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["etag"] == full.headers["etag"]
        assert int(head.headers["content-length"]) == len(full.content)


def test_gzip_when_accepted(running_provider: RunningProvider) -> None:
    url = manifest(running_provider)["output"][-1]["url"]
    plain = get(running_provider, url, headers={"Accept-Encoding": "identity"})
    raw = httpx.get(local(running_provider, url), headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert raw.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in raw.headers["vary"]
    assert raw.content == plain.content  # httpx decodes; compare the decoded bytes
    with httpx.stream("GET", local(running_provider, url), headers={"Accept-Encoding": "gzip"}) as stream:
        compressed = b"".join(stream.iter_raw())
    assert gzip.decompress(compressed) == plain.content
    assert len(compressed) < len(plain.content)


def test_since_returns_only_changes_and_removals(running_provider: RunningProvider) -> None:
    before = manifest(running_provider)
    since = before["transactionTime"]
    empty = manifest(running_provider, params={"_since": since})
    assert empty["output"] == []
    assert empty["request"].endswith(f"$bulk-publish?_since={since}")
    with running_provider.store.change() as change:
        rows = (
            change.conn.execute(select(t.slot.c.id).where(t.slot.c.status == "free").order_by(t.slot.c.id).limit(2))
            .scalars()
            .all()
        )
        booked, removed = rows
        change.conn.execute(
            update(t.slot).where(t.slot.c.id == booked).values(status="busy", last_updated=change.stamp_ms)
        )
        change.conn.execute(
            update(t.slot).where(t.slot.c.id == removed).values(active=False, last_updated=change.stamp_ms)
        )
    changed = manifest(running_provider, params={"_since": since})
    assert {o["type"] for o in changed["output"]} == {"Slot"}
    lines = []
    for output in changed["output"]:
        assert "_since=" in output["url"]
        response = get(running_provider, output["url"])
        assert response.status_code == 200
        lines += [orjson.loads(line) for line in response.content.splitlines()]
    by_id = {line["id"]: line["status"] for line in lines}
    assert by_id == {booked: "busy", removed: "busy-unavailable"}
    full = manifest(running_provider)
    all_ids = set()
    for output in full["output"]:
        if output["type"] == "Slot":
            all_ids |= {orjson.loads(x)["id"] for x in get(running_provider, output["url"]).content.splitlines()}
    assert removed not in all_ids
    assert booked in all_ids


def test_since_with_an_offset_is_named_as_given_and_its_file_urls_work(running_provider: RunningProvider) -> None:
    since = "2026-01-01T00:00:00+05:00"
    body = manifest(running_provider, params={"_since": since})
    assert body["request"] == f"{running_provider.manifest_url}?_since={since}"
    assert body["output"], "every resource changed after that instant"
    same_instant = manifest(running_provider, params={"_since": "2025-12-31T19:00:00Z"})
    assert [o["type"] for o in body["output"]] == [o["type"] for o in same_instant["output"]]
    for output, other in zip(body["output"], same_instant["output"], strict=True):
        assert output["url"].endswith("?_since=2026-01-01T00:00:00%2B05:00")
        response = get(running_provider, output["url"])
        assert response.status_code == 200
        assert response.content == get(running_provider, other["url"]).content


def test_since_file_without_changes_is_operation_outcome(running_provider: RunningProvider) -> None:
    url = manifest(running_provider)["output"][0]["url"]
    response = get(running_provider, url, params={"_since": "2099-01-01T00:00:00Z"})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("bad", ["yesterday", "2026-11-24", "2026-11-24T10:00:00", "2026-13-01T00:00:00Z"])
def test_bad_since_is_operation_outcome(running_provider: RunningProvider, bad: str) -> None:
    response = get(running_provider, running_provider.manifest_url, params={"_since": bad})
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["_since"]


def test_unknown_file_is_operation_outcome(running_provider: RunningProvider) -> None:
    response = httpx.get(f"{running_provider.origin}/fhir/nothing-here.ndjson", timeout=30)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_deep_link_target_names_the_slot(running_provider: RunningProvider) -> None:
    url = next(o["url"] for o in manifest(running_provider)["output"] if o["type"] == "Slot")
    slot = orjson.loads(get(running_provider, url).content.splitlines()[0])
    link = next(e["valueUrl"] for e in slot["extension"] if e["url"].endswith("booking-deep-link"))
    assert link == f"https://portal.example.org/book/{slot['id']}"
    assert any(e["url"].endswith("booking-phone") for e in slot["extension"])
    page = httpx.get(f"{running_provider.origin}/book/{slot['id']}", timeout=30)
    assert page.status_code == 200
    assert slot["id"] in page.text


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_export_is_byte_identical_and_serves_statically(running_provider: RunningProvider, tmp_path: Path) -> None:
    with static_server(tmp_path) as origin:
        base = f"{origin}/site"
        export(running_provider.store, tmp_path / "site", base)
        # The live server configured with the same base URL returns the same bytes.
        live = running_provider.store
        from slotlinks.config import Settings
        from slotlinks.provider.app import create_app
        from tests.servers import serve

        settings = Settings(data_dir=tmp_path / "live", base_url=base)
        with serve(create_app(settings, live)) as live_origin:

            def fetch_live(url: str) -> bytes:
                return httpx.get(live_origin + url[len(origin) :], timeout=30).content

            static_manifest = httpx.get(f"{base}/$bulk-publish", timeout=30).content
            assert static_manifest == fetch_live(f"{base}/$bulk-publish")
            for output in orjson.loads(static_manifest)["output"]:
                static_file = httpx.get(output["url"], timeout=30)
                assert static_file.status_code == 200
                assert static_file.content == fetch_live(output["url"])
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site")], "no staging left behind"


def test_fhir_search_and_read_beside_the_publication(running_provider: RunningProvider) -> None:
    base = f"{running_provider.origin}/fhir"
    metadata = httpx.get(f"{base}/metadata", timeout=30)
    assert metadata.status_code == 200
    assert metadata.json()["resourceType"] == "CapabilityStatement"
    bundle = httpx.get(f"{base}/Slot", params={"status": "free", "_count": "5"}, timeout=30).json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    first = bundle["entry"][0]["resource"]
    assert first["status"] == "free"
    read = httpx.get(f"{base}/Slot/{first['id']}", timeout=30)
    assert read.json() == first
    # The publication's own routes are not shadowed.
    assert get(running_provider, running_provider.manifest_url).status_code == 200


def test_since_learns_of_a_hold_expiring_without_any_commit(running_provider: RunningProvider) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    from slotlinks.clock import FixedClock
    from slotlinks.fhir.instant import format_instant
    from slotlinks.provider.portal.holds import place_hold
    from slotlinks.provider.schedule.slots import create_slot
    from slotlinks.provider.store.store import ProviderStore

    since = manifest(running_provider)["transactionTime"]
    # A slot made by hand two days from now, whatever day the test runs.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with running_provider.store.change() as change:
        schedule_id = change.conn.execute(select(t.schedule.c.id).limit(1)).scalar_one()
        slot_id = create_slot(
            change, schedule_id, format_instant(start), format_instant(start + timedelta(minutes=20))
        ).id
    # A hold placed "ten minutes ago" with a ten-minute life: it expires a second from now.
    clock = FixedClock(datetime.now(UTC) - timedelta(minutes=10) + timedelta(seconds=1.5))
    held = ProviderStore(running_provider.store.engine, clock=clock)
    place_hold(store=held, clock=clock, slot_id=slot_id, ttl=timedelta(minutes=10), token="z" * 32)

    def since_status() -> tuple[str, str]:
        response = get(running_provider, running_provider.manifest_url, params={"_since": since})
        lines = []
        for output in orjson.loads(response.content)["output"]:
            lines += [orjson.loads(x) for x in get(running_provider, output["url"]).content.splitlines()]
        return response.headers["etag"], next(x["status"] for x in lines if x["id"] == slot_id)

    etag, status = since_status()
    assert status == "busy-tentative"
    time.sleep(2)
    again = get(
        running_provider, running_provider.manifest_url, params={"_since": since}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 200, "the expiry changed the publication, so the old ETag must not match"
    assert since_status()[1] == "free"

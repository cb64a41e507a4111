"""Failures of one publisher (network, HTTP, limits, bad lines, refused URLs) never touch another's data,
and a failing publisher keeps its last good data."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from slotlinks.config import Settings
from slotlinks.discovery.app import create_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.fhir.extensions import BOOKING_DEEP_LINK, BOOKING_PHONE
from tests.conftest import nested_location
from tests.discovery.conftest import RawServer, held, response, sync
from tests.servers import serve_with_origin

LOC = {
    "resourceType": "Location",
    "id": "loc1",
    "name": "Clinic",
    "address": {"city": "Cambridge", "state": "MA", "postalCode": "02139"},
}
SCH = {"resourceType": "Schedule", "id": "sch1", "actor": [{"reference": "Location/loc1"}]}


def slot(i: int, **changes: object) -> bytes:
    data = {
        "resourceType": "Slot",
        "id": f"slot{i}",
        "schedule": {"reference": "Schedule/sch1"},
        "status": "free",
        "start": f"2026-03-01T{10 + i:02d}:00:00Z",
        "end": f"2026-03-01T{10 + i:02d}:30:00Z",
        **changes,
    }
    return orjson.dumps({k: v for k, v in data.items() if v is not None})


def feed(raw: RawServer, prefix: str, slots: list[bytes] | None = None, **kwargs: object) -> str:
    raw.file(f"/{prefix}/loc.ndjson", [orjson.dumps(LOC)])
    raw.file(f"/{prefix}/sch.ndjson", [orjson.dumps(SCH)])
    raw.file(f"/{prefix}/slot.ndjson", slots if slots is not None else [slot(i) for i in range(3)])
    outputs = [
        ("Location", f"/{prefix}/loc.ndjson"),
        ("Schedule", f"/{prefix}/sch.ndjson"),
        ("Slot", f"/{prefix}/slot.ndjson"),
    ]
    return raw.manifest(f"/{prefix}/$bulk-publish", outputs, **kwargs)  # type: ignore[arg-type]


def bomb(raw: RawServer, prefix: str) -> None:
    body = gzip.compress(b" " * (8 * 1024 * 1024), 9)
    assert len(body) < 20_000
    raw.routes[f"/{prefix}/slot.ndjson"] = response(200, body, {"Content-Encoding": "gzip"})


def truncated(raw: RawServer, prefix: str) -> None:
    body = b"".join(slot(i) + b"\n" for i in range(3))
    raw.routes[f"/{prefix}/slot.ndjson"] = response(200, body, length=len(body) + 500)


def trickle(raw: RawServer, path: str, *, head: bool = False, seconds: float = 8.0, step: bytes = b"a") -> None:
    """Answer `path` a few bytes every 50 ms for `seconds`: the body (after a whole head), or the head itself."""

    def handler(conn: socket.socket, _target: str, _headers: dict[str, str]) -> None:
        if head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n")
        end = time.monotonic() + seconds
        while time.monotonic() < end and not raw.released.is_set():
            conn.sendall(step)
            time.sleep(0.05)

    raw.routes[path] = handler


BREAKERS: dict[str, Callable[[RawServer, str], None]] = {
    "stalled manifest": lambda raw, p: raw.stall(f"/{p}/$bulk-publish"),
    "stalled file": lambda raw, p: raw.stall(f"/{p}/slot.ndjson"),
    "manifest 500": lambda raw, p: raw.routes.__setitem__(f"/{p}/$bulk-publish", response(500, b"oops")),
    "file 500": lambda raw, p: raw.routes.__setitem__(f"/{p}/slot.ndjson", response(503, b"busy")),
    "manifest not JSON": lambda raw, p: raw.routes.__setitem__(f"/{p}/$bulk-publish", response(200, b"<html>")),
    "truncated file": truncated,
    "gzip bomb": bomb,
    "trickled manifest": lambda raw, p: trickle(raw, f"/{p}/$bulk-publish"),
    "trickled file": lambda raw, p: trickle(raw, f"/{p}/slot.ndjson"),
}


@pytest.mark.parametrize("breaker", list(BREAKERS))
def test_failure_keeps_last_good_data(store: DiscoveryStore, settings: Settings, raw: RawServer, breaker: str) -> None:
    settings = dataclasses.replace(
        settings, read_timeout=0.5, max_file_bytes=1024 * 1024, min_transfer_bytes=1024, min_transfer_window_seconds=1.0
    )
    good = registry.add_publisher(store, url=feed(raw, "good"), name="good").id
    bad = registry.add_publisher(store, url=feed(raw, "bad"), name="bad").id
    first = sync(store, settings)
    assert first[bad].outcome == first[good].outcome == "full", (first[bad].error, first[good].error)
    known_good = registry.get_publisher(store, bad).last_success_ms

    feed(raw, "bad", [slot(i) for i in range(5)], tx="2026-02-01T00:00:00Z")
    feed(raw, "good", [slot(i) for i in range(4)], tx="2026-02-01T00:00:00Z")
    BREAKERS[breaker](raw, "bad")
    second = sync(store, settings)

    assert second[bad].outcome == "failed"
    assert second[bad].error
    assert second[good].outcome == "full"
    assert held(store, good)["Slot"] == 4
    assert held(store, bad) == {**held(store, bad), "Location": 1, "Schedule": 1, "Slot": 3}
    info = registry.get_publisher(store, bad)
    assert info.last_success_ms == known_good
    assert info.last_error == second[bad].error
    assert info.last_outcome == "failed"
    with store.read() as conn:
        pub = conn.execute(select(t.publisher).where(t.publisher.c.id == bad)).one()
    assert pub.failures == 1
    assert pub.next_poll_ms >= store.now_ms() + 1000 * (settings.min_poll_seconds - 5)


TRICKLES = {"manifest": "/p/$bulk-publish", "file": "/p/slot.ndjson", "response head": "/p/slot.ndjson"}


@pytest.mark.parametrize("where", list(TRICKLES))
def test_trickling_publisher_cut_off_within_one_window(
    store: DiscoveryStore, settings: Settings, raw: RawServer, where: str
) -> None:
    # Every byte comes well within the read timeout: only the minimum rate (or the head's bound) cuts it.
    settings = dataclasses.replace(
        settings, connect_timeout=1.0, read_timeout=1.0, min_transfer_bytes=1024, min_transfer_window_seconds=1.0
    )
    pid = registry.add_publisher(store, url=feed(raw, "p"), name="p").id
    trickle(raw, TRICKLES[where], head=where == "response head")
    began = time.monotonic()
    result = sync(store, settings)[pid]
    assert time.monotonic() - began < 6
    assert result.outcome == "failed"
    expected = "no complete response head within 2 s" if where == "response head" else "too slow"
    assert expected in (result.error or ""), result.error
    assert raw.url(TRICKLES[where]) in (result.error or "")
    assert registry.get_publisher(store, pid).last_error == result.error


def test_slow_but_working_publisher_still_loads(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    settings = dataclasses.replace(settings, min_transfer_bytes=1024, min_transfer_window_seconds=1.0)
    lines = [slot(i % 10, id=f"slot{i}") for i in range(400)]
    body = b"".join(line + b"\n" for line in lines)
    url = feed(raw, "p")
    pieces = [body[i : i + 2048] for i in range(0, len(body), 2048)]
    assert len(pieces) > 20  # more than two seconds of sending, four windows and more

    def slowly(conn: socket.socket, _target: str, _headers: dict[str, str]) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        for piece in pieces:
            conn.sendall(piece)
            time.sleep(0.1)

    raw.routes["/p/slot.ndjson"] = slowly
    pid = registry.add_publisher(store, url=url, name="p").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    assert held(store, pid)["Slot"] == 400


LINE_CASES: dict[str, tuple[bytes, str]] = {
    "missing start": (slot(1, start=None), "$"),
    "invalid UTF-8": (b'{"resourceType":"Slot","id":"slot1","comment":"caf\xe9"}', "$"),
    "oversized line": (slot(1, comment="x" * 5000), "$"),
    "not JSON": (b"{nope", "$"),
    "end before start": (slot(1, end="2026-03-01T09:00:00Z"), "Slot.end"),
}


@pytest.mark.parametrize("case", list(LINE_CASES))
def test_bad_line_recorded_and_others_kept(
    store: DiscoveryStore, settings: Settings, raw: RawServer, case: str
) -> None:
    settings = dataclasses.replace(settings, max_line_bytes=2000)
    line, path = LINE_CASES[case]
    pid = registry.add_publisher(store, url=feed(raw, "p", [slot(0), line, slot(2)]), name="p").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full"
    assert result.bad_line_count == 1
    assert held(store, pid)["Slot"] == 2
    with store.read() as conn:
        bad = conn.execute(select(t.bad_line)).one()
    assert (bad.publisher_id, bad.line, bad.file_url) == (pid, 2, raw.url("/p/slot.ndjson"))
    assert bad.path.startswith(path)
    assert bad.message
    assert registry.get_publisher(store, pid).bad_lines == 1


def test_deeply_nested_location_is_one_bad_line(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    url = feed(raw, "p")
    other = orjson.dumps({**LOC, "id": "loc2"})
    raw.file("/p/loc.ndjson", [orjson.dumps(LOC), nested_location(5000), other])
    pid = registry.add_publisher(store, url=url, name="p").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    assert result.bad_line_count == 1
    assert held(store, pid) == {**held(store, pid), "Location": 2, "Schedule": 1, "Slot": 3}
    with store.read() as conn:
        bad = conn.execute(select(t.bad_line)).one()
    assert (bad.line, bad.file_url, bad.path) == (2, raw.url("/p/loc.ndjson"), "$")
    assert "nested more than" in bad.message


PHONE = {"url": BOOKING_PHONE, "valueString": "617-555-0100"}


def test_links_with_credentials_or_over_long_are_dropped_never_published_nor_followed(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    good = "https://portal.example/book/slot0"
    credentials = "http://user:pass@evil.example/book"
    long_link = "https://portal.example/book?pad=" + "x" * 5000
    lines = [
        slot(0, extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": good}]),
        slot(1, extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": credentials}, PHONE]),
        slot(2, extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": long_link}, PHONE]),
    ]
    pid = registry.add_publisher(store, url=feed(raw, "p", lines), name="p").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    assert dict(result.warnings) == {"booking-link-dropped": 2}
    with store.read() as conn:
        rows = {r.source_id: r for r in conn.execute(select(t.slot))}
    assert {sid: r.booking_link for sid, r in rows.items()} == {"slot0": good, "slot1": None, "slot2": None}
    assert all("evil.example" not in r.resource and len(r.resource) < 1000 for r in rows.values())

    def make(origin: str) -> Any:
        return create_app(dataclasses.replace(settings, discovery_url=origin), store, background_sync=False)

    with serve_with_origin(make) as origin, httpx.Client(base_url=origin, timeout=30) as client:
        manifest = client.get("/aggregate/$bulk-publish").json()
        published = b"".join(client.get(o["url"]).content for o in manifest["output"] if o["type"] == "Slot").decode()
        assert good in published
        assert "evil.example" not in published
        assert "x" * 100 not in published
        followed = client.get(f"/go/{rows['slot0'].pk}")
        assert followed.status_code == 303
        assert followed.headers["location"].startswith(good)
        for sid in ("slot1", "slot2"):
            refused = client.get(f"/go/{rows[sid].pk}")
            assert refused.status_code == 200
            assert "location" not in refused.headers
            assert "Book by phone" in refused.text
            assert "evil.example" not in refused.text


def test_references_to_ids_with_a_slash_resolve(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    url = feed(raw, "p", [slot(i, schedule={"reference": "Schedule/sch/1"}) for i in range(3)])
    raw.file("/p/loc.ndjson", [orjson.dumps({**LOC, "id": "store/12"})])
    raw.file("/p/sch.ndjson", [orjson.dumps({**SCH, "id": "sch/1", "actor": [{"reference": "Location/store/12"}]})])
    pid = registry.add_publisher(store, url=url, name="p").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    assert result.bad_line_count == 0, result.bad_lines
    with store.read() as conn:
        (schedule,) = conn.execute(select(t.schedule)).all()
        slots = conn.execute(select(t.slot)).all()
    assert schedule.location_pk is not None
    assert len(slots) == 3
    assert {s.schedule_pk for s in slots} == {schedule.pk}


def test_redirect_to_private_address_refused_before_connecting(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    url = feed(raw, "p")
    raw.routes["/p/slot.ndjson"] = response(302, b"", {"Location": "http://169.254.169.254/slot.ndjson"})
    # The host is allowed by the publisher's entry, so only the address guard stands in the way.
    pid = registry.add_publisher(store, url=url, name="p", allowed_hosts=["169.254.169.254"]).id
    result = sync(store, settings)[pid]
    assert result.outcome == "failed"
    assert "169.254.169.254" in (result.error or "")
    assert "link-local" in (result.error or "")
    assert all("169.254.169.254" not in target for target, _ in raw.requests)


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest", "ftp://127.0.0.1/x", "http://example.org/x"])
def test_redirect_refused_by_policy(store: DiscoveryStore, settings: Settings, raw: RawServer, target: str) -> None:
    url = feed(raw, "p")
    raw.routes["/p/$bulk-publish"] = response(301, b"", {"Location": target})
    pid = registry.add_publisher(store, url=url, name="p", allowed_hosts=["169.254.169.254"]).id
    result = sync(store, settings)[pid]
    assert result.outcome == "failed"
    assert held(store, pid)["Slot"] == 0


def test_output_on_another_origin(
    store: DiscoveryStore, settings: Settings, raw: RawServer, corpus: dict[str, str]
) -> None:
    # The corpus server is another origin (another port) on the same loopback address.
    base = corpus["cvs"].rsplit("/", 1)[0]
    outputs = [("Location", f"{base}/location.ndjson"), ("Schedule", f"{base}/schedule.ndjson")]
    refused_url = raw.manifest("/refused/$bulk-publish", outputs)
    allowed_url = raw.manifest("/allowed/$bulk-publish", outputs)
    refused = registry.add_publisher(store, url=refused_url, name="r").id
    allowed = registry.add_publisher(store, url=allowed_url, name="a", allowed_hosts=["127.0.0.1"]).id
    results = sync(store, settings)
    assert results[refused].outcome == "failed"
    assert "allowed hosts" in (results[refused].error or "")
    assert results[allowed].outcome == "full"
    assert held(store, allowed)["Location"] == 1


def test_loopback_refused_without_allow_private_networks(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    pid = registry.add_publisher(store, url=feed(raw, "p"), name="p").id
    result = sync(store, dataclasses.replace(settings, allow_private_networks=False))[pid]
    assert result.outcome == "failed"
    assert "loopback" in (result.error or "")
    assert raw.requests == []


def test_quirky_feed_accepted_with_warnings(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    link = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"
    cap = "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity"
    lines = [
        slot(0, start="2026-03-01T10:00:00-05", end="2026-03-01T10:30:00-0500")[:-1] + b',"extension":null}',
        slot(1, id="slot_1 x", extension=[{"url": cap, "valueInteger": "4"}, {"url": link, "valueUrl": "tel:123"}]),
        slot(2, status="FREE"),
    ]
    url = feed(raw, "p", lines)
    manifest = orjson.loads(raw.routes["/p/$bulk-publish"].split(b"\r\n\r\n", 1)[1])  # type: ignore[union-attr]
    manifest["output"][2]["extension"] = {"state": "MA"}
    manifest["output"][1]["extension"] = None
    raw.routes["/p/$bulk-publish"] = response(200, orjson.dumps(manifest))
    pid = registry.add_publisher(store, url=url, name="p", states="MA").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full", result.error
    assert result.bad_line_count == 0, result.bad_lines
    assert dict(result.warnings) == {
        "offset-short": 2,
        "extension-null": 1,
        "id-characters": 1,
        "integer-as-string": 1,
        "booking-link-dropped": 1,
        "status-case": 1,
        "manifest-state-string": 1,
        "manifest-extension-null": 1,
    }
    with store.read() as conn:
        rows = {r.source_id: r for r in conn.execute(select(t.slot))}
    assert rows["slot0"].start_ms == rows["slot0"].end_ms - 30 * 60_000
    fixed = next(r for sid, r in rows.items() if sid.startswith("slot-1-x."))
    assert (fixed.capacity, fixed.booking_link) == (4, None)
    assert rows["slot2"].status == "free"

"""Issue 12's "done when": one sync pass over the twelve kinds of broken publisher, beside good ones,
ends within a bound with every good publisher's data loaded and each broken one's trouble recorded.

One pass of the public `SyncEngine` (what `slotlinks sync --once` runs) over: a generated provider
behind the provider app and the recorded real-world corpus (good), and twelve broken feeds on a raw
server: stall, trickle, HTTP 500, truncation, bad UTF-8, a 40 MB line, a gzip bomb, an output on
another origin, a redirect to another origin, `javascript:` booking links, dangling references and
deep nesting. Each broken publisher is checked in its own test against the same pass.

The test shortens the timeouts and the transfer window to one second. With the production defaults
(connect 5 s, read 30 s, at least 1 KiB per 30 s, 8 publishers at once) the same pass ends well
under two minutes: each broken publisher costs at most one bound, and they run side by side.
- stall: the transfer window (30 s; the read timeout is also 30 s) after a connect of at most 5 s;
- trickle: one window, 30 s (a head trickled instead: connect + read = 35 s);
- 500, truncation, cross-origin output, redirect: as long as the few requests take, well under 1 s;
- bad UTF-8, a 40 MB line, `javascript:` links, dangling references, deep nesting: as long as the
  bytes take to arrive and parse (40 MB: about a second on a 400 Mbit/s link, 32 s at 10 Mbit/s);
- gzip bomb: cut at `max_file_bytes` of output (2 GiB: zlib inflates that in a few seconds).
Fourteen publishers on 8 slots take at most two turns of the slowest slot: the two slow ones (stall,
trickle) share the first turn with six others, so the pass lasts about max(35 s, the good loads), and
even two slow turns back to back stay at 70 s, under two minutes.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from slotlinks.config import Settings, sqlite_url
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.discovery.sync import SyncEngine
from tests.discovery.conftest import RawServer, held, response, run_provider, serve_raw
from tests.discovery.test_sync_failures import LOC, feed, slot, trickle, truncated

# The pass must end within this many seconds; the trickle alone would last 300 s.
BOUND_SECONDS = 60
BOOKING_DEEP_LINK = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"


SCHEDULE = {"resourceType": "Schedule", "id": "sch1", "actor": [{"reference": "Location/loc1"}]}


def nested_location(depth: int) -> bytes:
    """A Location line whose extension nests `depth` extension arrays (written out by hand: orjson
    refuses to encode more than 255 levels)."""
    head = b'{"url":"http://example.org/nest","extension":['
    leaf = b'{"url":"http://example.org/leaf","valueString":"x"}'
    nested = head * (depth - 1) + leaf + b"]}" * (depth - 1)
    return b'{"resourceType":"Location","id":"deep","name":"Deep","extension":[' + nested + b"]}"


# Each breaker serves publisher `p` broken in one way; `other` is another origin on 127.0.0.1.
def stall(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p)
    raw.stall(f"/{p}/slot.ndjson")


def trickling(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p)
    trickle(raw, f"/{p}/slot.ndjson", seconds=300)


def http_500(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p)
    raw.routes[f"/{p}/$bulk-publish"] = response(500, b"oops")


def truncation(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p)
    truncated(raw, p)


def bad_utf8(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p, [slot(0), b'{"resourceType":"Slot","id":"slot1","comment":"caf\xe9"}', slot(2)])


def huge_line(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p, [slot(0), slot(1, comment="x" * (40 * 1024 * 1024)), slot(2)])


def gzip_bomb(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p)
    body = gzip.compress(bytes(96 * 1024 * 1024), 6)  # inflates past the test's 64 MiB max_file_bytes
    raw.routes[f"/{p}/slot.ndjson"] = response(200, body, {"Content-Encoding": "gzip"})


def cross_origin_output(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p)
    raw.manifest(f"/{p}/$bulk-publish", [("Location", f"{other}/location.ndjson"), ("Schedule", f"/{p}/sch.ndjson")])


def redirect_elsewhere(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p)
    raw.routes[f"/{p}/slot.ndjson"] = response(302, b"", {"Location": f"{other}/slot.ndjson"})


def javascript_links(raw: RawServer, p: str, other: str) -> None:
    link = {"url": BOOKING_DEEP_LINK, "valueUrl": "javascript:alert(document.cookie)"}
    feed(raw, p, [slot(0), slot(1, extension=[link]), slot(2)])


def dangling_references(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p, [slot(0), slot(1, schedule={"reference": "Schedule/nowhere"}), slot(2)])
    orphan = {"resourceType": "Schedule", "id": "sch2", "actor": [{"reference": "Location/gone"}]}
    raw.file(f"/{p}/sch.ndjson", [orjson.dumps(SCHEDULE), orjson.dumps(orphan)])


def deep_nesting(raw: RawServer, p: str, other: str) -> None:
    feed(raw, p)
    raw.file(f"/{p}/loc.ndjson", [nested_location(5000), orjson.dumps(LOC)])


BREAKERS: dict[str, Callable[[RawServer, str, str], None]] = {
    "stall": stall,
    "trickle": trickling,
    "HTTP 500": http_500,
    "truncation": truncation,
    "bad UTF-8": bad_utf8,
    "40 MB line": huge_line,
    "gzip bomb": gzip_bomb,
    "cross-origin output": cross_origin_output,
    "redirect to another origin": redirect_elsewhere,
    "javascript: links": javascript_links,
    "dangling references": dangling_references,
    "deep nesting": deep_nesting,
}


@dataclass
class Pass:
    store: DiscoveryStore
    raw: RawServer
    seconds: float
    results: dict[int, Any]
    ids: dict[str, int]  # publisher name -> id
    good: dict[str, int]  # good publisher name -> the Slots it publishes


@pytest.fixture(scope="module")
def one_pass(tmp_path_factory: pytest.TempPathFactory, corpus: dict[str, str]) -> Iterator[Pass]:
    tmp = tmp_path_factory.mktemp("broken")
    store = open_store(sqlite_url(tmp / "discovery.db"))
    settings = Settings(
        data_dir=tmp / "data",
        allow_private_networks=True,
        connect_timeout=1.0,
        read_timeout=1.0,
        min_transfer_bytes=1024,
        min_transfer_window_seconds=1.0,
        max_file_bytes=64 * 1024 * 1024,
    )
    other = corpus["cvs"].rsplit("/", 1)[0]  # the corpus server: another origin on the same address
    with serve_raw() as raw, run_provider(tmp, "provider") as provider:
        ids = {"provider": registry.add_publisher(store, url=provider.manifest_url, name="provider").id}
        ids["corpus"] = registry.add_publisher(store, url=corpus["cvs"], name="corpus").id
        for n, (kind, breaker) in enumerate(BREAKERS.items()):
            breaker(raw, f"b{n}", other)
            ids[kind] = registry.add_publisher(store, url=raw.url(f"/b{n}/$bulk-publish"), name=kind).id
        began = time.monotonic()
        results = asyncio.run(SyncEngine(store, settings).sync_once(force=True))
        seconds = time.monotonic() - began
        good = {"provider": provider.counts["Slot"], "corpus": 2}
        yield Pass(store, raw, seconds, {r.publisher_id: r for r in results}, ids, good)
    store.dispose()


def test_the_pass_ends_within_the_bound_with_every_good_publisher_loaded(one_pass: Pass) -> None:
    assert one_pass.seconds < BOUND_SECONDS
    assert len(one_pass.results) == 2 + len(BREAKERS)
    for name, slots in one_pass.good.items():
        result = one_pass.results[one_pass.ids[name]]
        assert (result.outcome, result.error, result.bad_line_count) == ("full", None, 0)
        assert held(one_pass.store, one_pass.ids[name])["Slot"] == slots


def bad_lines(one_pass: Pass, kind: str) -> list[Any]:
    with one_pass.store.read() as conn:
        return list(conn.execute(select(t.bad_line).where(t.bad_line.c.publisher_id == one_pass.ids[kind])))


FAILS_WITH = {
    "stall": ("/slot.ndjson", ("too slow", "timed out")),
    "trickle": ("/slot.ndjson", ("too slow",)),
    "HTTP 500": ("/$bulk-publish", ("HTTP 500",)),
    "truncation": ("/slot.ndjson", ("download failed",)),
    "gzip bomb": ("/slot.ndjson", ("after decompression",)),
    "cross-origin output": ("/location.ndjson", ("allowed hosts",)),
    "redirect to another origin": ("/slot.ndjson", ("redirect target",)),
}


@pytest.mark.parametrize("kind", list(FAILS_WITH))
def test_a_broken_publisher_fails_with_a_clear_recorded_error(one_pass: Pass, kind: str) -> None:
    where, phrases = FAILS_WITH[kind]
    result = one_pass.results[one_pass.ids[kind]]
    assert result.outcome == "failed"
    assert result.error is not None
    assert where in result.error, result.error
    assert any(phrase in result.error for phrase in phrases), result.error
    info = registry.get_publisher(one_pass.store, one_pass.ids[kind])
    assert (info.last_error, info.last_outcome) == (result.error, "failed")


# A bad line is one bad line: recorded with its file and number, the publisher's other lines loaded.
BAD_LINES = {
    "bad UTF-8": ("/slot.ndjson", 2, {"Location": 1, "Schedule": 1, "Slot": 2}),
    "40 MB line": ("/slot.ndjson", 2, {"Location": 1, "Schedule": 1, "Slot": 2}),
    "deep nesting": ("/loc.ndjson", 1, {"Location": 1, "Schedule": 1, "Slot": 3}),
}


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_a_bad_line_is_recorded_and_the_rest_loaded(one_pass: Pass, kind: str) -> None:
    file, line, counts = BAD_LINES[kind]
    result = one_pass.results[one_pass.ids[kind]]
    assert result.outcome == "full", result.error
    recorded = [(b.file_url.rsplit("/", 1)[-1], b.line, b.message) for b in bad_lines(one_pass, kind)]
    assert (file[1:], line) in [(f, n) for f, n, _ in recorded], recorded
    assert all(message for _, _, message in recorded)
    assert {k: v for k, v in held(one_pass.store, one_pass.ids[kind]).items() if k in counts} == counts


def test_javascript_links_are_dropped_and_counted(one_pass: Pass) -> None:
    pid = one_pass.ids["javascript: links"]
    result = one_pass.results[pid]
    assert result.outcome == "full", result.error
    assert result.warnings["booking-link-dropped"] == 1
    assert held(one_pass.store, pid)["Slot"] == 3
    with one_pass.store.read() as conn:
        links = conn.execute(select(t.slot.c.booking_link).where(t.slot.c.publisher_id == pid)).scalars().all()
    assert not any("javascript" in (link or "") for link in links)


def test_dangling_references_are_counted_and_the_rest_loaded(one_pass: Pass) -> None:
    pid = one_pass.ids["dangling references"]
    result = one_pass.results[pid]
    assert result.outcome == "full", result.error
    assert {k: result.warnings[k] for k in ("dangling-schedule", "dangling-location")} == {
        "dangling-schedule": 1,
        "dangling-location": 1,
    }
    with one_pass.store.read() as conn:
        run = conn.execute(select(t.sync_run).where(t.sync_run.c.publisher_id == pid)).one()
    assert orjson.loads(run.warning_kinds) == {"dangling-location": 1, "dangling-schedule": 1}
    assert held(one_pass.store, pid) == {**held(one_pass.store, pid), "Location": 1, "Schedule": 2, "Slot": 3}

"""One poll of one publisher: ask for its `$bulk-publish` manifest, tell what kind of answer it is,
load what changed, and record the run.

Specification, "Bulk Publication": clients SHOULD honour `Cache-Control: max-age` and SHOULD NOT poll
more than once a minute (`min_poll_seconds`); MAY send `If-None-Match`/`If-Modified-Since`; MAY send
`_since=<last transactionTime>`, which servers may ignore. Our rule for telling the two apart:

    A load is *incremental* only when we sent `_since` and the manifest's `request` URL carries a
    `_since` parameter (the server says it answered that question). Otherwise it is a *full* data
    set, which replaces the publisher's data atomically (new generation, then flip). A full set whose
    `transactionTime` equals the one we already hold is the same publication: not-modified.

A full load streams each output file through ingest (ingest/__init__.py follows one line) and writes
its batches through the engine's `LoadWriter`; an incremental load spools its resources and applies
them in one transaction. A poll that fails keeps the publisher's last good data and backs off
exponentially. Every poll records a `sync_run` row (and its bad lines).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import msgspec
import orjson
from sqlalchemy import Row, update

from slotlinks.config import Settings
from slotlinks.discovery.ingest.generation import TABLES, GenerationWriter, LineReader, NumberedLine
from slotlinks.discovery.ingest.incremental import Spool, apply_incremental
from slotlinks.discovery.ingest.loadwriter import LoadWriter
from slotlinks.discovery.ingest.partitions import (
    attach_sql,
    create_load_table,
    index_load_table,
    load_key,
    partitioned,
    pk_range,
)
from slotlinks.discovery.ingest.quirks import Warnings, read_manifest, read_resource
from slotlinks.discovery.ingest.resolve import (
    ChangeCounts,
    carry_unchanged_stamps,
    dangling_references,
    diff_generations,
    discard_other_generations,
    flip_generation,
    resolve_generation,
    take_generation,
)
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync.fetcher import Fetcher
from slotlinks.discovery.sync.leases import Guard, unguarded
from slotlinks.discovery.sync.result import SyncResult, record_run
from slotlinks.errors import FetchError, InvalidInput, SlotlinksError
from slotlinks.fhir.manifest import Manifest, validate_manifest
from slotlinks.fhir.ndjson import LineError
from slotlinks.fhir.resources import Resource
from slotlinks.net.guard import UrlPolicy

__all__ = [
    "DEFAULT_DEADLINE_SECONDS",
    "DEFAULT_INTERVAL_SECONDS",
    "MAX_BACKOFF_SECONDS",
    "max_age_of",
    "poll_publisher",
]

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_SECONDS = 900.0
DEFAULT_INTERVAL_SECONDS = 300
MAX_BACKOFF_SECONDS = 6 * 3600
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?([0-9]+)", re.IGNORECASE)


def max_age_of(headers: Any) -> int | None:
    """The `max-age` of a response's `Cache-Control` header, if it has one."""
    m = _MAX_AGE.search(headers.get("cache-control", "") or "")
    return int(m.group(1)) if m else None


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _wanted(states: Sequence[str], output_states: Sequence[str]) -> bool:
    """Outputs without a state hint are always fetched; otherwise they must meet our states."""
    if not states or not output_states:
        return True
    return bool({s.upper() for s in states} & {s.upper() for s in output_states})


def _with_since(url: str, since: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}_since={quote(since, safe=':')}"


def _is_incremental(manifest: Manifest) -> bool:
    return "_since" in parse_qs(urlsplit(manifest.request).query)


class _Poll:
    """One poll of one publisher: state in, a result and the publisher's new polling state out."""

    def __init__(
        self,
        store: DiscoveryStore,
        settings: Settings,
        fetcher: Fetcher,
        pub: Row[Any],
        loads: LoadWriter,
        guard: Guard,
    ) -> None:
        self.store, self.settings, self.fetcher, self.pub, self.loads = store, settings, fetcher, pub, loads
        self.guard = guard
        self.result = SyncResult(pub.id, started_ms=store.now_ms(), http_statuses=fetcher.statuses)
        self.state: dict[str, Any] = {}

    def interval(self, max_age: int | None) -> int:
        return max(self.settings.min_poll_seconds, DEFAULT_INTERVAL_SECONDS if max_age is None else max_age)

    async def run(self) -> None:
        pub = self.pub
        since = pub.transaction_time if pub.generation > 0 and pub.transaction_time else None
        conditional = {}
        if pub.etag:
            conditional["If-None-Match"] = pub.etag
        if pub.last_modified:
            conditional["If-Modified-Since"] = pub.last_modified
        url = _with_since(pub.url, since) if since else pub.url
        response = await self.fetcher.manifest(url, conditional=conditional)
        max_age = max_age_of(response.headers)
        now = self.store.now_ms()
        self.state = {
            "max_age": max_age,
            "failures": 0,
            "last_error": None,
            "last_success_ms": now,
            "next_poll_ms": now + 1000 * self.interval(max_age),
        }
        if response.status == 304:
            self.result.outcome = "not-modified"
            return
        self.state["etag"] = response.headers.get("etag")
        self.state["last_modified"] = response.headers.get("last-modified")
        try:
            manifest = read_manifest(response.body, self.result.warnings)
        except (msgspec.MsgspecError, orjson.JSONDecodeError) as exc:
            raise InvalidInput(f"the manifest is not valid: {exc}") from exc
        errors = [i for i in validate_manifest(manifest) if i.severity == "error" and "transactionTime" in i.expression]
        if errors:
            raise InvalidInput(f"the manifest is not valid: {errors[0].diagnostics}")
        self.state["transaction_time"] = manifest.transactionTime
        states = _split(pub.states or "")
        outputs = [o for o in manifest.output if o.type in TABLES and _wanted(states, o.states)]
        if since is not None and _is_incremental(manifest):
            await self._incremental(outputs)
        elif pub.generation > 0 and manifest.transactionTime == pub.transaction_time:
            self.result.outcome = "not-modified"
        else:
            await self._full(outputs)

    def _reader(self, url: str, rtype: str) -> LineReader:
        """Reads one line of the file at `url` leniently; records a bad line and answers None for it."""
        result, warnings = self.result, self.result.warnings

        def read(item: NumberedLine | LineError) -> tuple[Resource, bytes] | None:
            got = item if isinstance(item, LineError) else read_resource(rtype, item[0], item[1], warnings)
            if isinstance(got, LineError):
                result.bad(url, got)
                return None
            return got

        return read

    async def _resources(self, outputs: list[Any]) -> AsyncIterator[list[tuple[Resource, bytes]]]:
        """The good resources of the outputs, as lists of (resource, normalized JSON), one list per
        chunk downloaded; bad lines are recorded."""
        for output in outputs:
            read = self._reader(output.url, output.type)
            async for lines in self.fetcher.lines(output.url):
                yield [got for item in lines if (got := read(item)) is not None]

    async def _full(self, outputs: list[Any]) -> None:
        pub, store, loads, guard = self.pub, self.store, self.loads, self.guard
        old, by_partition = pub.generation, partitioned(store.engine)

        def discard(keep: int) -> None:
            with loads.transaction() as conn:
                guard(conn)
                discard_other_generations(conn, pub.id, keep)

        def begin() -> GenerationWriter:
            with loads.transaction() as conn:
                guard(conn)
                new = take_generation(conn, pub.id)
                discard_other_generations(conn, pub.id, old)
                if not by_partition:
                    return GenerationWriter(pub.id, new, store.now_ms())
                slots = create_load_table(conn, pub.id, new)
            return GenerationWriter(pub.id, new, store.now_ms(), slot_table=slots, load_key=load_key(pub.id, new))

        writer = await asyncio.to_thread(begin)
        new, slots = writer.generation, writer.slot_table
        # One batch is written (in a worker thread) while the next is read; more in flight took memory
        # without making loads faster.
        writing: asyncio.Future[None] | None = None
        async with loads.session():
            try:
                for output in outputs:
                    read = self._reader(output.url, output.type)
                    async for lines in self.fetcher.lines(output.url):
                        if writer.add_lines(output.type, lines, read):
                            if writing is not None:
                                await writing
                            writing = asyncio.ensure_future(loads.write(writer, writer.take()))
                if writing is not None:
                    await writing
                writing = None
                await loads.write(writer, writer.take())
            except BaseException:
                loads.withdraw(writer)
                if writing is not None:  # let the batch in flight end before its rows are discarded
                    await asyncio.shield(_settle(writing))
                await asyncio.shield(asyncio.to_thread(discard, old))
                raise
        await self._keep_since_validators()

        def finish() -> ChangeCounts:
            with loads.transaction() as conn:
                guard(conn)
                resolve_generation(conn, pub.id, new, resolve_slots=not writer.slots_resolved, slots=slots)
                self.result.warnings.update(dangling_references(conn, pub.id, new, slots=slots))
                counts = diff_generations(conn, pub.id, old, new, slots=slots)
                carry_unchanged_stamps(conn, pub.id, old, new, slots=slots)
            pks: dict[str, int | None] = {}
            if by_partition:
                # After the stamps: rewriting unchanged rows then touches no index. The load's own
                # table, which nothing else uses: no turn, no guard.
                with store.write() as conn:
                    index_load_table(conn, slots)
                    pks["slot_pk_low"], pks["slot_pk_high"] = pk_range(conn, slots)
            with loads.transaction() as conn:
                guard(conn)
                if by_partition:
                    conn.exec_driver_sql(attach_sql(slots, pub.id, new))
                flip_generation(conn, pub.id, new, **self.state, **pks)
            discard(new)
            return counts

        self.result.counts = await asyncio.to_thread(finish)
        self.result.outcome = "full"
        self.state = {}  # already written with the flip

    async def _keep_since_validators(self) -> None:
        """Fetch the `_since` manifest the next poll will ask for and keep its validators instead of
        those of the manifest just read, so that poll can be answered 304 when nothing changed.

        The next poll asks for `_since=<transactionTime just read>`, a different URL (and ETag) than
        this poll's. Kept only when the answer is about the same data set (the same transactionTime);
        on any failure the validators just read stay, which costs no more than a full answer later.
        """
        since = self.state.get("transaction_time")
        if not since or (self.pub.generation > 0 and since == self.pub.transaction_time):
            return  # this poll already asked for that URL (or nothing will)
        try:
            response = await self.fetcher.manifest(_with_since(self.pub.url, since))
            if response.status != 200:
                return
            manifest = read_manifest(response.body, Warnings())
        except (SlotlinksError, httpx.HTTPError, OSError, msgspec.MsgspecError, ValueError):
            return
        etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
        if manifest.transactionTime == since and (etag or last_modified):
            self.state["etag"], self.state["last_modified"] = etag, last_modified

    async def _incremental(self, outputs: list[Any]) -> None:
        pub, store = self.pub, self.store
        with Spool.temporary() as spool:
            async for batch in self._resources(outputs):
                spool.add(batch)
            await self._keep_since_validators()

            def apply() -> ChangeCounts:
                # In turn with the other loads' writes: on SQLite, twenty publishers' applies waiting
                # on the database's lock slept in growing steps for most of an incremental round.
                with self.loads.transaction() as conn:
                    self.guard(conn)
                    counts = apply_incremental(conn, pub.id, pub.generation, spool, store.now_ms())
                    conn.execute(update(t.publisher).where(t.publisher.c.id == pub.id).values(**self.state))
                return counts

            self.result.counts = await asyncio.to_thread(apply)
        self.result.outcome = "incremental"
        self.state = {}


async def _settle(future: asyncio.Future[None]) -> None:
    """Wait for `future` to end, whatever its outcome (its exception, if any, counts as seen)."""
    await asyncio.wait([future])
    if not future.cancelled():
        future.exception()


async def poll_publisher(
    store: DiscoveryStore,
    settings: Settings,
    client: httpx.AsyncClient,
    publisher: Row[Any],
    *,
    loads: LoadWriter,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    guard: Guard = unguarded,
) -> SyncResult:
    """Poll one publisher once (whatever its schedule), load what changed and record the run; a full
    load writes through `loads`. The publisher's faults never raise: they end as a failed run. `guard`
    runs in every transaction that changes the publisher's data or state (sync/leases.py); what it
    raises (`LeaseLost`) ends the poll with nothing more written, not even the run."""
    policy = UrlPolicy.for_publisher(publisher.url, _split(publisher.allowed_hosts or ""))
    poll = _Poll(store, settings, Fetcher(client, settings, policy), publisher, loads, guard)
    began = time.monotonic()
    try:
        async with asyncio.timeout(deadline_seconds):
            await poll.run()
    except (SlotlinksError, TimeoutError, FetchError, OSError, httpx.HTTPError) as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            message = f"the sync took longer than its {deadline_seconds:g} s deadline"
        poll.result.outcome, poll.result.error = "failed", message
    except Exception as exc:  # a bug or an unexpected failure must not stop the other publishers
        log.exception("sync of publisher %s failed", publisher.id)
        poll.result.outcome, poll.result.error = "failed", f"{type(exc).__name__}: {exc}"
    now = store.now_ms()
    if poll.result.outcome == "failed":
        failures = int(publisher.failures or 0) + 1
        backoff = min(settings.min_poll_seconds * 2 ** min(failures - 1, 16), MAX_BACKOFF_SECONDS)
        poll.state = {
            "failures": failures,
            "last_error": poll.result.error,
            "next_poll_ms": now + 1000 * max(backoff, settings.min_poll_seconds),
        }
    poll.state["last_attempt_ms"] = poll.result.started_ms
    poll.result.duration_ms = int((time.monotonic() - began) * 1000)
    await asyncio.to_thread(record_run, store, poll.result, poll.state, guard)
    return poll.result

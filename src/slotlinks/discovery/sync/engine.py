"""The sync engine: poll every publisher's `$bulk-publish`, load what changed, record each run.

Specification, "Bulk Publication": clients SHOULD honour `Cache-Control: max-age` and SHOULD NOT poll
more than once a minute (`min_poll_seconds`); MAY send `If-None-Match`/`If-Modified-Since`; MAY send
`_since=<last transactionTime>`, which servers may ignore. Our rule for telling the two apart:

    A load is *incremental* only when we sent `_since` and the manifest's `request` URL carries a
    `_since` parameter (the server says it answered that question). Otherwise it is a *full* data
    set, which replaces the publisher's data atomically (new generation, then flip). A full set whose
    `transactionTime` equals the one we already hold is the same publication: not-modified.

Publishers are polled concurrently (at most `sync_concurrency` at once), each within an overall
deadline, so a stalled one never holds up the others. A failing publisher keeps its last good data
and backs off exponentially. Every poll records a `sync_run` row (and its bad lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import msgspec
import orjson
from sqlalchemy import Row, insert, select, update

from slotlinks.config import Settings
from slotlinks.discovery import ingest
from slotlinks.discovery.ingest.generation import NumberedLine
from slotlinks.discovery.ingest.loadwriter import batch_writer, load_write
from slotlinks.discovery.ingest.quirks import Warnings, read_manifest, read_resource
from slotlinks.discovery.referrals.outcomes import refresh_pending
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync.fetcher import Fetcher, make_client
from slotlinks.errors import FetchError, InvalidInput, SlotlinksError
from slotlinks.fhir.manifest import Manifest, validate_manifest
from slotlinks.fhir.ndjson import LineError
from slotlinks.fhir.resources import Resource
from slotlinks.net.guard import UrlPolicy

__all__ = ["DEFAULT_DEADLINE_SECONDS", "SyncResult", "run_forever", "sync_once", "sync_publisher"]

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_SECONDS = 900.0
DEFAULT_INTERVAL_SECONDS = 300
MAX_BACKOFF_SECONDS = 6 * 3600
MAX_BAD_LINES_KEPT = 1000
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?([0-9]+)", re.IGNORECASE)
_ACTIVE: set[tuple[int, int]] = set()  # (id(store), publisher id) being synced in this process


@dataclass(slots=True)
class SyncResult:
    """What one poll of one publisher did (the `sync_run` row, plus its id)."""

    publisher_id: int
    outcome: str = "failed"  # full | incremental | not-modified | failed
    started_ms: int = 0
    duration_ms: int = 0
    http_statuses: dict[str, int] = field(default_factory=dict)
    counts: ingest.ChangeCounts = field(default_factory=ingest.ChangeCounts)
    bad_lines: list[tuple[str, LineError]] = field(default_factory=list)
    bad_line_count: int = 0
    warnings: Warnings = field(default_factory=Warnings)
    error: str | None = None
    run_id: int | None = None

    def bad(self, url: str, error: LineError) -> None:
        self.bad_line_count += 1
        if len(self.bad_lines) < MAX_BAD_LINES_KEPT:
            self.bad_lines.append((url, error))


def max_age_of(headers: Any) -> int | None:
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


class _Load:
    """One poll of one publisher: state in, a result and the publisher's new polling state out."""

    def __init__(self, store: DiscoveryStore, settings: Settings, fetcher: Fetcher, pub: Row[Any]) -> None:
        self.store, self.settings, self.fetcher, self.pub = store, settings, fetcher, pub
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
        outputs = [o for o in manifest.output if o.type in ingest.TABLES and _wanted(states, o.states)]
        if since is not None and _is_incremental(manifest):
            await self._incremental(outputs)
        elif pub.generation > 0 and manifest.transactionTime == pub.transaction_time:
            self.result.outcome = "not-modified"
        else:
            await self._full(outputs)

    def _reader(self, url: str, rtype: str) -> ingest.LineReader:
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
        pub, store = self.pub, self.store
        old, new = pub.generation, pub.generation + 1
        writer = ingest.GenerationWriter(pub.id, new, store.now_ms())
        batches = batch_writer(store)

        def discard(keep: int) -> None:
            with load_write(store) as conn:
                ingest.discard_other_generations(conn, pub.id, keep)

        await asyncio.to_thread(discard, old)
        # One batch is written (in a worker thread) while the next is read; more in flight took memory
        # without making loads faster.
        writing: asyncio.Future[None] | None = None
        async with batches.session():
            try:
                with _loading():
                    for output in outputs:
                        read = self._reader(output.url, output.type)
                        async for lines in self.fetcher.lines(output.url):
                            if writer.add_lines(output.type, lines, read):
                                if writing is not None:
                                    await writing
                                writing = asyncio.ensure_future(batches.write(writer, writer.take()))
                    if writing is not None:
                        await writing
                    writing = None
                    await batches.write(writer, writer.take())
            except BaseException:
                batches.withdraw(writer)
                if writing is not None:  # let the batch in flight end before its rows are discarded
                    await asyncio.shield(_settle(writing))
                await asyncio.shield(asyncio.to_thread(discard, old))
                raise
        await self._keep_since_validators()

        def finish() -> ingest.ChangeCounts:
            with load_write(store) as conn:
                ingest.resolve_generation(conn, pub.id, new, only_unresolved=writer.slots_resolved)
                counts = ingest.diff_generations(conn, pub.id, old, new)
                ingest.carry_unchanged_stamps(conn, pub.id, old, new)
            with load_write(store) as conn:
                ingest.flip_generation(conn, pub.id, new, **self.state)
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
        with ingest.Spool.temporary() as spool:
            async for batch in self._resources(outputs):
                spool.add(batch)
            await self._keep_since_validators()

            def apply() -> ingest.ChangeCounts:
                with store.write() as conn:
                    counts = ingest.apply_incremental(conn, pub.id, pub.generation, spool, store.now_ms())
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


_LOADS_RUNNING = 0
_LOADS_GUARD = threading.Lock()
_SAVED_SWITCH_INTERVAL = 0.005
#: The thread switch interval while loads run (CPython's default is 5 ms).
LOAD_SWITCH_INTERVAL = 0.001


@contextmanager
def _loading() -> Iterator[None]:
    """Process-wide settings for the time loads read and write; the first load in sets them, the
    last one out restores them.

    - A load's writer thread needs the GIL briefly around each INSERT (binding values, then again
      when SQLite returns) while the reading thread parses and hardly ever lets go; at CPython's
      default switch interval (5 ms) the writer waits up to that long each time, and a full load's
      writes took a quarter longer. A shorter interval hands the GIL over sooner.
    - Reading a large feed makes and drops objects by the million, so the collector runs often; its
      full passes would otherwise walk every long-lived object of the process (modules, the web
      app) each time, which costs a large load seconds. `gc.freeze` sets those aside; nothing is
      lost, garbage among them is merely collected later.
    """
    global _LOADS_RUNNING, _SAVED_SWITCH_INTERVAL
    with _LOADS_GUARD:
        if _LOADS_RUNNING == 0:
            gc.freeze()
            _SAVED_SWITCH_INTERVAL = sys.getswitchinterval()
            sys.setswitchinterval(min(LOAD_SWITCH_INTERVAL, _SAVED_SWITCH_INTERVAL))
        _LOADS_RUNNING += 1
    try:
        yield
    finally:
        with _LOADS_GUARD:
            _LOADS_RUNNING -= 1
            if _LOADS_RUNNING == 0:
                sys.setswitchinterval(_SAVED_SWITCH_INTERVAL)
                gc.unfreeze()


def _record(store: DiscoveryStore, result: SyncResult, state: dict[str, Any]) -> None:
    with store.write() as conn:
        if state:
            conn.execute(update(t.publisher).where(t.publisher.c.id == result.publisher_id).values(**state))
        run_id = conn.execute(
            insert(t.sync_run)
            .values(
                publisher_id=result.publisher_id,
                started_ms=result.started_ms,
                duration_ms=result.duration_ms,
                outcome=result.outcome,
                http_statuses=orjson.dumps(result.http_statuses).decode(),
                added=result.counts.added,
                changed=result.counts.changed,
                removed=result.counts.removed,
                bad_lines=result.bad_line_count,
                warnings=sum(result.warnings.values()),
                warning_kinds=orjson.dumps(dict(sorted(result.warnings.items()))).decode(),
                error=result.error,
            )
            .returning(t.sync_run.c.id)
        ).scalar_one()
        rows = [
            {
                "run_id": run_id,
                "publisher_id": result.publisher_id,
                "file_url": url,
                "line": e.line,
                "path": e.path,
                "message": e.message,
            }
            for url, e in result.bad_lines
        ]
        if rows:
            conn.execute(insert(t.bad_line), rows)
    result.run_id = int(run_id)


async def sync_publisher(
    store: DiscoveryStore,
    settings: Settings,
    client: httpx.AsyncClient,
    publisher: Row[Any],
    *,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
) -> SyncResult:
    """Poll one publisher once (whatever its schedule), load what changed and record the run."""
    policy = UrlPolicy.for_publisher(publisher.url, _split(publisher.allowed_hosts or ""))
    load = _Load(store, settings, Fetcher(client, settings, policy), publisher)
    began = time.monotonic()
    try:
        async with asyncio.timeout(deadline_seconds):
            await load.run()
    except (SlotlinksError, TimeoutError, FetchError, OSError, httpx.HTTPError) as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            message = f"the sync took longer than its {deadline_seconds:g} s deadline"
        load.result.outcome, load.result.error = "failed", message
    except Exception as exc:  # a bug or an unexpected failure must not stop the other publishers
        log.exception("sync of publisher %s failed", publisher.id)
        load.result.outcome, load.result.error = "failed", f"{type(exc).__name__}: {exc}"
    now = store.now_ms()
    if load.result.outcome == "failed":
        failures = int(publisher.failures or 0) + 1
        backoff = min(settings.min_poll_seconds * 2 ** min(failures - 1, 16), MAX_BACKOFF_SECONDS)
        load.state = {
            "failures": failures,
            "last_error": load.result.error,
            "next_poll_ms": now + 1000 * max(backoff, settings.min_poll_seconds),
        }
    load.state["last_attempt_ms"] = load.result.started_ms
    load.result.duration_ms = int((time.monotonic() - began) * 1000)
    await asyncio.to_thread(_record, store, load.result, load.state)
    return load.result


def _due(store: DiscoveryStore, *, force: bool, only: Sequence[int] | None) -> list[Row[Any]]:
    p = t.publisher.c
    query = select(t.publisher).where(p.paused.is_(False)).order_by(p.id)
    if not force:
        query = query.where(p.next_poll_ms <= store.now_ms())
    if only is not None:
        query = query.where(p.id.in_(list(only)))
    with store.read() as conn:
        return list(conn.execute(query))


async def _guarded(
    store: DiscoveryStore,
    settings: Settings,
    client: httpx.AsyncClient,
    pub: Row[Any],
    limit: asyncio.Semaphore,
    deadline_seconds: float,
) -> SyncResult | None:
    key = (id(store), int(pub.id))
    if key in _ACTIVE:
        return None
    _ACTIVE.add(key)
    try:
        async with limit:
            return await sync_publisher(store, settings, client, pub, deadline_seconds=deadline_seconds)
    finally:
        _ACTIVE.discard(key)


async def sync_once(
    store: DiscoveryStore,
    settings: Settings,
    *,
    force: bool = False,
    publisher_ids: Sequence[int] | None = None,
    client: httpx.AsyncClient | None = None,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
) -> list[SyncResult]:
    """One pass: poll every unpaused publisher that is due (all of them with `force`), concurrently."""
    publishers = await asyncio.to_thread(_due, store, force=force, only=publisher_ids)
    limit = asyncio.Semaphore(max(1, settings.sync_concurrency))
    own = client is None
    http = client or make_client(settings)
    try:
        results = await asyncio.gather(
            *(_guarded(store, settings, http, pub, limit, deadline_seconds) for pub in publishers)
        )
    finally:
        if own:
            await http.aclose()
    return [r for r in results if r is not None]


def _forget(running: dict[int, Any], publisher_id: int) -> Any:
    def done(_task: object) -> None:
        running.pop(publisher_id, None)

    return done


async def _refresh_outcomes(store: DiscoveryStore, settings: Settings) -> None:
    try:
        await refresh_pending(store, settings, limit=20)
    except Exception:  # a portal's trouble must never stop polling
        log.exception("could not refresh referral outcomes")


async def run_forever(
    store: DiscoveryStore,
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    tick_seconds: float = 5.0,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
) -> None:
    """Poll publishers as they fall due until `stop` is set; each runs as its own task, so a slow
    publisher never delays another's turn."""
    stop = stop or asyncio.Event()
    limit = asyncio.Semaphore(max(1, settings.sync_concurrency))
    running: dict[int, asyncio.Task[SyncResult | None]] = {}
    async with make_client(settings) as client:
        try:
            while not stop.is_set():
                for pub in await asyncio.to_thread(_due, store, force=False, only=None):
                    if pub.id not in running:
                        task = asyncio.create_task(_guarded(store, settings, client, pub, limit, deadline_seconds))
                        running[pub.id] = task
                        task.add_done_callback(_forget(running, int(pub.id)))
                # Ask portals what became of recent referrals, so results and badges stay true.
                await _refresh_outcomes(store, settings)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), tick_seconds)
        finally:
            for task in list(running.values()):
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)

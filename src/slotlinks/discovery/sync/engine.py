"""The sync engine: polls every publisher as it falls due, at most `sync_concurrency` at once, each
within an overall deadline, so a stalled one never holds up the others.

One `SyncEngine` per process and store, built by whoever runs the process: the discovery app factory
(the background loop, and the admin API's "sync now"), `slotlinks sync`, the benchmark. It owns what
syncing takes beyond the store: which publishers it is polling (one is never polled twice at once)
and the `LoadWriter` its full loads share (their turn at the store, their connection and its
checkpoint thread). It changes nothing of the process it runs in (no collector or thread-switch
settings), so a web server can run it beside its requests.

Beside polling, the engine keeps the referral table to its retention (`referral_retention_days`):
after a pass and on the background loop's ticks, at most once every `PRUNE_EVERY_SECONDS`.

Each poll of one publisher is sync/poll.py's; the sync/__init__.py docstring maps the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from sqlalchemy import Row, select

from slotlinks.config import Settings
from slotlinks.discovery.ingest.loadwriter import LoadWriter
from slotlinks.discovery.referrals.deeplinks import prune_referrals
from slotlinks.discovery.referrals.outcomes import refresh_pending
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync.fetcher import make_client
from slotlinks.discovery.sync.poll import DEFAULT_DEADLINE_SECONDS, poll_publisher
from slotlinks.discovery.sync.result import SyncResult

__all__ = ["DEFAULT_DEADLINE_SECONDS", "SyncEngine"]

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600


class SyncEngine:
    """Polls the publishers of `store`; see the module docstring for what it owns."""

    def __init__(
        self, store: DiscoveryStore, settings: Settings, *, on_change: Callable[[int], None] | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        # Told the publisher's id when a poll added or changed its rows (the alerts' "slots changed").
        self.on_change = on_change
        self._loads = LoadWriter(store)
        self._polling: set[int] = set()  # publisher ids
        self._polling_guard = threading.Lock()
        self._pruned_ms: int | None = None

    async def sync_once(
        self,
        *,
        force: bool = False,
        publisher_ids: Sequence[int] | None = None,
        client: httpx.AsyncClient | None = None,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    ) -> list[SyncResult]:
        """One pass: poll every unpaused publisher that is due (all of them with `force`), concurrently.
        A publisher this engine is polling already is left out of the pass (and of its results)."""
        publishers = await asyncio.to_thread(self._due, force=force, only=publisher_ids)
        limit = asyncio.Semaphore(max(1, self.settings.sync_concurrency))
        own = client is None
        http = client or make_client(self.settings)
        try:
            results = await asyncio.gather(*(self._poll(http, pub, limit, deadline_seconds) for pub in publishers))
        finally:
            if own:
                await http.aclose()
        await asyncio.to_thread(self._prune_referrals)
        return [r for r in results if r is not None]

    async def run_forever(
        self,
        *,
        stop: asyncio.Event | None = None,
        tick_seconds: float = 5.0,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        """Poll publishers as they fall due until `stop` is set; each runs as its own task, so a slow
        publisher never delays another's turn."""
        stop = stop or asyncio.Event()
        limit = asyncio.Semaphore(max(1, self.settings.sync_concurrency))
        running: dict[int, asyncio.Task[SyncResult | None]] = {}
        async with make_client(self.settings) as client:
            try:
                while not stop.is_set():
                    for pub in await asyncio.to_thread(self._due, force=False, only=None):
                        if pub.id not in running:
                            task = asyncio.create_task(self._poll(client, pub, limit, deadline_seconds))
                            running[pub.id] = task
                            task.add_done_callback(_forget(running, int(pub.id)))
                    # Ask portals what became of recent referrals, so results and badges stay true.
                    await self._refresh_outcomes()
                    await asyncio.to_thread(self._prune_referrals)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), tick_seconds)
            finally:
                for task in list(running.values()):
                    task.cancel()
                await asyncio.gather(*running.values(), return_exceptions=True)

    def _due(self, *, force: bool, only: Sequence[int] | None) -> list[Row[Any]]:
        p = t.publisher.c
        query = select(t.publisher).where(p.paused.is_(False)).order_by(p.id)
        if not force:
            query = query.where(p.next_poll_ms <= self.store.now_ms())
        if only is not None:
            query = query.where(p.id.in_(list(only)))
        with self.store.read() as conn:
            return list(conn.execute(query))

    async def _poll(
        self, client: httpx.AsyncClient, pub: Row[Any], limit: asyncio.Semaphore, deadline_seconds: float
    ) -> SyncResult | None:
        """Poll `pub` unless this engine is polling it already (then None)."""
        publisher_id = int(pub.id)
        with self._polling_guard:
            if publisher_id in self._polling:
                return None
            self._polling.add(publisher_id)
        try:
            async with limit:
                result = await poll_publisher(
                    self.store,
                    self.settings,
                    client,
                    pub,
                    loads=self._loads,
                    deadline_seconds=deadline_seconds,
                )
            if self.on_change is not None and (result.counts.added or result.counts.changed):
                self.on_change(publisher_id)
            return result
        finally:
            with self._polling_guard:
                self._polling.discard(publisher_id)

    def _prune_referrals(self) -> None:
        now = self.store.now_ms()
        if self._pruned_ms is not None and now - self._pruned_ms < 1000 * PRUNE_EVERY_SECONDS:
            return
        self._pruned_ms = now
        try:
            with self.store.write() as conn:
                gone = prune_referrals(conn, created_before_ms=now - self.settings.referral_retention_days * 86_400_000)
        except Exception:  # the store's trouble must never stop polling; tried again an hour on
            log.exception("could not prune old referrals")
            return
        if gone:
            log.info("pruned %d referrals older than %d days", gone, self.settings.referral_retention_days)

    async def _refresh_outcomes(self) -> None:
        try:
            await refresh_pending(self.store, self.settings, limit=20)
        except Exception:  # a portal's trouble must never stop polling
            log.exception("could not refresh referral outcomes")


def _forget(running: dict[int, Any], publisher_id: int) -> Any:
    def done(_task: object) -> None:
        running.pop(publisher_id, None)

    return done

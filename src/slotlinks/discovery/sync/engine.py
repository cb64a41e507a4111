"""The sync engine: polls every publisher as it falls due, at most `sync_concurrency` at once, each
within an overall deadline, so a stalled one never holds up the others.

One `SyncEngine` per process and store, built by whoever runs the process: the discovery app factory
(the background loop, and the admin API's "sync now"), `slotlinks sync`, the benchmark. It owns what
syncing takes beyond the store: its leases on the publishers it polls, and the `LoadWriter` its full
loads share (their turn at the store, their connection and its checkpoint thread).

Any number of engines, in one process or on several machines, may share one database: each claims
publishers through a lease (sync/leases.py) before polling them, and never claims more than it has
room to poll (`sync_concurrency`), so the others take the rest. A publisher leased by any engine
(this one included) is left out of a pass, forced ones too ("sync now", `--once`, push's polls), and
so is one whose poll by another engine began after a forced pass did: workers running forced passes
at once poll each publisher once between them.

An engine changes nothing of the process it runs in (no collector or thread-switch settings), so a web
server can run it beside its requests.

Beside polling, the engine keeps the referral table to its retention (`referral_retention_days`):
after a pass and on the background loop's ticks, at most once every `PRUNE_EVERY_SECONDS`. At the same
moments, when it has loaded anything since, it keeps the feed tables' statistics up on PostgreSQL
(sync/upkeep.py: ANALYZE, at most once every `ANALYZE_EVERY_SECONDS`) and, when a full load replaced a
generation, their space (VACUUM, at most once every `VACUUM_EVERY_SECONDS`).

Each poll of one publisher is sync/poll.py's; the sync/__init__.py docstring maps the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from sqlalchemy import Row

from slotlinks.config import Settings
from slotlinks.discovery.ingest.loadwriter import LoadWriter
from slotlinks.discovery.referrals.deeplinks import prune_referrals
from slotlinks.discovery.referrals.outcomes import refresh_pending
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync.fetcher import make_client
from slotlinks.discovery.sync.leases import Leases
from slotlinks.discovery.sync.poll import DEFAULT_DEADLINE_SECONDS, poll_publisher
from slotlinks.discovery.sync.result import SyncResult
from slotlinks.discovery.sync.upkeep import upkeep
from slotlinks.errors import LeaseLost

__all__ = ["DEFAULT_DEADLINE_SECONDS", "SyncEngine"]

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600
ANALYZE_EVERY_SECONDS = 60
VACUUM_EVERY_SECONDS = 600


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
        self.leases = Leases(store, settings.sync_lease_seconds)
        self._pruned_ms: int | None = None
        # Since the last upkeep: loaded anything; replaced a generation (its rows are dead, to vacuum).
        self._loaded = self._replaced = False
        self._analyzed_ms: int | None = None
        self._vacuumed_ms: int | None = None

    async def sync_once(
        self,
        *,
        force: bool = False,
        publisher_ids: Sequence[int] | None = None,
        client: httpx.AsyncClient | None = None,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    ) -> list[SyncResult]:
        """One pass: poll every unpaused publisher that is due (all of them with `force`), at most
        `sync_concurrency` at once, each at most once. A publisher that some engine holds a lease on
        when this pass claims, or whose poll by another engine started after the pass did, is that
        engine's: it is left out of this pass (and of its results). So workers that run
        forced passes at once (several `slotlinks sync --once`) poll each publisher once between them."""
        own = client is None
        http = client or make_client(self.settings)
        results: list[SyncResult] = []
        seen: set[int] = set()
        running: set[asyncio.Task[SyncResult | None]] = set()
        started_ms = self.store.now_ms()

        def claim(room: int) -> list[Row[Any]]:
            seen.update(self.leases.held())
            since = started_ms if force else None
            return self.leases.claim(limit=room, force=force, only=publisher_ids, skip=sorted(seen), polled_after=since)

        try:
            while True:
                room = max(1, self.settings.sync_concurrency) - len(running)
                claimed = await asyncio.to_thread(claim, room) if room > 0 else []
                for pub in claimed:
                    seen.add(int(pub.id))
                    running.add(asyncio.create_task(self._poll(http, pub, deadline_seconds)))
                if not running:
                    break
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                results.extend(r for task in done if (r := task.result()) is not None)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            if own:
                await http.aclose()
        await asyncio.to_thread(self._prune_referrals)
        await asyncio.to_thread(self._upkeep)
        return sorted(results, key=lambda r: r.publisher_id)

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
        running: dict[int, asyncio.Task[SyncResult | None]] = {}
        async with make_client(self.settings) as client:
            try:
                while not stop.is_set():
                    room = max(1, self.settings.sync_concurrency) - len(running)
                    for pub in await asyncio.to_thread(self.leases.claim, limit=room, force=False):
                        task = asyncio.create_task(self._poll(client, pub, deadline_seconds))
                        running[pub.id] = task
                        task.add_done_callback(_forget(running, int(pub.id)))
                    # Ask portals what became of recent referrals, so results and badges stay true.
                    await self._refresh_outcomes()
                    await asyncio.to_thread(self._prune_referrals)
                    await asyncio.to_thread(self._upkeep)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), tick_seconds)
            finally:
                for task in list(running.values()):
                    task.cancel()
                await asyncio.gather(*running.values(), return_exceptions=True)

    async def _poll(self, client: httpx.AsyncClient, pub: Row[Any], deadline_seconds: float) -> SyncResult | None:
        """Poll `pub`, whose lease this engine has just claimed, renewing the lease while the poll runs
        and releasing it after; None when the lease was lost to another worker meanwhile."""
        publisher_id = int(pub.id)
        poll = asyncio.ensure_future(
            poll_publisher(
                self.store,
                self.settings,
                client,
                pub,
                loads=self._loads,
                deadline_seconds=deadline_seconds,
                guard=self.leases.guard(publisher_id),
            )
        )
        keeper = asyncio.create_task(self._keep_lease(publisher_id, poll))
        try:
            result = await poll
            self._loaded = self._loaded or result.outcome in ("full", "incremental")
            self._replaced = self._replaced or (result.outcome == "full" and int(pub.generation) > 0)
            if self.on_change is not None and (result.counts.added or result.counts.changed):
                self.on_change(publisher_id)
            return result
        except LeaseLost:
            pass
        except asyncio.CancelledError:
            if not (keeper.done() and not keeper.cancelled() and keeper.result()):
                raise  # cancelled from outside, not for a lost lease
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await asyncio.shield(asyncio.to_thread(self._release, publisher_id))
        log.error("publisher %s: another worker took over its lease; this poll stopped", publisher_id)
        return None

    async def _keep_lease(self, publisher_id: int, poll: asyncio.Future[SyncResult]) -> bool:
        """Renew the lease on the publisher every third of its term while `poll` runs; when it was
        lost, stop the poll and answer True."""
        every = self.leases.lease_ms / 3000
        while True:
            await asyncio.sleep(every)
            try:
                held = await asyncio.to_thread(self.leases.renew, publisher_id)
            except Exception:  # the store's trouble: the poll's own writes will meet it too
                log.exception("could not renew the lease on publisher %s", publisher_id)
                continue
            if not held:
                poll.cancel()
                return True

    def _release(self, publisher_id: int) -> None:
        try:
            self.leases.release(publisher_id)
        except Exception:  # the lease lapses by itself
            log.exception("could not release the lease on publisher %s", publisher_id)

    def _upkeep(self) -> None:
        now = self.store.now_ms()

        def due(last_ms: int | None, every_seconds: int) -> bool:
            return last_ms is None or now - last_ms >= 1000 * every_seconds

        vacuum = self._replaced and due(self._vacuumed_ms, VACUUM_EVERY_SECONDS)
        if not vacuum and not (self._loaded and due(self._analyzed_ms, ANALYZE_EVERY_SECONDS)):
            return
        self._loaded, self._analyzed_ms = False, now
        if vacuum:
            self._replaced, self._vacuumed_ms = False, now
        try:
            for statement in upkeep(self.store, vacuum=vacuum):
                log.info("upkeep: %s", statement)
        except Exception:  # the store's trouble must never stop polling; autovacuum may still do it
            log.exception("could not analyze or vacuum the feed tables")

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

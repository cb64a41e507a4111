"""Immediate polls of one publisher, asked for by push (an id-only change, a gap, a new subscription).

A poll goes through the process's `SyncEngine`, so it runs under the same URL policy, limits and
`_since` rules as any other, and never beside another poll of the same publisher. When the engine is
polling that publisher already, that poll may have read the manifest before the change: the request
waits for it to end and then polls once more. Requests that arrive while one is waiting or running
are folded into one more poll after it.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from slotlinks.discovery.store import tables as t
from slotlinks.discovery.sync import SyncEngine

__all__ = ["PollRequests"]

log = logging.getLogger(__name__)

#: How often to ask again while the engine is busy with the publisher, and for how long at most.
RETRY_SECONDS = 0.2
GIVE_UP_SECONDS = 120.0


class PollRequests:
    def __init__(self, engine: SyncEngine) -> None:
        self._engine = engine
        self._wanted: set[int] = set()
        self._running: dict[int, asyncio.Task[None]] = {}
        self.done = 0  # polls run on request (for tests and the log)

    def request(self, publisher_id: int) -> None:
        """Poll the publisher as soon as the engine lets us (call from the event loop)."""
        self._wanted.add(publisher_id)
        if publisher_id not in self._running:
            task = asyncio.get_running_loop().create_task(self._run(publisher_id))
            self._running[publisher_id] = task
            task.add_done_callback(lambda _t: self._running.pop(publisher_id, None))

    async def _run(self, publisher_id: int) -> None:
        while publisher_id in self._wanted:
            self._wanted.discard(publisher_id)
            try:
                await self._poll_once(publisher_id)
            except Exception:  # a failed request must not stop later ones
                log.exception("immediate poll of publisher %s failed", publisher_id)

    async def _poll_once(self, publisher_id: int) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + GIVE_UP_SECONDS
        while True:
            results = await self._engine.sync_once(force=True, publisher_ids=[publisher_id])
            if results:
                self.done += 1
                return
            # Nothing polled: the engine is polling it now, or it was paused or removed meanwhile.
            if loop.time() > give_up or not await asyncio.to_thread(self._pollable, publisher_id):
                return
            await asyncio.sleep(RETRY_SECONDS)

    def _pollable(self, publisher_id: int) -> bool:
        p = t.publisher.c
        with self._engine.store.read() as conn:
            return conn.execute(select(p.id).where(p.id == publisher_id, p.paused.is_(False))).first() is not None

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

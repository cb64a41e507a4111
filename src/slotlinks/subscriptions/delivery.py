"""Delivering notifications over the rest-hook channel (Subscriptions R5 Backport IG, "Channels",
"Notifications", "Handling Errors").

One `Deliverer` per process, built by the app and run in its lifespan. Its loop asks the `Outbox` to
collect what changed (every `poll_seconds`, or at once when woken) and keeps one worker task per live
subscription, so a slow or dead endpoint holds up nothing but its own subscription; nothing on the
request path waits for delivery. Each worker:

- `requested`: POSTs the handshake; a 2xx answer makes the subscription `active`, any other answer
  (or no answer after the retries) `error`, and a refused handshake is not tried again;
- sends its pending events, up to `max_events` per notification: every event collected while an
  earlier POST was on its way goes into the next one (that is the coalescing); a failed POST is
  retried with exponential backoff, each time with what is pending then; after `attempts` failures
  its events are given up on (the subscription goes to `error`, and back to `active` on the next
  delivery), and since `events-since-subscription-start` already counted them the subscriber sees
  the gap in the event numbers;
- sends a heartbeat when nothing has been sent for the subscription's heartbeat period.

Every POST goes through `net.GuardedClient` (the same address policy as the discovery fetcher) with
the subscription's `channel.header` values and a deadline (its `backport-timeout`, else ours).
Undelivered events stay in the store, so a restarted process resumes where the last one stopped.

Where several processes share the database, only the one holding the `singleton` collects and
delivers (`db.singleton`); the others wait, and take over within a round when it stops or dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from slotlinks.clock import Clock, now_ms
from slotlinks.db.singleton import Singleton
from slotlinks.net.client import GuardedClient, NoReply, Reply
from slotlinks.subscriptions.notifications import Event, notification_bundle
from slotlinks.subscriptions.resource import Subscription
from slotlinks.subscriptions.store import Outbox

__all__ = ["Deliverer", "DeliveryPolicy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How eagerly and how patiently notifications are sent."""

    poll_seconds: float = 0.25
    attempts: int = 4
    first_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 10.0
    max_events: int = 500
    idle_seconds: float = 1.0

    def backoff(self, failures: int) -> float:
        return float(min(self.max_backoff_seconds, self.first_backoff_seconds * 2 ** (failures - 1)))


def _headers(sub: Subscription) -> dict[str, str]:
    headers = {"Content-Type": "application/fhir+json"}
    for line in sub.spec.headers:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return headers


def _failure(result: Reply | NoReply) -> str:
    if isinstance(result, Reply):
        return f"the endpoint answered HTTP {result.status}"
    return f"no answer ({result.reason}): {result.detail}"


class _Worker:
    """Delivery for one subscription."""

    def __init__(self, deliverer: Deliverer, subscription_id: str) -> None:
        self.d = deliverer
        self.id = subscription_id
        self.poked = asyncio.Event()
        self.last_sent = time.monotonic()

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.d.call(fn, *args, **kwargs)

    async def _post(self, sub: Subscription, bundle: Mapping[str, Any]) -> Reply | NoReply:
        deadline = float(sub.spec.timeout_seconds or self.d.policy.timeout_seconds)
        result = await self.d.client.post(
            sub.spec.endpoint, content=orjson.dumps(bundle), headers=_headers(sub), deadline=deadline
        )
        self.last_sent = time.monotonic()
        return result

    async def _set(self, status: str, error: str | None) -> None:
        await self._call(self.d.outbox.set_status, self.id, status=status, error=error, at_ms=now_ms(self.d.clock))

    async def _handshake(self, sub: Subscription) -> None:
        policy = self.d.policy
        for failures in range(1, policy.attempts + 1):
            bundle = notification_bundle(base=self.d.base_url, sub=sub, kind="handshake", now_ms=now_ms(self.d.clock))
            result = await self._post(sub, bundle)
            if isinstance(result, Reply) and result.status < 300:
                await self._set("active", None)
                return
            if isinstance(result, Reply) or result.reason == "refused" or failures == policy.attempts:
                await self._set("error", f"handshake refused: {_failure(result)}")
                return
            await asyncio.sleep(policy.backoff(failures))

    async def _deliver(self, sub: Subscription) -> bool:
        """Sends what is pending; False when there was nothing (or the subscription went away)."""
        policy, outbox = self.d.policy, self.d.outbox
        events: list[Event] = []
        for failures in range(1, policy.attempts + 1):
            events = await self._call(outbox.pending, self.id, limit=policy.max_events)
            if not events:
                return False
            resources = None
            if sub.spec.content == "full-resource":
                resources = await self._call(outbox.resources, [e.key for e in events if not e.removed])
            bundle = notification_bundle(
                base=self.d.base_url,
                sub=sub,
                kind="event-notification",
                now_ms=now_ms(self.d.clock),
                events=events,
                resources=resources,
            )
            result = await self._post(sub, bundle)
            if isinstance(result, Reply) and result.status < 300:
                await self._call(outbox.done, self.id, through=events[-1].number)
                if sub.status != "active":
                    await self._set("active", None)
                return True
            log.info("subscription %s: notification failed (%s)", self.id, _failure(result))
            if failures < policy.attempts:
                await asyncio.sleep(policy.backoff(failures))
                fresh = await self._call(outbox.current, self.id)
                if fresh is None or fresh.status == "off":
                    return False
                sub = fresh
        # Given up: the events stay counted, so the subscriber learns of the loss from the numbers.
        await self._call(outbox.done, self.id, through=events[-1].number)
        await self._set("error", f"events up to {events[-1].number} not delivered: {_failure(result)}")
        return True

    async def _heartbeat(self, sub: Subscription) -> None:
        bundle = notification_bundle(base=self.d.base_url, sub=sub, kind="heartbeat", now_ms=now_ms(self.d.clock))
        result = await self._post(sub, bundle)
        if not (isinstance(result, Reply) and result.status < 300):
            log.info("subscription %s: heartbeat failed (%s)", self.id, _failure(result))

    async def run(self) -> None:
        while True:
            try:
                if not await self._step():
                    return
            except Exception:  # e.g. the database away for a moment: try again shortly
                log.exception("subscription %s: delivery failed", self.id)
                await asyncio.sleep(self.d.policy.idle_seconds)

    async def _step(self) -> bool:
        """One round of work; False once there is nothing more ever to do for this subscription."""
        sub: Subscription | None = await self._call(self.d.outbox.current, self.id)
        if sub is None or sub.status == "off":
            return False
        if sub.status == "requested":
            await self._handshake(sub)
            return True
        if sub.status == "error" and sub.activated_ms is None:
            return False  # the endpoint refused the handshake: nothing is sent to it again
        self.poked.clear()
        if await self._deliver(sub):
            return True
        wait = self.d.policy.idle_seconds
        period = sub.spec.heartbeat_seconds
        if period is not None:
            due = self.last_sent + period - time.monotonic()
            if due <= 0:
                await self._heartbeat(sub)
                return True
            wait = min(wait, due)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.poked.wait(), timeout=wait)
        return True


class Deliverer:
    """Collects events and runs one delivery worker per live subscription; see the module docstring."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        base_url: str,
        clock: Clock,
        allow_private_networks: bool,
        policy: DeliveryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        singleton: Singleton | None = None,
    ) -> None:
        self.outbox = outbox
        self.singleton = singleton
        self._held, self._checked_until = False, 0.0
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        self.client = GuardedClient(
            allow_private_networks=allow_private_networks,
            timeout=self.policy.timeout_seconds,
            headers={"User-Agent": "slotlinks-subscriptions"},
            transport=transport,
        )
        self._wake = asyncio.Event()
        self._workers: dict[str, tuple[_Worker, asyncio.Task[None]]] = {}
        # The store's calls run on threads of our own, so that stopping can wait for the last of them
        # (a call left running would hold a database connection past the store's disposal).
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="subscriptions")

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` (a blocking store call) on the deliverer's threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(fn, *args, **kwargs))

    def wake(self) -> None:
        """Collect now rather than at the next tick (called on the event loop, e.g. by a route)."""
        self._wake.set()

    async def _stop_workers(self) -> None:
        tasks = [task for _worker, task in self._workers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()

    async def _holds_singleton(self) -> bool:
        """Whether this process delivers: asked of the singleton at most once a second (a tick may be
        far more often, and the question costs a round trip on PostgreSQL)."""
        if self.singleton is None:
            return True
        if time.monotonic() >= self._checked_until:
            self._held = bool(await self.call(self.singleton.held))
            self._checked_until = time.monotonic() + 1.0
        return self._held

    async def _tick(self) -> None:
        if not await self._holds_singleton():
            await self._stop_workers()  # another process delivers (or took over from this one)
            return
        at = now_ms(self.clock)
        fresh = await self.call(self.outbox.collect, now_ms=at)
        live = await self.call(self.outbox.live, now_ms=at)
        wanted = {sub.id for sub in live if not (sub.status == "error" and sub.activated_ms is None)}
        for sub_id, (_worker, task) in list(self._workers.items()):
            if sub_id not in wanted or task.done():
                task.cancel()
                del self._workers[sub_id]
        for sub_id in wanted:
            if sub_id in self._workers:
                if sub_id in fresh:
                    self._workers[sub_id][0].poked.set()
                continue
            worker = _Worker(self, sub_id)
            self._workers[sub_id] = (worker, asyncio.create_task(worker.run(), name=f"subscription-{sub_id}"))

    async def run(self) -> None:
        """Runs until cancelled; then stops every worker and closes the client."""
        try:
            while True:
                try:
                    await self._tick()
                except Exception:  # a failed tick (e.g. the database away) is retried at the next one
                    log.exception("subscription delivery: collecting events failed")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.policy.poll_seconds)
        finally:
            await self._stop_workers()
            if self.singleton is not None:
                self.singleton.release()
            self._threads.shutdown(wait=True)
            await self.client.aclose()

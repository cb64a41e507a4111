"""The subscriber: keeps one Subscription per publisher that offers our topic, and applies what it pushes.

One `PushManager` per discovery server, built by the app factory beside the sync engine. Its loop
(`run_forever`, run with the background sync) looks at every publisher each tick:

- a publisher that is unpaused, has been synced once and has its source secret stored
  (`publishers set-secret`) is subscribed when its FHIR base's `/metadata` advertises the topic; one
  that does not is looked at again an hour later (state `none`);
- a subscription still `requested` after `handshake_seconds` is in `error`, and is re-created with a
  backoff that doubles per failure;
- an `active` one that has heard nothing for twice its heartbeat period has a gap.

`receive` takes one notification for a publisher (routes.py), authenticated by the subscription's
secret, under a per-publisher lock so notifications are applied one at a time, in event-number order:
a handshake makes it `active` (and a catch-up `_since` poll closes the window before it); events
already applied are acknowledged and ignored; the next events are applied (apply.py) together with the
new event count, in one transaction; an id-only change triggers a `_since` poll. A gap (an event
number beyond the next, `events-since-subscription-start` beyond what we applied, a missed heartbeat,
or a status of `error`) puts the subscription in `error`, polls the publisher at once, and the next
tick re-creates the subscription. Polling on the publisher's own cadence goes on all the while.

Tuning, through `settings.extra` (tests shorten it): `push_heartbeat_seconds` (60),
`push_tick_seconds` (1), `push_handshake_seconds` (30), `push_payload` (`full-resource`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Row, select

from slotlinks.config import Settings
from slotlinks.discovery.push import state
from slotlinks.discovery.push.apply import apply_changes
from slotlinks.discovery.push.notification import Notification, parse_notification
from slotlinks.discovery.push.polls import PollRequests
from slotlinks.discovery.push.subscribe import (
    SubscriptionRequest,
    create_subscription,
    delete_subscription,
    offers_topic,
)
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync import SyncEngine
from slotlinks.discovery.sync.fetcher import make_client
from slotlinks.errors import NotFound, SlotlinksError, Unauthorized
from slotlinks.net.guard import UrlPolicy

__all__ = ["PushManager"]

log = logging.getLogger(__name__)

RECHECK_MS = 3_600_000  # a publisher without the topic is asked again an hour later
MAX_BACKOFF_MS = 3_600_000


def _backoff_ms(failures: int) -> int:
    """Wait before the next attempt: none after the first failure, then 5 s doubling up to an hour."""
    return 0 if failures <= 1 else min(5000 * 2 ** min(failures - 2, 20), MAX_BACKOFF_MS)


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


@dataclass(slots=True)
class _Outcome:
    poll: bool = False
    gap: str | None = None


class PushManager:
    def __init__(
        self,
        store: DiscoveryStore,
        settings: Settings,
        engine: SyncEngine,
        *,
        on_applied: Callable[[], None] = lambda: None,
    ) -> None:
        self.store, self.settings = store, settings
        self.on_applied = on_applied  # wakes the aggregate's own deliverer (chained push)
        extra = settings.extra
        self.heartbeat_seconds = int(extra.get("push_heartbeat_seconds", 60))
        self.tick_seconds = float(extra.get("push_tick_seconds", 1.0))
        self.handshake_ms = int(1000 * float(extra.get("push_handshake_seconds", 30)))
        self.payload = str(extra.get("push_payload", "full-resource"))
        self.polls = PollRequests(engine)
        self._locks: dict[int, asyncio.Lock] = {}
        self._working: set[int] = set()  # publishers being subscribed or taken down
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the loop ------------------------------------------------------------------------------

    async def run_forever(self, *, stop: asyncio.Event) -> None:
        async with make_client(self.settings) as client:
            try:
                while not stop.is_set():
                    try:
                        await self.tick(client)
                    except Exception:  # the store's or a publisher's trouble must not end push for all
                        log.exception("push tick failed")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.tick_seconds)
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await self.polls.close()

    async def tick(self, client: httpx.AsyncClient) -> None:
        """Start what each publisher's push state calls for (each in a task of its own)."""
        rows = await asyncio.to_thread(self._candidates)
        now = self.store.now_ms()
        for row in rows:
            if row.id in self._working:
                continue
            job = self._job(client, row, now)
            if job is not None:
                self._working.add(int(row.id))
                task = asyncio.create_task(self._guarded(int(row.id), job))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _candidates(self) -> list[Row[Any]]:
        with self.store.read() as conn:
            return state.candidates(conn)

    def _job(self, client: httpx.AsyncClient, row: Row[Any], now: int) -> Coroutine[Any, Any, None] | None:
        base = state.fhir_base_of(row.url)
        eligible = not row.paused and row.generation > 0 and bool(row.referral_secret) and base is not None
        if not eligible:
            return self._stand_down(client, row) if row.status in ("requested", "active") else None
        if row.status is None or (row.status in ("none", "error") and row.next_attempt_ms <= now):
            return self._subscribe(client, row)
        if row.status == "requested" and now - row.created_ms > self.handshake_ms:
            return self._fail(row, "the publisher sent no handshake")
        hb = int(row.heartbeat_seconds or 0)
        heard = row.last_notification_ms or row.created_ms
        if row.status == "active" and hb > 0 and now - heard > 2000 * hb:
            return self._gap(int(row.id), f"no notification for {(now - heard) // 1000} s (heartbeat every {hb} s)")
        return None

    async def _guarded(self, publisher_id: int, job: Coroutine[Any, Any, None]) -> None:
        try:
            await job
        except Exception:
            log.exception("push work for publisher %s failed", publisher_id)
        finally:
            self._working.discard(publisher_id)

    # --- subscribing ---------------------------------------------------------------------------

    def _request(self, row: Row[Any], secret: str) -> SubscriptionRequest:
        states = _split(row.states)
        return SubscriptionRequest(
            endpoint=f"{self.settings.discovery_url.rstrip('/')}/push/{row.id}",
            channel_secret=secret,
            payload=self.payload,
            heartbeat_seconds=self.heartbeat_seconds,
            filters=[f"Slot?state={states[0].upper()}"] if len(states) == 1 else [],
            reason=f"Keep {self.settings.source_id}'s search results fresh",
        )

    async def _subscribe(self, client: httpx.AsyncClient, row: Row[Any]) -> None:
        pid, base = int(row.id), state.fhir_base_of(row.url) or ""
        policy = UrlPolicy.for_publisher(row.url, _split(row.allowed_hosts))
        source_secret = str(row.referral_secret)
        try:
            if not await offers_topic(client, policy, base):
                await asyncio.to_thread(
                    self._write_fresh,
                    pid,
                    status="none",
                    fhir_base=base,
                    error=("the publisher's metadata does not advertise the availability topic"),
                    next_attempt_ms=self.store.now_ms() + RECHECK_MS,
                )
                return
            secret = secrets.token_urlsafe(32)
            # Written before the request: the handshake may arrive before the publisher answers it.
            await asyncio.to_thread(
                self._write_fresh,
                pid,
                status="requested",
                fhir_base=base,
                secret_hash=state.hash_secret(secret),
                payload=self.payload,
                heartbeat_seconds=self.heartbeat_seconds,
                failures=int(row.failures or 0),
            )
            created = await create_subscription(client, policy, base, source_secret, self._request(row, secret))
        except (SlotlinksError, httpx.HTTPError, OSError) as exc:
            await self._fail(row, f"could not subscribe: {exc}")
            return
        await asyncio.to_thread(self._created, pid, created.id, created.status)
        if row.remote_id and row.remote_id != created.id:
            await delete_subscription(client, policy, base, source_secret, str(row.remote_id))
        log.info("publisher %s: subscribed as Subscription/%s (%s)", pid, created.id, created.status)

    def _write_fresh(self, publisher_id: int, **values: Any) -> None:
        with self.store.write() as conn:
            state.start(conn, publisher_id, created_ms=self.store.now_ms(), **values)

    def _created(self, publisher_id: int, remote_id: str, status: str) -> None:
        with self.store.write() as conn:
            row = state.load(conn, publisher_id, for_update=True)
            if row is None:
                return
            values: dict[str, Any] = {"remote_id": remote_id}
            if status in ("error", "off") and row.status == "requested":
                failures = int(row.failures or 0) + 1
                values.update(
                    status="error",
                    error=f"the publisher created the subscription in state {status}",
                    failures=failures,
                    next_attempt_ms=self.store.now_ms() + _backoff_ms(failures),
                )
            state.update_row(conn, publisher_id, **values)

    async def _fail(self, row: Row[Any], message: str) -> None:
        """A failed attempt: state `error`, tried again after the backoff."""
        pid, now = int(row.id), self.store.now_ms()
        failures = int(row.failures or 0) + 1

        def write() -> None:
            values = {
                "status": "error",
                "error": message,
                "failures": failures,
                "next_attempt_ms": now + max(_backoff_ms(failures), 1000),
            }
            with self.store.write() as conn:
                if not state.update_row(conn, pid, **values):
                    base = state.fhir_base_of(row.url) or ""
                    state.start(conn, pid, created_ms=now, fhir_base=base, **values)

        await asyncio.to_thread(write)
        log.warning("publisher %s: push %s", pid, message)

    async def _gap(self, publisher_id: int, reason: str) -> None:
        """Fall back to polling at once; the next tick re-creates the subscription."""
        await asyncio.to_thread(self._mark_gap, publisher_id, reason)
        self.polls.request(publisher_id)

    def _mark_gap(self, publisher_id: int, reason: str) -> None:
        with self.store.write() as conn:
            row = state.load(conn, publisher_id, for_update=True)
            if row is not None:
                state.update_row(conn, publisher_id, **self._gap_values(row, reason))

    def _gap_values(self, row: Row[Any], reason: str) -> dict[str, Any]:
        failures = int(row.failures or 0) + 1
        log.warning("publisher %s: push gap (%s): polling now, re-subscribing", row.publisher_id, reason)
        return {
            "status": "error",
            "error": f"gap: {reason}",
            "failures": failures,
            "next_attempt_ms": self.store.now_ms() + _backoff_ms(failures),
        }

    async def _stand_down(self, client: httpx.AsyncClient, row: Row[Any]) -> None:
        """The publisher no longer qualifies (paused, secret forgotten): end its subscription."""
        why = "the publisher is paused" if row.paused else "no source secret is stored for the publisher"
        await asyncio.to_thread(
            lambda: self._update(int(row.id), status="none", error=why, secret_hash=None, next_attempt_ms=0)
        )
        base = state.fhir_base_of(row.url)
        if row.referral_secret and row.remote_id and base:
            policy = UrlPolicy.for_publisher(row.url, _split(row.allowed_hosts))
            await delete_subscription(client, policy, base, str(row.referral_secret), str(row.remote_id))

    def _update(self, publisher_id: int, **values: Any) -> None:
        with self.store.write() as conn:
            state.update_row(conn, publisher_id, **values)

    # --- notifications -------------------------------------------------------------------------

    async def authenticate(self, publisher_id: int, authorization: str) -> tuple[Row[Any], str]:
        """The live subscription to the publisher and the secret `authorization` carries, when it is
        that subscription's; else `NotFound` (none live) or `Unauthorized` (a wrong or missing secret)."""
        row = await asyncio.to_thread(self._load, publisher_id)
        if row is None or row.status == "none" or row.secret_hash is None:
            raise NotFound(f"no subscription of publisher {publisher_id} is known here")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not state.secret_matches(token, row.secret_hash):
            raise Unauthorized("this notification does not carry the subscription's secret")
        return row, token

    async def receive(self, publisher_id: int, authorization: str, body: bytes) -> None:
        """Authenticate and apply one notification (see `authenticate` for its refusals);
        `InvalidInput` for a body that is not a notification."""
        row, token = await self.authenticate(publisher_id, authorization)
        note = parse_notification(body)
        if row.remote_id and not note.subscription.rstrip("/").endswith(f"Subscription/{row.remote_id}"):
            raise NotFound(f"{note.subscription!r} is not the subscription of publisher {publisher_id}")
        lock = self._locks.setdefault(publisher_id, asyncio.Lock())
        async with lock:
            outcome = await asyncio.to_thread(self._record, publisher_id, token, note)
        if note.events:
            self.on_applied()
        if outcome.poll or outcome.gap:
            self.polls.request(publisher_id)

    def _load(self, publisher_id: int) -> Row[Any] | None:
        with self.store.read() as conn:
            return state.load(conn, publisher_id)

    def _record(self, publisher_id: int, token: str, note: Notification) -> _Outcome:
        """Apply `note` and record it, in one transaction."""
        outcome = _Outcome()
        with self.store.write() as conn:
            row = state.load(conn, publisher_id, for_update=True)
            if row is None or not state.secret_matches(token, row.secret_hash):  # re-created meanwhile
                raise Unauthorized("this notification does not carry the subscription's secret")
            now = self.store.now_ms()
            values: dict[str, Any] = {"last_notification_ms": now}
            if row.status == "error":
                pass  # already falling back; the subscription is about to be re-created
            elif note.status in ("error", "off"):
                outcome.gap = f"the publisher reports the subscription as {note.status}"
            elif note.type == "handshake":
                if row.status == "requested":
                    values.update(status="active", error=None)
                outcome.poll = True  # what changed before the subscription was active
            elif note.events:
                outcome = self._events(conn, row, note, values, now)
            elif note.events_since_start > row.events_seen:
                outcome.gap = f"events {row.events_seen + 1} to {note.events_since_start} never arrived"
            else:
                values.update(status="active", error=None, failures=0)
            if outcome.gap:
                values.update(self._gap_values(row, outcome.gap))
            state.update_row(conn, publisher_id, **values)
        return outcome

    def _events(self, conn: Any, row: Row[Any], note: Notification, values: dict[str, Any], now: int) -> _Outcome:
        seen = int(row.events_seen)
        first, last = note.events[0].number, note.events[-1].number
        if last <= seen:
            return _Outcome()  # delivered again: applied already
        if first > seen + 1:
            return _Outcome(gap=f"events {seen + 1} to {first - 1} never arrived")
        pub = conn.execute(
            select(t.publisher.c.generation, t.publisher.c.states).where(t.publisher.c.id == row.publisher_id)
        ).one()
        applied = apply_changes(
            conn, int(row.publisher_id), int(pub.generation), note.changes, now_ms=now, states_filtered=bool(pub.states)
        )
        stamps = [e.timestamp_ms for e in note.events if e.timestamp_ms is not None]
        happened = max(stamps) if stamps else now
        values.update(
            status="active",
            error=None,
            failures=0,
            events_seen=last,
            last_event_ms=happened,
            lag_ms=max(0, now - happened),
        )
        if applied.needs_poll:
            log.info("publisher %s: polling for what a notification left out: %s", row.publisher_id, applied.why_poll)
        return _Outcome(poll=applied.needs_poll)

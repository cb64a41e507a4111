"""Posting an app's alert news to its webhook, signed, retried with backoff.

The body is JSON: `{"alert": id, "matches": [{"start", "end", "location", "place", "distanceMiles",
"service", "when", "link"}]}`, the matches best first, each `link` through `/go` (so the stale-slot
re-read and the referral loop apply). Two headers let the app check it came from us, unchanged:

    Slotlinks-Timestamp: <Unix time in seconds when it was signed>
    Slotlinks-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

(the secret is the one `PUT /admin/apps/{name}` answered; the app should also refuse an old timestamp,
so a recorded request cannot be replayed later).

A delivery that fails (no answer, or a 5xx or 429 status) is tried again after `backoff`, 2×`backoff`,
4×… seconds, `attempts` times in all; each delivery is a task of its own, so a slow or failing app
delays neither e-mail alerts nor other apps. An alert already being delivered is not handed over
again. The matches are recorded as announced only once the app answered 2xx; when the app refused
them (another 4xx) or every attempt failed, the alert's period starts all the same (nothing more
until it ends) and the matches stay news for the next try. Requests go through the guarded client:
never to an address the SSRF guard forbids, never following a redirect.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
from collections.abc import Sequence

import orjson

from slotlinks.config import Settings
from slotlinks.discovery.alerts import store as alerts
from slotlinks.discovery.alerts.apps import webhook_of
from slotlinks.discovery.alerts.matcher import Match
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.net.client import GuardedClient, NoReply, Reply

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookSender", "sign", "webhook_body"]

TIMESTAMP_HEADER = "Slotlinks-Timestamp"
SIGNATURE_HEADER = "Slotlinks-Signature"

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Slotlinks-Signature` value for `body` signed at `timestamp`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_body(alert_id: str, matches: Sequence[Match]) -> bytes:
    return orjson.dumps(
        {
            "alert": alert_id,
            "matches": [
                {
                    "start": m.start,
                    "end": m.end,
                    "location": m.location,
                    "place": m.place,
                    "distanceMiles": m.distance_miles,
                    "service": m.service,
                    "when": m.when,
                    "link": m.link,
                }
                for m in matches
            ],
        }
    )


def _retryable(answer: Reply | NoReply) -> bool:
    """Worth trying again: no answer (but not a refusal by the guard), a 5xx, or 429."""
    if isinstance(answer, NoReply):
        return answer.reason != "refused"
    return answer.status >= 500 or answer.status == 429


class WebhookSender:
    """Delivers on the event loop it is started on; `submit` may be called from any thread."""

    def __init__(self, store: DiscoveryStore, settings: Settings) -> None:
        self.store = store
        self.attempts = max(1, int(settings.extra.get("webhook_attempts", 5)))
        self.backoff = float(settings.extra.get("webhook_backoff_seconds", 2.0))
        self._allow_private_networks = settings.allow_private_networks
        self._timeout = settings.read_timeout
        self._client: GuardedClient | None = None  # made on the loop that delivers (`start`)
        self._deadline = settings.connect_timeout + settings.read_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._client = GuardedClient(allow_private_networks=self._allow_private_networks, timeout=self._timeout)
        self._loop = loop

    def submit(self, alert_id: str, app: str, matches: Sequence[Match]) -> bool:
        """Hands the news over for delivery; False when not running or this alert is being delivered."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        with self._lock:
            if alert_id in self._busy:
                return False
            self._busy.add(alert_id)
        loop.call_soon_threadsafe(self._spawn, alert_id, app, list(matches))
        return True

    def _spawn(self, alert_id: str, app: str, matches: list[Match]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(alert_id, app, matches))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, alert_id: str, app: str, matches: list[Match]) -> None:
        try:
            delivered = await self._post_with_retries(alert_id, app, matches)
            keys = [m.key for m in matches] if delivered else []
            await asyncio.to_thread(self._record, alert_id, keys)
        except Exception:  # a bug or the store's trouble must not go unseen; the alert is tried again later
            log.exception("webhook delivery of alert %s failed", alert_id)
        finally:
            with self._lock:
                self._busy.discard(alert_id)

    def _record(self, alert_id: str, keys: list[alerts.SlotKey]) -> None:
        with self.store.write() as conn:
            if alerts.get(conn, alert_id) is not None:  # deleted meanwhile: nothing to remember
                alerts.record_sent(conn, alert_id, keys, self.store.now_ms())

    async def _post_with_retries(self, alert_id: str, app: str, matches: list[Match]) -> bool:
        target = await asyncio.to_thread(webhook_of, self.store, app)
        client = self._client
        if target is None or client is None:
            return False
        url, secret = target
        body = webhook_body(alert_id, matches)
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            timestamp = self.store.now_ms() // 1000
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            }
            answer = await client.post(url, content=body, headers=headers, deadline=self._deadline)
            if isinstance(answer, Reply) and 200 <= answer.status < 300:
                return True
            if not _retryable(answer):
                log.warning("app %s refused alert %s's webhook: %s", app, alert_id, answer)
                return False
            log.info("webhook of alert %s, attempt %d of %d: %s", alert_id, attempt + 1, self.attempts, answer)
        return False

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._loop = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

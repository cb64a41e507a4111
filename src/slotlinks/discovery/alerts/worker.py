"""The alert worker: when the discovery side learns of changed slots, each confirmed alert with news
gets one message, at most one per `alert_period_seconds`.

One `AlertWorker` per discovery process, built by the app factory. `wake()` is the "slots changed"
signal: the sync engine calls it after a poll that changed a publisher's rows (a full load's flip or
an incremental apply) and the push manager after it applied a notification, so a message goes out
within seconds of the change arriving. Without a signal it looks every `tick_seconds` anyway (an
alert's period ending, expiry, a change whose signal was missed).

An earlier-time offer (earlier.py) is an alert whose news and words are its own: `earlier_matches`
and `earlier_news` stand in for the search's matches and an alert's words.

A message is recorded (its times as announced, the alert's `last_sent_ms`) only once the mail server
took it; a failed send is tried again on the next pass. Where several processes share the database,
only the one holding the alerts' singleton (`db.singleton`) makes passes; another takes over within a
tick when it stops or dies, so each message goes once. A change another process learns of wakes only
its own worker: the holder sees it at its next tick.

The worker chooses each alert's channel; what matches and when stay shared: an app's alert (webhook)
is handed to the `WebhookSender`, which posts it in a task of its own and records it once delivered
(webhooks.py), an address's alert is mailed here. Without a mailer only apps' alerts go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Row

from slotlinks.config import Settings
from slotlinks.db.singleton import Singleton
from slotlinks.discovery.alerts import store as alerts
from slotlinks.discovery.alerts.criteria import search_for
from slotlinks.discovery.alerts.earlier import earlier_matches
from slotlinks.discovery.alerts.links import alert_key, unsubscribe_url
from slotlinks.discovery.alerts.mailer import Mailer
from slotlinks.discovery.alerts.matcher import Match, criteria_of, new_matches
from slotlinks.discovery.alerts.messages import alert_news, end_date, news_message
from slotlinks.discovery.alerts.offer_text import earlier_news
from slotlinks.discovery.alerts.webhooks import WebhookSender
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput, Unavailable
from slotlinks.web.i18n import speaking

__all__ = ["AlertWorker"]

log = logging.getLogger(__name__)


class AlertWorker:
    """Sends the alerts' news; see the module docstring."""

    def __init__(self, store: DiscoveryStore, settings: Settings, mailer: Mailer | None) -> None:
        self.store, self.settings, self.mailer = store, settings, mailer
        self.webhooks = WebhookSender(store, settings)
        self.tick_seconds = float(settings.extra.get("alert_tick_seconds", 30.0))
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._key: bytes | None = None
        self.singleton = Singleton(store.engine, "alerts")

    def wake(self, _publisher_id: int | None = None) -> None:
        """Look now rather than at the next tick (from any thread; before `run`, the first pass looks)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    def key(self) -> bytes:
        if self._key is None:
            with self.store.read() as conn:
                self._key = alert_key(self.settings, conn)
        return self._key

    async def run(self, *, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self.webhooks.start(self._loop)
        try:
            await self._passes(stop)
        finally:
            self.singleton.release()
            await self.webhooks.aclose()

    async def _passes(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                if await asyncio.to_thread(self.singleton.held):
                    await asyncio.to_thread(self.send_due)
            except Exception:  # the store's or a bug's trouble must not end the worker; tried again later
                log.exception("alert pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_seconds):
                    waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                    try:
                        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for wait in waits:
                            wait.cancel()

    def send_due(self) -> int:
        """One pass (blocking: runs in a thread): expired alerts deleted, each due alert with news sent
        its message. How many messages went (an app's: were handed to the webhook sender)."""
        now = self.store.clock()
        now_ms = self.store.now_ms()
        with self.store.write() as conn:
            alerts.purge(conn, now_ms)
            due = alerts.due(conn, now_ms, 1000 * self.settings.alert_period_seconds)
        sent = 0
        mail_down = False
        for alert in due:
            if alert.app is None and (self.mailer is None or mail_down):
                continue
            # In the language the alert was asked in: its times, its places' words, its message.
            with speaking(alert.language), self.store.read() as conn:
                find = earlier_matches if alert.referral_id is not None else new_matches
                matches = find(conn, alert, now=now, link_base=self.settings.discovery_url)
                message = self._message(alert, matches) if matches and alert.app is None else None
            if not matches:
                continue
            if alert.app is not None:
                sent += self.webhooks.submit(alert.id, alert.app, matches)
                continue
            if self.mailer is None or message is None:  # skipped above already; this tells the type checker
                continue
            try:
                self.mailer.send(message)
            except Unavailable as exc:  # the mail server is down: every other address alert would fail too
                log.warning("alert messages wait for the mail server: %s", exc.message)
                mail_down = True
                continue
            with self.store.write() as conn:
                alerts.record_sent(conn, alert.id, [m.key for m in matches], self.store.now_ms())
            sent += 1
        return sent

    def _message(self, alert: Row[Any], matches: list[Match]) -> EmailMessage:
        criteria = criteria_of(alert)
        try:
            tz = search_for(criteria, now=self.store.clock()).tz
        except InvalidInput:
            tz = "UTC"
        words = earlier_news if alert.referral_id is not None else alert_news
        return news_message(
            sender=self.settings.mail_from,
            to=alert.email,
            news=words(criteria=criteria, count=len(matches), ends=end_date(int(alert.expires_ms), tz)),
            matches=matches,
            unsubscribe=unsubscribe_url(self.settings.discovery_url, self.key(), alert.id),
            period_minutes=self.settings.alert_period_seconds // 60,
        )

"""The provider's subscriptions and their events, over its own database: the `SubscriptionStore` the
routes use and the `Outbox` the deliverer uses (`slotlinks.subscriptions.store`).

`collect` reads the change log (`changes`) from the cursor up to the data set's last committed stamp,
plus the holds that expired by the clock since the last collection, and gives each live subscription
its matching events, numbered on from its `events` count, all in one transaction that also moves the
cursor. So a crash loses nothing (the cursor moves with the events it produced), and a restarted
server carries on from the cursor and the undelivered events. Collecting is not a change to the data
set: it writes through a plain write transaction (as the referral outcome log does), never `change()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager

from sqlalchemy import Connection, exists, select, update

from slotlinks.db.engine import writing
from slotlinks.fhirapi.store import FhirStore
from slotlinks.provider.portal.referrals import source_for_secret
from slotlinks.provider.push.changes import changes_between, expiries_between
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore
from slotlinks.subscriptions.resource import NewSubscription, Subscription
from slotlinks.subscriptions.sqlstore import SqlPushStore, SqlSubscriptions

__all__ = ["ProviderPushStore"]

_CURSOR = t.push_cursor.c


class ProviderPushStore(SqlPushStore):
    """Subscriptions and their outbox in the provider store; `fhir` renders `full-resource` payloads."""

    def __init__(self, store: ProviderStore, fhir: FhirStore) -> None:
        self.store = store
        self.fhir = fhir
        self.subs = SqlSubscriptions(t.push_subscription, t.push_event, read=store.read, write=self._write)

    def _write(self) -> AbstractContextManager[Connection]:
        return writing(self.store.engine)

    # --- SubscriptionStore ---------------------------------------------------------------------------

    def source_for(self, authorization: str | None) -> str | None:
        with self.store.read() as conn:
            return source_for_secret(conn, authorization)

    def create(self, *, source: str, spec: NewSubscription, at_ms: int) -> Subscription:
        with self._write() as conn:
            cursor = conn.execute(select(t.push_cursor).where(_CURSOR.id == 1).with_for_update()).one()
            if not self.subs.any_live(conn, at_ms):
                # The first live subscription: nothing before it is an event, however long since the
                # last collection (which then had no one to collect for).
                changed = conn.execute(select(t.dataset.c.changed_ms).where(t.dataset.c.id == 1)).scalar_one()
                conn.execute(
                    update(t.push_cursor)
                    .where(_CURSOR.id == 1)
                    .values(changed_ms=changed, expired_ms=max(int(cursor.expired_ms), at_ms))
                )
            return self.subs.insert(conn, source=source, spec=spec, at_ms=at_ms)

    # --- Outbox --------------------------------------------------------------------------------------

    def _nothing_new(self, now_ms: int) -> bool:
        with self.store.read() as conn:
            cursor = conn.execute(select(t.push_cursor).where(_CURSOR.id == 1)).one()
            changed = conn.execute(select(t.dataset.c.changed_ms).where(t.dataset.c.id == 1)).scalar_one()
            h = t.hold.c
            due = conn.execute(
                select(exists().where(h.state == "active", h.expires_ms > cursor.expired_ms, h.expires_ms <= now_ms))
            ).scalar_one()
        return int(changed) == int(cursor.changed_ms) and not due

    def collect(self, *, now_ms: int) -> Mapping[str, int]:
        if self._nothing_new(now_ms):
            return {}
        counts: dict[str, int] = {}
        with self._write() as conn:
            cursor = conn.execute(select(t.push_cursor).where(_CURSOR.id == 1).with_for_update()).one()
            changed = int(conn.execute(select(t.dataset.c.changed_ms).where(t.dataset.c.id == 1)).scalar_one())
            expired = max(int(cursor.expired_ms), now_ms)
            subs = self.subs.live_in(conn, now_ms)
            if subs:
                found = changes_between(conn, int(cursor.changed_ms), changed)
                found += expiries_between(conn, int(cursor.expired_ms), expired)
                for sub in subs:
                    counts[sub.id] = self.subs.enqueue(conn, sub, found)
            conn.execute(update(t.push_cursor).where(_CURSOR.id == 1).values(changed_ms=changed, expired_ms=expired))
        return {sub_id: n for sub_id, n in counts.items() if n}

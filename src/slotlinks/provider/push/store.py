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

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from sqlalchemy import Connection, Row, delete, exists, func, or_, select, update

from slotlinks.db.engine import writing
from slotlinks.fhirapi.store import FhirStore
from slotlinks.provider.portal.referrals import source_for_secret
from slotlinks.provider.push.changes import changes_between, expiries_between
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore
from slotlinks.subscriptions.notifications import Event
from slotlinks.subscriptions.resource import NewSubscription, Subscription
from slotlinks.subscriptions.topic import matches, parse_filters

__all__ = ["ProviderPushStore"]

_LIVE = ("requested", "active", "error")
_SUB = t.push_subscription.c
_EVENT = t.push_event.c
_CURSOR = t.push_cursor.c


def _subscription(row: Row[Any]) -> Subscription:
    return Subscription(
        id=row.id,
        source=row.source,
        status=row.status,
        spec=msgspec.json.decode(row.spec, type=NewSubscription),
        events_since_start=int(row.events),
        created_ms=int(row.created_ms),
        error=row.error,
        activated_ms=None if row.activated_ms is None else int(row.activated_ms),
    )


def _live(now_ms: int) -> Any:
    # `error` subscriptions whose handshake was refused are dead; those that failed later keep collecting.
    return (
        _SUB.status.in_(_LIVE)
        & or_(_SUB.status != "error", _SUB.activated_ms.is_not(None))
        & or_(_SUB.end_ms.is_(None), _SUB.end_ms > now_ms)
    )


class ProviderPushStore:
    """Subscriptions and their outbox in the provider store; `fhir` renders `full-resource` payloads."""

    def __init__(self, store: ProviderStore, fhir: FhirStore) -> None:
        self.store = store
        self.fhir = fhir

    # --- SubscriptionStore ---------------------------------------------------------------------------

    def source_for(self, authorization: str | None) -> str | None:
        with self.store.read() as conn:
            return source_for_secret(conn, authorization)

    def create(self, *, source: str, spec: NewSubscription, at_ms: int) -> Subscription:
        sub_id = secrets.token_hex(16)
        with writing(self.store.engine) as conn:
            cursor = conn.execute(select(t.push_cursor).where(_CURSOR.id == 1).with_for_update()).one()
            if conn.execute(select(func.count()).where(_live(at_ms))).scalar_one() == 0:
                # The first live subscription: nothing before it is an event, however long since the
                # last collection (which then had no one to collect for).
                changed = conn.execute(select(t.dataset.c.changed_ms).where(t.dataset.c.id == 1)).scalar_one()
                conn.execute(
                    update(t.push_cursor)
                    .where(_CURSOR.id == 1)
                    .values(changed_ms=changed, expired_ms=max(int(cursor.expired_ms), at_ms))
                )
            conn.execute(
                t.push_subscription.insert().values(
                    id=sub_id,
                    source=source,
                    status="requested",
                    spec=msgspec.json.encode(spec).decode(),
                    events=0,
                    end_ms=spec.end_ms,
                    created_ms=at_ms,
                    updated_ms=at_ms,
                )
            )
            return _subscription(conn.execute(select(t.push_subscription).where(_SUB.id == sub_id)).one())

    def get(self, *, source: str, subscription_id: str) -> Subscription | None:
        with self.store.read() as conn:
            row = conn.execute(
                select(t.push_subscription).where(
                    _SUB.id == subscription_id, _SUB.source == source, _SUB.status != "off"
                )
            ).first()
        return None if row is None else _subscription(row)

    def delete(self, *, source: str, subscription_id: str) -> bool:
        with writing(self.store.engine) as conn:
            gone = conn.execute(
                update(t.push_subscription)
                .where(_SUB.id == subscription_id, _SUB.source == source, _SUB.status != "off")
                .values(status="off")
            ).rowcount
            conn.execute(delete(t.push_event).where(_EVENT.subscription_id == subscription_id))
        return bool(gone)

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
        with writing(self.store.engine) as conn:
            cursor = conn.execute(select(t.push_cursor).where(_CURSOR.id == 1).with_for_update()).one()
            changed = int(conn.execute(select(t.dataset.c.changed_ms).where(t.dataset.c.id == 1)).scalar_one())
            expired = max(int(cursor.expired_ms), now_ms)
            subs = [_subscription(r) for r in conn.execute(select(t.push_subscription).where(_live(now_ms)))]
            if subs:
                found = changes_between(conn, int(cursor.changed_ms), changed)
                found += expiries_between(conn, int(cursor.expired_ms), expired)
                for sub in subs:
                    counts[sub.id] = self._enqueue(conn, sub, found)
            conn.execute(update(t.push_cursor).where(_CURSOR.id == 1).values(changed_ms=changed, expired_ms=expired))
        return {sub_id: n for sub_id, n in counts.items() if n}

    def _enqueue(self, conn: Connection, sub: Subscription, found: list[Any]) -> int:
        filters = parse_filters(sub.spec.filters)
        mine = [change for change in found if matches(filters, change.facts)]
        if not mine:
            return 0
        first = sub.events_since_start + 1
        conn.execute(
            t.push_event.insert(),
            [
                {
                    "subscription_id": sub.id,
                    "number": first + n,
                    "at_ms": change.at_ms,
                    "resource_type": change.resource_type,
                    "resource_id": change.resource_id,
                    "removed": change.removed,
                }
                for n, change in enumerate(mine)
            ],
        )
        conn.execute(update(t.push_subscription).where(_SUB.id == sub.id).values(events=_SUB.events + len(mine)))
        return len(mine)

    def live(self, *, now_ms: int) -> list[Subscription]:
        with self.store.read() as conn:
            rows = conn.execute(select(t.push_subscription).where(_live(now_ms))).all()
        return [_subscription(r) for r in rows]

    def current(self, subscription_id: str) -> Subscription | None:
        with self.store.read() as conn:
            row = conn.execute(select(t.push_subscription).where(_SUB.id == subscription_id)).first()
        return None if row is None else _subscription(row)

    def pending(self, subscription_id: str, *, limit: int) -> list[Event]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(t.push_event)
                .where(_EVENT.subscription_id == subscription_id)
                .order_by(_EVENT.number)
                .limit(limit)
            ).all()
        return [Event(int(r.number), int(r.at_ms), r.resource_type, r.resource_id, bool(r.removed)) for r in rows]

    def done(self, subscription_id: str, *, through: int) -> None:
        with writing(self.store.engine) as conn:
            conn.execute(
                delete(t.push_event).where(_EVENT.subscription_id == subscription_id, _EVENT.number <= through)
            )

    def set_status(self, subscription_id: str, *, status: str, error: str | None, at_ms: int) -> None:
        values: dict[str, Any] = {"status": status, "error": error, "updated_ms": at_ms}
        if status == "active":
            values["activated_ms"] = func.coalesce(_SUB.activated_ms, at_ms)
        with writing(self.store.engine) as conn:
            conn.execute(
                update(t.push_subscription).where(_SUB.id == subscription_id, _SUB.status != "off").values(**values)
            )

    def resources(self, keys: Iterable[tuple[str, str]]) -> Mapping[tuple[str, str], dict[str, Any] | None]:
        return {key: self.fhir.read(*key) for key in set(keys)}

"""Chained push: the aggregate's subscriptions and their outbox over the discovery store (the
`SubscriptionStore` and `Outbox` of `slotlinks.subscriptions`), so a downstream app subscribes once to
the aggregator instead of to every provider.

Who may subscribe: a downstream subscriber the admin registered with a secret
(`PUT /admin/subscribers/{name}`, `put_subscriber`); it authenticates with `Authorization: Bearer
<secret>` and sees only its own subscriptions. Events come from `pushchanges`; `collect` runs them and
the numbering in one transaction that also moves the cursor, so a crash loses nothing. The first live
subscription starts from what the aggregate holds then: everything is recorded as announced, silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from sqlalchemy import delete, insert, select, update

from slotlinks.discovery.aggregate.fhirstore import DiscoveryFhirStore
from slotlinks.discovery.aggregate.pushchanges import collect_changes
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput
from slotlinks.subscriptions.resource import NewSubscription, Subscription
from slotlinks.subscriptions.sqlstore import SqlPushStore, SqlSubscriptions

__all__ = ["AggregatePushStore", "put_subscriber"]

MIN_SECRET_CHARS = 16
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CURSOR = t.aggregate_push_cursor.c


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def put_subscriber(store: DiscoveryStore, name: str, secret: str | None) -> bool:
    """Registers (or re-keys) downstream subscriber `name`; secret None removes it and turns its
    subscriptions off. True when it was new."""
    if not _NAME.match(name):
        raise InvalidInput("a subscriber's name is 1-64 letters, digits, '.', '_' or '-'", expression=["name"])
    if secret is not None and (
        len(secret) < MIN_SECRET_CHARS or any(c.isspace() or not c.isprintable() for c in secret)
    ):
        raise InvalidInput(
            f"the secret needs at least {MIN_SECRET_CHARS} printable characters and no spaces", expression=["secret"]
        )
    s = t.aggregate_subscriber.c
    with store.write() as conn:
        existed = conn.execute(delete(t.aggregate_subscriber).where(s.name == name)).rowcount
        if secret is None:
            sub = t.aggregate_subscription.c
            conn.execute(update(t.aggregate_subscription).where(sub.source == name).values(status="off"))
            return False
        taken = conn.execute(select(s.name).where(s.secret_hash == _hash(secret))).first()
        if taken is not None:
            raise InvalidInput("choose another secret", expression=["secret"])
        conn.execute(
            insert(t.aggregate_subscriber).values(name=name, secret_hash=_hash(secret), updated_ms=store.now_ms())
        )
    return not existed


class AggregatePushStore(SqlPushStore):
    """Subscriptions to the aggregate and their outbox; `fhir` renders `full-resource` payloads."""

    def __init__(self, store: DiscoveryStore, fhir: DiscoveryFhirStore) -> None:
        self.store = store
        self.fhir = fhir
        self.subs = SqlSubscriptions(t.aggregate_subscription, t.aggregate_event, read=store.read, write=store.write)

    # --- SubscriptionStore ---------------------------------------------------------------------------

    def source_for(self, authorization: str | None) -> str | None:
        scheme, _, secret = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None
        s = t.aggregate_subscriber.c
        with self.store.read() as conn:
            found = conn.execute(select(s.name).where(s.secret_hash == _hash(secret.strip()))).scalar_one_or_none()
        return None if found is None else str(found)

    def create(self, *, source: str, spec: NewSubscription, at_ms: int) -> Subscription:
        with self.store.write() as conn:
            if not self.subs.any_live(conn, at_ms):
                # The first live subscription: what the aggregate holds now is its starting point.
                conn.execute(delete(t.aggregate_known))
                conn.execute(delete(t.aggregate_push_publisher))
                collect_changes(conn, since_ms=None, now_ms=at_ms)
                conn.execute(update(t.aggregate_push_cursor).where(_CURSOR.id == 1).values(changed_ms=at_ms))
            return self.subs.insert(conn, source=source, spec=spec, at_ms=at_ms)

    # --- Outbox --------------------------------------------------------------------------------------

    def collect(self, *, now_ms: int) -> Mapping[str, int]:
        with self.store.read() as conn:
            if not self.subs.any_live(conn, now_ms):
                return {}  # nobody to collect for: no write transaction every tick
        counts: dict[str, int] = {}
        with self.store.write() as conn:
            subs = self.subs.live_in(conn, now_ms)
            if not subs:
                return {}
            since = int(conn.execute(select(_CURSOR.changed_ms).where(_CURSOR.id == 1)).scalar_one())
            found = collect_changes(conn, since_ms=since, now_ms=now_ms)
            for sub in subs:
                counts[sub.id] = self.subs.enqueue(conn, sub, found)
            conn.execute(update(t.aggregate_push_cursor).where(_CURSOR.id == 1).values(changed_ms=now_ms))
        return {sub_id: n for sub_id, n in counts.items() if n}

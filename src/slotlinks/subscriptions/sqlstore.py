"""Subscriptions and their undelivered events in SQL tables: the part of a `SubscriptionStore` and an
`Outbox` that does not depend on what the events are made from.

A side gives the two tables (columns as the provider's `push_subscription` and `push_event`: a
subscription's `id`, `source`, `status`, `spec` (the `NewSubscription` as JSON), `events` (the count
so far), `end_ms`, `error`, `created_ms`, `activated_ms`, `updated_ms`; an event's `subscription_id`,
`number`, `at_ms`, `resource_type`, `resource_id`, `removed`) and its own `collect`, which calls
`enqueue` in its transaction. Used by the provider (`provider.push.store`) and the discovery aggregate
(`discovery.aggregate.pushstore`): each declares its two tables with `subscription_tables` and builds
its store on `SqlPushStore`, adding only what differs (who a caller is, how a subscription starts,
where events come from).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import msgspec
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    MetaData,
    Row,
    String,
    Table,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)

from slotlinks.subscriptions.notifications import Event
from slotlinks.subscriptions.resource import NewSubscription, Subscription
from slotlinks.subscriptions.topic import EventFacts, matches, parse_filters

__all__ = ["SqlPushStore", "SqlSubscriptions", "Stamped", "subscription_tables"]

_LIVE = ("requested", "active", "error")


class Stamped(Protocol):
    """One change, as `enqueue` needs it."""

    @property
    def at_ms(self) -> int: ...
    @property
    def resource_type(self) -> str: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def removed(self) -> bool: ...
    @property
    def facts(self) -> EventFacts: ...


def subscription_tables(metadata: MetaData, subscriptions: str, events: str) -> tuple[Table, Table]:
    """A side's two tables, named `subscriptions` and `events`, in `metadata`: a subscription per row
    (`spec` is the subscription as requested, as JSON; `events` counts every event ever made for it,
    the events-since-subscription-start), and its events waiting, numbered from 1, until delivered or
    given up on."""
    subs = Table(
        subscriptions,
        metadata,
        Column("id", String(64), primary_key=True),
        Column("source", String(64), nullable=False, index=True),
        Column("status", String(16), nullable=False),
        Column("spec", Text, nullable=False),
        Column("events", BigInteger, nullable=False),
        Column("end_ms", BigInteger, nullable=True),
        Column("error", Text, nullable=True),
        Column("created_ms", BigInteger, nullable=False),
        Column("activated_ms", BigInteger, nullable=True),
        Column("updated_ms", BigInteger, nullable=False),
    )
    queued = Table(
        events,
        metadata,
        Column("subscription_id", String(64), primary_key=True),
        Column("number", BigInteger, primary_key=True),
        Column("at_ms", BigInteger, nullable=False),
        Column("resource_type", String(32), nullable=False),
        Column("resource_id", String(64), nullable=False),
        Column("removed", Boolean, nullable=False),
    )
    return subs, queued


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


class SqlSubscriptions:
    """Subscriptions in `subs`, their events in `events`; `read` and `write` open transactions."""

    def __init__(
        self,
        subs: Table,
        events: Table,
        *,
        read: Callable[[], AbstractContextManager[Connection]],
        write: Callable[[], AbstractContextManager[Connection]],
    ) -> None:
        self.subs, self.events = subs, events
        self.read, self.write = read, write

    def live_clause(self, now_ms: int) -> Any:
        # `error` subscriptions whose handshake was refused are dead; those that failed later keep collecting.
        c = self.subs.c
        return (
            c.status.in_(_LIVE)
            & or_(c.status != "error", c.activated_ms.is_not(None))
            & or_(c.end_ms.is_(None), c.end_ms > now_ms)
        )

    def any_live(self, conn: Connection, now_ms: int) -> bool:
        return bool(conn.execute(select(func.count()).where(self.live_clause(now_ms))).scalar_one())

    def insert(self, conn: Connection, *, source: str, spec: NewSubscription, at_ms: int) -> Subscription:
        sub_id = secrets.token_hex(16)
        conn.execute(
            self.subs.insert().values(
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
        return _subscription(conn.execute(select(self.subs).where(self.subs.c.id == sub_id)).one())

    def get(self, *, source: str, subscription_id: str) -> Subscription | None:
        c = self.subs.c
        with self.read() as conn:
            row = conn.execute(
                select(self.subs).where(c.id == subscription_id, c.source == source, c.status != "off")
            ).first()
        return None if row is None else _subscription(row)

    def delete(self, *, source: str, subscription_id: str) -> bool:
        c = self.subs.c
        with self.write() as conn:
            gone = conn.execute(
                update(self.subs)
                .where(c.id == subscription_id, c.source == source, c.status != "off")
                .values(status="off")
            ).rowcount
            conn.execute(delete(self.events).where(self.events.c.subscription_id == subscription_id))
        return bool(gone)

    def live_in(self, conn: Connection, now_ms: int) -> list[Subscription]:
        return [_subscription(r) for r in conn.execute(select(self.subs).where(self.live_clause(now_ms)))]

    def enqueue(self, conn: Connection, sub: Subscription, found: Sequence[Stamped]) -> int:
        """Numbers the changes `sub`'s filters match on from its count, in the caller's transaction."""
        filters = parse_filters(sub.spec.filters)
        mine = [change for change in found if matches(filters, change.facts)]
        if not mine:
            return 0
        first = sub.events_since_start + 1
        conn.execute(
            self.events.insert(),
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
        c = self.subs.c
        conn.execute(update(self.subs).where(c.id == sub.id).values(events=c.events + len(mine)))
        return len(mine)

    # --- Outbox, but for `collect` and `resources` ----------------------------------------------------

    def live(self, *, now_ms: int) -> list[Subscription]:
        with self.read() as conn:
            return self.live_in(conn, now_ms)

    def current(self, subscription_id: str) -> Subscription | None:
        with self.read() as conn:
            row = conn.execute(select(self.subs).where(self.subs.c.id == subscription_id)).first()
        return None if row is None else _subscription(row)

    def pending(self, subscription_id: str, *, limit: int) -> list[Event]:
        e = self.events.c
        with self.read() as conn:
            rows = conn.execute(
                select(self.events).where(e.subscription_id == subscription_id).order_by(e.number).limit(limit)
            ).all()
        return list(_events(rows))

    def done(self, subscription_id: str, *, through: int) -> None:
        e = self.events.c
        with self.write() as conn:
            conn.execute(delete(self.events).where(e.subscription_id == subscription_id, e.number <= through))

    def set_status(self, subscription_id: str, *, status: str, error: str | None, at_ms: int) -> None:
        c = self.subs.c
        values: dict[str, Any] = {"status": status, "error": error, "updated_ms": at_ms}
        if status == "active":
            values["activated_ms"] = func.coalesce(c.activated_ms, at_ms)
        with self.write() as conn:
            conn.execute(update(self.subs).where(c.id == subscription_id, c.status != "off").values(**values))


def _events(rows: Sequence[Row[Any]]) -> Iterator[Event]:
    for r in rows:
        yield Event(int(r.number), int(r.at_ms), r.resource_type, r.resource_id, bool(r.removed))


class _Resources(Protocol):
    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None: ...


class SqlPushStore:
    """The part of a side's `SubscriptionStore` and `Outbox` that `SqlSubscriptions` answers alone;
    a side adds `source_for`, `create` and `collect`. `fhir` renders `full-resource` payloads."""

    subs: SqlSubscriptions
    fhir: _Resources

    def get(self, *, source: str, subscription_id: str) -> Subscription | None:
        return self.subs.get(source=source, subscription_id=subscription_id)

    def delete(self, *, source: str, subscription_id: str) -> bool:
        return self.subs.delete(source=source, subscription_id=subscription_id)

    def live(self, *, now_ms: int) -> list[Subscription]:
        return self.subs.live(now_ms=now_ms)

    def current(self, subscription_id: str) -> Subscription | None:
        return self.subs.current(subscription_id)

    def pending(self, subscription_id: str, *, limit: int) -> list[Event]:
        return self.subs.pending(subscription_id, limit=limit)

    def done(self, subscription_id: str, *, through: int) -> None:
        self.subs.done(subscription_id, through=through)

    def set_status(self, subscription_id: str, *, status: str, error: str | None, at_ms: int) -> None:
        self.subs.set_status(subscription_id, status=status, error=error, at_ms=at_ms)

    def resources(self, keys: Iterable[tuple[str, str]]) -> Mapping[tuple[str, str], dict[str, Any] | None]:
        return {key: self.fhir.read(*key) for key in set(keys)}

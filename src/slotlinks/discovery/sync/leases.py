"""Sync leases: how any number of sync workers (`slotlinks sync` processes, discovery servers with
background sync) on one database share the publishers, each publisher polled by one worker at a time.

A worker *claims* a publisher by writing its owner id and an expiry on the publisher row, in one
statement that only touches rows nobody holds (or whose lease lapsed). On PostgreSQL the rows to claim
are picked with `FOR UPDATE SKIP LOCKED`, so workers claiming at the same moment take different
publishers instead of queueing on one another's row locks; on SQLite (one machine, one writer at a
time) the same statement runs in a write transaction and the clause is not rendered. While it polls,
the worker renews its lease; at the end it releases it. A killed worker stops renewing, and its
publishers are claimed by another once their leases lapse.

A worker whose lease lapsed and was claimed by another (it stalled longer than the lease) must not
touch that publisher any more: `guard` is called inside each transaction of a poll that changes the
publisher's data or polling state, locks the publisher row and raises `LeaseLost` unless this worker
still holds it.

Expiries are read from each worker's clock (the store's); workers on several machines need clocks
that agree to well within a lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, or_, select, update

from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import LeaseLost

__all__ = ["Guard", "Leases", "unguarded", "worker_id"]

#: Called inside a transaction of a poll; raises `LeaseLost` when the poll must not write.
Guard = Callable[[Connection], None]


def unguarded(_conn: Connection) -> None:
    """The guard of a poll run outside any lease (a caller that shares its store with no worker)."""


def worker_id() -> str:
    """An owner id unique to one worker: readable (host and process) and never reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    """One worker's leases on the publishers of `store`."""

    def __init__(self, store: DiscoveryStore, lease_seconds: float, *, owner: str | None = None) -> None:
        self.store = store
        self.owner = owner or worker_id()
        self.lease_ms = max(1, int(lease_seconds * 1000))

    def claim(
        self,
        *,
        limit: int,
        force: bool,
        only: Sequence[int] | None = None,
        skip: Sequence[int] = (),
        polled_after: int | None = None,
    ) -> list[Row[Any]]:
        """Claim up to `limit` unpaused publishers no worker holds: those due for a poll (any, with
        `force`), of `only` when given, never those in `skip` nor those whose last poll started after
        `polled_after` (ms); answers their rows, leases included."""
        if limit <= 0:
            return []
        p = t.publisher.c
        now = self.store.now_ms()
        free = or_(p.lease_owner.is_(None), p.lease_until_ms <= now)
        wanted = select(p.id).where(p.paused.is_(False), free).order_by(p.next_poll_ms, p.id).limit(limit)
        if not force:
            wanted = wanted.where(p.next_poll_ms <= now)
        if polled_after is not None:
            wanted = wanted.where(or_(p.last_attempt_ms.is_(None), p.last_attempt_ms <= polled_after))
        if only is not None:
            wanted = wanted.where(p.id.in_(list(only)))
        if skip:
            wanted = wanted.where(p.id.not_in(list(skip)))
        # `free` is checked again on the row itself: on PostgreSQL a row another worker claimed
        # between this statement's snapshot and its lock is re-read, and left alone.
        claim = (
            update(t.publisher)
            .where(p.id.in_(wanted.with_for_update(skip_locked=True).scalar_subquery()), free)
            .values(lease_owner=self.owner, lease_until_ms=now + self.lease_ms)
            .returning(*t.publisher.c)
        )
        with self.store.write() as conn:
            return sorted(conn.execute(claim), key=lambda row: (row.next_poll_ms, row.id))

    def held(self) -> set[int]:
        """The publishers some worker (this one included) holds a lease on now."""
        p = t.publisher.c
        with self.store.read() as conn:
            query = select(p.id).where(p.lease_owner.is_not(None), p.lease_until_ms > self.store.now_ms())
            return {int(pk) for pk in conn.execute(query).scalars()}

    def renew(self, publisher_id: int) -> bool:
        """Extend this worker's lease on the publisher; False when it holds it no longer."""
        p = t.publisher.c
        with self.store.write() as conn:
            renewed = conn.execute(
                update(t.publisher)
                .where(p.id == publisher_id, p.lease_owner == self.owner)
                .values(lease_until_ms=self.store.now_ms() + self.lease_ms)
            )
            return bool(renewed.rowcount)

    def release(self, publisher_id: int) -> None:
        """Give the publisher back (a no-op when another worker holds it now)."""
        p = t.publisher.c
        with self.store.write() as conn:
            conn.execute(
                update(t.publisher)
                .where(p.id == publisher_id, p.lease_owner == self.owner)
                .values(lease_owner=None, lease_until_ms=None)
            )

    def guard(self, publisher_id: int) -> Guard:
        """A check for the transactions of one poll of the publisher: raises `LeaseLost` unless this
        worker holds its lease, and keeps the row locked (PostgreSQL) until the transaction ends, so
        no other worker claims it in between."""
        p = t.publisher.c

        def check(conn: Connection) -> None:
            owner = conn.execute(
                select(p.lease_owner).where(p.id == publisher_id).with_for_update()
            ).scalar_one_or_none()
            if owner != self.owner:
                raise LeaseLost(publisher_id)

        return check

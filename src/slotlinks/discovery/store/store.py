"""The discovery store: one SQLAlchemy Core implementation for SQLite and PostgreSQL.

A `DiscoveryStore` owns the engine and hands out transactions; it never shares a database schema
with the provider side (its tables are `publisher`, `sync_run`, `bad_line`, `referral` and `feed_*`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from slotlinks.clock import Clock, system_clock
from slotlinks.clock import now_ms as clock_ms
from slotlinks.db.engine import close_engine, make_engine, reading, searching, writing
from slotlinks.db.migrate import upgrade

__all__ = ["DiscoveryStore", "open_store"]


class DiscoveryStore:
    """Transactions over one discovery database, and the clock its services read."""

    def __init__(self, engine: Engine, *, clock: Clock = system_clock) -> None:
        self.engine = engine
        self.clock = clock

    def now_ms(self) -> int:
        return clock_ms(self.clock)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot."""
        with reading(self.engine) as conn:
            yield conn

    @contextmanager
    def searching(self) -> Iterator[Connection]:
        """A read transaction for running searches in, and nothing else (db/engine.py `searching`)."""
        with searching(self.engine) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on success and rolled back on any exception."""
        with writing(self.engine) as conn:
            yield conn

    def dispose(self) -> None:
        close_engine(self.engine)


def open_store(url: str, *, migrate: bool = True, clock: Clock = system_clock) -> DiscoveryStore:
    """Opens (and by default migrates) the discovery database at `url`."""
    store = DiscoveryStore(make_engine(url), clock=clock)
    if migrate:
        upgrade(store.engine, "discovery")
    return store

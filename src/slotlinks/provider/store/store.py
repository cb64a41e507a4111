"""The provider store: one SQLAlchemy Core implementation for SQLite and PostgreSQL.

A `ProviderStore` owns the engine and hands out transactions. Every write goes through `change()`,
which stamps the transaction (see `tables.dataset`) so the publication knows what changed and when.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, case, inspect, select, update

from slotlinks.clock import Clock, system_clock
from slotlinks.clock import now_ms as clock_ms
from slotlinks.db.engine import close_engine, make_engine, reading, writing
from slotlinks.db.migrate import upgrade
from slotlinks.provider.store import tables as t

__all__ = ["Change", "DatasetState", "ProviderStore", "open_store"]


@dataclass(frozen=True, slots=True)
class DatasetState:
    """How far the data set has come: `version` counts commits, `changed_ms` dates the last one."""

    version: int
    changed_ms: int


@dataclass(frozen=True, slots=True)
class Change:
    """An open write transaction and the `last_updated` stamp its rows get."""

    conn: Connection
    stamp_ms: int


class ProviderStore:
    """Transactions over one provider database."""

    def __init__(self, engine: Engine, *, clock: Clock = system_clock) -> None:
        self.engine = engine
        self.clock = clock

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with reading(self.engine) as conn:
            yield conn

    @contextmanager
    def change(self) -> Iterator[Change]:
        """A write transaction whose rows are stamped with a time later than every earlier commit."""
        now_ms = clock_ms(self.clock)
        with writing(self.engine) as conn:
            yield self.stamp(conn, now_ms=now_ms)

    def stamp(self, conn: Connection, *, now_ms: int | None = None) -> Change:
        """Makes the write transaction open on `conn` a change to the data set, as `change()` does with
        its first statement: the version counts it and its rows get a stamp later than every earlier
        commit. Inside a savepoint, rolling the savepoint back takes the change back out."""
        now_ms = clock_ms(self.clock) if now_ms is None else now_ms
        stamp = conn.execute(
            update(t.dataset)
            .where(t.dataset.c.id == 1)
            .values(
                version=t.dataset.c.version + 1,
                changed_ms=case((t.dataset.c.changed_ms >= now_ms, t.dataset.c.changed_ms + 1), else_=now_ms),
            )
            .returning(t.dataset.c.changed_ms)
        ).scalar_one()
        return Change(conn, int(stamp))

    def state(self, conn: Connection | None = None) -> DatasetState:
        query = select(t.dataset.c.version, t.dataset.c.changed_ms).where(t.dataset.c.id == 1)
        if conn is not None:
            row = conn.execute(query).one()
        else:
            with self.read() as own:
                row = own.execute(query).one()
        return DatasetState(int(row.version), int(row.changed_ms))

    def get_setting(self, key: str, default: str = "", conn: Connection | None = None) -> str:
        query = select(t.provider_setting.c.value).where(t.provider_setting.c.key == key)
        if conn is not None:
            value = conn.execute(query).scalar_one_or_none()
        else:
            with self.read() as own:
                value = own.execute(query).scalar_one_or_none()
        return default if value is None else str(value)

    def set_setting(self, change: Change, key: str, value: str) -> None:
        conn = change.conn
        exists = conn.execute(select(t.provider_setting.c.key).where(t.provider_setting.c.key == key))
        if exists.first() is None:
            conn.execute(t.provider_setting.insert().values(key=key, value=value))
        else:
            conn.execute(update(t.provider_setting).where(t.provider_setting.c.key == key).values(value=value))

    def is_migrated(self) -> bool:
        return "dataset" in inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        close_engine(self.engine)


def open_store(url: str, *, migrate: bool = True, clock: Clock = system_clock) -> ProviderStore:
    """Opens (and by default migrates) the provider database at `url`."""
    store = ProviderStore(make_engine(url), clock=clock)
    if migrate:
        upgrade(store.engine, "provider")
    return store

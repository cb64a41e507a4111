"""Writing full loads into the discovery store: one writer at a time per store, and the batches that
are waiting by then written together, in one transaction.

A full load hands its rows over in batches (generation.py `GenerationWriter.take`) and reads on while they
are written in a worker thread. Loads of one process take turns at the store (`load_write`) rather
than in the database, where a writer waiting for SQLite's lock sleeps in growing steps. When the
database is the slower side, batches of several loads wait for their turn; `BatchWriter` then
writes all that are waiting in one transaction. Fewer, larger transactions
cost SQLite less: every index page a transaction touches is written to the write-ahead log once per
transaction, and a Slot table's indexes (by id, by Schedule and start, by start) are touched all
over by each batch, since feeds list Slots by week and Schedule, not in index order. When the
database keeps up, each batch is still its own short transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from slotlinks.db.engine import writing_on
from slotlinks.discovery.ingest.generation import GenerationWriter
from slotlinks.discovery.store.store import DiscoveryStore

__all__ = ["BatchWriter", "batch_writer", "load_write"]

log = logging.getLogger(__name__)

_WRITE_LOCKS: weakref.WeakKeyDictionary[DiscoveryStore, threading.Lock] = weakref.WeakKeyDictionary()
_WRITERS: weakref.WeakKeyDictionary[DiscoveryStore, BatchWriter] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


#: The page cache of the connection that writes loads on SQLite, in KiB (SQLite's default is 2 MiB).
LOAD_CACHE_KIB = 16384
#: Bytes of write-ahead log after which that connection checkpoints itself (SQLite's default is 1000
#: pages, 8 MiB at our page size).
LOAD_CHECKPOINT_BYTES = 256 << 20


def _write_lock(store: DiscoveryStore) -> threading.Lock:
    with _GUARD:
        return _WRITE_LOCKS.setdefault(store, threading.Lock())


@contextmanager
def load_write(store: DiscoveryStore) -> Iterator[Connection]:
    """A write transaction of a load, taken in turn with the other loads of this process."""
    with _write_lock(store), store.write() as conn:
        yield conn


def batch_writer(store: DiscoveryStore) -> BatchWriter:
    """The `BatchWriter` of `store` in this process."""
    with _GUARD:
        writer = _WRITERS.get(store)
        if writer is None:
            writer = _WRITERS[store] = BatchWriter(store)
        return writer


@dataclass(slots=True)
class _Waiting:
    writer: GenerationWriter
    batch: dict[str, list[Any]]
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


class BatchWriter:
    """Writes the batches of a store's full loads, each in order, those waiting together.

    While loads run, their batches go through one connection of their own. On SQLite it keeps a
    larger page cache (`LOAD_CACHE_KIB`), warm from one transaction to the next since no other
    connection writes in between, and leaves checkpoints (copying committed pages from the
    write-ahead log into the database, and waiting for the disk twice) to a thread of their own
    (`_Checkpointer`), which runs after each commit while the writer goes on; the writer checkpoints
    itself only when the log has grown to `LOAD_CHECKPOINT_BYTES`, which bounds the log. The
    connection goes back to the pool, as it was, when the last load ends.
    """

    def __init__(self, store: DiscoveryStore) -> None:
        self._store = store
        self._waiting: list[_Waiting] = []
        self._guard = threading.Lock()
        self._users = 0
        self._conn: Connection | None = None  # used under the store's write lock only
        self._restore: list[str] = []
        self._checkpointer: _Checkpointer | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[BatchWriter]:
        """Use this writer for one load; the last load out gives its connection back."""
        with self._guard:
            self._users += 1
        try:
            yield self
        finally:
            with self._guard:
                self._users -= 1
                last = self._users == 0
            if last:
                await asyncio.shield(asyncio.to_thread(self._close_unless_used))

    async def write(self, writer: GenerationWriter, batch: dict[str, list[Any]]) -> None:
        """Write `batch` of `writer`'s load; returns once it is committed, or raises what stopped it.

        A load must wait for its batches in the order it handed them over; batches of one load are
        written in that order.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._guard:
            self._waiting.append(_Waiting(writer, batch, loop, done))
        await asyncio.to_thread(self._drain)
        await done

    def withdraw(self, writer: GenerationWriter) -> None:
        """Drop the batches of `writer` not taken up yet (its load failed): their `write` calls end
        cancelled. Batches being written are not stopped; their `write` calls end as they do."""
        with self._guard:
            dropped = [w for w in self._waiting if w.writer is writer]
            self._waiting = [w for w in self._waiting if w.writer is not writer]
        for waiting in dropped:
            with contextlib.suppress(RuntimeError):
                waiting.loop.call_soon_threadsafe(waiting.done.cancel)

    def _drain(self) -> None:
        with _write_lock(self._store):
            with self._guard:
                group, self._waiting = self._waiting, []
            if not group:
                return  # an earlier turn wrote them
            failure: BaseException | None = RuntimeError("writing the batch was interrupted")
            try:
                with writing_on(self._connection()) as conn:
                    for waiting in group:
                        waiting.writer.write(conn, waiting.batch)
                failure = None
                if self._checkpointer is not None:
                    self._checkpointer.poke()
            except Exception as exc:  # every load of the group hears of it
                failure = exc
                self._close()  # a connection that failed is not trusted with the next group
            finally:  # and none is left waiting
                for waiting in group:
                    _settle_soon(waiting, failure)

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._store.engine.connect()
            if conn.dialect.name == "sqlite":
                page_size = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
                settings = {"cache_size": -LOAD_CACHE_KIB, "wal_autocheckpoint": LOAD_CHECKPOINT_BYTES // page_size}
                for name, value in settings.items():
                    self._restore.append(f"PRAGMA {name}={conn.exec_driver_sql(f'PRAGMA {name}').scalar_one()}")
                    conn.exec_driver_sql(f"PRAGMA {name}={value}")
                conn.commit()  # the transaction SQLAlchemy began for them
                self._checkpointer = _Checkpointer(self._store.engine)
            self._conn = conn
        return self._conn

    def _close_unless_used(self) -> None:
        with _write_lock(self._store), self._guard:
            if self._users == 0:
                self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        restore, self._restore = self._restore, []
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        if conn is None:
            return
        try:
            for statement in restore:
                conn.exec_driver_sql(statement)
            conn.commit()
        finally:
            conn.close()


class _Checkpointer:
    """Runs SQLite's passive checkpoint, in a thread and on a connection of its own, whenever poked,
    and once more when stopped. A passive checkpoint never blocks writers or readers; whatever it
    could not copy yet, a later one (or a writer's own, past its limit) copies."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._due = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="slotlinks-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._due.set()

    def stop(self) -> None:
        self._stopping = True
        self._due.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            with self._engine.connect() as conn:
                driver = conn.connection.driver_connection
                assert isinstance(driver, sqlite3.Connection)
                while True:
                    self._due.wait()
                    self._due.clear()
                    last = self._stopping  # read first, so the last pass begins after everything `stop` follows
                    driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    if last:
                        return
        except Exception:  # checkpoints are an optimisation here: writers checkpoint past their limit
            log.exception("background checkpoint failed")


def _settle_soon(waiting: _Waiting, failure: BaseException | None) -> None:
    def settle() -> None:
        if waiting.done.done():
            return
        if failure is None:
            waiting.done.set_result(None)
        else:
            waiting.done.set_exception(failure)

    with contextlib.suppress(RuntimeError):  # its event loop has closed: nobody is waiting any more
        waiting.loop.call_soon_threadsafe(settle)

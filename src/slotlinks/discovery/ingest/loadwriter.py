"""Writing full loads into the discovery store: one writer at a time, and the batches that are
waiting by then written together, in one transaction.

A full load hands its rows over in batches (generation.py `GenerationWriter.take`) and reads on while
they are written in a worker thread. The loads of one `LoadWriter` take turns at the store
(`transaction`) rather than in the database, where a writer waiting for SQLite's lock sleeps in
growing steps. When the database is the slower side, batches of several loads wait for their turn;
`LoadWriter` then writes all that are waiting in one transaction. Fewer, larger transactions
cost SQLite less: every index page a transaction touches is written to the write-ahead log once per
transaction, and a Slot table's indexes (by id, by Schedule and start, by start) are touched all
over by each batch, since feeds list Slots by week and Schedule, not in index order. When the
database keeps up, each batch is still its own short transaction.

The sync engine (sync/engine.py) builds one `LoadWriter` for its store and shares it among its loads;
the writer's turn, its connection and its checkpoint thread live in that object, not in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from slotlinks.db.engine import writing_on
from slotlinks.discovery.ingest.checkpoint import Checkpointer
from slotlinks.discovery.ingest.generation import GenerationWriter
from slotlinks.discovery.store.store import DiscoveryStore

__all__ = ["LOAD_CACHE_KIB", "LOAD_CHECKPOINT_BYTES", "LoadWriter"]

#: The page cache of the connection that writes loads on SQLite, in KiB (SQLite's default is 2 MiB).
LOAD_CACHE_KIB = 16384
#: Bytes of write-ahead log after which that connection checkpoints itself (SQLite's default is 1000
#: pages, 8 MiB at our page size).
LOAD_CHECKPOINT_BYTES = 256 << 20


@dataclass(slots=True)
class _Waiting:
    writer: GenerationWriter
    batch: dict[str, list[Any]]
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


class LoadWriter:
    """Writes the full loads of one store: their transactions one at a time, their batches each in
    order, those waiting together.

    While loads run, their batches go through one connection of their own. On SQLite it keeps a
    larger page cache (`LOAD_CACHE_KIB`), warm from one transaction to the next since no other
    connection writes in between, and leaves checkpoints (copying committed pages from the
    write-ahead log into the database, and waiting for the disk twice) to a thread of their own
    (checkpoint.py), which runs after each commit while the writer goes on; the writer checkpoints
    itself only when the log has grown to `LOAD_CHECKPOINT_BYTES`, which bounds the log. The
    connection goes back to the pool, as it was, when the last load ends.

    PostgreSQL takes writers side by side: there each batch is written and committed on a pooled
    connection of its own, alongside the other loads' batches and transactions (each load writes
    only its own publisher's rows), so loads share the server's CPUs instead of taking turns.
    """

    def __init__(self, store: DiscoveryStore) -> None:
        self._store = store
        self._in_turns = store.engine.dialect.name == "sqlite"
        self._turn = threading.Lock()  # one write transaction of a load at a time
        self._waiting: list[_Waiting] = []
        self._guard = threading.Lock()
        self._users = 0
        self._conn: Connection | None = None  # used during the turn only
        self._restore: list[str] = []
        self._checkpointer: Checkpointer | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction of a load (discarding, resolving, flipping), taken in turn with the
        other loads' transactions and batches."""
        with self._turn if self._in_turns else contextlib.nullcontext(), self._store.write() as conn:
            yield conn

    @asynccontextmanager
    async def session(self) -> AsyncIterator[LoadWriter]:
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
        if not self._in_turns:
            await asyncio.to_thread(self._write_alone, writer, batch)
            return
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

    def _write_alone(self, writer: GenerationWriter, batch: dict[str, list[Any]]) -> None:
        with self._store.write() as conn:
            # The batch belongs to a generation nobody reads until the flip, which commits with the
            # server's own durability and, the log being written in order, makes every batch before
            # it durable too: a batch need not wait for the disk.
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
            writer.write(conn, batch)

    def _drain(self) -> None:
        with self._turn:
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
                self._checkpointer = Checkpointer(self._store.engine)
            self._conn = conn
        return self._conn

    def _close_unless_used(self) -> None:
        with self._turn, self._guard:
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

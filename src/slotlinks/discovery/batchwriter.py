"""Where a full load's batches are written: one at a time, each while the next one is read.

Small loads write in a worker thread. Python runs one thread at a time, though, so parsing (in the
event loop) and writing (in the thread) mostly take turns. Once a load has passed
`Settings.write_process_rows` resources, its remaining batches go to the *writer process*, and
parsing and writing really run side by side on two CPUs.

The writer process is a single child of this process, started on first need and kept for its
lifetime (a start costs a fresh interpreter that imports the ingest code). Every large load of every
database of this process sends it its batches; it writes them in the order they arrive, so an SQLite
database never has two of our writers racing for its lock. A load hands over its `GenerationWriter`
as it stands between two batches (its state: which Slots already point at their Schedules) and gets
the final `slots_resolved` back. If the child dies, the loads using it fail (and keep their
publishers' last good data, as any failed load does); the next large load starts a new child.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import msgspec
from sqlalchemy import Engine

from slotlinks.dbengine import make_engine, writing
from slotlinks.discovery.ingest import GenerationWriter

__all__ = ["BatchWriter"]

Batch = dict[str, list[Any]]

_POOL: ProcessPoolExecutor | None = None
_POOL_GUARD = threading.Lock()


def _writer_process() -> ProcessPoolExecutor:
    global _POOL
    with _POOL_GUARD:
        if _POOL is None:
            _POOL = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return _POOL


def _forget_broken(pool: ProcessPoolExecutor) -> None:
    global _POOL
    with _POOL_GUARD:
        if _POOL is pool:
            _POOL = None


class BatchWriter:
    """Writes the batches of one full load in order, at most one in flight."""

    def __init__(
        self, url: str, writer: GenerationWriter, write_here: Callable[[Batch], None], *, process_rows: int
    ) -> None:
        """`url`: the database (the writer process connects to it); `write_here`: writes a batch in this
        process (called in a worker thread); `process_rows`: resources after which the writer process
        takes over (0: never)."""
        self._url = url
        self._writer = writer
        self._write_here = write_here
        self._process_rows = process_rows
        self._rows = 0
        self._inflight: deque[asyncio.Future[Any]] = deque()
        self._pool: ProcessPoolExecutor | None = None
        self._key = uuid.uuid4().hex

    @property
    def in_child(self) -> bool:
        """True once the batches go to the writer process."""
        return self._pool is not None

    async def put(self, batch: Batch) -> None:
        """Start writing `batch` once the batches before it allow; returns without waiting for it.

        In this process one batch is in flight at a time. The writer process takes them in order,
        so two may be on their way: while it writes one, the next is already handed over.
        """
        while len(self._inflight) >= (2 if self._pool is not None else 1):
            await self._watch(self._inflight.popleft())
        self._rows += sum(len(rows) for rows in batch.values())
        if self._pool is None and 0 < self._process_rows <= self._rows:
            await self.drain()  # the writer is handed over between two batches, none in flight
            self._pool = _writer_process()
            self._inflight.append(self._submit(_child_write, self._key, _pack(batch), (self._url, self._writer)))
        elif self._pool is not None:
            self._inflight.append(self._submit(_child_write, self._key, _pack(batch)))
        else:
            self._inflight.append(asyncio.ensure_future(asyncio.to_thread(self._write_here, batch)))

    async def drain(self) -> None:
        """Wait for every batch in flight (raising what the first failing one raised)."""
        while self._inflight:
            await self._watch(self._inflight.popleft())

    async def close(self) -> None:
        """Wait for every batch and take the child's `slots_resolved` back."""
        await self.drain()
        if self._pool is not None:
            self._writer.slots_resolved = await self._watch(self._submit(_child_finish, self._key))
            self._pool = None

    async def abandon(self) -> None:
        """After a failure: let the batches in flight end, whatever their outcome, and drop the
        child's state of this load (its rows are discarded by the caller)."""
        pending = list(self._inflight)
        self._inflight.clear()
        if self._pool is not None:
            pending.append(self._submit(_child_forget, self._key))
            self._pool = None
        if pending:
            await asyncio.wait(pending)
            for future in pending:
                if not future.cancelled():
                    future.exception()  # seen: the failure being handled is the one that counts

    def _submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        assert self._pool is not None
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _watch(self, future: asyncio.Future[Any]) -> Any:
        try:
            return await future
        except BrokenProcessPool:
            if self._pool is not None:
                _forget_broken(self._pool)
            raise


# --- in the writer process -------------------------------------------------------------------------

_LOADS: dict[str, tuple[str, GenerationWriter]] = {}  # load key -> (database URL, its writer)
_ENGINES: dict[str, Engine] = {}


def _pack(batch: Batch) -> bytes:
    """A batch as MessagePack: encoded about three times faster than pickle encodes the same rows,
    and this side (which also parses) is the busier of the two."""
    return _ENCODER.encode(batch)


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(dict[str, list[Any]])


def _child_write(key: str, packed: bytes, start: tuple[str, GenerationWriter] | None = None) -> None:
    """Write one batch of the load `key`; its first batch comes with its `start`: URL and writer."""
    batch = _DECODER.decode(packed)
    if start is not None:
        url = start[0]
        if url not in _ENGINES:
            _ENGINES[url] = make_engine(url)
        _LOADS[key] = start
    url, writer = _LOADS[key]
    with writing(_ENGINES[url]) as conn:
        writer.write(conn, batch)


def _child_finish(key: str) -> bool:
    url, writer = _LOADS.pop(key)
    if all(other != url for other, _ in _LOADS.values()):  # no other load uses the database now
        _ENGINES.pop(url).dispose()
    return writer.slots_resolved


def _child_forget(key: str) -> None:
    if key in _LOADS:
        _child_finish(key)

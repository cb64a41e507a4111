"""Work that one process per database must do alone, however many processes share the database.

Several web processes behind a load balancer, or a server beside `slotlinks sync` workers, share one
database. Sync work is shared out publisher by publisher (`discovery.sync.leases`), but some loops must
run in exactly one process at a time, or each message goes out once per process: delivering
subscription notifications (each undelivered event would be POSTed by every process) and mailing
alerts. Each such loop asks its `Singleton` before every round and does nothing while another process
holds it.

- PostgreSQL: a session advisory lock, keyed by the work's name and the connection's schema, held on a
  connection of its own in autocommit (never idle in a transaction, which would hold back vacuum). The
  server frees it when that connection ends, so a killed or frozen-and-cut-off process hands the work
  over at the next round of another; a process that lost its connection learns so at its next round.
- SQLite (one machine): an exclusive `flock` on a file beside the database, freed by the kernel when
  the process ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

__all__ = ["Singleton"]

_TRY = text("SELECT pg_try_advisory_lock(hashtextextended('slotlinks:' || :name || ':' || current_schema(), 0))")


class Singleton:
    """The right to run the work named `name` on `engine`'s database, held by one process at a time."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._fd: int | None = None
        self._closer: weakref.finalize[..., Singleton] | None = None

    def held(self) -> bool:
        """Whether this process holds the work now, taking it when it is free. A blocking call (a
        database round trip on PostgreSQL): run it where blocking is allowed."""
        with self._lock:
            if self.engine.dialect.name == "sqlite":
                return self._file_held()
            return self._advisory_held()

    def release(self) -> None:
        """Hands the work back (a process stopping cleanly), so another takes it at once."""
        with self._lock:
            # Ending the session frees its advisory locks; closing the only descriptor frees the flock.
            # The closer runs once: it never closes a descriptor number the process has reused since.
            if self._closer is not None:
                self._closer()
                self._closer = None
            self._conn = None
            self._fd = None

    def _advisory_held(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # the session is gone, and the lock with it
                if self._closer is not None:
                    self._closer()
                    self._closer = None
                self._conn = None
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(_TRY, {"name": self.name}).scalar_one())
        except Exception:
            conn.close()
            raise
        if got:
            # Out of the pool: closing it must end the session (and free the lock), not lend the
            # session, lock and all, to the next borrower. Closed with its holder, should that be
            # dropped without `release` (an app torn down without its shutdown).
            conn.detach()
            self._conn = conn
            self._closer = weakref.finalize(self, _close_quietly, conn)
        else:
            conn.close()
        return got

    def _file_held(self) -> bool:
        if self._fd is not None:
            return True
        database = make_url(str(self.engine.url)).database or ""
        path = Path(f"{database}.{self.name}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        self._closer = weakref.finalize(self, _close_fd_quietly, fd)
        return True


def _close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def _close_fd_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)

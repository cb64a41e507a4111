"""SQLite checkpoints in a thread of their own while loads write.

A checkpoint copies committed pages from the write-ahead log into the database file and waits for
the disk twice; the connection that writes a load's batches leaves that to a `Checkpointer`, poked
after each commit, and goes on writing (loadwriter.py).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy import Engine

__all__ = ["Checkpointer"]

log = logging.getLogger(__name__)


class Checkpointer:
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
        """Ask for a checkpoint (after a commit); pokes while one runs make one more."""
        self._due.set()

    def stop(self) -> None:
        """Run a last checkpoint, after everything committed before this call, and end the thread."""
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

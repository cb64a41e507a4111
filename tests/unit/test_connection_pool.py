"""A server's concurrent requests reuse PostgreSQL connections instead of opening one each."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from slotlinks.db.engine import make_engine, reading


@pytest.mark.postgres
def test_eight_concurrent_reads_keep_their_connections(pg_url: str) -> None:
    engine = make_engine(pg_url)
    barrier = threading.Barrier(8)

    def round_of_reads() -> set[int]:
        pids: set[int] = set()
        lock = threading.Lock()

        def read() -> None:
            with reading(engine) as conn:
                pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                barrier.wait(timeout=30)  # all eight hold a connection at once
                time.sleep(0.05)
            with lock:
                pids.add(pid)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return pids

    try:
        first = round_of_reads()
        second = round_of_reads()
        assert len(first) == 8
        assert second == first, "the second round's requests found the first round's connections kept"
    finally:
        engine.dispose()

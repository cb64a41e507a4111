"""A server's concurrent requests reuse PostgreSQL connections instead of opening one each."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from slotlinks.db import engine as engine_module
from slotlinks.db.engine import make_engine, reading
from slotlinks.discovery.store.store import open_store


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


@pytest.mark.postgres
def test_closing_a_store_closes_a_connection_still_lent_out_once_it_is_back(pg_url: str) -> None:
    # A request or a load still in a thread at shutdown: its connection went back to a pool nothing
    # used any more and stayed open (a PostgreSQL session) until the garbage collector found it.
    store = open_store(pg_url)
    lent, back = threading.Event(), threading.Event()
    pids: list[int] = []

    def request() -> None:
        with store.read() as conn:
            pids.append(int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()))
            lent.set()
            time.sleep(0.3)
        back.set()

    thread = threading.Thread(target=request)
    thread.start()
    assert lent.wait(10)
    store.dispose()
    assert back.is_set(), "closing waited for the lent connection"
    thread.join()
    admin = make_engine(pg_url)
    try:
        deadline = time.monotonic() + 5  # the server ends a closed session's process a moment later
        while True:
            with reading(admin) as conn:
                query = text("SELECT pid FROM pg_stat_activity WHERE pid = :pid")
                if conn.execute(query, {"pid": pids[0]}).first() is None:
                    break
            assert time.monotonic() < deadline, "the lent connection's session ended"
            time.sleep(0.05)
    finally:
        admin.dispose()


def _last_statement(admin_url: str, pid: int) -> str:
    admin = make_engine(admin_url)
    try:
        with reading(admin) as conn:
            return str(conn.execute(text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar())
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_a_connection_back_a_moment_ago_is_lent_without_a_ping(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1)
    try:
        with reading(engine) as conn:
            pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        with reading(engine) as conn:
            # The session's last statement is still the end of our transaction: no ping came between.
            assert _last_statement(pg_url, pid) == "COMMIT"
            assert int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()) == pid
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_idle_connection_the_server_ended_is_replaced_before_it_is_lent(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.05)
    engine = make_engine(pg_url, pool_size=1)
    admin = make_engine(pg_url)
    try:
        with reading(engine) as conn:
            pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        with reading(admin) as conn:  # a server restart, or a firewall that dropped the idle session
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        time.sleep(0.1)
        with reading(engine) as conn:
            assert int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()) != pid
    finally:
        engine.dispose()
        admin.dispose()

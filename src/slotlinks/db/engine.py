"""Database engines for SQLite (embedded default) and PostgreSQL (scale-out), one code path for both.

SQLite is opened in WAL mode so readers never wait for the writer, with a busy timeout so concurrent
writers queue instead of failing. Write transactions there start with `BEGIN IMMEDIATE`: a deferred
transaction that reads and then writes can fail with "database is locked" when two of them race, while
an immediate one takes the write lock up front and simply waits its turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

__all__ = [
    "close_engine",
    "generic_plans",
    "is_sqlite",
    "make_engine",
    "reading",
    "searching",
    "stream_tuples",
    "writing",
    "writing_on",
]

_WRITE = "slotlinks_write"
_IDLE_SINCE = "slotlinks_idle_since"
_GENERIC = "slotlinks_generic_plans"
#: Several statements in one string go as one simple query (no parameters), so in one round trip.
_BEGIN_SEARCHING = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan"
#: PostgreSQL connections a process keeps open. A server runs requests in a pool of threads; each one
#: beyond the connections kept open opens a connection of its own and closes it after (a new
#: PostgreSQL process each time). With SQLAlchemy's default of 5, eight concurrent searches at 10
#: million slots opened 69 connections in 880 searches and took p50 68 ms; with 10, 11 and 54 ms.
POOL_SIZE = 10
#: A pooled PostgreSQL connection idle for longer than this is checked with a round trip before it is
#: lent (the server may have restarted or a firewall dropped it); one back sooner is lent as it is.
PING_AFTER_IDLE_SECONDS = 1.0
#: How long closing an engine waits for the connections it has lent out to come back.
CLOSE_WAIT_SECONDS = 10.0


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def normalize_url(url: str) -> str:
    """Accepts `postgresql://` and `postgres://` and selects the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `sqlite:///file.db` or `postgresql://...`; creates the SQLite file's directory."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise ValueError("an SQLite store needs a file path: sqlite:///path/to/file.db")
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}")
    engine = create_engine(url, **{"pool_size": POOL_SIZE, **kwargs})
    _ping_after_idle(engine)
    return engine


def close_engine(engine: Engine, *, wait: float = CLOSE_WAIT_SECONDS) -> None:
    """Close the engine's connections, once those lent out (a request or a load still in a thread
    at shutdown) are back, waiting at most `wait` seconds. Disposing closes only the connections in
    the pool: one lent out at that moment goes back later to a pool that nothing uses, and stays open
    (a PostgreSQL session) until the garbage collector finds it."""
    deadline = time.monotonic() + wait
    lent: Callable[[], int] = getattr(engine.pool, "checkedout", lambda: 0)
    while lent() > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    engine.dispose()


def _ping_after_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping, for connections that have been idle: pinging at every checkout was a
    round trip in each request (of ten in a search) under load, when connections go back and out
    within milliseconds. A connection found dead is replaced by the pool, as pre-ping does."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_conn, None):
                raise exc.DisconnectionError() from error  # the pool connects anew and lends that
            raise


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to issue.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # The page size of a new database (one that exists keeps its own): with 8 KiB pages a large
        # load writes half as many log frames, and took a sixteenth less time than with 4 KiB.
        cursor.execute("PRAGMA page_size=8192")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # After a large load the write-ahead log file goes back to at most this size once it restarts.
        cursor.execute("PRAGMA journal_size_limit=67108864")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read transaction: one consistent snapshot for everything read inside it.

    SQLite in WAL mode gives a transaction one snapshot from its first read; PostgreSQL needs
    REPEATABLE READ for the same, since its default isolation takes a new snapshot per statement.
    """
    with engine.connect() as conn:
        if not is_sqlite(engine):
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


@contextmanager
def generic_plans(conn: Connection) -> Iterator[Connection]:
    """Inside a transaction on PostgreSQL: the statements run here reuse the plan their connection
    prepared for them instead of planning each execution for its values.

    psycopg prepares a statement once a connection has run its text a few times (its
    `prepare_threshold`, 5); PostgreSQL then plans it for each execution's values unless the plan for
    any values looks no costlier, which for a partitioned table it never does (that plan lists every
    partition and prunes them as it runs).
    For statements written so that one plan suits every value (search/execute.py), planning was
    most of their time. SQLite plans each statement once per prepared statement anyway.
    In a `searching` transaction this is already so for every statement, and costs nothing more.
    """
    if is_sqlite(conn.engine) or conn.get_execution_options().get(_GENERIC, False):
        yield conn
        return
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    yield conn
    # Only on the way out in order: after an error the transaction is rolled back, setting and all.
    conn.exec_driver_sql("SET LOCAL plan_cache_mode TO DEFAULT")


@contextmanager
def searching(engine: Engine) -> Iterator[Connection]:
    """A read transaction, as `reading` gives, for searches only: on PostgreSQL every statement in it
    reuses its connection's prepared plan (`generic_plans`), and the transaction is read only.

    The setting goes to the server with BEGIN, in one round trip, and ends with the transaction: two
    round trips fewer a search than `generic_plans` inside `reading` (of seven; a search's three
    statements each take a fraction of a millisecond, so round trips are much of what it costs the
    server and PostgreSQL). The driver is left in autocommit so that it sends no BEGIN of its own.
    """
    if is_sqlite(engine):
        with reading(engine) as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT", **{_GENERIC: True})
        conn.exec_driver_sql(_BEGIN_SEARCHING, execution_options={"no_parameters": True})
        dbapi_conn = conn.connection.dbapi_connection
        try:
            yield conn
        except BaseException:
            # A broken connection is invalidated by the error itself and has nothing to roll back.
            if dbapi_conn is not None and not conn.invalidated:
                dbapi_conn.rollback()
            raise
        # Committed, not rolled back, although nothing was written: psycopg forgets every statement
        # it prepared on a rollback (and has the server deallocate them).
        if dbapi_conn is not None:
            dbapi_conn.commit()


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction, committed on success and rolled back on any exception."""
    with engine.connect() as conn, writing_on(conn):
        yield conn


@contextmanager
def writing_on(conn: Connection) -> Iterator[Connection]:
    """A write transaction, as `writing` gives, on a connection the caller holds."""
    conn.execution_options(**{_WRITE: True})
    with conn.begin():
        yield conn


def stream_tuples(conn: Connection, statement: ClauseElement, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Rows of `statement` as plain tuples straight from the driver, in batches, inside `conn`'s
    transaction: for scans of millions of rows, where building a Row object per row is the cost.

    PostgreSQL reads through a named (server-side) cursor so memory stays flat whatever the size.
    """
    compiled = cast(SQLCompiler, statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True}))
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(compiled.params[name] for name in compiled.positiontup)
    driver = conn.connection.driver_connection
    assert driver is not None
    if conn.dialect.name == "sqlite":
        cursor = driver.cursor()
    else:
        cursor = driver.cursor(name=f"slotlinks_scan_{id(statement):x}")
    try:
        cursor.execute(str(compiled), params)
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        cursor.close()

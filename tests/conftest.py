"""Shared fixtures: databases (a fresh SQLite file, or a fresh PostgreSQL schema) for every test.

PostgreSQL tests use the server at SLOTLINKS_TEST_PG (default: the project's machines' local server).
Where none is reachable they skip with the reason, except on CI (CI=true), where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from slotlinks.clock import FixedClock

PG_URL = os.environ.get("SLOTLINKS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
#: The instant a test's `clock` stands at, unless its folder overrides the `now` fixture.
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
#: The recorded real-world feeds, kept with the tests (each corpus with its provenance README).
REALWORLD = Path(__file__).resolve().parent / "data" / "realworld"


def nested_location(levels: int, location_id: str = "deep") -> bytes:
    """A Location line whose extension nests `levels` extensions deep (each two JSON levels: the
    extension object and its `extension` array), as a hostile publisher wrote one."""
    inner = b'{"url":"http://example.org/x","valueString":"bottom"}'
    head = b'{"url":"http://example.org/x","extension":[' * levels
    extension = head + inner + b"]}" * levels
    return b'{"resourceType":"Location","id":"%s","name":"Deep","extension":[%s]}' % (location_id.encode(), extension)


def _driver_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


_pg_checked: list[str | None] = []


def _pg_unreachable() -> str | None:
    """None when PostgreSQL answers, else why not (checked once per run)."""
    if not _pg_checked:
        try:
            engine = create_engine(_driver_url(PG_URL), connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _pg_checked.append(None)
        except Exception as exc:  # any failure to connect means "not reachable"
            _pg_checked.append(f"PostgreSQL at {PG_URL} is not reachable: {exc.__class__.__name__}: {exc}")
    return _pg_checked[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database URL whose connections see only a fresh schema of their own."""
    reason = _pg_unreachable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(_driver_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes `db_url` runs once on an SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def realworld() -> Path:
    return REALWORLD


@pytest.fixture
def now() -> datetime:
    """The instant `clock` stands at; a folder whose data is laid out around another instant overrides it."""
    return NOW


@pytest.fixture
def clock(now: datetime) -> FixedClock:
    """A clock that stands still, so holds, expiry and "today" are testable without sleeping."""
    return FixedClock(now)

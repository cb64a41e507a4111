"""The Slot path: the stored row of a Slot, and inserting a batch of them.

A Slot's row is its id, its JSON as received and the columns search needs (`SLOT_COLUMNS`). Nearly
every Slot of a feed gets its row from fastslot.py `plain_slot_row` without a typed decode; a Slot
that takes the full route (the typed decode, validation and the repairs of quirks.py) gets the same
row from `slot_tuple` here. Rows are tuples, not dicts: a load builds them by the million.

On SQLite a batch of rows goes in as multi-row INSERTs (`insert_slots_sqlite`) that find each Slot's
Schedule themselves; on PostgreSQL through COPY (`copy_slots_postgres`), each row carrying its
Schedule's key.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from itertools import chain
from typing import Any

import psycopg
from sqlalchemy import Connection

from slotlinks.discovery.ingest.audience import patients_of
from slotlinks.discovery.ingest.fastslot import SLOT_ROW_COLUMNS, plain_http_url, reference_id
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.extensions import BOOKING_DEEP_LINK, BOOKING_PHONE, SLOT_CAPACITY
from slotlinks.fhir.instant import instant_to_ms
from slotlinks.fhir.resources import Slot
from slotlinks.fhir.urls import is_booking_link

__all__ = ["SLOT_COLUMNS", "copy_slots_postgres", "insert_slots_sqlite", "slot_tuple", "slot_values"]


def _http_link(value: str | None) -> str | None:
    if not value:
        return None
    return value if plain_http_url(value) or is_booking_link(value) else None


#: The columns of a Slot row as `GenerationWriter` builds it (a tuple, in this order). What every row
#: of a load shares (`publisher_id`, `generation`, `updated_ms`) and `schedule_pk` are added when
#: the rows are written.
SLOT_COLUMNS = SLOT_ROW_COLUMNS
_SCHEDULE_AT = SLOT_COLUMNS.index("schedule_source_id")


def slot_values(slot: Slot) -> tuple[Any, ...]:
    """The derived Slot columns (`SLOT_VALUE_COLUMNS`): schedule id, times, status, capacity (default
    1), booking link and phone, and who it is for (`audience.patients_of`), of a Slot that passed
    validation.

    The three extensions are read in one pass, each from the first extension with its URL, as
    `booking_deep_link`, `booking_phone` and `slot_capacity` read them (`fastslot.plain_slot_row`
    gives the same for the Slots it vouches for).
    """
    link: Any = None
    phone: Any = None
    capacity: Any = None
    seen = 0
    for extension in slot.extension:
        url = extension.url
        if url == BOOKING_DEEP_LINK:
            if not seen & 1:
                seen |= 1
                link = extension.value
        elif url == BOOKING_PHONE:
            if not seen & 2:
                seen |= 2
                phone = extension.value
        elif url == SLOT_CAPACITY and not seen & 4:
            seen |= 4
            capacity = extension.value
    return (
        reference_id(slot.schedule.reference, "Schedule") or "",
        instant_to_ms(slot.start),
        instant_to_ms(slot.end),
        slot.status,
        capacity if type(capacity) is int else 1,
        _http_link(link) if type(link) is str else None,
        phone if type(phone) is str else None,
        patients_of(slot.appointmentType),
    )


def slot_tuple(slot: Slot, raw: bytes) -> tuple[Any, ...]:
    """The row that stores one Slot, in `SLOT_COLUMNS` order (generation.py `row_for` names them)."""
    return (slot.id, raw.decode("utf-8", "replace"), *slot_values(slot))


def copy_slots_postgres(
    conn: Connection,
    rows: list[tuple[Any, ...]],
    schedule_pks: dict[str, int],
    shared: tuple[int, int, int],
    *,
    table: str = t.slot.name,
    load_key: int = 0,
) -> None:
    """Insert Slot rows (`SLOT_COLUMNS` tuples) on PostgreSQL with one COPY into `table` (a full
    load's own, with its `load_key`: partitions.py), inside the connection's open transaction: the
    server parses a stream of rows instead of planning and binding an INSERT per few hundred rows,
    which made PostgreSQL loads a quarter of SQLite's speed."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    pk_of, at = schedule_pks.get, _SCHEDULE_AT
    with driver.cursor() as cursor, cursor.copy(_slot_copy_sql(table)) as copy:
        write = copy.write_row
        for row in rows:
            write((*shared, *row, pk_of(row[at]), load_key))


@lru_cache(maxsize=16)
def _slot_copy_sql(table: str) -> str:
    columns = ", ".join(("publisher_id", "generation", "updated_ms", *SLOT_COLUMNS, "schedule_pk", "load_key"))
    return f"COPY {table} ({columns}) FROM STDIN"


def insert_slots_sqlite(conn: Connection, rows: list[tuple[Any, ...]], shared: tuple[int, int, int]) -> None:
    """Insert Slot rows (`SLOT_COLUMNS` tuples) with the (publisher id, generation, updated_ms) they
    share, in as few multi-row INSERT statements as SQLite's variable limit allows.

    SQLite looks up each row's `schedule_pk` itself (`_slot_insert_sql`), so the parameters are the
    rows' values one after the other, put together without a Python step per row; the driver binds
    them in C and releases the GIL for the whole statement, and a load's parsing (in another thread)
    and writing overlap.
    """
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - len(shared)
    per = max(1, min(_MAX_ROWS_PER_INSERT, limit // len(SLOT_COLUMNS)))
    for i in range(0, len(rows), per):
        chunk = rows[i : i + per]
        conn.exec_driver_sql(_slot_insert_sql(len(chunk)), (*shared, *chain.from_iterable(chunk)))


_MAX_ROWS_PER_INSERT = 2000


@lru_cache(maxsize=4)
def _slot_insert_sql(rows: int) -> str:
    """INSERT of `rows` Slots: ?1, ?2, ?3 are the shared publisher id, generation and updated_ms, the
    other parameters the rows' `SLOT_COLUMNS`, row after row. A row's `schedule_pk` is its
    generation's Schedule with its `schedule_source_id` (the latest stored, as resolve.py
    `resolve_generation` picks), or NULL while there is none."""
    s = t.schedule.name
    schedule = SLOT_COLUMNS.index("schedule_source_id") + 1
    one = "(" + ", ".join("?" * len(SLOT_COLUMNS)) + ")"
    columns = ", ".join(("publisher_id", "generation", "updated_ms", *SLOT_COLUMNS, "schedule_pk"))
    return (
        f"INSERT INTO {t.slot.name} ({columns}) SELECT ?1, ?2, ?3, v.*, "
        f"(SELECT {s}.pk FROM {s} WHERE {s}.publisher_id = ?1 AND {s}.generation = ?2 "
        f"AND {s}.source_id = v.column{schedule} ORDER BY {s}.pk DESC LIMIT 1) "
        f"FROM (VALUES {', '.join([one] * rows)}) AS v"
    )

"""Marking a publisher's current data as changed, so the aggregate and the FHIR API serve it anew.

A full load changes the publisher's `generation`; every other write to its current data (an
incremental load, a pushed change, a booking outcome) calls `mark_changed` in the same transaction.
The data version (aggregate/cache.py `data_state`) is read from the publisher rows alone, so finding
out whether anything changed costs no scan of the feed tables (migration 0016).
"""

from __future__ import annotations

from sqlalchemy import Connection, case, update

from slotlinks.discovery.store import tables as t

__all__ = ["mark_changed"]


def mark_changed(conn: Connection, publisher_id: int, now_ms: int) -> None:
    """Record a change to `publisher_id`'s current data: its `data_changed_ms` becomes `now_ms`, or one
    more than before when that is not later (two changes in one millisecond are two versions)."""
    c = t.publisher.c
    later = case((c.data_changed_ms >= now_ms, c.data_changed_ms + 1), else_=now_ms)
    conn.execute(update(t.publisher).where(c.id == publisher_id).values(data_changed_ms=later))

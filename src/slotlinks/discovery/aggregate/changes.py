"""What the aggregate's `_since` answers hold (a `publishing.routes.ChangeSource` over the discovery store).

The contract is written in `routes.py`'s docstring: every resource whose row changed after the instant,
Schedules re-sent with their derived status, and no `_since` answer at all (the full data set instead)
once any sync removed something after the instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, exists, select

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.cache import data_state
from slotlinks.discovery.aggregate.render import iter_lines
from slotlinks.discovery.aggregate.sources import load_publishers
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.publishing.outputs import Line
from slotlinks.publishing.routes import Changes

__all__ = ["AggregateChanges", "since_answerable"]


def since_answerable(store: DiscoveryStore, since_ms: int) -> bool:
    """Whether changes after `since_ms` can be listed: no sync removed anything since then."""
    r = t.sync_run.c
    removed = exists().where(r.removed > 0, r.started_ms + r.duration_ms > since_ms)
    with store.read() as conn:
        return not conn.execute(select(removed)).scalar()


class AggregateChanges:
    """The discovery store's `_since` answers (a `ChangeSource`)."""

    def __init__(self, store: DiscoveryStore, settings: Settings) -> None:
        self.store = store
        self.min_poll_seconds = settings.min_poll_seconds

    def answers_since(self, since_ms: int) -> bool:
        return since_answerable(self.store, since_ms)

    @contextmanager
    def changes(self, since_ms: int) -> Iterator[Changes[bytes]]:
        now_ms = self.store.now_ms()
        with self.store.read() as conn:
            yield Changes(data_state(conn).changed_ms or now_ms, self._lines(conn, now_ms, since_ms))

    def _lines(self, conn: Connection, now_ms: int, since_ms: int) -> Iterator[Line[bytes]]:
        sources = load_publishers(conn, now_ms=now_ms, min_poll_seconds=self.min_poll_seconds)
        yield from iter_lines(conn, sources, now_ms=now_ms, since_ms=since_ms)

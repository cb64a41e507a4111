"""The aggregate re-publication: `GET|HEAD {discovery_url}/aggregate/$bulk-publish` and its NDJSON files.

Spec "Slot Aggregators" (re-publish many publishers' data in the publisher format) over "Bulk
Publication": the endpoints and their HTTP behaviours are the provider's too (`slotlinks.publishing.routes`);
this module says what the aggregate's `_since` answers hold.

`_since=<instant>` contract (the spec leaves it to servers; clients must handle a full data set):

- The answer lists every resource whose row changed after the instant (`updated_ms`), in files split
  like the full data set, with `_since` on each file URL (a Slot turned `busy` is such a change).
- Schedules carry derived status: `has-availability` changes when one of their slots changes, when
  time passes the last free slot, or when the publisher fails or recovers, and `lastSourceSync` moves
  with every sync. So a Schedule is re-sent when it or one of its slots changed, and every Schedule of
  a publisher synced (successfully or not) after the instant is re-sent. Other resources are not
  re-sent only because `lastSourceSync` moved.
- Removed resources cannot be listed: ingest deletes them (a full refresh leaves them in the old
  generation; an incremental sync deletes Slots published as `busy-unavailable`/`entered-in-error`),
  so no row is left to render. When any sync recorded removals after the instant (`sync_run.removed`),
  the server ignores `_since` and answers the full data set: that manifest's `request` has no
  `_since` and its file URLs no query, which tells the client to replace its copy, not merge into it.
  A publisher deleted from the registry is not signalled; clients should fetch the full data set from
  time to time, as the spec expects of them anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from sqlalchemy import Connection, exists, select

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.cache import AggregateCache, data_state
from slotlinks.discovery.aggregate.render import iter_lines
from slotlinks.discovery.aggregate.sources import load_publishers
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.publishing.outputs import Line
from slotlinks.publishing.routes import Changes, publication_router

__all__ = ["aggregate_router", "since_answerable"]


def since_answerable(store: DiscoveryStore, since_ms: int) -> bool:
    """Whether changes after `since_ms` can be listed: no sync removed anything since then."""
    r = t.sync_run.c
    removed = exists().where(r.removed > 0, r.started_ms + r.duration_ms > since_ms)
    with store.read() as conn:
        return not conn.execute(select(removed)).scalar()


class _AggregateChanges:
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


def aggregate_router(settings: Settings, store: DiscoveryStore, *, cache: AggregateCache | None = None) -> APIRouter:
    """The aggregate's publication routes under `{discovery_url}/aggregate` (by default encoded under
    `{data_dir}/aggregate-cache`)."""
    cache = cache or AggregateCache(store, settings, Path(settings.data_dir) / "aggregate-cache")
    return publication_router(
        prefix=urlsplit(settings.discovery_url).path.rstrip("/") + "/aggregate",
        base_url=cache.base_url,
        cache=cache,
        changes=_AggregateChanges(store, settings),
        max_age=settings.max_age,
        etag_prefix="a",
        label="aggregate publication",
    )

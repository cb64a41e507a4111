"""The aggregate publication encoded once per data version, on disk (spec "Bulk Publication", "Slot Aggregators"),
in the versioned cache of `slotlinks.publishing.versions`.

The data version is a digest of every publisher's row (generation, data change time, failures, last
attempt and success): any sync that changes data, any failure or recovery, and any row written in
place changes it (`data_state`). The content also depends on the clock (a Schedule's
`has-availability` turns `none` once its last free slot has started; a publisher's data turns stale),
so each build also records until when it stays right (`valid_until_ms`).

The data version is read at most once per `recheck_ms`, by one request at a time. Gzip siblings are
made on first demand.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, select

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.render import iter_lines
from slotlinks.discovery.aggregate.sources import SourcePublisher, load_publishers
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.publishing.manifest import write_publication
from slotlinks.publishing.versions import Version, VersionedCache

__all__ = ["AggregateCache", "AggregateStamp", "DataState", "aggregate_base_url", "data_state", "valid_until_ms"]


@dataclass(frozen=True, slots=True)
class DataState:
    """What the aggregate's content is derived from: a digest, and the latest change it reflects."""

    digest: str
    changed_ms: int  # the latest row change, sync attempt or success: the manifest's transactionTime


def data_state(conn: Connection) -> DataState:
    """The data version of the discovery store, read in the caller's transaction from the publisher
    rows alone: a full load changes a publisher's `generation`, every other change to its current data
    its `data_changed_ms` (store/changes.py), a sync attempt its times and failures. Counting the feed
    tables' rows instead was a scan of every Slot (3 s at 10 million) each time it was read."""
    p = t.publisher.c
    times = (p.last_attempt_ms, p.last_success_ms, p.data_changed_ms)
    columns = (p.id, p.url, p.generation, p.failures, p.max_age, *times)
    parts = [tuple(r) for r in conn.execute(select(*columns).order_by(p.id))]
    changed = max((max(r[5] or 0, r[6] or 0, r[7] or 0) for r in parts), default=0)
    return DataState(hashlib.sha256(repr(parts).encode()).hexdigest()[:20], changed)


def valid_until_ms(sources: list[SourcePublisher], now_ms: int) -> int | None:
    """Until when content rendered at `now_ms` stays right if no data changes: the first moment a
    Schedule's last free slot starts (`some` -> `none`) or a healthy publisher's data turns stale."""
    moments = [s.stale_at_ms for s in sources if not s.failing]
    moments += [until for s in sources if not s.failing for until in s.free_until.values()]
    future = [m for m in moments if m > now_ms]
    return min(future) if future else None


def aggregate_base_url(settings: Settings) -> str:
    """The aggregate publication's public URL, under which its manifest names every file."""
    return settings.discovery_url.rstrip("/") + "/aggregate"


@dataclass(frozen=True, slots=True)
class AggregateStamp:
    """What a built aggregate was rendered from: the data version, and until when the clock leaves
    that rendering right (None: until the data changes)."""

    digest: str
    valid_until_ms: int | None


class _AggregateVersions:
    """The discovery store as a `VersionSource`."""

    def __init__(self, store: DiscoveryStore, settings: Settings, recheck_ms: int) -> None:
        self.store = store
        self.settings = settings
        self.recheck_ms = recheck_ms
        self._checked_at = 0.0  # monotonic time the data version was last found unchanged

    def unchanged(self, version: Version[AggregateStamp], *, confirm: bool) -> bool:
        valid_until = version.stamp.valid_until_ms
        if valid_until is not None and self.store.now_ms() >= valid_until:
            return False
        if (time.monotonic() - self._checked_at) * 1000 < self.recheck_ms:
            return True
        if not confirm:
            return False
        with self.store.read() as conn:
            if data_state(conn).digest != version.stamp.digest:
                return False
        self._checked_at = time.monotonic()
        return True

    def build(self, staging: Path, previous: Version[AggregateStamp] | None) -> Version[AggregateStamp]:
        now_ms = self.store.now_ms()
        with self.store.read() as conn:
            state = data_state(conn)
            sources = load_publishers(conn, now_ms=now_ms, min_poll_seconds=self.settings.min_poll_seconds)
            publication = write_publication(
                staging,
                iter_lines(conn, sources, now_ms=now_ms),
                transaction_ms=state.changed_ms or now_ms,
                base_url=aggregate_base_url(self.settings),
            )
        # Last-Modified moves on by at least a second per build, so If-Modified-Since tells builds apart.
        built_ms = max(now_ms, previous.modified_ms + 1000 if previous else 0)
        self._checked_at = time.monotonic()
        return Version(
            staging,
            publication,
            tag=f"{state.digest[:12]}{built_ms:x}",
            modified_ms=built_ms,
            stamp=AggregateStamp(state.digest, valid_until_ms(sources, now_ms)),
        )


class AggregateCache(VersionedCache[AggregateStamp]):
    """The discovery server's encoded aggregate under `directory`, rebuilt when the data version or the
    clock requires.

    `recheck_ms` bounds how often the data version is read (a statement of its own); 0 reads it on
    every request.
    """

    def __init__(self, store: DiscoveryStore, settings: Settings, directory: Path, *, recheck_ms: int = 1000) -> None:
        super().__init__(directory, _AggregateVersions(store, settings, recheck_ms))
        self.base_url = aggregate_base_url(settings)

"""The aggregate publication encoded once per data version, on disk (spec "Bulk Publication", "Slot Aggregators").

The data version is a digest of every publisher's sync state (generation, failures, last attempt and
success) and of each feed table's row count and latest `updated_ms`: any sync that changes data, any
failure or recovery, and any row written in place changes it. The content also depends on the clock
(a Schedule's `has-availability` turns `none` once its last free slot has started; a publisher's data
turns stale), so each build also records until when it stays right (`valid_until_ms`).

The first request after a change writes every file of the new version into its own directory,
renamed into place when complete; later requests stream those bytes (gzip siblings made on demand).
The previous version is kept a while for clients still downloading the files of the manifest before.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, func, select

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.render import (
    AggregateFile,
    SourcePublisher,
    load_publishers,
    manifest_bytes,
    write_files,
)
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.publishing.staging import install_directory, staged_directory

__all__ = ["MANIFEST_NAME", "AggregateCache", "BuiltAggregate", "data_state", "valid_until_ms"]

MANIFEST_NAME = "$bulk-publish"
_BUFFER = 1 << 20
_KEEP_VERSIONS = 2
_TABLES = (t.location, t.practitioner, t.healthcare_service, t.practitioner_role, t.schedule, t.slot)


@dataclass(frozen=True, slots=True)
class DataState:
    """What the aggregate's content is derived from: a digest, and the latest change it reflects."""

    digest: str
    changed_ms: int  # the latest row change, sync attempt or success: the manifest's transactionTime


def data_state(conn: Connection) -> DataState:
    """The data version of the discovery store, read in the caller's transaction (one index-free scan
    per feed table for count and max `updated_ms`)."""
    p = t.publisher.c
    parts: list[Any] = [
        tuple(r)
        for r in conn.execute(
            select(p.id, p.url, p.generation, p.failures, p.max_age, p.last_attempt_ms, p.last_success_ms).order_by(
                p.id
            )
        )
    ]
    changed = max((max(r[5] or 0, r[6] or 0) for r in parts), default=0)
    for table in _TABLES:
        count, latest = conn.execute(select(func.count(), func.max(table.c.updated_ms))).one()
        parts.append((table.name, count, latest))
        changed = max(changed, latest or 0)
    return DataState(hashlib.sha256(repr(parts).encode()).hexdigest()[:20], changed)


def valid_until_ms(sources: list[SourcePublisher], now_ms: int) -> int | None:
    """Until when content rendered at `now_ms` stays right if no data changes: the first moment a
    Schedule's last free slot starts (`some` -> `none`) or a healthy publisher's data turns stale."""
    moments = [s.stale_at_ms for s in sources if not s.failing]
    moments += [until for s in sources if not s.failing for until in s.free_until.values()]
    future = [m for m in moments if m > now_ms]
    return min(future) if future else None


@dataclass(frozen=True, slots=True)
class BuiltAggregate:
    """A complete aggregate publication in a directory: the manifest and every NDJSON file it lists."""

    directory: Path
    version: str
    digest: str
    built_ms: int  # when it was rendered: its Last-Modified
    transaction_ms: int
    valid_until_ms: int | None
    files: dict[str, AggregateFile]

    def file(self, name: str) -> AggregateFile | None:
        return self.files.get(name)


class AggregateCache:
    """The discovery server's encoded aggregate, rebuilt when the data version or the clock requires.

    `recheck_ms` bounds how often the data version is read (a scan of each feed table); 0 reads it
    on every request.
    """

    def __init__(self, store: DiscoveryStore, settings: Settings, directory: Path, *, recheck_ms: int = 1000) -> None:
        self.store = store
        self.settings = settings
        self.directory = directory
        self.recheck_ms = recheck_ms
        self._lock = threading.Lock()
        self._latest: BuiltAggregate | None = None
        self._checked_at = 0.0

    @property
    def base_url(self) -> str:
        return self.settings.discovery_url.rstrip("/") + "/aggregate"

    def _still_valid(self, latest: BuiltAggregate | None, now_ms: int) -> bool:
        if latest is None or (latest.valid_until_ms is not None and now_ms >= latest.valid_until_ms):
            return False
        return (time.monotonic() - self._checked_at) * 1000 < self.recheck_ms

    def current(self) -> BuiltAggregate:
        """The aggregate as the data is now, encoding it first if it changed."""
        now_ms = self.store.now_ms()
        if self._still_valid(self._latest, now_ms):
            assert self._latest is not None
            return self._latest
        with self._lock:
            latest = self._latest
            if self._still_valid(latest, now_ms):
                assert latest is not None
                return latest
            with self.store.read() as conn:
                state = data_state(conn)
                fresh = latest is not None and latest.digest == state.digest
                if fresh and latest is not None and (latest.valid_until_ms is None or now_ms < latest.valid_until_ms):
                    self._checked_at = time.monotonic()
                    return latest
                built = self._build(conn, state, now_ms)
            self._latest = built
            self._checked_at = time.monotonic()
            self._prune(keep=built.directory)
            return built

    def _build(self, conn: Connection, state: DataState, now_ms: int) -> BuiltAggregate:
        with staged_directory(self.directory, ".build-") as staging:

            def opener(name: str) -> IO[bytes]:
                return open(staging / name, "wb", buffering=_BUFFER)

            sources = load_publishers(conn, now_ms=now_ms, min_poll_seconds=self.settings.min_poll_seconds)
            files = write_files(conn, sources, opener, now_ms=now_ms)
            transaction_ms = state.changed_ms or now_ms
            (staging / MANIFEST_NAME).write_bytes(manifest_bytes(files, transaction_ms, self.base_url))
            built_ms = max(now_ms, self._latest.built_ms + 1000 if self._latest else 0)
            version = f"{state.digest[:12]}{built_ms:x}"
            target = self.directory / f"v-{version}"
            install_directory(staging, target)
        return BuiltAggregate(
            directory=target,
            version=version,
            digest=state.digest,
            built_ms=built_ms,
            transaction_ms=transaction_ms,
            valid_until_ms=valid_until_ms(sources, now_ms),
            files={f.name: f for f in files},
        )

    def _prune(self, keep: Path) -> None:
        older = sorted(
            (p for p in self.directory.glob("v-*") if p.is_dir() and p != keep),
            key=lambda p: p.stat().st_mtime,
        )
        for old in older[: max(len(older) - (_KEEP_VERSIONS - 1), 0)]:
            shutil.rmtree(old, ignore_errors=True)

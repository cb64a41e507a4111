"""What one poll of one publisher did, and its record: a `sync_run` row, its bad lines, and the
publisher's new polling state, written together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, insert, update

from slotlinks.discovery.ingest.quirks import Warnings
from slotlinks.discovery.ingest.resolve import ChangeCounts
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.fhir.ndjson import LineError

__all__ = ["MAX_BAD_LINES_KEPT", "SyncResult", "record_run"]

#: Bad lines kept (with their error) per run; the rest are only counted.
MAX_BAD_LINES_KEPT = 1000


@dataclass(slots=True)
class SyncResult:
    """What one poll of one publisher did (the `sync_run` row, plus its id)."""

    publisher_id: int
    outcome: str = "failed"  # full | incremental | not-modified | failed
    started_ms: int = 0
    duration_ms: int = 0
    http_statuses: dict[str, int] = field(default_factory=dict)
    counts: ChangeCounts = field(default_factory=ChangeCounts)
    bad_lines: list[tuple[str, LineError]] = field(default_factory=list)
    bad_line_count: int = 0
    warnings: Warnings = field(default_factory=Warnings)
    error: str | None = None
    run_id: int | None = None

    def bad(self, url: str, error: LineError) -> None:
        """Count a bad line of the file at `url`, and keep it while fewer than `MAX_BAD_LINES_KEPT` are."""
        self.bad_line_count += 1
        if len(self.bad_lines) < MAX_BAD_LINES_KEPT:
            self.bad_lines.append((url, error))


def record_run(
    store: DiscoveryStore, result: SyncResult, state: dict[str, Any], guard: Callable[[Connection], None]
) -> None:
    """Write the run (and its bad lines) and the publisher's polling `state` in one transaction, once
    `guard` lets it; sets `result.run_id`."""
    with store.write() as conn:
        guard(conn)
        if state:
            conn.execute(update(t.publisher).where(t.publisher.c.id == result.publisher_id).values(**state))
        run_id = conn.execute(
            insert(t.sync_run)
            .values(
                publisher_id=result.publisher_id,
                started_ms=result.started_ms,
                duration_ms=result.duration_ms,
                outcome=result.outcome,
                http_statuses=orjson.dumps(result.http_statuses).decode(),
                added=result.counts.added,
                changed=result.counts.changed,
                removed=result.counts.removed,
                bad_lines=result.bad_line_count,
                warnings=sum(result.warnings.values()),
                warning_kinds=orjson.dumps(dict(sorted(result.warnings.items()))).decode(),
                error=result.error,
            )
            .returning(t.sync_run.c.id)
        ).scalar_one()
        rows = [
            {
                "run_id": run_id,
                "publisher_id": result.publisher_id,
                "file_url": url,
                "line": e.line,
                "path": e.path,
                "message": e.message,
            }
            for url, e in result.bad_lines
        ]
        if rows:
            conn.execute(insert(t.bad_line), rows)
    result.run_id = int(run_id)

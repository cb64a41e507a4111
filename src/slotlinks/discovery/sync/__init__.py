"""Syncing: poll every publisher's `$bulk-publish`, fetch what changed, hand it to ingest, record each run.

A process builds one `SyncEngine` for its store (the discovery app factory, `slotlinks sync`, the
benchmark) and calls `sync_once` or `run_forever` on it; ingest/__init__.py follows a line from the
fetcher into the store.

- `engine`: The sync engine: polls every publisher as it falls due; owns its leases on the publishers
  it polls and the load writer its full loads share.
- `fetcher`: Guarded, streaming HTTP for the sync engine: manifests as bounded bodies, NDJSON line by line.
- `leases`: How several sync workers on one database share the publishers: claim, renew, release,
  and the guard that stops a worker whose lease passed to another from writing.
- `poll`: One poll of one publisher: ask for its manifest, tell full, incremental and not-modified
  apart, load what changed, and record the run.
- `result`: What one poll of one publisher did, and its record (a `sync_run` row and its bad lines).
- `upkeep`: After loads on PostgreSQL: ANALYZE of the feed tables, and VACUUM once a full load replaced
  a generation, so plans and the table's size hold whether or not autovacuum keeps up.
"""

from __future__ import annotations

from slotlinks.discovery.sync.engine import SyncEngine
from slotlinks.discovery.sync.result import SyncResult

__all__ = ["SyncEngine", "SyncResult"]

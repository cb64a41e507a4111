"""The sync engine: poll every publisher, fetch what changed, hand it to ingest.

- `engine`: The sync engine: poll every publisher's `$bulk-publish`, load what changed, record each run.
- `fetcher`: Guarded, streaming HTTP for the sync engine: manifests as bounded bodies, NDJSON line by line.
"""

from __future__ import annotations

from slotlinks.discovery.sync.engine import SyncResult, run_forever, sync_once

__all__ = ["SyncResult", "run_forever", "sync_once"]

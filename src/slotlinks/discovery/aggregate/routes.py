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

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.cache import AggregateCache
from slotlinks.discovery.aggregate.changes import AggregateChanges
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.publishing.routes import publication_router

__all__ = ["aggregate_router"]


def aggregate_router(settings: Settings, store: DiscoveryStore, *, cache: AggregateCache | None = None) -> APIRouter:
    """The aggregate's publication routes under `{discovery_url}/aggregate` (by default encoded under
    `{data_dir}/aggregate-cache`)."""
    cache = cache or AggregateCache(store, settings, Path(settings.data_dir) / "aggregate-cache")
    return publication_router(
        prefix=urlsplit(settings.discovery_url).path.rstrip("/") + "/aggregate",
        base_url=cache.base_url,
        cache=cache,
        changes=AggregateChanges(store, settings),
        max_age=settings.max_age,
        etag_prefix="a",
        label="aggregate publication",
    )

"""The aggregate re-publication: `GET|HEAD {discovery_url}/aggregate/$bulk-publish` and its NDJSON files.

Spec "Slot Aggregators" (re-publish many publishers' data in the publisher format) over "Bulk
Publication" (the same HTTP behaviours as a publisher, shared with the provider in `slotlinks.publishing.http`).

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
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from sqlalchemy import exists, select
from starlette.responses import Response

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.cache import MANIFEST_NAME, AggregateCache, data_state
from slotlinks.discovery.aggregate.render import AggregateFile, iter_lines, load_publishers, manifest_bytes, write_files
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import NotFound
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.publishing.http import file_response, manifest_response, parse_since, stream_response

__all__ = ["aggregate_router", "since_answerable"]


def since_answerable(store: DiscoveryStore, since_ms: int) -> bool:
    """Whether changes after `since_ms` can be listed: no sync removed anything since then."""
    r = t.sync_run.c
    removed = exists().where(r.removed > 0, r.started_ms + r.duration_ms > since_ms)
    with store.read() as conn:
        return not conn.execute(select(removed)).scalar()


def aggregate_router(settings: Settings, store: DiscoveryStore, *, cache: AggregateCache | None = None) -> APIRouter:
    """The aggregate's publication routes under `{discovery_url}/aggregate` (by default encoded under
    `{data_dir}/aggregate-cache`)."""
    cache = cache or AggregateCache(store, settings, Path(settings.data_dir) / "aggregate-cache")
    router = APIRouter()
    prefix = urlsplit(settings.discovery_url).path.rstrip("/") + "/aggregate"
    max_age = settings.max_age

    def since_files(since_ms: int) -> tuple[list[AggregateFile], int]:
        now_ms = store.now_ms()
        with store.read() as conn:
            sources = load_publishers(conn, now_ms=now_ms, min_poll_seconds=settings.min_poll_seconds)
            files = write_files(conn, sources, None, now_ms=now_ms, since_ms=since_ms)
            return files, data_state(conn).changed_ms or now_ms

    def full_manifest(request: Request) -> Response:
        built = cache.current()
        body = (built.directory / MANIFEST_NAME).read_bytes()
        return manifest_response(request, body, f"am{built.version}", built.built_ms, max_age)

    @router.api_route(f"{prefix}/{MANIFEST_NAME}", methods=["GET", "HEAD"], include_in_schema=False)
    def manifest(request: Request) -> Response:
        since = parse_since(request)
        if since is None or not since_answerable(store, since[0]):
            return full_manifest(request)
        since_ms, raw = since
        files, transaction_ms = since_files(since_ms)
        query = f"?_since={quote(raw, safe=':')}"
        body = manifest_bytes(files, transaction_ms, cache.base_url, since=raw, file_query=query)
        return manifest_response(request, body, f"as{transaction_ms}-{since_ms}", transaction_ms, max_age)

    @router.api_route(f"{prefix}/{{name}}.ndjson", methods=["GET", "HEAD"], include_in_schema=False)
    def ndjson_file(name: str, request: Request) -> Response:
        file_name = f"{name}.ndjson"
        since = parse_since(request)
        if since is not None:
            return since_file(file_name, since[0], request)
        built = cache.current()
        if built.file(file_name) is None:
            raise NotFound(f"{file_name} is not part of the current aggregate publication", expression=["url"])
        return file_response(request, built.directory / file_name, f"af{built.version}", built.built_ms, max_age)

    def since_file(file_name: str, since_ms: int, request: Request) -> Response:
        if not any(f.name == file_name for f in since_files(since_ms)[0]):
            raise NotFound(f"{file_name} has no changes after {ms_to_instant(since_ms)}", expression=["url"])

        def lines() -> Iterator[bytes]:
            now_ms = store.now_ms()
            with store.read() as conn:
                sources = load_publishers(conn, now_ms=now_ms, min_poll_seconds=settings.min_poll_seconds)
                for _, name, _, line in iter_lines(conn, sources, now_ms=now_ms, since_ms=since_ms):
                    if name == file_name:
                        yield line

        return stream_response(request, lines(), max_age)

    return router

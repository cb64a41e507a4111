"""The publication endpoints: `GET|HEAD {base}/$bulk-publish` and the NDJSON files it lists.

Full data sets come from the encoded cache (one encode per data-set version, files streamed from disk,
precompressed gzip); `_since` requests are rendered from the store per request, since they are small
and differ per client. The HTTP behaviours (validators, 304, HEAD, gzip) live in `slotlinks.publishing.http`.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from slotlinks.clock import now_ms
from slotlinks.config import Settings
from slotlinks.errors import NotFound
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.provider.portal.holds import expiry_key
from slotlinks.provider.publication.render import (
    MANIFEST_NAME,
    Publication,
    iter_lines,
    manifest_bytes,
    write_files,
)
from slotlinks.provider.publication.snapshots import PublicationCache
from slotlinks.provider.store.settings import PORTAL_URL_SETTING
from slotlinks.provider.store.store import ProviderStore
from slotlinks.publishing.caching import accepts_gzip
from slotlinks.publishing.http import (
    file_response,
    manifest_response,
    parse_since,
    ready_gzip_sibling,
    stream_response,
    validated,
)

__all__ = ["publication_router"]


def publication_router(settings: Settings, store: ProviderStore, cache: PublicationCache) -> APIRouter:
    router = APIRouter()
    base = settings.base_path

    def data_time(conn: Connection) -> tuple[int, int]:
        """(now by the store's clock, the data set's time): its last commit, or the last hold expiry
        since then, which changed the publication without any commit."""
        at = now_ms(store.clock)
        _, latest_expiry = expiry_key(conn, at)
        return at, max(store.state(conn).changed_ms, latest_expiry)

    def since_publication(since_ms: int) -> Publication:
        with store.read() as conn:
            at, data_ms = data_time(conn)
            portal = store.get_setting(PORTAL_URL_SETTING, conn=conn)
            files = write_files(conn, portal, None, since_ms=since_ms, now_ms=at)
        return Publication(data_ms, files)

    def since_not_modified(request: Request, since_ms: int) -> Response | None:
        """The 304 for a `_since` manifest the client already holds, decided before rendering it: its
        ETag depends only on the data set's time and `since` (and on gzip, tried both ways)."""
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is None or if_none_match.strip() == "*":
            return None
        with store.read() as conn:
            _, transaction_ms = data_time(conn)
        tag = f"s{transaction_ms}-{since_ms}"
        for gzipped in (False, True) if accepts_gzip(request.headers) else (False,):
            headers, fresh = validated(request, tag, transaction_ms, settings.max_age, gzipped=gzipped)
            if fresh:
                headers.pop("Content-Encoding", None)
                return Response(status_code=304, headers=headers)
        return None

    @router.api_route(f"{base}/{MANIFEST_NAME}", methods=["GET", "HEAD"], include_in_schema=False)
    def manifest(request: Request) -> Response:
        since = parse_since(request)
        if since is None:
            built = cache.current()
            body = (built.directory / MANIFEST_NAME).read_bytes()
            tag = f"m{built.version}-{built.transaction_ms}"
            return manifest_response(request, body, tag, built.transaction_ms, settings.max_age)
        since_ms, raw = since
        cached = since_not_modified(request, since_ms)
        if cached is not None:
            return cached
        publication = since_publication(since_ms)
        body = manifest_bytes(publication, settings.base_url, since=raw, file_query=f"?_since={quote(raw, safe=':')}")
        tag = f"s{publication.transaction_ms}-{since_ms}"
        return manifest_response(request, body, tag, publication.transaction_ms, settings.max_age)

    @router.api_route(f"{base}/{{name}}.ndjson", methods=["GET", "HEAD"], include_in_schema=False)
    def ndjson_file(name: str, request: Request) -> Response:
        file_name = f"{name}.ndjson"
        since = parse_since(request)
        if since is not None:
            return since_file(file_name, since[0], request)
        built = cache.current()
        if built.file(file_name) is None:
            raise NotFound(f"{file_name} is not part of the current publication", expression=["url"])
        path = built.directory / file_name
        return file_response(
            request,
            path,
            f"f{built.version}-{built.transaction_ms}",
            built.transaction_ms,
            settings.max_age,
            compress=ready_gzip_sibling,
        )

    def since_file(file_name: str, since_ms: int, request: Request) -> Response:
        if not any(f.name == file_name for f in since_publication(since_ms).files):
            raise NotFound(f"{file_name} has no changes after {ms_to_instant(since_ms)}", expression=["url"])

        def lines() -> Iterator[bytes]:
            with store.read() as conn:
                portal = store.get_setting(PORTAL_URL_SETTING, conn=conn)
                at, _ = data_time(conn)
                for _, name, _, line in iter_lines(conn, portal, since_ms=since_ms, now_ms=at):
                    if name == file_name:
                        yield line.encode()

        return stream_response(request, lines(), settings.max_age)

    return router

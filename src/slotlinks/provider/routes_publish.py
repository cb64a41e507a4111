"""The publication endpoints: `GET|HEAD {base}/$bulk-publish` and the NDJSON files it lists.

Full data sets come from the encoded cache (one encode per data-set version, files streamed from disk,
precompressed gzip); `_since` requests are rendered from the store per request, since they are small
and differ per client.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response, StreamingResponse

from slotlinks.config import Settings
from slotlinks.errors import InvalidInput, NotFound
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms, ms_to_instant
from slotlinks.httpcache import Validators, accepts_gzip, not_modified
from slotlinks.provider.publication import (
    MANIFEST_NAME,
    PORTAL_URL_SETTING,
    Publication,
    iter_lines,
    manifest_bytes,
    write_files,
)
from slotlinks.provider.snapshots import PublicationCache
from slotlinks.provider.store import ProviderStore

__all__ = ["publication_router"]

NDJSON = "application/fhir+ndjson"
MANIFEST_TYPE = "application/json"


def _since_ms(request: Request) -> tuple[int, str] | None:
    raw = request.query_params.get("_since")
    if raw is None:
        return None
    try:
        return instant_to_ms(raw), raw
    except (InvalidInstant, ValueError) as exc:
        raise InvalidInput(
            f"_since must be a FHIR instant with a time zone, e.g. 2026-01-01T00:00:00Z: {exc}",
            expression=["_since"],
        ) from exc


def _gzip_stream(lines: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in lines:
        data = compressor.compress(chunk)
        if data:
            yield data
    yield compressor.flush()


def _validated(
    request: Request, tag: str, modified_ms: int, max_age: int, *, gzipped: bool
) -> tuple[dict[str, str], bool]:
    """Response headers for one representation and whether the client already holds it.

    The gzip and identity encodings are different representations, so they get different strong ETags.
    """
    validators = Validators(tag + ("-gz" if gzipped else ""), modified_ms)
    headers = {**validators.headers(max_age), "Vary": "Accept-Encoding"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return headers, not_modified(request.headers, validators)


def _manifest_response(request: Request, body: bytes, tag: str, modified_ms: int, max_age: int) -> Response:
    gzipped = accepts_gzip(request.headers) and len(body) > 512
    headers, fresh = _validated(request, tag, modified_ms, max_age, gzipped=gzipped)
    if fresh:
        headers.pop("Content-Encoding", None)
        return Response(status_code=304, headers=headers)
    if gzipped:
        body = zlib.compress(body, 6, wbits=31)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(b"", media_type=MANIFEST_TYPE, headers=headers)
    return Response(body, media_type=MANIFEST_TYPE, headers=headers)


def publication_router(settings: Settings, store: ProviderStore, cache: PublicationCache) -> APIRouter:
    router = APIRouter()
    base = settings.base_path

    def since_publication(since_ms: int) -> Publication:
        with store.read() as conn:
            state = store.state(conn)
            portal = store.get_setting(PORTAL_URL_SETTING, conn=conn)
            files = write_files(conn, portal, None, since_ms=since_ms)
        return Publication(state.changed_ms, files)

    @router.api_route(f"{base}/{MANIFEST_NAME}", methods=["GET", "HEAD"], include_in_schema=False)
    def manifest(request: Request) -> Response:
        since = _since_ms(request)
        if since is None:
            built = cache.current()
            body = (built.directory / MANIFEST_NAME).read_bytes()
            return _manifest_response(request, body, f"m{built.version}", built.transaction_ms, settings.max_age)
        since_ms, raw = since
        publication = since_publication(since_ms)
        body = manifest_bytes(publication, settings.base_url, since=raw, file_query=f"?_since={quote(raw, safe=':')}")
        tag = f"s{publication.transaction_ms}-{since_ms}"
        return _manifest_response(request, body, tag, publication.transaction_ms, settings.max_age)

    @router.api_route(f"{base}/{{name}}.ndjson", methods=["GET", "HEAD"], include_in_schema=False)
    def ndjson_file(name: str, request: Request) -> Response:
        file_name = f"{name}.ndjson"
        since = _since_ms(request)
        if since is not None:
            return since_file(file_name, since[0], request)
        built = cache.current()
        if built.file(file_name) is None:
            raise NotFound(f"{file_name} is not part of the current publication", expression=["url"])
        gzipped = accepts_gzip(request.headers)
        tag = f"f{built.version}"
        headers, fresh = _validated(request, tag, built.transaction_ms, settings.max_age, gzipped=gzipped)
        if fresh:
            headers.pop("Content-Encoding", None)
            return Response(status_code=304, headers=headers)
        path = built.directory / file_name
        return FileResponse(cache.gzipped(path) if gzipped else path, media_type=NDJSON, headers=headers)

    def since_file(file_name: str, since_ms: int, request: Request) -> Response:
        if not any(f.name == file_name for f in since_publication(since_ms).files):
            raise NotFound(f"{file_name} has no changes after {ms_to_instant(since_ms)}", expression=["url"])
        headers = {"Cache-Control": f"max-age={settings.max_age}", "Vary": "Accept-Encoding"}
        if request.method == "HEAD":
            return Response(b"", media_type=NDJSON, headers=headers)

        def lines() -> Iterator[bytes]:
            with store.read() as conn:
                portal = store.get_setting(PORTAL_URL_SETTING, conn=conn)
                for _, name, _, line in iter_lines(conn, portal, since_ms=since_ms):
                    if name == file_name:
                        yield line.encode()

        body: Iterator[bytes] = lines()
        if accepts_gzip(request.headers):
            headers["Content-Encoding"] = "gzip"
            body = _gzip_stream(body)
        return StreamingResponse(body, media_type=NDJSON, headers=headers)

    return router

"""Serving a `$bulk-publish` publication over HTTP: the pieces every publication endpoint shares.

Used by the provider's publication and by the discovery side's aggregate re-publication, so both
behave the same (spec "Bulk Publication"): the same bytes under any Accept header, `Cache-Control:
max-age`, a strong ETag per content coding (gzip and identity are different representations) with
Last-Modified and 304s, HEAD without a body, gzip when accepted, and `_since=<instant>` parsed into
milliseconds or refused with a 400 OperationOutcome.
"""

from __future__ import annotations

import gzip
import os
import shutil
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from slotlinks.errors import InvalidInput
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms
from slotlinks.publishing.caching import Validators, accepts_gzip, not_modified

__all__ = [
    "MANIFEST_TYPE",
    "NDJSON",
    "file_response",
    "gzip_sibling",
    "gzip_stream",
    "manifest_response",
    "parse_since",
    "stream_response",
    "validated",
]

NDJSON = "application/fhir+ndjson"
MANIFEST_TYPE = "application/json"
# Manifests smaller than this are not worth compressing.
_GZIP_MIN_BYTES = 512
_BUFFER = 1 << 20
_gzip_lock = threading.Lock()


def parse_since(request: Request) -> tuple[int, str] | None:
    """The `_since` query parameter as (epoch ms, the text given), or None when absent.

    Raises `InvalidInput` (400 OperationOutcome, expression `_since`) when it is not a FHIR instant
    with a time zone (spec "Bulk Publication": clients MAY send `_since=<instant>`).
    """
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


def gzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Gzip-compresses a stream of chunks as it goes (memory flat in the stream's size)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in chunks:
        data = compressor.compress(chunk)
        if data:
            yield data
    yield compressor.flush()


def gzip_sibling(path: Path) -> Path:
    """A gzip-compressed sibling (`<name>.gz`) of an encoded file, made once on first demand.

    Only for files that never change once written (one directory per data version).
    """
    compressed = path.with_name(path.name + ".gz")
    if compressed.exists():
        return compressed
    with _gzip_lock:
        if not compressed.exists():
            partial = compressed.with_name(compressed.name + f".part-{os.getpid()}")
            with open(path, "rb") as src, gzip.open(partial, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, _BUFFER)
            os.replace(partial, compressed)
    return compressed


def ready_gzip_sibling(path: Path) -> Path | None:
    """The gzip sibling of an encoded file if it is already made (by a background job), else None."""
    compressed = path.with_name(path.name + ".gz")
    return compressed if compressed.exists() else None


def validated(
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


def _not_modified(headers: dict[str, str]) -> Response:
    headers.pop("Content-Encoding", None)
    return Response(status_code=304, headers=headers)


def manifest_response(request: Request, body: bytes, tag: str, modified_ms: int, max_age: int) -> Response:
    """A manifest held in memory, conditional on `tag`/`modified_ms`, gzipped when accepted and worth it.

    Served as `application/json` whatever the Accept header (spec: the same with none and with
    `Accept: application/json`).
    """
    gzipped = accepts_gzip(request.headers) and len(body) > _GZIP_MIN_BYTES
    headers, fresh = validated(request, tag, modified_ms, max_age, gzipped=gzipped)
    if fresh:
        return _not_modified(headers)
    if gzipped:
        body = zlib.compress(body, 6, wbits=31)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(b"", media_type=MANIFEST_TYPE, headers=headers)
    return Response(body, media_type=MANIFEST_TYPE, headers=headers)


def file_response(
    request: Request,
    path: Path,
    tag: str,
    modified_ms: int,
    max_age: int,
    *,
    compress: Callable[[Path], Path | None] = gzip_sibling,
) -> Response:
    """An encoded NDJSON file from disk, conditional, with its gzip sibling (`compress(path)`) when the
    client accepts gzip. HEAD answers the same headers (Content-Length included) without a body.

    When `compress` has no sibling ready (None), the file is gzipped on the fly as it streams, so a
    client never waits for a whole file to be compressed before its first byte.
    """
    gzipped = accepts_gzip(request.headers)
    headers, fresh = validated(request, tag, modified_ms, max_age, gzipped=gzipped)
    if fresh:
        return _not_modified(headers)
    if not gzipped:
        return FileResponse(path, media_type=NDJSON, headers=headers)
    ready = compress(path)
    if ready is not None:
        return FileResponse(ready, media_type=NDJSON, headers=headers)
    if request.method == "HEAD":
        return Response(b"", media_type=NDJSON, headers=headers)
    return StreamingResponse(gzip_stream(_file_chunks(path)), media_type=NDJSON, headers=headers)


def _file_chunks(path: Path, size: int = 1 << 16) -> Iterator[bytes]:
    with open(path, "rb") as source:
        while chunk := source.read(size):
            yield chunk


def stream_response(request: Request, lines: Iterable[bytes], max_age: int) -> Response:
    """NDJSON rendered per request (e.g. a `_since` file), streamed and gzipped on the fly when accepted.

    No validators: such responses are small and differ per client. HEAD sends no body and does not
    render the lines.
    """
    headers = {"Cache-Control": f"max-age={max_age}", "Vary": "Accept-Encoding"}
    if request.method == "HEAD":
        return Response(b"", media_type=NDJSON, headers=headers)
    body: Iterable[bytes] = lines
    if accepts_gzip(request.headers):
        headers["Content-Encoding"] = "gzip"
        body = gzip_stream(body)
    return StreamingResponse(body, media_type=NDJSON, headers=headers)

"""The publication endpoints, the same for every publication: `GET|HEAD {prefix}/$bulk-publish` and the
NDJSON files it lists (spec "Bulk Publication").

The full data set comes from the encoded cache (`versions`): one encode per data version, files
streamed from disk with their gzip siblings. A `_since=<instant>` request is rendered per request, since
it is small and differs per client: its manifest lists the files that have changes, each URL carrying
the same `_since`, and each such file returns only its changes. A side may decline a `_since` it cannot
answer truthfully (`ChangeSource.answers_since`); the full manifest is then the answer, which tells the
client to replace its copy rather than merge into it.

Validators (ETag, Last-Modified), 304s, HEAD and gzip are those of `publishing.http`. ETags are
`"<p>m<tag>"` (manifest) and `"<p>f<tag>"` (files) for a cached version, `"<p>s<time>-<since>"` for a
`_since` manifest, where `<p>` tells the publications of one server apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol

from fastapi import APIRouter, Request
from starlette.responses import Response

from slotlinks.errors import NotFound
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.fhir.manifest import MANIFEST_NAME
from slotlinks.publishing.caching import accepts_gzip
from slotlinks.publishing.http import (
    file_response,
    gzip_sibling,
    manifest_response,
    parse_since,
    ready_gzip_sibling,
    stream_response,
    validated,
)
from slotlinks.publishing.manifest import manifest_bytes
from slotlinks.publishing.outputs import Line, Publication, Text, write_files
from slotlinks.publishing.versions import VersionedCache

__all__ = ["ChangeSource", "Changes", "publication_router"]


@dataclass(frozen=True, slots=True)
class Changes(Generic[Text]):
    """What changed after an instant, read in one transaction: the time a `_since` manifest names
    (`transactionTime`) and, lazily, the lines to publish in manifest order."""

    transaction_ms: int
    lines: Iterator[Line[Text]]


class ChangeSource(Protocol[Text]):
    """One side's `_since` answers."""

    def answers_since(self, since_ms: int) -> bool:
        """Whether the changes after `since_ms` can be listed (else the full data set is the answer)."""
        ...

    def changes(self, since_ms: int) -> AbstractContextManager[Changes[Text]]:
        """The changes after `since_ms`, valid inside the block (it holds a read transaction). The
        lines are rendered only when iterated."""
        ...


def _encoded(line: Text) -> bytes:
    return line.encode() if isinstance(line, str) else line


def publication_router(
    *,
    prefix: str,
    base_url: str,
    cache: VersionedCache[Any],
    changes: ChangeSource[Text],
    max_age: int,
    etag_prefix: str = "",
    label: str = "publication",
) -> APIRouter:
    """The publication endpoints under the URL path `prefix`, naming themselves under `base_url`.

    `label` names the publication in a 404's diagnostics ("not part of the current <label>").
    """
    router = APIRouter()
    compress: Callable[[Path], Path | None] = ready_gzip_sibling if cache.precompress else gzip_sibling

    def since_tag(transaction_ms: int, since_ms: int) -> str:
        return f"{etag_prefix}s{transaction_ms}-{since_ms}"

    def since_publication(since_ms: int) -> Publication:
        with changes.changes(since_ms) as found:
            return Publication(found.transaction_ms, write_files(found.lines, None))

    def since_not_modified(request: Request, since_ms: int) -> Response | None:
        """The 304 for a `_since` manifest the client already holds, decided before rendering it: its
        ETag depends only on the data's time and `since` (and on gzip, tried both ways)."""
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is None or if_none_match.strip() == "*":
            return None
        with changes.changes(since_ms) as found:
            transaction_ms = found.transaction_ms
        tag = since_tag(transaction_ms, since_ms)
        for gzipped in (False, True) if accepts_gzip(request.headers) else (False,):
            headers, fresh = validated(request, tag, transaction_ms, max_age, gzipped=gzipped)
            if fresh:
                headers.pop("Content-Encoding", None)
                return Response(status_code=304, headers=headers)
        return None

    @router.api_route(f"{prefix}/{MANIFEST_NAME}", methods=["GET", "HEAD"], include_in_schema=False)
    def manifest(request: Request) -> Response:
        since = parse_since(request)
        if since is None or not changes.answers_since(since[0]):
            version = cache.current()
            body = (version.directory / MANIFEST_NAME).read_bytes()
            return manifest_response(request, body, f"{etag_prefix}m{version.tag}", version.modified_ms, max_age)
        since_ms, raw = since
        cached = since_not_modified(request, since_ms)
        if cached is not None:
            return cached
        publication = since_publication(since_ms)
        body = manifest_bytes(publication, base_url, since=raw)
        tag = since_tag(publication.transaction_ms, since_ms)
        return manifest_response(request, body, tag, publication.transaction_ms, max_age)

    @router.api_route(f"{prefix}/{{name}}.ndjson", methods=["GET", "HEAD"], include_in_schema=False)
    def ndjson_file(name: str, request: Request) -> Response:
        file_name = f"{name}.ndjson"
        since = parse_since(request)
        if since is not None:
            return since_file(file_name, since[0], request)
        version = cache.current()
        if version.file(file_name) is None:
            raise NotFound(f"{file_name} is not part of the current {label}", expression=["url"])
        return file_response(
            request,
            version.directory / file_name,
            f"{etag_prefix}f{version.tag}",
            version.modified_ms,
            max_age,
            compress=compress,
        )

    def since_file(file_name: str, since_ms: int, request: Request) -> Response:
        if not any(f.name == file_name for f in since_publication(since_ms).files):
            raise NotFound(f"{file_name} has no changes after {ms_to_instant(since_ms)}", expression=["url"])

        def lines() -> Iterator[bytes]:
            with changes.changes(since_ms) as found:
                for _, name, _, line in found.lines:
                    if name == file_name:
                        yield _encoded(line)

        return stream_response(request, lines(), max_age)

    return router

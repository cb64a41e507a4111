"""Where a publication is read from: a live publisher (HTTP) or a static export directory.

Specification, "Manifest File": the manifest is a JSON document at a URL ending in `$bulk-publish`
whose outputs name NDJSON files by absolute URL. A directory holds the manifest file `$bulk-publish`
and the files; each output URL maps to a file by its last path segment, since static hosting of that
directory is how it would be published. Files are always streamed in chunks, never read whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from slotlinks.errors import SourceError
from slotlinks.fhir.manifest import MANIFEST_NAME

__all__ = [
    "MANIFEST_NAME",
    "DirectorySource",
    "Fetched",
    "FileStream",
    "LiveSource",
    "Source",
    "is_live",
    "open_source",
]

_CHUNK = 1 << 16
#: Manifests are small; anything larger than this is not one.
_MAX_MANIFEST_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class Fetched:
    """A whole small response (the manifest): status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    error: str | None = None


@dataclass(slots=True)
class FileStream:
    """An open NDJSON file: its size when known, its chunks, and the HTTP response headers."""

    chunks: Iterator[bytes]
    size: int | None
    headers: Mapping[str, str] = field(default_factory=dict)


class Source(Protocol):
    """Read access to one publication."""

    live: bool
    #: What the report names as the target (the manifest URL or the directory).
    label: str

    def manifest(self) -> Fetched: ...

    def open_file(self, url: str) -> AbstractContextManager[FileStream]:
        """The file's stream, closed on exit; raises `SourceError` when it cannot be opened."""
        ...


class LiveSource:
    """A publisher over HTTP. The client is the caller's (tests pass one with a short timeout)."""

    live = True

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url
        self.label = url
        self.client = client

    def _request(self, url: str, headers: Mapping[str, str], *, no_accept: bool) -> httpx.Request:
        request = self.client.build_request("GET", url, headers=dict(headers))
        if no_accept:
            # httpx sends `Accept: */*` by default; the spec's case is a request without the header.
            del request.headers["accept"]
        return request

    def get(self, url: str, headers: Mapping[str, str] | None = None, *, no_accept: bool = False) -> Fetched:
        """GET a small document whole (manifest, `_since` probes, conditional requests)."""
        try:
            response = self.client.send(self._request(url, headers or {}, no_accept=no_accept), stream=True)
            try:
                body = bytearray()
                for chunk in response.iter_bytes(_CHUNK):
                    body += chunk
                    if len(body) > _MAX_MANIFEST_BYTES:
                        return Fetched(response.status_code, _lower(response.headers), b"", "response too large")
                return Fetched(response.status_code, _lower(response.headers), bytes(body))
            finally:
                response.close()
        except httpx.HTTPError as exc:
            return Fetched(0, {}, b"", f"{type(exc).__name__}: {exc}")

    def prefix_digest(self, url: str, nbytes: int | None, *, no_accept: bool) -> tuple[int, str]:
        """(status, sha256 of the first `nbytes` bytes of the body, or all of it): compares a file
        fetched under another Accept header without holding it in memory."""
        digest = hashlib.sha256()
        try:
            response = self.client.send(self._request(url, {}, no_accept=no_accept), stream=True)
            try:
                left = nbytes
                for chunk in response.iter_bytes(_CHUNK):
                    if left is not None:
                        chunk = chunk[:left]
                        left -= len(chunk)
                    digest.update(chunk)
                    if left == 0:
                        break
                return response.status_code, digest.hexdigest()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            return 0, f"{type(exc).__name__}: {exc}"

    def manifest(self) -> Fetched:
        return self.get(self.url, {"Accept": "application/json"})

    @contextmanager
    def open_file(self, url: str, accept: str | None = "application/fhir+ndjson") -> Iterator[FileStream]:
        headers = {"Accept": accept} if accept else {}
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise SourceError(f"HTTP {response.status_code} for {url}")
                length = response.headers.get("content-length")
                size = (
                    int(length) if length and length.isdigit() and "content-encoding" not in response.headers else None
                )
                yield FileStream(response.iter_bytes(_CHUNK), size, _lower(response.headers))
        except httpx.HTTPError as exc:
            raise SourceError(f"{type(exc).__name__}: {exc}") from None


class DirectorySource:
    """A static export: `$bulk-publish` plus the files it lists, side by side."""

    live = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.label = str(directory)

    def manifest(self) -> Fetched:
        path = self.directory / MANIFEST_NAME
        try:
            return Fetched(200, {}, path.read_bytes())
        except OSError as exc:
            return Fetched(404, {}, b"", f"cannot read {path}: {exc.strerror or exc}")

    def path_for(self, url: str) -> Path:
        """The file an output URL maps to: its last path segment, in the directory."""
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        return self.directory / name

    @contextmanager
    def open_file(self, url: str) -> Iterator[FileStream]:
        path = self.path_for(url)
        if not path.name or not path.is_file():
            raise SourceError(f"no file {path.name or url!r} in {self.directory}")
        with path.open("rb") as fp:

            def chunks() -> Iterator[bytes]:
                while chunk := fp.read(_CHUNK):
                    yield chunk

            yield FileStream(chunks(), path.stat().st_size)


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def is_live(target: str) -> bool:
    """A URL (`http://`, `https://`) is a live publisher; anything else is a directory."""
    return target.startswith(("http://", "https://"))


def open_source(target: str, client: httpx.Client | None) -> LiveSource | DirectorySource:
    """A URL (`http://`, `https://`) is a live publisher, read with `client`; anything else is a
    directory (or the `$bulk-publish` file inside one), which needs no client."""
    if is_live(target):
        if client is None:
            raise ValueError("a live publisher is read with an HTTP client")
        return LiveSource(target, client)
    path = Path(target)
    if path.name == MANIFEST_NAME and path.is_file():
        path = path.parent
    return DirectorySource(path)

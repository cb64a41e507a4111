"""Guarded, streaming HTTP for the sync engine: manifests as bounded bodies, NDJSON line by line.

Specification, "Bulk Publication": a client fetches the manifest (JSON, any Accept), then each output
(NDJSON, one resource per line). Files can be large, so they are parsed while they download: bytes go
through our own gzip/deflate decoder (bounded output per step, so a small body that inflates without
end is cut off at `max_file_bytes` instead of filling memory) into the kernel's `LineSplitter`.

Every URL, including each redirect hop, passes the publisher's `UrlPolicy`, and the transport
(`netguard.GuardedTransport`) checks the address before connecting. Failures raise `FetchError`
subclasses; one over-long line is not a failure (the splitter reports it as a `LineError`).

Time is bounded at every step, so a hostile or broken publisher costs seconds, not the poll's overall
deadline: connecting by `connect_timeout`, the response head by `connect_timeout + read_timeout` (a head
trickled a byte at a time would pass every read timeout), and the body by a minimum transfer rate: every
`min_transfer_window_seconds` of it must bring at least `min_transfer_bytes` (counted on the wire,
before decompression), else the download is cut off.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from slotlinks.config import Settings
from slotlinks.errors import FetchError, HttpStatusError, SlotlinksError, TooLarge
from slotlinks.fhir.ndjson import LineError, LineSplitter
from slotlinks.net.client import direct_transport
from slotlinks.net.guard import GuardedTransport, UrlPolicy

__all__ = ["Fetcher", "ManifestResponse", "make_client"]

MAX_REDIRECTS = 5
_READ_CHUNK = 1 << 16
USER_AGENT = "slotlinks-discovery/0.1 (SMART Scheduling Links client)"


@dataclass(slots=True)
class ManifestResponse:
    """A manifest response: its status (200 or 304), headers and (for 200) body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes = b""


def make_client(settings: Settings) -> httpx.AsyncClient:
    """An httpx client whose every connection goes through the address guard."""
    transport = GuardedTransport(direct_transport(), allow_private_networks=settings.allow_private_networks)
    timeout = httpx.Timeout(
        connect=settings.connect_timeout, read=settings.read_timeout, write=settings.read_timeout, pool=None
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
    )


class _Inflater:
    """Content decoding with bounded output per step (gzip, deflate or identity)."""

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        encoding = encoding.strip().lower()
        self.url = url
        self.limit = limit
        self.total = 0
        if encoding in ("", "identity"):
            self._z: zlib._Decompress | None = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        else:
            raise FetchError(f"{url}: unsupported Content-Encoding {encoding!r}")

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.limit:
            raise TooLarge(f"{self.url}: more than {self.limit} bytes (after decompression); download cut off")
        return data

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._z is None:
            return [self._count(chunk)]
        out = []
        data = chunk
        try:
            while data:
                piece = self._z.decompress(data, _READ_CHUNK)
                out.append(self._count(piece))
                data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(f"{self.url}: corrupt compressed body: {exc}") from exc
        return out

    def finish(self) -> list[bytes]:
        if self._z is None:
            return []
        if not self._z.eof:
            raise FetchError(f"{self.url}: compressed body ends early (truncated)")
        return [self._count(self._z.flush())]


class _RateFloor:
    """The minimum transfer rate of one body: each consecutive window of `window` seconds spent waiting
    for the publisher must bring `min_bytes` (0: no floor). Only time spent waiting counts: while we
    write a batch, TCP holds the publisher back, and our own slowness must not be blamed on it."""

    def __init__(self, url: str, min_bytes: int, window: float) -> None:
        self.url, self.min_bytes, self.window = url, min_bytes, window
        self.waited = 0.0
        self.window_end = window
        self.count = 0

    def patience(self) -> float | None:
        """How long the next read may wait before the download can only fail (None: as long as the
        read timeout allows, since this window has its bytes already)."""
        return None if self.count >= self.min_bytes else max(0.0, self.window_end - self.waited)

    def too_slow(self, count: int) -> FetchError:
        return FetchError(
            f"{self.url}: too slow: {count} bytes in {self.window:g} s, below the minimum of "
            f"{self.min_bytes} bytes per {self.window:g} s; download cut off"
        )

    def add(self, size: int, waited: float) -> None:
        """Count `size` bytes that took `waited` seconds to arrive."""
        self.waited += waited
        if self.waited >= self.window_end and self.min_bytes:
            # A window passed: it must have had its bytes, and no whole window since may have been empty.
            if self.count < self.min_bytes:
                raise self.too_slow(self.count)
            if self.waited >= self.window_end + self.window:
                raise self.too_slow(0)
            self.window_end += self.window
            self.count = 0
        self.count += size


@dataclass(slots=True)
class Fetcher:
    """Fetches one publisher's manifest and files under its `UrlPolicy`; records each URL's status."""

    client: httpx.AsyncClient
    settings: Settings
    policy: UrlPolicy
    statuses: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def _open(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[httpx.Response]:
        """GET `url`, following up to MAX_REDIRECTS redirects by hand, each hop checked."""
        current = self.policy.check(url)
        for _ in range(MAX_REDIRECTS + 1):
            request = self.client.build_request("GET", current, headers=dict(headers))
            head_seconds = self.settings.connect_timeout + self.settings.read_timeout
            try:
                async with asyncio.timeout(head_seconds):
                    response = await self.client.send(request, stream=True)
            except SlotlinksError:
                raise
            except TimeoutError as exc:
                raise FetchError(f"{current}: no complete response head within {head_seconds:g} s") from exc
            except httpx.TimeoutException as exc:
                raise FetchError(f"{current}: timed out ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"{current}: {type(exc).__name__}: {exc}") from exc
            self.statuses[current] = response.status_code
            location = response.headers.get("location")
            if response.is_redirect and location:
                await response.aclose()
                current = self.policy.check(urljoin(current, location), what="redirect target")
                continue
            try:
                yield response
            finally:
                await response.aclose()
            return
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    async def _chunks(self, response: httpx.Response, url: str, limit: int) -> AsyncIterator[bytes]:
        inflater = _Inflater(response.headers.get("content-encoding", ""), limit, url)
        floor = _RateFloor(url, self.settings.min_transfer_bytes, self.settings.min_transfer_window_seconds)
        clock = asyncio.get_running_loop().time
        # Network reads are timed one by one, then gathered into _READ_CHUNK pieces: fewer, larger steps
        # downstream (what `aiter_raw(_READ_CHUNK)` did, which hides how slowly the bytes come).
        pending = bytearray()
        raw_total = 0
        try:
            raw = response.aiter_raw()
            while True:
                began = clock()
                try:
                    # Cancelling a read leaves the stream unusable: only a read that can only fail is timed.
                    async with asyncio.timeout(floor.patience()):
                        chunk = await anext(raw)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    raise floor.too_slow(floor.count) from exc
                floor.add(len(chunk), clock() - began)
                raw_total += len(chunk)
                if raw_total > limit:
                    raise TooLarge(f"{url}: more than {limit} bytes; download cut off")
                pending += chunk
                if len(pending) >= _READ_CHUNK:
                    for piece in inflater.feed(bytes(pending)):
                        if piece:
                            yield piece
                    pending.clear()
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url}: timed out while reading ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: download failed: {type(exc).__name__}: {exc}") from exc
        for piece in [*inflater.feed(bytes(pending)), *inflater.finish()]:
            if piece:
                yield piece

    async def manifest(self, url: str, *, conditional: Mapping[str, str] | None = None) -> ManifestResponse:
        """GET the manifest (at most `max_manifest_bytes`); 304 is returned, other non-200s raise."""
        headers = {"Accept": "application/json", **(conditional or {})}
        async with self._open(url, headers) as response:
            if response.status_code == 304:
                return ManifestResponse(str(response.url), 304, dict(response.headers))
            if response.status_code != 200:
                raise HttpStatusError(url, response.status_code)
            body = bytearray()
            async for piece in self._chunks(response, url, self.settings.max_manifest_bytes):
                body += piece
            return ManifestResponse(url, 200, dict(response.headers), bytes(body))

    async def lines(self, url: str) -> AsyncIterator[list[tuple[int, bytes] | LineError]]:
        """Stream an NDJSON file as lists of numbered lines (or `LineError`s for over-long ones), one
        list per chunk received: a million-line file costs a few thousand steps of this generator."""
        self.policy.check(url, what="output URL")
        splitter = LineSplitter(max_line_bytes=self.settings.max_line_bytes)
        async with self._open(url, {"Accept": "application/fhir+ndjson"}) as response:
            if response.status_code != 200:
                raise HttpStatusError(url, response.status_code)
            async for piece in self._chunks(response, url, self.settings.max_file_bytes):
                if done := splitter.feed(piece):
                    yield done
            if done := splitter.finish():
                yield done

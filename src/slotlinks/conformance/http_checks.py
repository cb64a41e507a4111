"""Checks only a live publisher can fail: `Accept` headers, `Cache-Control`, validators and `_since`.

Specification, "Accept Headers": the manifest SHALL be the same with no `Accept` and with
`Accept: application/json`; files the same with none and `application/fhir+ndjson` (the Inferno kit
cannot test the no-header case; we can). "Performance Considerations": publishers SHOULD send
`Cache-Control: max-age=<seconds>`; clients MAY send `If-None-Match` / `If-Modified-Since` and MAY
send `_since=<instant>`, which servers are free to ignore: so `_since` must get a manifest (full or
partial) or a 304, never an error. A `_since` that is not an instant may be refused with a 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from slotlinks.conformance.checks import Results
from slotlinks.conformance.source import MANIFEST_NAME, Fetched, LiveSource

__all__ = ["check_accept_file", "check_cache_control", "check_manifest_http"]

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age=\d+", re.IGNORECASE)


def check_cache_control(headers: Mapping[str, str], results: Results, where: str) -> None:
    """SHOULD: `Cache-Control: max-age=<seconds>` on the manifest and on every file."""
    value = headers.get("cache-control")
    if value is None or not _MAX_AGE.search(value):
        got = f" (got `Cache-Control: {value}`)" if value is not None else ""
        results.fail("http.cache-control", where, f"No `Cache-Control: max-age=<seconds>` header received{got}")


def _json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def check_manifest_http(source: LiveSource, first: Fetched, results: Results, transaction_time: str | None) -> None:
    """The manifest's HTTP behaviour: Accept headers, Cache-Control, 304 on a validator, `_since`."""
    url = source.url
    check_cache_control(first.headers, results, MANIFEST_NAME)

    bare = source.get(url, no_accept=True)
    if bare.status != 200:
        results.fail("http.accept-manifest", url, f"no Accept header: HTTP {bare.status or bare.error}")
    elif _json(bare.body) != _json(first.body):
        results.fail(
            "http.accept-manifest", url, "the manifest differs between no Accept header and `Accept: application/json`"
        )

    etag, modified = first.headers.get("etag"), first.headers.get("last-modified")
    if etag:
        again = source.get(url, {"Accept": "application/json", "If-None-Match": etag})
        if again.status != 304:
            results.fail(
                "http.conditional", url, f"`If-None-Match: {etag}` got HTTP {again.status or again.error}, not 304"
            )
    elif modified:
        again = source.get(url, {"Accept": "application/json", "If-Modified-Since": modified})
        if again.status != 304:
            results.fail(
                "http.conditional",
                url,
                f"`If-Modified-Since: {modified}` got HTTP {again.status or again.error}, not 304",
            )
    else:
        results.fail("http.conditional", url, "the manifest has neither an ETag nor a Last-Modified header")

    if transaction_time is not None:
        since_url = _with_query(url, f"_since={quote(transaction_time, safe=':')}")
        since = source.get(since_url, {"Accept": "application/json"})
        doc = _json(since.body) if since.status == 200 else None
        if since.status == 304:
            pass
        elif not (isinstance(doc, dict) and isinstance(doc.get("output"), list)):
            results.fail("http.since", since_url, f"`_since` got HTTP {since.status or since.error}, not a manifest")
    bad_url = _with_query(url, "_since=not-an-instant")
    bad = source.get(bad_url, {"Accept": "application/json"})
    if bad.status not in (200, 304, 400):
        results.fail(
            "http.since",
            bad_url,
            f"an invalid `_since` got HTTP {bad.status or bad.error}; expected 200 (ignored) or 400",
        )


def check_accept_file(
    source: LiveSource, url: str, nbytes: int | None, digest: str, results: Results, where: str
) -> None:
    """The file's first `nbytes` bytes (all when None) are the same without an Accept header."""
    status, other = source.prefix_digest(url, nbytes, no_accept=True)
    if status != 200:
        results.fail("http.accept-files", where, f"no Accept header: HTTP {status or other}")
    elif other != digest:
        results.fail(
            "http.accept-files",
            where,
            "the file differs between no Accept header and `Accept: application/fhir+ndjson`",
        )

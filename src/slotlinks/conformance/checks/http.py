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

from slotlinks.conformance.registry import Fail, Failures, check
from slotlinks.conformance.source import MANIFEST_NAME, Fetched, LiveSource

__all__ = ["accept_files", "accept_manifest", "cache_control", "check_manifest_http", "conditional", "since"]

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age=\d+", re.IGNORECASE)


def _json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


@check(
    "http.accept-manifest",
    "required",
    "Accept Headers",
    "Manifest identical with no Accept and `application/json`",
    live_only=True,
)
def accept_manifest(fail: Fail, source: LiveSource, first: Fetched) -> None:
    """The manifest fetched with no `Accept` header is the one fetched with `application/json`."""
    url = source.url
    bare = source.get(url, no_accept=True)
    if bare.status != 200:
        fail(url, f"no Accept header: HTTP {bare.status or bare.error}")
    elif _json(bare.body) != _json(first.body):
        fail(url, "the manifest differs between no Accept header and `Accept: application/json`")


@check(
    "http.accept-files",
    "required",
    "Accept Headers",
    "Files identical with no Accept and `application/fhir+ndjson`",
    live_only=True,
)
def accept_files(fail: Fail, source: LiveSource, url: str, nbytes: int | None, digest: str, where: str) -> None:
    """The file's first `nbytes` bytes (all when None) are the same without an Accept header."""
    status, other = source.prefix_digest(url, nbytes, no_accept=True)
    if status != 200:
        fail(where, f"no Accept header: HTTP {status or other}")
    elif other != digest:
        fail(where, "the file differs between no Accept header and `Accept: application/fhir+ndjson`")


@check(
    "http.cache-control",
    "recommended",
    "Performance Considerations",
    "Responses carry `Cache-Control: max-age=<seconds>`",
    live_only=True,
)
def cache_control(fail: Fail, headers: Mapping[str, str], where: str) -> None:
    """SHOULD: `Cache-Control: max-age=<seconds>` on the manifest and on every file."""
    value = headers.get("cache-control")
    if value is None or not _MAX_AGE.search(value):
        got = f" (got `Cache-Control: {value}`)" if value is not None else ""
        fail(where, f"No `Cache-Control: max-age=<seconds>` header received{got}")


@check(
    "http.conditional",
    "info",
    "Performance Considerations",
    "A validator (ETag/Last-Modified) is honoured with 304",
    live_only=True,
)
def conditional(fail: Fail, source: LiveSource, first: Fetched) -> None:
    """The manifest carries a validator, and asking with it gets 304 Not Modified."""
    url = source.url
    etag, modified = first.headers.get("etag"), first.headers.get("last-modified")
    if etag:
        again = source.get(url, {"Accept": "application/json", "If-None-Match": etag})
        if again.status != 304:
            fail(url, f"`If-None-Match: {etag}` got HTTP {again.status or again.error}, not 304")
    elif modified:
        again = source.get(url, {"Accept": "application/json", "If-Modified-Since": modified})
        if again.status != 304:
            fail(url, f"`If-Modified-Since: {modified}` got HTTP {again.status or again.error}, not 304")
    else:
        fail(url, "the manifest has neither an ETag nor a Last-Modified header")


@check(
    "http.since",
    "required",
    "Performance Considerations",
    "`_since` is answered with a manifest or ignored, never an error",
    live_only=True,
)
def since(fail: Fail, source: LiveSource, transaction_time: str | None) -> None:
    """`_since=<transactionTime>` gets a manifest or a 304; an invalid `_since` a 200, 304 or 400."""
    url = source.url
    if transaction_time is not None:
        since_url = _with_query(url, f"_since={quote(transaction_time, safe=':')}")
        answer = source.get(since_url, {"Accept": "application/json"})
        doc = _json(answer.body) if answer.status == 200 else None
        if answer.status != 304 and not (isinstance(doc, dict) and isinstance(doc.get("output"), list)):
            fail(since_url, f"`_since` got HTTP {answer.status or answer.error}, not a manifest")
    bad_url = _with_query(url, "_since=not-an-instant")
    bad = source.get(bad_url, {"Accept": "application/json"})
    if bad.status not in (200, 304, 400):
        fail(bad_url, f"an invalid `_since` got HTTP {bad.status or bad.error}; expected 200 (ignored) or 400")


def check_manifest_http(results: Failures, source: LiveSource, first: Fetched, transaction_time: str | None) -> None:
    """The manifest's HTTP behaviour: Cache-Control, Accept headers, 304 on a validator, `_since`."""
    cache_control(results, first.headers, MANIFEST_NAME)
    accept_manifest(results, source, first)
    conditional(results, source, first)
    since(results, source, transaction_time)

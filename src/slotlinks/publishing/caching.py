"""HTTP caching and content negotiation shared by every publication endpoint.

The spec asks publishers for `Cache-Control: max-age` and allows clients `If-None-Match` and
`If-Modified-Since`; this module decides 304s (RFC 9110 section 13: If-None-Match wins when both are
sent) and whether a client accepts gzip.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

__all__ = ["Validators", "accepts_gzip", "http_date", "not_modified"]


def http_date(epoch_ms: int) -> str:
    return format_datetime(datetime.fromtimestamp(epoch_ms // 1000, UTC), usegmt=True)


class Validators:
    """The validators of one representation: a strong ETag and a Last-Modified time."""

    def __init__(self, etag: str, modified_ms: int) -> None:
        self.etag = f'"{etag}"'
        self.modified_ms = modified_ms

    def headers(self, max_age: int) -> dict[str, str]:
        return {
            "ETag": self.etag,
            "Last-Modified": http_date(self.modified_ms),
            "Cache-Control": f"max-age={max_age}",
        }


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    weak_free = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == weak_free for tag in header.split(","))


def not_modified(request_headers: Mapping[str, str], validators: Validators) -> bool:
    """Whether a GET or HEAD may be answered with 304 Not Modified."""
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, validators.etag)
    if_modified_since = request_headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return validators.modified_ms // 1000 <= int(since.timestamp())
    return False


def accepts_gzip(request_headers: Mapping[str, str]) -> bool:
    """Whether Accept-Encoding admits gzip (a `q=0` refuses it)."""
    for part in request_headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in {"gzip", "x-gzip", "*"}:
            q = params.strip().removeprefix("q=")
            try:
                return float(q) > 0 if params.strip().startswith("q=") else True
            except ValueError:
                return False
    return False

"""One publication pipeline for the provider and the aggregate (spec "Bulk Publication").

- `caching`: HTTP caching and content negotiation shared by every publication endpoint.
- `http`: Serving a `$bulk-publish` publication over HTTP: the pieces every publication endpoint shares.
- `staging`: Building a publication's files where no reader can see them half-written, then putting them in place
  whole: used by the provider's publication cache, its static export and the discovery side's aggregate cache.
"""

from __future__ import annotations

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
from slotlinks.publishing.staging import install_directory, staged_directory

__all__ = [
    "accepts_gzip",
    "file_response",
    "gzip_sibling",
    "install_directory",
    "manifest_response",
    "parse_since",
    "ready_gzip_sibling",
    "staged_directory",
    "stream_response",
    "validated",
]

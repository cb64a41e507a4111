"""One publication pipeline for the provider and the aggregate (spec "Bulk Publication").

Each side renders its store as lines tagged with their file, and implements two small protocols: a
`VersionSource` (is this built version still the data as it is now? build the current one) and a
`ChangeSource` (the changes after an instant). Everything else is here, written once.

- `caching`: HTTP caching and content negotiation shared by every publication endpoint.
- `http`: Serving a `$bulk-publish` publication over HTTP: the pieces every publication endpoint shares.
- `manifest`: A publication's manifest (through `slotlinks.fhir.manifest`), and a publication written whole
  into a directory: its NDJSON files and `$bulk-publish` beside them.
- `outputs`: The NDJSON files of a publication: their names, their order, and writing a publication's lines
  into them.
- `routes`: The publication endpoints, the same for every publication: `GET|HEAD {prefix}/$bulk-publish` and
  the NDJSON files it lists, `_since` included.
- `staging`: Building a publication's files where no reader can see them half-written, then putting them in place
  whole: used by the versioned cache and the provider's static export.
- `versions`: A publication encoded once per data version, on disk.
"""

from __future__ import annotations

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
from slotlinks.publishing.manifest import manifest_bytes, write_publication
from slotlinks.publishing.outputs import (
    DESCRIPTIVE_FILES,
    TYPE_ORDER,
    Line,
    OutputFile,
    Publication,
    file_name,
    write_files,
)
from slotlinks.publishing.routes import Changes, ChangeSource, publication_router
from slotlinks.publishing.staging import install_directory, staged_directory
from slotlinks.publishing.versions import Version, VersionedCache, VersionSource

__all__ = [
    "DESCRIPTIVE_FILES",
    "MANIFEST_NAME",
    "TYPE_ORDER",
    "ChangeSource",
    "Changes",
    "Line",
    "OutputFile",
    "Publication",
    "Version",
    "VersionSource",
    "VersionedCache",
    "accepts_gzip",
    "file_name",
    "file_response",
    "gzip_sibling",
    "install_directory",
    "manifest_bytes",
    "manifest_response",
    "parse_since",
    "publication_router",
    "ready_gzip_sibling",
    "staged_directory",
    "stream_response",
    "validated",
    "write_files",
    "write_publication",
]

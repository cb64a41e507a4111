"""A publication's manifest (spec "Bulk Publication" / "Manifest File"), and a publication written whole
into a directory: its NDJSON files and `$bulk-publish` beside them.

The manifest is encoded through the kernel (`slotlinks.fhir.manifest`), indented for people who open it
and ended by a newline. Its URLs are absolute, under the configured base URL (never the request's Host
header). A `_since` answer names the instant in `request` as the client gave it, and puts
`?_since=<instant>` on every file URL so each file returns only its changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO
from urllib.parse import quote

from slotlinks.fhir.instant import ms_to_instant
from slotlinks.fhir.manifest import MANIFEST_NAME, Manifest, ManifestOutput, encode_manifest
from slotlinks.publishing.outputs import Line, Publication, Text, write_files

__all__ = ["manifest_bytes", "write_publication"]

_BUFFER = 1 << 20


def manifest_bytes(publication: Publication, base_url: str, *, since: str | None = None) -> bytes:
    """The manifest of `publication` with absolute URLs under `base_url`; with `since` (the `_since`
    instant as the client sent it), the manifest of changes after that instant."""
    base = base_url.rstrip("/")
    request = f"{base}/{MANIFEST_NAME}"
    file_query = ""
    if since:
        request += f"?_since={since}"
        file_query = f"?_since={quote(since, safe=':')}"
    manifest = Manifest(
        transactionTime=ms_to_instant(publication.transaction_ms),
        request=request,
        output=[ManifestOutput.covering(f.type, f"{base}/{f.name}{file_query}", f.states) for f in publication.files],
    )
    return encode_manifest(manifest, indent=2) + b"\n"


def write_publication(
    directory: Path, lines: Iterable[Line[Text]], *, transaction_ms: int, base_url: str
) -> Publication:
    """Writes every line into its file under `directory` (which must exist), then the manifest beside
    them; returns the publication."""

    def opener(name: str) -> IO[bytes]:
        return open(directory / name, "wb", buffering=_BUFFER)

    publication = Publication(transaction_ms, write_files(lines, opener))
    (directory / MANIFEST_NAME).write_bytes(manifest_bytes(publication, base_url))
    return publication

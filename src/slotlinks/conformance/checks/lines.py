"""Checks of the output files as files, and of each NDJSON line before it is read as a resource.

Specification, "Manifest File": every output is an NDJSON file (one JSON object per line) that a
client can download, holding resources of the output's `type`. The streaming pass (`stream.py`)
calls these as it reads: `file_download` when a file cannot be read to its end, `final_newline` once
a file is read whole, and `json_object` / `resource_type` on the slow path, for a line the typed
decoder refused.
"""

from __future__ import annotations

from typing import Any

import msgspec

from slotlinks.conformance.registry import Fail, check
from slotlinks.errors import SourceError

__all__ = ["file_download", "final_newline", "json_object", "resource_type"]


@check("file.download", "required", "Manifest File", "Every output file can be downloaded")
def file_download(fail: Fail, where: str, output_type: str, url: str, error: SourceError) -> None:
    """An output file could not be opened or streamed to its end: missing from the directory, an
    HTTP error, a broken connection (the source raised `error`)."""
    fail(where, f"{output_type} file {url} could not be read: {error}")


@check("ndjson.json-object", "required", "Manifest File", "Every NDJSON line is one JSON object")
def json_object(fail: Fail, where: str, data: bytes) -> dict[str, Any] | None:
    """The line as a JSON object, or None when it is not valid JSON or not an object. (A line over
    the kernel splitter's length limit is reported under this check by the pass.)"""
    try:
        raw = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        fail(where, f"line is not valid JSON: {exc}")
        return None
    except RecursionError:
        fail(where, "line nests arrays or objects too deeply to be read")
        return None
    if not isinstance(raw, dict):
        fail(where, "line is not a JSON object")
        return None
    return raw


@check("ndjson.resource-type", "required", "Manifest File", "Every line's `resourceType` is the output's `type`")
def resource_type(fail: Fail, where: str, raw: dict[str, Any], output_type: str) -> bool:
    """Whether the line's `resourceType` is the type its output entry declares."""
    if raw.get("resourceType") != output_type:
        fail(where, f"resourceType {raw.get('resourceType')!r} in a {output_type} file")
        return False
    return True


@check("ndjson.final-newline", "info", "Manifest File", "Every NDJSON file ends with a newline")
def final_newline(fail: Fail, where: str, nbytes: int, last_byte: bytes) -> None:
    """A non-empty file read whole ends with `\\n` (some line-oriented tools drop a last unterminated line)."""
    if nbytes and last_byte != b"\n":
        fail(where, "NDJSON file does not end with a newline")

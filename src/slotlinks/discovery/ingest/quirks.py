"""Lenient reading of real feeds: departures from the spec that do not change meaning are normalized,
each counted under a warning kind for the publisher's sync run.

Specification, "Bulk Publication" / "Slot File": strict decoding (the kernel) comes first; only a line
(or manifest) that fails it is parsed loosely, repaired, and decoded strictly again. A line that still
fails is a bad line. The kinds, with the feeds that showed them (the READMEs of tests/data/realworld, univaf):

    manifest-state-string   output `extension.state` is "MA" instead of ["MA"]
    manifest-extension-null output `extension` is null
    extension-null          a resource's `extension` (or a nested one) is null
    null-value              any other JSON null (FHIR JSON forbids nulls; absence means the same)
    id-characters           an id (or a reference's id) outside [A-Za-z0-9-.]{1,64}; rewritten to
                            a stable valid id (invalid runs -> "-", plus a hash when changed); an id
                            with a `/` too, and `Type/a/b` then points at the rewritten `a/b`
    offset-short            instants with offsets like -05 or -0500 instead of -05:00
    integer-as-string       valueInteger (e.g. CVS slot-capacity "0") given as a numeric string
    decimal-as-string       a position latitude/longitude given as a numeric string
    status-case             Slot.status in another letter case ("FREE")
    booking-link-dropped    a booking-deep-link that the kernel's `is_booking_link` refuses (not an
                            absolute http(s) URL, user-info, over-long): removed, the Slot kept
    utf8-bom                a byte-order mark before the first line of a file
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any

import msgspec
import orjson

from slotlinks.discovery.ingest.fastslot import clean_slot_values, plain_http_url
from slotlinks.fhir.extensions import BOOKING_DEEP_LINK
from slotlinks.fhir.ids import InvalidReference, is_valid_id, parse_reference
from slotlinks.fhir.instant import normalize_offset
from slotlinks.fhir.manifest import Manifest, decode_manifest
from slotlinks.fhir.ndjson import LineError, decode_line, nests_too_deeply
from slotlinks.fhir.resources import RESOURCE_DECODERS, Resource, Slot, encode_resource
from slotlinks.fhir.urls import is_booking_link
from slotlinks.fhir.validate import validate_resource

__all__ = ["Warnings", "normalize_id", "read_manifest", "read_resource"]

Warnings = Counter[str]

_INSTANT_KEYS = frozenset({"start", "end", "lastUpdated", "valueDateTime", "valueInstant", "transactionTime"})
_INVALID_ID_CHARS = re.compile(r"[^A-Za-z0-9\-.]+")
_NUMBER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_STATUSES = frozenset({"free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error"})
BOM = b"\xef\xbb\xbf"


def normalize_id(source: str) -> str:
    """A valid FHIR id for `source`: itself when valid, else a readable rewrite with a stable hash,
    so two different invalid ids never collide."""
    if is_valid_id(source):
        return source
    digest = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()[:10]
    cleaned = _INVALID_ID_CHARS.sub("-", source).strip("-")[:50] or "id"
    return f"{cleaned}.{digest}"


def _fix_reference(value: str, warnings: Warnings) -> str:
    """`value` pointing at the id `_repair_resource` gives its target (`normalize_id`).

    In a relative reference everything after the type is the id, so `Location/store/12` points at the
    Location whose id `store/12` was rewritten; in an absolute one only the last segment can be.
    """
    if value.startswith("#") or _is_reference(value):
        return value
    if value.startswith(("http://", "https://")):
        head, sep, rid = value.rpartition("/")
    else:
        head, sep, rid = value.partition("/")
    if not sep or not head or is_valid_id(rid):
        return value
    warnings["id-characters"] += 1
    return f"{head}/{normalize_id(rid)}"


def _is_reference(value: str) -> bool:
    try:
        parse_reference(value)
    except InvalidReference:
        return False
    return True


def _repair(node: Any, warnings: Warnings, key: str | None = None) -> Any:
    """Repair one JSON value (recursively); returns the repaired value."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if v is None:
                warnings["extension-null" if k == "extension" else "null-value"] += 1
                continue
            out[k] = _repair(v, warnings, k)
        return out
    if isinstance(node, list):
        kept = []
        for item in node:
            if item is None:
                warnings["null-value"] += 1
                continue
            kept.append(_repair(item, warnings, key))
        return kept
    if isinstance(node, str):
        if key in _INSTANT_KEYS:
            fixed = normalize_offset(node)
            if fixed is not None and fixed != node:
                warnings["offset-short"] += 1
                return fixed
        elif key == "valueInteger" and _NUMBER.fullmatch(node.strip()):
            warnings["integer-as-string"] += 1
            return int(node.strip())
        elif key in ("latitude", "longitude") and _DECIMAL.fullmatch(node.strip()):
            warnings["decimal-as-string"] += 1
            return float(node.strip())
        elif key == "reference":
            return _fix_reference(node, warnings)
    return node


def _repair_resource(data: dict[str, Any], warnings: Warnings) -> dict[str, Any]:
    data = _repair(data, warnings)
    rid = data.get("id")
    if isinstance(rid, str) and not is_valid_id(rid):
        warnings["id-characters"] += 1
        data["id"] = normalize_id(rid)
    status = data.get("status")
    if (
        data.get("resourceType") == "Slot"
        and isinstance(status, str)
        and status not in _STATUSES
        and status.strip().lower() in _STATUSES
    ):
        warnings["status-case"] += 1
        data["status"] = status.strip().lower()
    extensions = data.get("extension")
    if isinstance(extensions, list):
        kept = []
        for ext in extensions:
            if isinstance(ext, dict) and ext.get("url") == BOOKING_DEEP_LINK and not _http_url(ext.get("valueUrl")):
                warnings["booking-link-dropped"] += 1
                continue
            kept.append(ext)
        data["extension"] = kept
    return data


def _http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return plain_http_url(value) or is_booking_link(value)


def _strict(rtype: str, line_number: int, line: bytes) -> Resource | LineError:
    decoded = decode_line(RESOURCE_DECODERS[rtype], line_number, line)
    if isinstance(decoded, LineError):
        return decoded
    if type(decoded) is Slot and clean_slot_values(decoded) is not None:
        return decoded
    errors = [i for i in validate_resource(decoded) if i.severity in ("error", "fatal")]
    if errors:
        path = errors[0].expression[0] if errors[0].expression else "$"
        return LineError(line_number, path, errors[0].diagnostics)
    resource: Resource = decoded
    return resource


def read_resource(rtype: str, line_number: int, line: bytes, warnings: Warnings) -> tuple[Resource, bytes] | LineError:
    """Read one NDJSON line of type `rtype`: the resource and its (normalized) JSON, or why not.

    Warnings are added to `warnings` only when the repaired line is accepted.
    """
    if line_number == 1 and line.startswith(BOM):
        line = line[len(BOM) :]
        warnings["utf8-bom"] += 1
    first = _strict(rtype, line_number, line)
    if not isinstance(first, LineError):
        return first, line
    if nests_too_deeply(line):
        return first  # `_repair` walks the parsed line recursively: nothing to repair this deep
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return first
    if not isinstance(data, dict):
        return first
    found: Warnings = Counter()
    repaired = encode_repaired(_repair_resource(data, found))
    if not found:
        return first
    second = _strict(rtype, line_number, repaired)
    if isinstance(second, LineError):
        return first
    warnings.update(found)
    return second, encode_resource(second)


def encode_repaired(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def read_manifest(body: bytes, warnings: Warnings) -> Manifest:
    """Decode a manifest, repairing the known harmless quirks; raises msgspec errors when it cannot."""
    try:
        return decode_manifest(body)
    except msgspec.ValidationError:
        data = orjson.loads(body)
        if not isinstance(data, dict):
            raise
    found: Warnings = Counter()
    for entry in [*(data.get("output") or []), *(data.get("error") or [])]:
        if not isinstance(entry, dict):
            continue
        if "extension" in entry and entry["extension"] is None:
            found["manifest-extension-null"] += 1
            del entry["extension"]
        ext = entry.get("extension")
        if isinstance(ext, dict) and isinstance(ext.get("state"), str):
            found["manifest-state-string"] += 1
            ext["state"] = [s.strip() for s in ext["state"].split(",") if s.strip()]
    if data.get("error") is None and "error" in data:
        found["null-value"] += 1
        data["error"] = []
    if isinstance(data.get("transactionTime"), str):
        fixed = normalize_offset(data["transactionTime"])
        if fixed is not None and fixed != data["transactionTime"]:
            found["offset-short"] += 1
            data["transactionTime"] = fixed
    manifest = decode_manifest(orjson.dumps(data))
    warnings.update(found)
    return manifest

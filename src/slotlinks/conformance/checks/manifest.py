"""Checks of the `$bulk-publish` manifest document itself, as the Inferno test kit's
"Bulk Publication Manifest" group makes them (specification "Quick Start Guide", "Manifest File",
"Timestamps", "Performance Considerations"), on the raw JSON so that a wrong type is reported, not a
crash. `check_manifest` runs them all and returns the outputs the run goes on to read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec

from slotlinks.conformance.profiles import Profile
from slotlinks.conformance.registry import Fail, Failures, check
from slotlinks.conformance.source import MANIFEST_NAME, Fetched
from slotlinks.fhir.instant import InvalidInstant, parse_instant
from slotlinks.fhir.urls import is_http_url

__all__ = [
    "Output",
    "check_manifest",
    "download",
    "output_extension_keys",
    "output_types",
    "output_url_absolute",
    "request_url",
    "state_extension",
    "structure",
    "transaction_time",
    "unknown_output_type",
    "url_ends_bulk_publish",
]

_WHERE = MANIFEST_NAME


@dataclass(frozen=True, slots=True)
class Output:
    """One output entry to read: its position in the manifest, type and URL as written."""

    index: int
    type: str
    url: str
    #: The entry's `extension` when it is a JSON object, else empty (a wrong type is `manifest.structure`).
    extension: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def where(self) -> str:
        return f"{_WHERE} output[{self.index}]"


def _type_name(value: Any) -> str:
    return {dict: "Object", list: "Array", str: "String", bool: "Boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _entries(doc: dict[str, Any]) -> list[Any]:
    entries = doc.get("output")
    return entries if isinstance(entries, list) else []


def _outputs(doc: dict[str, Any]) -> Iterator[Output]:
    """The entries that are objects with a string `type` and `url`, whatever the type."""
    for i, entry in enumerate(_entries(doc)):
        if isinstance(entry, dict) and isinstance(entry.get("type"), str) and isinstance(entry.get("url"), str):
            extension = entry.get("extension")
            yield Output(i, entry["type"], entry["url"], extension if isinstance(extension, dict) else {})


@check("manifest.url-ends-bulk-publish", "required", "Quick Start Guide", "Manifest URL ends with `$bulk-publish`")
def url_ends_bulk_publish(fail: Fail, url: str, *, what: str = "manifest URL") -> None:
    """Quick Start Guide: the manifest is hosted at a URL ending in `$bulk-publish`."""
    if not urlsplit(url).path.endswith(MANIFEST_NAME):
        fail(_WHERE, f"{what} `{url}` does not end with `$bulk-publish`")
    elif not is_http_url(url):
        fail(_WHERE, f"{what} `{url}` is not a valid http(s) URL")


@check("manifest.download", "required", "Manifest File", "Manifest can be downloaded and is a JSON object")
def download(fail: Fail, label: str, fetched: Fetched) -> Any:
    """The manifest's JSON, or None when it could not be fetched or decoded. JSON that is not an
    object is reported and returned: the run goes on, with no outputs to read."""
    if fetched.status != 200 or fetched.error is not None:
        fail(label, f"the manifest could not be read: {fetched.error or f'HTTP {fetched.status}'}")
        return None
    try:
        doc = msgspec.json.decode(fetched.body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        fail(label, f"the manifest is not valid JSON: {exc}")
        return None
    if not isinstance(doc, dict):  # JSON null included: it decodes to None
        fail(_WHERE, f"Expected manifest to be a JSON object, but found `{_type_name(doc)}`")
    return doc


@check("manifest.structure", "required", "Manifest File", "Manifest fields have the right JSON types")
def structure(fail: Fail, doc: dict[str, Any], profile: Profile) -> None:
    """`transactionTime` and `request` are strings, `output` (and `error`) arrays; each output entry
    of a type clients know is an object with string `type` and `url`, an object `extension` and an
    array of strings `extension.state`."""
    for name, wanted in (("transactionTime", str), ("request", str), ("output", list)):
        if not isinstance(doc.get(name), wanted):
            fail(_WHERE, f"`{name}` field should be `{_type_name(wanted())}`, but found `{_type_name(doc.get(name))}`")
    if "error" in doc and not isinstance(doc["error"], list):
        fail(_WHERE, f"`error` field should be `Array`, but found `{_type_name(doc['error'])}`")
    for i, entry in enumerate(_entries(doc)):
        where = f"{_WHERE} output[{i}]"
        if not isinstance(entry, dict):
            fail(where, f"output entry should be `Object`, but found `{_type_name(entry)}`")
            continue
        rtype, url = entry.get("type"), entry.get("url")
        if not isinstance(rtype, str) or not isinstance(url, str):
            fail(where, "`output.type` and `output.url` fields should be `String`")
            continue
        if rtype not in profile.known_types:
            continue  # `manifest.unknown-output-type`; clients skip the entry
        extension = entry.get("extension")
        if extension is not None and not isinstance(extension, dict):
            fail(where, f"`output.extension` should be `Object`, but found `{_type_name(extension)}`")
            continue
        states = (extension or {}).get("state")
        if states is not None and not (isinstance(states, list) and all(isinstance(s, str) for s in states)):
            fail(where, "`output.extension.state` should be an Array of Strings")


@check("manifest.transaction-time", "required", "Timestamps", "`transactionTime` is a FHIR instant")
def transaction_time(fail: Fail, doc: dict[str, Any]) -> str | None:
    """The `transactionTime` when it is a valid instant (a non-string is `manifest.structure`)."""
    raw_time = doc.get("transactionTime")
    if not isinstance(raw_time, str):
        return None
    try:
        parse_instant(raw_time)
    except InvalidInstant:
        fail(_WHERE, f"`transactionTime` is not in `YYYY-MM-DDThh:mm:ss.sss+zz:zz` format: `{raw_time}`")
        return None
    return raw_time


@check("manifest.request-url", "required", "Manifest File", "`request` is an absolute http(s) URL")
def request_url(fail: Fail, doc: dict[str, Any]) -> None:
    """The `request` the manifest answers is an absolute http(s) URL."""
    request = doc.get("request")
    if isinstance(request, str) and not is_http_url(request):
        fail(_WHERE, f"`request` {request!r} is not an absolute http(s) URL")


@check("manifest.output-url-absolute", "required", "Manifest File", "Every output `url` is an absolute http(s) URL")
def output_url_absolute(fail: Fail, outputs: list[Output]) -> None:
    """Clients fetch each output by its `url`, which the spec requires to be absolute."""
    for output in outputs:
        if not is_http_url(output.url):
            fail(output.where, f"output url {output.url!r} is not an absolute http(s) URL")


@check("manifest.output-types", "required", "Manifest File", "The manifest lists the file types the profile needs")
def output_types(fail: Fail, outputs: list[Output], profile: Profile) -> None:
    """Every type the profile requires (e.g. Schedule and Slot) has at least one output."""
    for rtype in profile.required_types:
        if not any(o.type == rtype for o in outputs):
            fail(_WHERE, f"No {rtype} urls received: the manifest lists no {rtype} file")


@check("manifest.unknown-output-type", "info", "Manifest File", "Output types clients do not know (they ignore them)")
def unknown_output_type(fail: Fail, doc: dict[str, Any], profile: Profile) -> None:
    """Outputs of a type the profile does not define are allowed, and skipped by clients."""
    for output in _outputs(doc):
        if output.type not in profile.known_types:
            fail(output.where, f"output type {output.type!r} is not one clients know; they ignore it")


@check("manifest.state-extension", "recommended", "Performance Considerations", "Every output has `extension.state`")
def state_extension(fail: Fail, outputs: list[Output]) -> None:
    """Each output SHOULD say which states it covers, so clients fetch only what they need. A
    `state` of the wrong type is `manifest.structure` instead."""
    for output in outputs:
        states = output.extension.get("state")
        if states is None or states == []:
            fail(output.where, f"output has no `extension.state` hint: {output.type} {output.url}")


@check("manifest.output-extension-keys", "info", "Manifest File", "Output `extension` carries only `state`")
def output_extension_keys(fail: Fail, outputs: list[Output]) -> None:
    """Keys besides `state` in an output's `extension` are unknown to clients."""
    for output in outputs:
        extra = sorted(set(output.extension) - {"state"})
        if extra:
            fail(output.where, f"output `extension` carries keys besides `state`: {', '.join(extra)}")


def check_manifest(
    results: Failures, doc: dict[str, Any], profile: Profile, *, live: bool
) -> tuple[list[Output], str | None]:
    """Run every manifest check; return the outputs of types the profile knows (in manifest order)
    and the `transactionTime` when it is a valid instant."""
    outputs = [o for o in _outputs(doc) if o.type in profile.known_types]
    structure(results, doc, profile)
    found_time = transaction_time(results, doc)
    request_url(results, doc)
    request = doc.get("request")
    if not live and isinstance(request, str):
        # A static export cannot be asked at its URL, but its manifest says where it would be hosted.
        url_ends_bulk_publish(results, request, what="`request`")
    output_url_absolute(results, outputs)
    output_types(results, outputs, profile)
    unknown_output_type(results, doc, profile)
    state_extension(results, outputs)
    output_extension_keys(results, outputs)
    return outputs, found_time

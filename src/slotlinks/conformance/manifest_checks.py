"""Checks of the `$bulk-publish` manifest document itself, as the Inferno test kit's
"Bulk Publication Manifest" group makes them (specification "Manifest File", "Timestamps",
"Performance Considerations"), on the raw JSON so that a wrong type is reported, not a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slotlinks.conformance.checks import Results
from slotlinks.conformance.profiles import Profile, is_absolute_http
from slotlinks.conformance.source import MANIFEST_NAME
from slotlinks.fhir.instant import InvalidInstant, parse_instant

__all__ = ["Output", "check_manifest", "check_manifest_url"]

_WHERE = MANIFEST_NAME


@dataclass(frozen=True, slots=True)
class Output:
    """One output entry to read: its position in the manifest, type and URL as written."""

    index: int
    type: str
    url: str


def check_manifest_url(url: str, results: Results, *, what: str = "manifest URL") -> None:
    """Quick Start Guide: the manifest is hosted at a URL ending in `$bulk-publish`."""
    if not urlsplit(url).path.endswith(MANIFEST_NAME):
        results.fail("manifest.url-ends-bulk-publish", _WHERE, f"{what} `{url}` does not end with `$bulk-publish`")
    elif not is_absolute_http(url):
        results.fail("manifest.url-ends-bulk-publish", _WHERE, f"{what} `{url}` is not a valid http(s) URL")


def _type_name(value: Any) -> str:
    return {dict: "Object", list: "Array", str: "String", bool: "Boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def check_manifest(doc: Any, results: Results, profile: Profile, *, live: bool) -> tuple[list[Output], str | None]:
    """Check the manifest; return the outputs of types the profile knows (in manifest order) and the
    transactionTime when it is a valid instant."""
    if not isinstance(doc, dict):
        results.fail(
            "manifest.download", _WHERE, f"Expected manifest to be a JSON object, but found `{_type_name(doc)}`"
        )
        return [], None
    for name, wanted in (("transactionTime", str), ("request", str), ("output", list)):
        if not isinstance(doc.get(name), wanted):
            results.fail(
                "manifest.structure",
                _WHERE,
                f"`{name}` field should be `{_type_name(wanted())}`, but found `{_type_name(doc.get(name))}`",
            )
    if "error" in doc and not isinstance(doc["error"], list):
        results.fail(
            "manifest.structure", _WHERE, f"`error` field should be `Array`, but found `{_type_name(doc['error'])}`"
        )

    transaction_time: str | None = None
    raw_time = doc.get("transactionTime")
    if isinstance(raw_time, str):
        try:
            parse_instant(raw_time)
            transaction_time = raw_time
        except InvalidInstant:
            results.fail(
                "manifest.transaction-time",
                _WHERE,
                f"`transactionTime` is not in `YYYY-MM-DDThh:mm:ss.sss+zz:zz` format: `{raw_time}`",
            )
    request = doc.get("request")
    if isinstance(request, str):
        if not is_absolute_http(request):
            results.fail("manifest.request-url", _WHERE, f"`request` {request!r} is not an absolute http(s) URL")
        if not live:
            check_manifest_url(request, results, what="`request`")

    outputs = _check_outputs(doc.get("output"), results, profile)
    for rtype in profile.required_types:
        if not any(o.type == rtype for o in outputs):
            results.fail(
                "manifest.output-types", _WHERE, f"No {rtype} urls received: the manifest lists no {rtype} file"
            )
    return outputs, transaction_time


def _check_outputs(entries: Any, results: Results, profile: Profile) -> list[Output]:
    if not isinstance(entries, list):
        return []
    outputs: list[Output] = []
    for i, entry in enumerate(entries):
        where = f"{_WHERE} output[{i}]"
        if not isinstance(entry, dict):
            results.fail(
                "manifest.structure", where, f"output entry should be `Object`, but found `{_type_name(entry)}`"
            )
            continue
        rtype, url = entry.get("type"), entry.get("url")
        if not isinstance(rtype, str) or not isinstance(url, str):
            results.fail("manifest.structure", where, "`output.type` and `output.url` fields should be `String`")
            continue
        if rtype not in profile.known_types:
            results.fail(
                "manifest.unknown-output-type", where, f"output type {rtype!r} is not one clients know; they ignore it"
            )
            continue
        if not is_absolute_http(url):
            results.fail("manifest.output-url-absolute", where, f"output url {url!r} is not an absolute http(s) URL")
        extension = entry.get("extension")
        if extension is not None and not isinstance(extension, dict):
            results.fail(
                "manifest.structure",
                where,
                f"`output.extension` should be `Object`, but found `{_type_name(extension)}`",
            )
            extension = None
        states = (extension or {}).get("state")
        if states is not None and not (isinstance(states, list) and all(isinstance(s, str) for s in states)):
            results.fail("manifest.structure", where, "`output.extension.state` should be an Array of Strings")
        elif not states:
            results.fail("manifest.state-extension", where, f"output has no `extension.state` hint: {rtype} {url}")
        extra = sorted(set(extension or {}) - {"state"})
        if extra:
            results.fail(
                "manifest.output-extension-keys",
                where,
                f"output `extension` carries keys besides `state`: {', '.join(extra)}",
            )
        outputs.append(Output(i, rtype, url))
    return outputs

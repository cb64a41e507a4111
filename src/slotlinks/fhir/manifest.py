"""The `$bulk-publish` manifest (specification, "Bulk Publication" / "Manifest File").

A JSON object: `transactionTime` (instant), `request` (the manifest's own URL, with `?_since=` when the
client asked for changes only), `output` (one entry per NDJSON file: `type`, absolute `url`, optional
`extension` whose `state` lists the jurisdictions the file covers) and `error` (usually empty).
Publishers put other keys in `output[].extension` (Walgreens: `currentAsOf`), so `extension` is kept as
an open object and only `state` is typed.

The same types decode what publishers send us and encode what we publish (`encode_manifest`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from slotlinks.errors import Issue
from slotlinks.fhir.instant import InvalidInstant, parse_instant
from slotlinks.fhir.resources import RESOURCE_TYPES, Instant
from slotlinks.fhir.urls import is_http_url

__all__ = [
    "MANIFEST_DECODER",
    "MANIFEST_NAME",
    "Manifest",
    "ManifestOutput",
    "decode_manifest",
    "encode_manifest",
    "validate_manifest",
]


#: The manifest's name: the last segment of its URL (`{base}/$bulk-publish`), and its file's name.
MANIFEST_NAME = "$bulk-publish"


class ManifestOutput(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One `output` (or `error`) entry: a file of one resource type."""

    type: str
    url: str
    extension: dict[str, Any] = {}

    def __post_init__(self) -> None:
        # Raised here so msgspec reports it with its path, e.g. `$.output[2]`.
        state = self.extension.get("state")
        if state is not None and not (isinstance(state, list) and all(isinstance(s, str) for s in state)):
            raise ValueError("`extension.state` must be an array of strings")

    @classmethod
    def covering(cls, resource_type: str, url: str, states: Iterable[str]) -> ManifestOutput:
        """An output whose `extension.state` lists `states` (sorted, each once): the jurisdictions a
        client can filter the file by (spec "Manifest File": `state` SHOULD be present)."""
        return cls(type=resource_type, url=url, extension={"state": sorted(set(states))})

    @property
    def states(self) -> list[str]:
        """The `extension.state` codes (empty when the publisher gave none)."""
        state = self.extension.get("state")
        return list(state) if isinstance(state, list) else []


class Manifest(msgspec.Struct, kw_only=True):
    """A `$bulk-publish` manifest. `error` is always written, even empty, as Bulk Data requires
    (hence no `omit_defaults` here: no field of this Struct can be null)."""

    transactionTime: Instant  # noqa: N815 (the spec's field name)
    request: str
    output: list[ManifestOutput]
    error: list[ManifestOutput] = msgspec.field(default_factory=list)

    def outputs_of(self, resource_type: str) -> list[ManifestOutput]:
        """The outputs of one type, in manifest order."""
        return [o for o in self.output if o.type == resource_type]


MANIFEST_DECODER = msgspec.json.Decoder(Manifest)
_ENCODER = msgspec.json.Encoder()


def decode_manifest(data: bytes | str) -> Manifest:
    """Decode a manifest; raises `msgspec.ValidationError` (with the JSON path) or `msgspec.DecodeError`."""
    return MANIFEST_DECODER.decode(data)


def encode_manifest(manifest: Manifest, *, indent: int = 0) -> bytes:
    """Encode a manifest as JSON, with `"error": []` present even when empty: compact, or with
    `indent` spaces per level (as a published manifest file is written, for people who open it)."""
    data = _ENCODER.encode(manifest)
    return msgspec.json.format(data, indent=indent) if indent else data


def validate_manifest(manifest: Manifest) -> list[Issue]:
    """What the schema cannot check: a parseable transactionTime, absolute http(s) output URLs,
    a `state` hint on every output (SHOULD: a warning) and output types we do not know (ignored,
    as clients SHOULD: information). Mirrors the Inferno test kit's manifest checks.
    """
    issues: list[Issue] = []
    try:
        parse_instant(manifest.transactionTime)
    except InvalidInstant as exc:
        issues.append(Issue(str(exc), expression=("transactionTime",)))
    for i, out in enumerate(manifest.output):
        where = f"output[{i}]"
        if not is_http_url(out.url):
            issues.append(Issue(f"output url {out.url!r} is not an absolute http(s) URL", expression=(f"{where}.url",)))
        if not out.states:
            issues.append(
                Issue(
                    "output has no extension.state (SHOULD be present on every output)",
                    severity="warning",
                    expression=(f"{where}.extension",),
                )
            )
        if out.type not in RESOURCE_TYPES:
            issues.append(
                Issue(
                    f"output type {out.type!r} is not one clients know; they will ignore it",
                    code="informational",
                    severity="information",
                    expression=(f"{where}.type",),
                )
            )
    return issues

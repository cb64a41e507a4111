from __future__ import annotations

import re
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotlinks.fhir.manifest import Manifest, ManifestOutput, decode_manifest, encode_manifest, validate_manifest
from tests.fhir import REALWORLD

CORPORA = ["cvs", "smart-examples", "walgreens"]


def _manifest(corpus: str) -> bytes:
    return (REALWORLD / corpus / "$bulk-publish").read_bytes()


@pytest.mark.parametrize("corpus", CORPORA)
def test_real_manifests_round_trip(corpus: str) -> None:
    raw = _manifest(corpus)
    manifest = decode_manifest(raw)
    assert orjson.loads(encode_manifest(manifest)) == orjson.loads(raw)
    assert [o.type for o in manifest.output][:2] == ["Location", "Schedule"]


def test_walgreens_extra_extension_keys_survive() -> None:
    manifest = decode_manifest(_manifest("walgreens"))
    (slots,) = manifest.outputs_of("Slot")
    assert slots.states == ["AK"]
    assert slots.extension["currentAsOf"] == "2021-10-20T01:31:57.102Z"
    assert manifest.outputs_of("Location")[0].states == []
    assert manifest.transactionTime == "2021-10-20T05:00:00Z"


def _doc(**changes: Any) -> bytes:
    doc: dict[str, Any] = {
        "transactionTime": "2021-04-22T14:28:21.582Z",
        "request": "https://example.org/fhir/$bulk-publish",
        "output": [
            {"type": "Location", "url": "https://example.org/l.ndjson", "extension": {"state": ["MA"]}},
            {"type": "Slot", "url": "https://example.org/s.ndjson", "extension": {"state": ["MA", "NH"]}},
        ],
        "error": [],
    }
    doc.update(changes)
    return orjson.dumps(doc)


def test_valid_manifest_has_no_issues() -> None:
    assert validate_manifest(decode_manifest(_doc())) == []


def test_encoding_keeps_an_empty_error_array() -> None:
    manifest = Manifest(
        transactionTime="2021-04-22T14:28:21Z",
        request="https://example.org/$bulk-publish",
        output=[ManifestOutput(type="Slot", url="https://example.org/s.ndjson")],
    )
    assert encode_manifest(manifest) == (
        b'{"transactionTime":"2021-04-22T14:28:21Z","request":"https://example.org/$bulk-publish",'
        b'"output":[{"type":"Slot","url":"https://example.org/s.ndjson"}],"error":[]}'
    )


def test_missing_error_array_is_accepted() -> None:
    doc = orjson.loads(_doc())
    del doc["error"]
    assert decode_manifest(orjson.dumps(doc)).error == []


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"transactionTime": "2021-04-22"}, "$.transactionTime"),
        ({"transactionTime": "2021-04-22T14:28:21"}, "$.transactionTime"),
        ({"output": [{"type": "Slot", "url": "u", "extension": {"state": "MA"}}]}, "$.output[0]"),
        ({"output": [{"type": "Slot", "url": "u", "extension": {"state": [1]}}]}, "$.output[0]"),
        ({"output": [{"type": "Slot"}]}, "$.output[0]"),
        ({"output": "nope"}, "$.output"),
    ],
)
def test_invalid_manifests_name_the_path(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(f"at `{path}`")):
        decode_manifest(_doc(**changes))


def test_validate_manifest_flags_relative_urls_missing_states_and_unknown_types() -> None:
    manifest = decode_manifest(
        _doc(
            output=[
                {"type": "Slot", "url": "/s.ndjson"},
                {"type": "Organization", "url": "https://example.org/o.ndjson", "extension": {"state": ["MA"]}},
            ],
            transactionTime="2021-02-30T00:00:00Z",
        )
    )
    found = {(i.severity, i.expression) for i in validate_manifest(manifest)}
    assert found == {
        ("error", ("transactionTime",)),
        ("error", ("output[0].url",)),
        ("warning", ("output[0].extension",)),
        ("information", ("output[1].type",)),
    }


def test_output_covering_lists_each_state_once_in_order() -> None:
    output = ManifestOutput.covering("Slot", "https://example.org/s.ndjson", ["RI", "MA", "RI"])
    assert output.extension == {"state": ["MA", "RI"]}
    assert output.states == ["MA", "RI"]


def test_indented_encoding_is_the_published_manifest_format() -> None:
    manifest = Manifest(
        transactionTime="2021-04-22T14:28:21Z",
        request="https://example.org/$bulk-publish?_since=2021-04-01T00:00:00+00:00",
        output=[ManifestOutput.covering("Slot", "https://example.org/s.ndjson?_since=x", ["MA"])],
    )
    assert encode_manifest(manifest, indent=2) == (
        b"{\n"
        b'  "transactionTime": "2021-04-22T14:28:21Z",\n'
        b'  "request": "https://example.org/$bulk-publish?_since=2021-04-01T00:00:00+00:00",\n'
        b'  "output": [\n'
        b"    {\n"
        b'      "type": "Slot",\n'
        b'      "url": "https://example.org/s.ndjson?_since=x",\n'
        b'      "extension": {\n'
        b'        "state": [\n'
        b'          "MA"\n'
        b"        ]\n"
        b"      }\n"
        b"    }\n"
        b"  ],\n"
        b'  "error": []\n'
        b"}"
    )


@given(
    request=st.text(),
    outputs=st.lists(st.tuples(st.text(), st.text(), st.lists(st.text(max_size=3), max_size=3)), max_size=3),
)
def test_indented_encoding_matches_an_independent_encoder(request: str, outputs: list[Any]) -> None:
    """The same bytes as orjson writes with two-space indentation, whatever the strings hold (escapes,
    non-ASCII): the format publications have always been served in."""
    manifest = Manifest(
        transactionTime="2021-04-22T14:28:21Z",
        request=request,
        output=[ManifestOutput.covering(kind, url, states) for kind, url, states in outputs],
    )
    expected = {
        "transactionTime": manifest.transactionTime,
        "request": request,
        "output": [
            {"type": kind, "url": url, "extension": {"state": sorted(set(states))}} for kind, url, states in outputs
        ],
        "error": [],
    }
    assert encode_manifest(manifest, indent=2) == orjson.dumps(expected, option=orjson.OPT_INDENT_2)

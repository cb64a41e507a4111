"""The shared pipeline's files and manifest, without a store or a server: names, order, states, the
buffered writes of both line types, and the manifest of a full and of a `_since` publication."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO

import orjson
import pytest

from slotlinks.fhir.manifest import MANIFEST_NAME
from slotlinks.publishing.manifest import manifest_bytes, write_publication
from slotlinks.publishing.outputs import Line, OutputFile, Publication, file_name, write_files


def test_file_names_split_by_state_and_iso_week() -> None:
    assert file_name("locations", "MA") == "locations-MA.ndjson"
    assert file_name("practitioners", None) == "practitioners.ndjson"
    assert file_name("practitioners", "") == "practitioners.ndjson"
    assert file_name("slots", "RI", date(2026, 12, 2)) == "slots-RI-2026-W49.ndjson"
    # The ISO week's year, not the calendar's: 1 January 2027 is in the last week of 2026.
    assert file_name("slots", None, date(2027, 1, 1)) == "slots-2026-W53.ndjson"


class _Files:
    """An opener keeping what was written to each file (and whether it was closed)."""

    def __init__(self) -> None:
        self.handles: dict[str, io.BytesIO] = {}
        self.closed: dict[str, bytes] = {}

    def __call__(self, name: str) -> IO[bytes]:
        files = self

        class Handle(io.BytesIO):
            def close(self) -> None:
                files.closed[name] = self.getvalue()
                super().close()

        handle = self.handles[name] = Handle()
        return handle


def _lines(n: int) -> list[Line[str]]:
    lines: list[Line[str]] = [("Practitioner", "practitioners.ndjson", None, '{"p":1}\n')]
    lines += [("Location", f"locations-{s}.ndjson", s, f'{{"l":"{s}"}}\n') for s in ("RI", "MA")]
    lines += [("Slot", "slots-MA-2026-W49.ndjson", "MA", f'{{"s":{i}}}\n') for i in range(n)]
    return lines


@pytest.mark.parametrize("as_bytes", [False, True])
def test_every_line_reaches_its_file_through_the_buffers(as_bytes: bool) -> None:
    text = _lines(10_000)  # more than one buffer's worth of Slots
    files = _Files()
    if as_bytes:
        outputs = write_files([(k, n, s, line.encode()) for k, n, s, line in text], files)
    else:
        outputs = write_files(text, files)
    slots = "".join(line for k, _, _, line in text if k == "Slot").encode()
    assert files.closed["slots-MA-2026-W49.ndjson"] == slots
    assert files.closed["practitioners.ndjson"] == b'{"p":1}\n'
    assert set(files.closed) == {o.name for o in outputs}, "every file opened is closed"
    assert [(o.type, o.name, o.count) for o in outputs] == [
        ("Location", "locations-MA.ndjson", 1),
        ("Location", "locations-RI.ndjson", 1),
        ("Practitioner", "practitioners.ndjson", 1),
        ("Slot", "slots-MA-2026-W49.ndjson", 10_000),
    ], "in the order a client resolves references, then by name"
    states = {o.name: o.states for o in outputs}
    assert states["locations-RI.ndjson"] == {"RI"}
    assert states["practitioners.ndjson"] == {"MA", "RI"}, "a file tied to no state serves every state"


def test_without_an_opener_only_counts() -> None:
    outputs = write_files(_lines(3), None)
    assert [o.count for o in outputs] == [1, 1, 1, 3]


def test_files_are_closed_when_rendering_fails() -> None:
    files = _Files()

    def failing() -> Iterator[Line[str]]:
        yield from _lines(2)
        raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError):
        write_files(failing(), files)
    assert set(files.closed) == set(files.handles)


def test_publication_written_whole_with_its_manifest(tmp_path: Path) -> None:
    publication = write_publication(
        tmp_path, _lines(2), transaction_ms=1_700_000_000_123, base_url="https://pub.example/fhir/"
    )
    raw = (tmp_path / MANIFEST_NAME).read_bytes()
    assert raw.endswith(b"}\n")
    manifest = orjson.loads(raw)
    assert raw == orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n", "indented, as always served"
    assert manifest["transactionTime"] == "2023-11-14T22:13:20.123Z"
    assert manifest["request"] == "https://pub.example/fhir/$bulk-publish"
    assert manifest["error"] == []
    assert [(o["type"], o["url"], o["extension"]) for o in manifest["output"]] == [
        ("Location", "https://pub.example/fhir/locations-MA.ndjson", {"state": ["MA"]}),
        ("Location", "https://pub.example/fhir/locations-RI.ndjson", {"state": ["RI"]}),
        ("Practitioner", "https://pub.example/fhir/practitioners.ndjson", {"state": ["MA", "RI"]}),
        ("Slot", "https://pub.example/fhir/slots-MA-2026-W49.ndjson", {"state": ["MA"]}),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([MANIFEST_NAME, *(f.name for f in publication.files)])
    assert (tmp_path / "slots-MA-2026-W49.ndjson").read_bytes() == b'{"s":0}\n{"s":1}\n'


def test_since_manifest_names_the_instant_as_given_and_quotes_it_in_file_urls() -> None:
    publication = Publication(0, [OutputFile("Slot", "slots-MA-2026-W49.ndjson", {"MA"}, 1)])
    manifest = orjson.loads(manifest_bytes(publication, "https://pub.example/fhir", since="2026-01-01T00:00:00+05:00"))
    assert manifest["request"] == "https://pub.example/fhir/$bulk-publish?_since=2026-01-01T00:00:00+05:00"
    assert manifest["output"][0]["url"] == (
        "https://pub.example/fhir/slots-MA-2026-W49.ndjson?_since=2026-01-01T00:00:00%2B05:00"
    ), "a `+` left bare would reach the server as a space"

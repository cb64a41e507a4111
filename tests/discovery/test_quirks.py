"""Lenient reading: harmless departures are repaired and counted; real errors stay errors."""

from __future__ import annotations

from collections import Counter

import orjson

from slotlinks.discovery.ingest.quirks import normalize_id, read_manifest, read_resource
from slotlinks.fhir.ndjson import LineError
from slotlinks.fhir.resources import Location, Schedule, Slot
from tests.conftest import nested_location


def test_strict_line_passes_untouched() -> None:
    line = b'{"resourceType":"Schedule","id":"s1","actor":[{"reference":"Location/l1"}]}'
    warnings: Counter[str] = Counter()
    read = read_resource("Schedule", 1, line, warnings)
    assert not isinstance(read, LineError)
    assert isinstance(read[0], Schedule)
    assert read[1] == line
    assert not warnings


def test_ids_and_references_rewritten_consistently() -> None:
    warnings: Counter[str] = Counter()
    schedule = read_resource(
        "Schedule", 1, b'{"resourceType":"Schedule","id":"s 1","actor":[{"reference":"Location/a_b"}]}', warnings
    )
    slot = read_resource(
        "Slot",
        1,
        b'{"resourceType":"Slot","id":"x","schedule":{"reference":"Schedule/s 1"},"status":"free",'
        b'"start":"2026-01-01T10:00:00+0100","end":"2026-01-01T11:00:00+01"}',
        warnings,
    )
    assert not isinstance(schedule, LineError)
    assert not isinstance(slot, LineError)
    assert isinstance(slot[0], Slot)
    assert slot[0].schedule.reference == f"Schedule/{schedule[0].id}"
    assert slot[0].start == "2026-01-01T10:00:00+01:00"
    assert normalize_id("a_b") != normalize_id("a b")
    assert warnings == {"id-characters": 3, "offset-short": 2}


def test_real_errors_stay_errors() -> None:
    warnings: Counter[str] = Counter()
    bad = read_resource("Location", 4, b'{"resourceType":"Slot","id":"x"}', warnings)
    assert isinstance(bad, LineError)
    assert bad.line == 4
    bad = read_resource(
        "Location", 5, b'{"resourceType":"Location","id":"x","position":{"latitude":"north"}}', warnings
    )
    assert isinstance(bad, LineError)
    assert not warnings


def test_bom_and_string_coordinates() -> None:
    warnings: Counter[str] = Counter()
    line = b'\xef\xbb\xbf{"resourceType":"Location","id":"l","position":{"latitude":"42.1","longitude":"-71"}}'
    read = read_resource("Location", 1, line, warnings)
    assert not isinstance(read, LineError)
    assert isinstance(read[0], Location)
    assert read[0].position is not None
    assert read[0].position.latitude == 42.1
    assert warnings == {"utf8-bom": 1, "decimal-as-string": 2}


def test_manifest_quirks() -> None:
    warnings: Counter[str] = Counter()
    body = orjson.dumps(
        {
            "transactionTime": "2026-01-01T00:00:00-05",
            "request": "https://x.org/$bulk-publish",
            "output": [
                {"type": "Slot", "url": "https://x.org/a.ndjson", "extension": {"state": "MA"}},
                {"type": "Location", "url": "https://x.org/b.ndjson", "extension": None},
            ],
            "error": None,
        }
    )
    manifest = read_manifest(body, warnings)
    assert manifest.output[0].states == ["MA"]
    assert manifest.transactionTime == "2026-01-01T00:00:00-05:00"
    assert warnings == {"manifest-state-string": 1, "manifest-extension-null": 1, "null-value": 1, "offset-short": 1}


def test_a_deeply_nested_line_is_a_bad_line_without_repairs() -> None:
    # Deep enough to pass orjson (which stops at 1024 levels) and to exhaust the stack of a recursive
    # repair: the lenient reader must not try.
    warnings: Counter[str] = Counter()
    line = nested_location(450).replace(b'"id":"deep"', b'"id":"deep one"')
    bad = read_resource("Location", 3, line, warnings)
    assert isinstance(bad, LineError)
    assert (bad.line, bad.path) == (3, "$")
    assert "nested more than" in bad.message
    assert not warnings


def test_references_to_an_id_with_a_slash_follow_its_rewrite() -> None:
    warnings: Counter[str] = Counter()
    location = read_resource("Location", 1, b'{"resourceType":"Location","id":"store/12","name":"x"}', warnings)
    schedule = read_resource(
        "Schedule",
        1,
        b'{"resourceType":"Schedule","id":"s/1","actor":[{"reference":"Location/store/12"}]}',
        warnings,
    )
    slot = read_resource(
        "Slot",
        1,
        b'{"resourceType":"Slot","id":"x","schedule":{"reference":"Schedule/s/1"},"status":"free",'
        b'"start":"2026-01-01T10:00:00Z","end":"2026-01-01T11:00:00Z"}',
        warnings,
    )
    assert not isinstance(location, LineError)
    assert not isinstance(schedule, LineError), schedule
    assert not isinstance(slot, LineError), slot
    assert isinstance(schedule[0], Schedule)
    assert isinstance(slot[0], Slot)
    assert schedule[0].actor[0].reference == f"Location/{location[0].id}"
    assert slot[0].schedule.reference == f"Schedule/{schedule[0].id}"
    assert warnings == {"id-characters": 4}


def test_a_valid_reference_is_never_rewritten() -> None:
    # The line fails for its id, so every reference in it is looked at: a version suffix stays.
    warnings: Counter[str] = Counter()
    line = b'{"resourceType":"Schedule","id":"s 1","actor":[{"reference":"Location/l1/_history/2"}]}'
    schedule = read_resource("Schedule", 1, line, warnings)
    assert not isinstance(schedule, LineError)
    assert isinstance(schedule[0], Schedule)
    assert schedule[0].actor[0].reference == "Location/l1/_history/2"
    assert warnings == {"id-characters": 1}

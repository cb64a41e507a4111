"""The lean per-slot path gives what the full checks give: the same accepted Slots, the same first
error (line, path, message) for bad ones, the same derived columns; and an unchanged re-poll of a
provider is a 304 from the first re-poll on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotlinks.config import Settings
from slotlinks.discovery.ingest import quirks
from slotlinks.discovery.ingest.fastslot import SLOT_ROW_COLUMNS, clean_slot_values, plain_http_url, plain_slot_row
from slotlinks.discovery.ingest.generation import GenerationWriter, row_for
from slotlinks.discovery.ingest.quirks import read_resource
from slotlinks.discovery.ingest.slots import slot_tuple, slot_values
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.fhir.extensions import BOOKING_DEEP_LINK, BOOKING_PHONE, SLOT_CAPACITY, VACCINE_DOSE
from slotlinks.fhir.ndjson import LineError
from slotlinks.fhir.resources import RESOURCE_DECODERS, Resource, Slot
from tests.discovery.conftest import run_provider, sync

LINK = {"url": BOOKING_DEEP_LINK, "valueUrl": "https://book.example.com/s/1?x=1"}
PHONE = {"url": BOOKING_PHONE, "valueString": "555-0100"}
ACCEPTING = "http://terminology.hl7.org/CodeSystem/accepting-patients"


def _slot(**changes: object) -> bytes:
    data: dict[str, object] = {
        "resourceType": "Slot",
        "id": "s1",
        "meta": {"lastUpdated": "2026-01-01T00:00:00.123Z"},
        "schedule": {"reference": "Schedule/sch1"},
        "status": "free",
        "start": "2026-03-01T10:00:00-05:00",
        "end": "2026-03-01T10:30:00-05:00",
        "extension": [LINK, PHONE],
        **changes,
    }
    return orjson.dumps({k: v for k, v in data.items() if v is not None})


CASES = {
    "clean": _slot(),
    "no extensions, no meta": _slot(extension=None, meta=None),
    "capacity": _slot(extension=[{"url": SLOT_CAPACITY, "valueInteger": 3}, LINK]),
    "capacity zero": _slot(extension=[{"url": SLOT_CAPACITY, "valueInteger": 0}]),
    "negative capacity": _slot(extension=[{"url": SLOT_CAPACITY, "valueInteger": -1}]),
    "capacity as decimal": _slot(extension=[{"url": SLOT_CAPACITY, "valueDecimal": 2.0}]),
    "two values": _slot(extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": "https://a.example", "valueString": "x"}]),
    "ftp link": _slot(extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": "ftp://a.example/x"}]),
    "upper-case scheme": _slot(extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": "HTTPS://a.example/x"}]),
    "no host": _slot(extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": "https:///x"}]),
    "link with user-info": _slot(extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": "http://u:p@evil.example/b"}]),
    "over-long link": _slot(extension=[{"url": BOOKING_DEEP_LINK, "valueUrl": "https://a.example/" + "x" * 4096}]),
    "blank phone": _slot(extension=[{"url": BOOKING_PHONE, "valueString": "  "}]),
    "known extension out of place": _slot(extension=[{"url": VACCINE_DOSE, "valueInteger": 1}]),
    "unknown extension, no value": _slot(extension=[{"url": "http://x.example/e"}]),
    "unknown extension, nested": _slot(extension=[{"url": "http://x.example/e", "extension": [PHONE]}]),
    "end equals start": _slot(end="2026-03-01T10:00:00-05:00"),
    "end before start, other offset": _slot(end="2026-03-01T14:59:00Z"),
    "30 February": _slot(start="2026-02-30T10:00:00Z"),
    "bad lastUpdated day": _slot(meta={"lastUpdated": "2026-02-31T00:00:00Z"}),
    "meta extension": _slot(meta={"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/lastSourceSync"}]}),
    "schedule reference to a Location": _slot(schedule={"reference": "Location/l1"}),
    "schedule reference without id": _slot(schedule={"reference": "Schedule/"}),
    "absolute schedule reference": _slot(schedule={"reference": "https://x.example/fhir/Schedule/sch1"}),
    "schedule without reference": _slot(schedule={"display": "x"}),
    "a field beyond the everyday ones": _slot(comment="bring your card"),
    "who the slot is for": _slot(
        appointmentType={
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/accepting-patients", "code": "newpt"}],
            "text": "New patients only",
        }
    ),
    "existing patients only, after a visit kind": _slot(
        appointmentType={
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "ROUTINE"},
                {"system": ACCEPTING, "code": "existptonly"},
                {"system": ACCEPTING, "code": "newpt"},
            ]
        }
    ),
    "a visit kind only": _slot(
        appointmentType={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": "ROUTINE"}]}
    ),
    "an accepting-patients code the system lacks": _slot(
        appointmentType={"coding": [{"system": ACCEPTING, "code": "x"}]}
    ),
    "who the slot is for, with an extension": _slot(
        appointmentType={"coding": [{"code": "newpt", "extension": [{"url": "http://x.example/e"}]}]}
    ),
    "schedule reference with a display": _slot(schedule={"reference": "Schedule/sch1", "display": "x"}),
    "meta with a version": _slot(meta={"versionId": "3", "lastUpdated": "2026-01-01T00:00:00Z"}),
    "empty lastUpdated": _slot(meta={"lastUpdated": ""}),
    "month 13": _slot(start="2026-13-01T10:00:00Z"),
    "short offset": _slot(start="2026-03-01T10:00:00-05", end="2026-03-01T10:30:00-0500"),
    "no offset": _slot(start="2026-03-01T10:00:00"),
    "id with a space": _slot(id="a b"),
    "id of 65 characters": _slot(id="x" * 65),
    "capacity as a string": _slot(extension=[{"url": SLOT_CAPACITY, "valueInteger": "3"}]),
    "extension null": orjson.dumps({**orjson.loads(_slot()), "extension": None}),
    "unknown status": _slot(status="open"),
    "another resource type": _slot(resourceType="Schedule"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_agrees_with_the_full_checks(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    line = CASES[name]
    warnings: Counter[str] = Counter()
    read = read_resource("Slot", 7, line, warnings)
    with monkeypatch.context() as patched:
        patched.setattr(quirks, "clean_slot_values", lambda _slot: None)  # every Slot through validate_resource
        full_warnings: Counter[str] = Counter()
        full = read_resource("Slot", 7, line, full_warnings)
    assert read == full
    assert warnings == full_warnings
    if not isinstance(read, LineError):
        row = row_for(read[0], read[1], publisher_id=1, generation=1, now_ms=5)
        assert row["start_ms"] < row["end_ms"]
        assert isinstance(read[0], Slot)
        vouched = clean_slot_values(read[0])
        if vouched is not None:
            assert vouched == slot_values(read[0])
    plain = plain_slot_row(line)
    if plain is not None:  # the full route takes the line as it is, without a repair, into this row
        assert not isinstance(read, LineError)
        assert read[1] == line
        assert not warnings
        assert plain == slot_tuple(read[0], line)


def test_the_fast_path_takes_the_everyday_slots_and_leaves_the_rest() -> None:
    """Not so cautious that it never runs, and nothing that needs a closer look."""
    decode = RESOURCE_DECODERS["Slot"].decode

    def vouches(line: bytes) -> bool:
        try:
            slot = decode(line)
        except msgspec.ValidationError:
            return False
        return clean_slot_values(slot) is not None

    vouched = {name for name, line in CASES.items() if vouches(line)}
    everyday = {
        "clean",
        "no extensions, no meta",
        "capacity",
        "capacity zero",
        "absolute schedule reference",
        "who the slot is for",
        "existing patients only, after a visit kind",
        "a visit kind only",
        "an accepting-patients code the system lacks",
    }
    assert vouched == everyday | {
        "who the slot is for, with an extension",
        "unknown extension, nested",
        "a field beyond the everyday ones",
        "schedule reference with a display",
        "meta with a version",
    }
    assert {name for name, line in CASES.items() if plain_slot_row(line) is not None} == everyday


@pytest.mark.parametrize(
    ("name", "patients"),
    [
        ("who the slot is for", "newpt"),
        ("existing patients only, after a visit kind", "existptonly"),
        ("a visit kind only", None),
        ("an accepting-patients code the system lacks", None),
        ("clean", None),
        ("who the slot is for, with an extension", None),
        ("a field beyond the everyday ones", None),
    ],
)
def test_who_the_slot_is_for_is_read_the_same_on_both_routes(name: str, patients: str | None) -> None:
    """The patient status column: the first accepting-patients code, else unknown (None), whichever
    route the line takes (a coding without a system is not guessed to be one)."""
    line = CASES[name]
    read = read_resource("Slot", 7, line, Counter())
    assert not isinstance(read, LineError)
    assert row_for(read[0], read[1], publisher_id=1, generation=1, now_ms=5)["patients"] == patients
    plain = plain_slot_row(line)
    if plain is not None:
        assert plain[SLOT_ROW_COLUMNS.index("patients")] == patients


def test_a_chunk_of_lines_gives_the_rows_the_lenient_reader_gives() -> None:
    """`add_lines` (fast path, then the reader for the rest) buffers what reading each line with
    `read_resource` and adding it buffers, in the same order, and hands bad lines to the reader."""
    cases = list(CASES.values())
    quirky = _slot(start="2026-03-01T10:00:00-05", end="2026-03-01T10:30:00-0500", id="a b")
    too_long = LineError(40, "$", "line is longer than 9 bytes; skipped")
    lines: list[tuple[int, bytes] | LineError] = [*enumerate([*cases, quirky, b"{not json", b"[]"], 2), too_long]
    warnings: Counter[str] = Counter()
    bad: list[LineError] = []

    def read(item: tuple[int, bytes] | LineError) -> tuple[Resource, bytes] | None:
        got = item if isinstance(item, LineError) else read_resource("Slot", item[0], item[1], warnings)
        if isinstance(got, LineError):
            bad.append(got)
            return None
        return got

    fast = GenerationWriter(1, 2, 5)
    fast.add_lines("Slot", lines, read)
    fast_bad, bad = bad, []
    one_by_one = GenerationWriter(1, 2, 5)
    for item in lines:
        if (got := read(item)) is not None:
            one_by_one.add(*got)
    assert fast.take() == one_by_one.take()
    assert fast_bad == bad
    assert [e.line for e in bad][-3:] == [len(cases) + 3, len(cases) + 4, 40]
    assert warnings["offset-short"] == 2 * 2 * 2  # two short offsets in each of two lines, each read twice


@pytest.mark.parametrize(
    "value",
    [
        "http://a",
        "https://a.example/x?y#z",
        "http:///x",
        "https://?x",
        "http://#",
        "http://",
        "https://[::1]/x",
        "http://a\tb",
        "http://\n/x",
        "http://exämple.com/",
        "HTTP://a.example",
        "mailto:x@example.com",
        "",
    ],
)
def test_plain_http_url_only_says_yes_when_urlsplit_would(value: str) -> None:
    if plain_http_url(value):
        parts = urlsplit(value)
        assert parts.scheme in ("http", "https")
        assert parts.netloc


def test_slot_row_reads_the_first_of_each_extension() -> None:
    line = _slot(
        extension=[
            {"url": SLOT_CAPACITY, "valueInteger": 4},
            {"url": BOOKING_PHONE, "valueString": "1"},
            {"url": BOOKING_DEEP_LINK, "valueUrl": "mailto:x@example.com"},
            {"url": SLOT_CAPACITY, "valueInteger": 9},
            {"url": BOOKING_PHONE, "valueString": "2"},
            {"url": BOOKING_DEEP_LINK, "valueUrl": "https://b.example"},
        ]
    )
    slot = RESOURCE_DECODERS["Slot"].decode(line)
    row = row_for(slot, line, publisher_id=1, generation=1, now_ms=5)
    assert (row["capacity"], row["booking_phone"], row["booking_link"]) == (4, "1", None)
    assert row["start_ms"] == 1772377200000
    assert row["end_ms"] == 1772379000000


def test_first_repoll_of_an_unchanged_provider_is_not_modified(
    store: DiscoveryStore, settings: Settings, tmp_path: Path
) -> None:
    with run_provider(tmp_path, "Delta Care", seed=4) as provider:
        pid = registry.add_publisher(store, url=provider.manifest_url, name="delta").id
        assert sync(store, settings)[pid].outcome == "full"
        again = sync(store, settings)[pid]
        assert again.outcome == "not-modified", again.error
        assert 304 in again.http_statuses.values()


_INSTANTS = st.sampled_from(
    [
        "2026-03-01T10:00:00-05:00",
        "2026-03-01T10:30:00-05:00",
        "2026-03-01T15:00:00Z",
        "2026-03-01T15:00:00.000Z",
        "2026-03-01T10:00:00.5+00:00",
        "2026-03-01T10:00:00-05",
        "2026-03-01T10:00:00-0500",
        "2026-03-01T10:00:00",
        "2026-02-30T10:00:00Z",
        "2026-13-01T10:00:00Z",
        "2026-03-01T24:00:00Z",
        "2026-03-01T10:00:00+15:00",
        "2026-03-01",
        "",
    ]
)
_VALUES = st.sampled_from(
    [
        ("valueUrl", "https://book.example.com/s/1"),
        ("valueUrl", "ftp://book.example.com/s/1"),
        ("valueUrl", ""),
        ("valueString", "555-0100"),
        ("valueString", " "),
        ("valueInteger", 2),
        ("valueInteger", -1),
        ("valueInteger", "2"),
        ("valueInteger", 2.5),
        ("valueBoolean", True),
        ("valueCode", "x"),
    ]
)
_EXTENSIONS = st.lists(
    st.builds(
        lambda url, values, nested: {"url": url, **dict(values), **({"extension": [PHONE]} if nested else {})},
        st.sampled_from([BOOKING_DEEP_LINK, BOOKING_PHONE, SLOT_CAPACITY, VACCINE_DOSE, "http://x.example/e"]),
        st.lists(_VALUES, max_size=2),
        st.booleans(),
    ),
    max_size=3,
)
_MISSING = object()
# Changes to an everyday Slot, some harmless, most not: each example applies up to three.
_CHANGES = st.one_of(
    st.tuples(st.just("resourceType"), st.sampled_from(["Schedule", _MISSING])),
    st.tuples(st.just("id"), st.sampled_from(["a.b-C9", "a b", "x" * 64, "x" * 65, "", 7, None])),
    st.tuples(
        st.just("meta"),
        st.one_of(
            st.fixed_dictionaries(
                {}, optional={"lastUpdated": st.one_of(_INSTANTS, st.none()), "versionId": st.just("1")}
            ),
            st.sampled_from([None, _MISSING, []]),
        ),
    ),
    st.tuples(
        st.just("schedule"),
        st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "reference": st.sampled_from(["Schedule/s2", "Location/l1", "Schedule/", "https://x/Schedule/s"]),
                    "display": st.just("x"),
                },
            ),
            st.sampled_from([None, _MISSING, "Schedule/s2"]),
        ),
    ),
    st.tuples(st.just("status"), st.sampled_from(["busy", "busy-tentative", "open", "FREE", None, _MISSING])),
    st.tuples(st.sampled_from(["start", "end"]), st.one_of(_INSTANTS, st.sampled_from([None, _MISSING]))),
    st.tuples(st.just("extension"), st.one_of(_EXTENSIONS, st.sampled_from([None, _MISSING]))),
    st.tuples(st.sampled_from(["comment", "text", "serviceType"]), st.sampled_from(["x", None])),
)


@given(changes=st.lists(_CHANGES, max_size=3))
@settings(max_examples=500, deadline=None)
def test_the_plain_path_never_takes_a_line_the_full_route_would_refuse_or_repair(
    changes: list[tuple[str, object]],
) -> None:
    data = {**orjson.loads(_slot()), **dict(changes)}
    line = orjson.dumps({k: v for k, v in data.items() if v is not _MISSING})
    row = plain_slot_row(line)
    if row is None:
        return
    warnings: Counter[str] = Counter()
    read = read_resource("Slot", 3, line, warnings)
    assert not isinstance(read, LineError), read
    assert read[1] == line
    assert not warnings
    assert row == slot_tuple(read[0], line)

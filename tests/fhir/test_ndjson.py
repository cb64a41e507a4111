from __future__ import annotations

import asyncio
import io
import itertools
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotlinks.fhir.ndjson import (
    MAX_NESTING_DEPTH,
    LineError,
    LineSplitter,
    NdjsonWriter,
    decode_line,
    nests_too_deeply,
    read_ndjson,
    split_error_path,
)
from slotlinks.fhir.resources import RESOURCE_DECODER, RESOURCE_DECODERS, Reference, Slot, encode_resource
from tests.fhir import hypothesis_settings

Item = tuple[int, bytes] | LineError


def _expected(data: bytes, max_line_bytes: int) -> list[Item]:
    """What a splitter must produce, computed the obvious way on the whole input."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out: list[Item] = []
    for number, line in enumerate(lines, 1):
        if len(line) > max_line_bytes:
            out.append(LineError(number, "$", f"line is longer than {max_line_bytes} bytes; skipped"))
            continue
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip():
            out.append((number, line))
    return out


def _split_all(chunks: list[bytes], max_line_bytes: int) -> list[Item]:
    splitter = LineSplitter(max_line_bytes=max_line_bytes)
    out: list[Item] = []
    for chunk in chunks:
        out.extend(splitter.feed(chunk))
    out.extend(splitter.finish())
    return out


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


_line = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")) | st.sampled_from([b"", b" ", b"\r", b"x\r"])


@hypothesis_settings
@given(
    st.lists(_line, max_size=30),
    st.booleans(),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=20),
    st.integers(min_value=1, max_value=50),
)
def test_splitter_is_independent_of_chunk_boundaries(
    lines: list[bytes], final_newline: bool, cuts: list[int], max_line_bytes: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    expected = _expected(data, max_line_bytes) if data else []
    assert _split_all(_cut(data, cuts), max_line_bytes) == expected
    assert _split_all([bytes([b]) for b in data], max_line_bytes) == expected


def test_splitter_numbers_lines_and_skips_blank_ones() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a":1}\n\n  \n{"b"') == [(1, b'{"a":1}')]
    assert splitter.feed(b":2}\r\n") == [(4, b'{"b":2}')]
    assert splitter.finish() == []
    assert splitter.lines_seen == 4


def test_splitter_handles_a_missing_final_newline() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\nb") == [(1, b"a")]
    assert splitter.finish() == [(2, b"b")]
    with pytest.raises(RuntimeError):
        splitter.feed(b"c")


def test_oversized_line_is_reported_and_reading_resumes() -> None:
    splitter = LineSplitter(max_line_bytes=10)
    out = splitter.feed(b"short\n" + b"x" * 8)
    out += splitter.feed(b"y" * 1000)  # the line passes the limit here: its bytes are dropped
    assert len(splitter._partial) == 0
    out += splitter.feed(b"z\nok\n")
    out += splitter.finish()
    assert out == [(1, b"short"), LineError(2, "$", "line is longer than 10 bytes; skipped"), (3, b"ok")]


def test_oversized_last_line_without_newline() -> None:
    splitter = LineSplitter(max_line_bytes=3)
    assert splitter.feed(b"abcdef") == []
    assert splitter.finish() == [LineError(1, "$", "line is longer than 3 bytes; skipped")]


def test_splitter_rejects_a_useless_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        LineSplitter(max_line_bytes=0)


def test_splitter_from_async_code() -> None:
    async def stream() -> AsyncIterator[bytes]:
        for chunk in (b'{"a"', b":1}\n", b'{"a":2}'):
            await asyncio.sleep(0)
            yield chunk

    async def collect() -> list[object]:
        splitter, decoder = LineSplitter(), msgspec.json.Decoder(dict[str, int])
        out: list[object] = []
        async for chunk in stream():
            out += [decode_line(decoder, *i) if isinstance(i, tuple) else i for i in splitter.feed(chunk)]
        out += [decode_line(decoder, *i) if isinstance(i, tuple) else i for i in splitter.finish()]
        return out

    assert asyncio.run(collect()) == [{"a": 1}, {"a": 2}]


SLOT = (
    b'{"resourceType":"Slot","id":"1","schedule":{"reference":"Schedule/1"},"status":"free",'
    b'"start":"2021-03-01T14:00:00Z","end":"2021-03-01T14:15:00Z"}'
)


def test_read_ndjson_reports_each_bad_line_and_continues() -> None:
    data = b"\n".join(
        [
            SLOT,
            b"",
            b'{"resourceType":"Slot",',  # truncated JSON
            SLOT.replace(b"14:15:00Z", b"14:15:00"),  # no offset
            b'{"resourceType":"Slot","id":"\xff"}',  # invalid UTF-8
            b"\xfe\xff",
            SLOT.replace(b'"free"', b'"open"'),
            b"[1]",
            SLOT,
        ]
    )
    results = list(read_ndjson(io.BytesIO(data), RESOURCE_DECODER, chunk_size=7))
    assert isinstance(results[0], Slot)
    assert isinstance(results[-1], Slot)
    errors = results[1:-1]
    assert all(isinstance(e, LineError) for e in errors)
    assert [(e.line, e.path) for e in errors if isinstance(e, LineError)] == [
        (3, "$"),
        (4, "$.end"),
        (5, "$"),
        (6, "$"),
        (7, "$.status"),
        (8, "$"),
    ]
    messages = [e.message for e in errors if isinstance(e, LineError)]
    assert messages[0].startswith("invalid JSON")
    assert "regex" in messages[1]
    assert messages[2] == "invalid UTF-8 at byte 29"
    assert messages[3] == "invalid UTF-8 at byte 0"
    assert "open" in messages[4]
    assert messages[5] == "Expected `object`, got `array`"


def test_read_ndjson_accepts_bytes_files_and_iterables() -> None:
    decoder = RESOURCE_DECODERS["Slot"]
    data = SLOT + b"\n" + SLOT
    for source in (data, io.BytesIO(data), iter([data[:50], data[50:]]), [data]):
        assert [r.id for r in read_ndjson(source, decoder) if isinstance(r, Slot)] == ["1", "1"]


def test_line_error_text_and_issue() -> None:
    error = LineError(4, "$.end", "Expected `str` matching regex")
    assert str(error) == "line 4 at $.end: Expected `str` matching regex"
    assert str(LineError(2, "$", "invalid UTF-8 at byte 0")) == "line 2: invalid UTF-8 at byte 0"
    issue = error.to_issue()
    assert issue.expression == ("$.end",)
    assert issue.diagnostics == "line 4 at $.end: Expected `str` matching regex"


def test_split_error_path() -> None:
    assert split_error_path("Expected `int`, got `str` - at `$.a[1].b`") == ("$.a[1].b", "Expected `int`, got `str`")
    assert split_error_path("Object missing required field `id`") == ("$", "Object missing required field `id`")


def _slot(i: int) -> Slot:
    return Slot(
        id=f"slot-{i}",
        schedule=Reference(reference="Schedule/1"),
        status="free" if i % 3 else "busy",
        start="2021-03-01T14:00:00-05:00",
        end="2021-03-01T14:15:00-05:00",
    )


def test_writer_round_trip() -> None:
    buffer = io.BytesIO()
    writer = NdjsonWriter(buffer)
    writer.write(_slot(1))
    writer.write(encode_resource(_slot(2)))
    writer.write(encode_resource(_slot(3)) + b"\n")
    assert writer.write_all(_slot(i) for i in range(4, 10)) == 6
    assert writer.count == 9
    data = buffer.getvalue()
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 9
    assert list(read_ndjson(data, RESOURCE_DECODERS["Slot"])) == [_slot(i) for i in range(1, 10)]


def test_writer_refuses_a_newline_inside_a_line() -> None:
    with pytest.raises(ValueError, match="newline"):
        NdjsonWriter(io.BytesIO()).write(b'{"a":\n1}')


def _generated_stream(lines: int, chunk_size: int = 1 << 16) -> Iterator[bytes]:
    template = (
        '{{"resourceType":"Slot","id":"s{0}","schedule":{{"reference":"Schedule/{1}"}},"status":"free",'
        '"start":"2021-03-01T14:00:00.000-05:00","end":"2021-03-01T14:15:00.000-05:00","extension":['
        '{{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link",'
        '"valueUrl":"https://ehr-portal.example.org/bookings?slot={0}"}},'
        '{{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity","valueInteger":1}}]}}\n'
    )
    pending: list[bytes] = []
    size = 0
    for i in range(lines):
        line = template.format(i, i % 97).encode()
        pending.append(line)
        size += len(line)
        if size >= chunk_size:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


@pytest.mark.slow
def test_reading_200k_lines_keeps_memory_flat() -> None:
    total_bytes = sum(len(c) for c in _generated_stream(200_000))
    decoder = RESOURCE_DECODERS["Slot"]
    tracemalloc.start()
    try:
        count = errors = 0
        for item in read_ndjson(_generated_stream(200_000), decoder):
            if isinstance(item, LineError):
                errors += 1
            else:
                count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, errors) == (200_000, 0)
    assert total_bytes > 70_000_000
    assert peak < 2_000_000, f"peak {peak} bytes while reading {total_bytes} bytes"


def test_a_deeply_nested_line_is_one_bad_line() -> None:
    from tests.conftest import nested_location

    lines = [SLOT, nested_location(5000), nested_location(30), nested_location(31), SLOT]
    results = list(read_ndjson(b"\n".join(lines), RESOURCE_DECODER))
    assert isinstance(results[0], Slot)
    assert isinstance(results[4], Slot)
    # The Location, its extension array, 30 nested extensions (two levels each) and the innermost one
    # are 63 levels; one more extension makes 65, past the limit.
    assert type(results[2]).__name__ == "Location"
    for bad in (results[1], results[3]):
        assert isinstance(bad, LineError)
        assert (bad.path, bad.message) == ("$", f"nested more than {MAX_NESTING_DEPTH} levels deep; skipped")
    assert [r.line for r in results if isinstance(r, LineError)] == [2, 4]


def test_nesting_depth_is_measured_outside_strings() -> None:
    assert not nests_too_deeply(b'{"a":"' + b"[" * 100 + b'"}')
    assert not nests_too_deeply(b'{"a":"\\"' + b"{" * 100 + b'"}')
    assert not nests_too_deeply(b"[]" * 1000)
    assert nests_too_deeply(b"[" * 65 + b"]" * 65)
    assert not nests_too_deeply(b"[" * 64 + b"]" * 64)
    # Unbalanced and deep: the decoder's own limit makes it one bad line too.
    error = decode_line(RESOURCE_DECODER, 7, b"[" * 100_000)
    assert isinstance(error, LineError)
    assert error.line == 7

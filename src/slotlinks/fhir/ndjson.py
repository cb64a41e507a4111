"""Streaming NDJSON: split, decode and write one resource per line in constant memory.

Specification, "Bulk Publication": each output file is NDJSON, one minified FHIR resource per line
(`application/fhir+ndjson`). Files can be large (a week of slots for a pharmacy chain), so nothing
here holds more than one line, and one over-long line is reported and skipped, never buffered.

`LineSplitter` does no I/O: feed it chunks from a file, an httpx byte stream or an upload, from sync
or async code alike. `read_ndjson` is the synchronous driver; async callers run the same splitter and
`decode_line` over their own stream.

`decode_line` is where every line from outside is decoded (the discovery's sync and the provider's
`$import` alike), so it also bounds how deeply a line may nest (`MAX_NESTING_DEPTH`): a deeper line is
one bad line, never a `RecursionError` that stops the whole file, and what is decoded stays shallow
enough for every recursive walk after it (validation, lenient repairs, the aggregate's rewriting).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import IO, Protocol, TypeVar, runtime_checkable

import msgspec

from slotlinks.errors import Issue

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "MAX_NESTING_DEPTH",
    "LineDecoder",
    "LineError",
    "LineSplitter",
    "NdjsonWriter",
    "Readable",
    "decode_line",
    "nests_too_deeply",
    "read_ndjson",
    "split_error_path",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: A Location with many identifiers and hours is a few kB; 1 MiB leaves room without inviting abuse.
DEFAULT_MAX_LINE_BYTES = 1 << 20
_CHUNK_SIZE = 1 << 16

#: How deeply one line's JSON may nest (objects and arrays). The spec's resources nest about ten levels
#: (a Schedule's serviceType, its coding, a nested extension's valueCodeableConcept); 64 leaves room for
#: any honest resource while keeping every recursive walk of a decoded line far from Python's limit.
MAX_NESTING_DEPTH = 64


class LineDecoder(Protocol[T_co]):
    """What decodes one line: a `msgspec.json.Decoder` (built once, reused for every line)."""

    def decode(self, buf: bytes, /) -> T_co: ...


@dataclass(frozen=True, slots=True)
class LineError:
    """One line that could not be read: its 1-based number, the JSON path (`$` for the whole line)
    and what was wrong."""

    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = "" if self.path == "$" else f" at {self.path}"
        return f"line {self.line}{where}: {self.message}"

    def to_issue(self) -> Issue:
        """This error as an OperationOutcome-shaped issue."""
        return Issue(str(self), code="invalid", expression=(self.path,))


_starts_with_brace = operator.methodcaller("startswith", b"{")


class LineSplitter:
    """Turn byte chunks into numbered lines, whatever the chunk boundaries.

    `feed` and `finish` return, in order, `(line_number, line)` pairs for non-blank lines (without
    the `\\n` or a trailing `\\r`) and a `LineError` for each line longer than `max_line_bytes`. An
    over-long line is dropped as soon as it passes the limit, and reading resumes after its newline.
    Blank lines are skipped but counted, so numbers match what an editor shows.
    """

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.max_line_bytes = max_line_bytes
        self._partial = bytearray()
        self._skipping = False  # inside an over-long line, dropping bytes until its newline
        self._line = 0  # number of the last line completed
        self._finished = False

    @property
    def lines_seen(self) -> int:
        """How many lines have been completed so far (blank and over-long ones included)."""
        return self._line

    def feed(self, chunk: bytes) -> list[tuple[int, bytes] | LineError]:
        """Add a chunk; return the lines it completed."""
        if self._finished:
            raise RuntimeError("LineSplitter.feed called after finish")
        out: list[tuple[int, bytes] | LineError] = []
        pieces = chunk.split(b"\n")
        if len(pieces) > 1:
            # The first piece ends the line begun in earlier chunks and the last one begins the next;
            # those in between are whole lines. When none of them needs a closer look (too long, a
            # carriage return, blank), they are numbered in one go rather than one call each.
            self._end_line(pieces[0], out)
            middle = pieces[1:-1]
            if (
                middle
                and b"\r" not in chunk
                and max(map(len, middle)) <= self.max_line_bytes
                and all(map(_starts_with_brace, middle))
            ):
                first = self._line + 1
                out.extend(zip(range(first, first + len(middle)), middle, strict=True))
                self._line += len(middle)
            else:
                for piece in middle:
                    self._end_line(piece, out)
        self._extend(pieces[-1])
        return out

    def finish(self) -> list[tuple[int, bytes] | LineError]:
        """End of input: return the last line if it had no final newline."""
        out: list[tuple[int, bytes] | LineError] = []
        if not self._finished and (self._partial or self._skipping):
            self._end_line(b"", out)
        self._finished = True
        return out

    def _extend(self, piece: bytes) -> None:
        if self._skipping or not piece:
            return
        if len(self._partial) + len(piece) > self.max_line_bytes:
            self._skipping = True
            self._partial = bytearray()  # drop the storage, not only the contents
        else:
            self._partial += piece

    def _end_line(self, piece: bytes, out: list[tuple[int, bytes] | LineError]) -> None:
        self._line += 1
        if self._skipping:
            self._skipping = False
            out.append(self._too_long())
            return
        if self._partial:
            if len(self._partial) + len(piece) > self.max_line_bytes:
                self._partial = bytearray()
                out.append(self._too_long())
                return
            line = bytes(self._partial) + piece
            self._partial.clear()
        elif len(piece) > self.max_line_bytes:
            out.append(self._too_long())
            return
        else:
            line = piece
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip():
            out.append((self._line, line))

    def _too_long(self) -> LineError:
        return LineError(self._line, "$", f"line is longer than {self.max_line_bytes} bytes; skipped")


def split_error_path(message: str) -> tuple[str, str]:
    """Split a msgspec validation message into (JSON path, what was wrong); the path is `$` at the root."""
    # msgspec writes "<what> - at `$.path`"; errors at the root carry no path.
    head, sep, tail = message.rpartition(" - at `")
    if sep and tail.endswith("`"):
        return tail[:-1], head
    return "$", message


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


def nests_too_deeply(line: bytes, limit: int = MAX_NESTING_DEPTH) -> bool:
    """True when the JSON of `line` nests objects and arrays more than `limit` levels deep.

    Exact for valid JSON; for invalid JSON it may answer either way (the decoder then says what is
    wrong). Cheap for everyday lines: a line with at most `limit` opening brackets cannot be too deep.
    """
    if line.count(b"{") + line.count(b"[") <= limit:
        return False
    # Brackets inside strings do not nest; the running count of the others is the depth. Every step
    # runs in C, so even a hostile 1 MiB line costs a few hundredths of a second.
    brackets = _JSON_STRING.sub(b"", line).translate(None, _NOT_A_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def _too_deep(line_number: int) -> LineError:
    return LineError(line_number, "$", f"nested more than {MAX_NESTING_DEPTH} levels deep; skipped")


def decode_line(decoder: LineDecoder[T], line_number: int, line: bytes) -> T | LineError:
    """Decode one line with `decoder`, or describe why it failed (invalid UTF-8, invalid JSON, wrong
    type or value, nested more than `MAX_NESTING_DEPTH` levels) as a `LineError` carrying the JSON path
    msgspec reports, e.g. `$.start`."""
    if nests_too_deeply(line):
        return _too_deep(line_number)
    try:
        return decoder.decode(line)
    except RecursionError:
        # The count above is exact only for valid JSON; should a broken line still reach the decoder's
        # limit (which also depends on how deep the caller's stack already is), it is one bad line too.
        return _too_deep(line_number)
    except msgspec.ValidationError as exc:
        path, message = split_error_path(str(exc))
        return LineError(line_number, path, message)
    except msgspec.DecodeError as exc:
        return LineError(line_number, "$", _utf8_problem(line) or f"invalid JSON: {exc}")
    except UnicodeDecodeError:
        # msgspec raises this itself for invalid UTF-8 inside a string; its offset is within the string.
        return LineError(line_number, "$", _utf8_problem(line) or "invalid UTF-8")


def _utf8_problem(line: bytes) -> str | None:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    return None


@runtime_checkable
class Readable(Protocol):
    """A binary file, or anything with a file's `read`."""

    def read(self, size: int = ..., /) -> bytes: ...


def _chunks(source: Readable | Iterable[bytes] | bytes, chunk_size: int) -> Iterator[bytes]:
    if isinstance(source, bytes):
        yield source  # iterating bytes would give ints
    elif isinstance(source, Readable):
        while chunk := source.read(chunk_size):
            yield chunk
    else:
        yield from source


def read_ndjson(
    source: Readable | Iterable[bytes] | bytes,
    decoder: LineDecoder[T],
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    chunk_size: int = _CHUNK_SIZE,
) -> Iterator[T | LineError]:
    """Read NDJSON from a binary file, bytes or an iterable of byte chunks, one item per non-blank line:
    the decoded value, or a `LineError` for a line that failed. Never stops at a bad line.

    Memory stays at one chunk plus one line, whatever the input size ("Bulk Publication").
    """
    splitter = LineSplitter(max_line_bytes=max_line_bytes)
    for chunk in _chunks(source, chunk_size):
        yield from _decode_all(decoder, splitter.feed(chunk))
    yield from _decode_all(decoder, splitter.finish())


def _decode_all(decoder: LineDecoder[T], items: list[tuple[int, bytes] | LineError]) -> Iterator[T | LineError]:
    for item in items:
        if isinstance(item, LineError):
            yield item
        else:
            result: T | LineError = decode_line(decoder, item[0], item[1])
            yield result


class NdjsonWriter:
    """Write resources (any msgspec Struct) or pre-encoded JSON, one per line, each ended by `\\n`."""

    def __init__(self, fp: IO[bytes]) -> None:
        self._fp = fp
        self._encoder = msgspec.json.Encoder()
        self._buffer = bytearray()
        self.count = 0

    def write(self, item: msgspec.Struct | bytes) -> None:
        """Write one line. Pre-encoded bytes must be one JSON value without a newline inside."""
        if isinstance(item, bytes | bytearray | memoryview):
            data = bytes(item).rstrip(b"\n")
            if b"\n" in data:
                raise ValueError("a pre-encoded NDJSON line must not contain a newline")
            self._fp.write(data + b"\n")
        else:
            self._encoder.encode_into(item, self._buffer)
            self._buffer.extend(b"\n")
            self._fp.write(self._buffer)
        self.count += 1

    def write_all(self, items: Iterable[msgspec.Struct | bytes]) -> int:
        """Write every item; return how many were written."""
        before = self.count
        for item in items:
            self.write(item)
        return self.count - before

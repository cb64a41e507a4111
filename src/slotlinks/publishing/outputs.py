"""The NDJSON files of a publication (spec "Bulk Publication"): their names, their order, and writing a
publication's lines into them.

Files are split as the spec's examples split them: descriptive resources by US state
(`locations-MA.ndjson`), Slots by state and ISO week of their local start (`slots-MA-2026-W49.ndjson`).
A resource tied to no state goes to the file without one (`practitioners.ndjson`), which then serves
every state published. The manifest lists files in the order a client needs to resolve references:
Locations, Practitioners, HealthcareServices, PractitionerRoles, Schedules, then Slots.

Each side renders its store as `Line`s in manifest order; `write_files` sorts them into files through
per-file buffers (one encode and one write per block of lines, not per line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Generic, TypeVar

__all__ = [
    "DESCRIPTIVE_FILES",
    "TYPE_ORDER",
    "Line",
    "Opener",
    "OutputFile",
    "Publication",
    "Text",
    "file_name",
    "write_files",
]

#: Descriptive types in the order a client needs them to resolve references, with their file prefixes.
DESCRIPTIVE_FILES: tuple[tuple[str, str], ...] = (
    ("Location", "locations"),
    ("Practitioner", "practitioners"),
    ("HealthcareService", "healthcare-services"),
    ("PractitionerRole", "practitioner-roles"),
    ("Schedule", "schedules"),
)
#: A type's place in the manifest.
TYPE_ORDER = {name: i for i, (name, _) in enumerate(DESCRIPTIVE_FILES)} | {"Slot": len(DESCRIPTIVE_FILES)}

#: A line as a side renders it: `str` (the provider builds its lines as text) or `bytes` (orjson's output).
Text = TypeVar("Text", str, bytes)
#: One line of a publication: (resource type, file name, US state or None, the line with its newline).
Line = tuple[str, str, str | None, Text]
#: Opens one output file, by name, for binary writing.
Opener = Callable[[str], IO[bytes]]


@dataclass(slots=True)
class OutputFile:
    """One NDJSON file of a publication: its type, name, the states it covers and its line count."""

    type: str
    name: str
    states: set[str] = field(default_factory=set)
    count: int = 0


@dataclass(slots=True)
class Publication:
    """What one pass wrote: the data set's time (the manifest's `transactionTime`) and its files in
    manifest order."""

    transaction_ms: int
    files: list[OutputFile]


def file_name(prefix: str, state: str | None, week_of: date | None = None) -> str:
    """The name of the file for `prefix` (e.g. `slots`), a US state if any, and for Slots the ISO week
    of a local date: `slots-MA-2026-W49.ndjson`, `practitioners.ndjson`."""
    parts = [prefix]
    if state:
        parts.append(state)
    if week_of is not None:
        year, week, _ = week_of.isocalendar()
        parts.append(f"{year}-W{week:02d}")
    return "-".join(parts) + ".ndjson"


def _joined(lines: list[Text]) -> bytes:
    if isinstance(lines[0], str):
        return "".join(lines).encode()
    return b"".join(lines)


class _Sink(Generic[Text]):
    """One output file: lines are gathered and written in large blocks (fewer syscalls, and for text
    one encode per block instead of one per line)."""

    __slots__ = ("handle", "pending")
    FLUSH_AT = 4096
    # mutation

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.pending: list[Text] = []

    def add(self, line: Text) -> None:
        self.pending.append(line)
        if len(self.pending) >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.handle.write(_joined(self.pending))
            self.pending.clear()


def write_files(lines: Iterable[Line[Text]], opener: Opener | None) -> list[OutputFile]:
    """Writes every line through `opener(name)` (one open binary file per output, closed here) and
    returns the outputs in manifest order; with no opener, only counts what would be written (for a
    `_since` manifest, or to tell whether a file exists)."""
    files: dict[str, OutputFile] = {}
    sinks: dict[str, _Sink[Text]] = {}
    try:
        for type_name, name, state, line in lines:
            out = files.get(name)
            if out is None:
                out = files[name] = OutputFile(type_name, name)
                if opener is not None:
                    sinks[name] = _Sink(opener(name))
            if state:
                out.states.add(state)
            out.count += 1
            if opener is not None:
                sinks[name].add(line)
        for sink in sinks.values():
            sink.flush()
    finally:
        for sink in sinks.values():
            sink.handle.close()
    all_states = set().union(*(f.states for f in files.values()))
    for out in files.values():
        # A file of resources tied to no state (e.g. Practitioners) serves every state published.
        if not out.states:
            out.states = set(all_states)
    return sorted(files.values(), key=lambda f: (TYPE_ORDER[f.type], f.name))

"""The single streaming pass: read each output file once, line by line, and run every resource check.

Specification, "Manifest File" and the Location/Schedule/Slot (and 2026 PractitionerRole,
HealthcareService, Practitioner) File sections. Each line takes the fast path when it can: the
type's msgspec decoder, then the checks of the JSON as published (`json_rules`, spared when the
strict decoder of `screen.py` accepts the line, and `profiles_2026`: the typed decoder forgives
nulls and drops unknown elements), then `Facts` worked out once, then every
`@resource_check` of the profile for its type, then `Published.record`. A line the typed decoder
refuses takes the slow path, which says precisely why (`lines.json_object`, `lines.resource_type`,
wrongly typed extensions, the JSON path of a bad value) and still checks what it can. With
`max_lines`, each file is sampled.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urljoin

import msgspec

from slotlinks.conformance.checks import http, lines, resources, slots
from slotlinks.conformance.checks.json_rules import JsonRules
from slotlinks.conformance.checks.manifest import Output
from slotlinks.conformance.checks.profiles_2026 import ProfileRules
from slotlinks.conformance.facts import Facts, Published
from slotlinks.conformance.profiles import Profile
from slotlinks.conformance.registry import Fail, resource_checks
from slotlinks.conformance.results import Results
from slotlinks.conformance.screen import clean
from slotlinks.conformance.source import DirectorySource, LiveSource
from slotlinks.errors import SourceError
from slotlinks.fhir.ndjson import LineError, LineSplitter, split_error_path
from slotlinks.fhir.resources import RESOURCE_DECODERS, RESOURCE_TYPES, Resource

__all__ = ["FilePass", "Progress"]


class Progress(Protocol):
    """What the runner tells a progress display (the CLI's Rich bar on a TTY)."""

    def start_file(self, name: str, total: int | None) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def end_file(self) -> None: ...


_Bound = list[tuple[Callable[[Fail, Any, Facts], None], Fail]]


class FilePass:
    """Reads a publication's output files, in the order given, into `results`."""

    def __init__(
        self,
        source: LiveSource | DirectorySource,
        profile: Profile,
        results: Results,
        max_lines: int | None,
        progress: Progress | None,
    ) -> None:
        self.source = source
        self.profile = profile
        self.results = results
        self.max_lines = max_lines
        self.progress = progress
        self.published = Published()
        self.counts: Counter[str] = Counter()
        self.files = 0
        self.sampled = False
        # Each check's `fail` is bound once per run, not once per line: this loop is the hot path.
        self._checks: dict[str, _Bound] = {
            rtype: [(c.logic, results.failer(c.check)) for c in resource_checks(cls, profile.name)]
            for rtype, cls in RESOURCE_TYPES.items()
        }
        self._json_rules = JsonRules(results)
        self._profile_rules = ProfileRules(results, profile.name)
        self._too_long = results.failer(lines.json_object.check)
        self._wrong_extension = results.failer(resources.extension_value_type.check)

    # --- one file --------------------------------------------------------------------------------

    def read_file(self, output: Output) -> None:
        """Stream one output file through the checks; note whether it was read whole."""
        results, source = self.results, self.source
        url = output.url
        if isinstance(source, LiveSource):
            url = urljoin(source.url, url)  # a relative URL is already reported; read it anyway
        name = url.rsplit("/", 1)[-1].split("?", 1)[0] or url
        self.files += 1
        complete, nbytes, digest = True, 0, hashlib.sha256()
        try:
            with source.open_file(url) as stream:
                if isinstance(source, LiveSource):
                    http.cache_control(results, stream.headers, name)
                if self.progress:
                    self.progress.start_file(name, stream.size)
                splitter = LineSplitter()
                last = b""
                read = 0
                for chunk in stream.chunks:
                    nbytes += len(chunk)
                    digest.update(chunk)
                    last = chunk[-1:]
                    if self.progress:
                        self.progress.advance(len(chunk))
                    for item in splitter.feed(chunk):
                        if self.max_lines is not None and read >= self.max_lines:
                            complete = False
                            break
                        self.line(output.type, name, item)
                        read += 1
                    if not complete:
                        break
                if complete:
                    for item in splitter.finish():
                        self.line(output.type, name, item)
                    lines.final_newline(results, name, nbytes, last)
        except SourceError as exc:
            lines.file_download(results, name, output.type, url, exc)
            complete = False
        finally:
            if self.progress:
                self.progress.end_file()
        if not complete:
            self.sampled = self.sampled or self.max_lines is not None
        self.published.complete[output.type] = self.published.complete.get(output.type, True) and complete
        if isinstance(source, LiveSource) and nbytes:
            http.accept_files(results, source, url, None if complete else nbytes, digest.hexdigest(), name)

    # --- one line --------------------------------------------------------------------------------

    def line(self, rtype: str, name: str, item: tuple[int, bytes] | LineError) -> None:
        if isinstance(item, LineError):
            self._too_long(f"{name}:{item.line}", item.message)
            return
        number, data = item
        where = f"{name}:{number}"
        bad: frozenset[str] = frozenset()
        try:
            decoded = RESOURCE_DECODERS[rtype].decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            lenient = self.lenient(rtype, where, data)  # which says why, more precisely than the decoder
            if lenient is None:
                return
            decoded, bad = lenient
        else:
            self.json_checks(rtype, where, msgspec.json.decode(data), screened=clean(rtype, data))
        self.counts[rtype] += 1
        self.resource(rtype, decoded, where, bad)

    def lenient(self, rtype: str, where: str, data: bytes) -> tuple[Resource, frozenset[str]] | None:
        """The slow path for a line the typed decoder refused: say precisely why, and check what can
        still be checked (a wrongly typed extension is reported and dropped, the rest decoded)."""
        raw = lines.json_object(self.results, where, data)
        if raw is None or not lines.resource_type(self.results, where, raw, rtype):
            return None
        self.json_checks(rtype, where, raw)
        bad = resources.wrongly_typed_extensions(self._wrong_extension, where, raw)
        try:
            resource = msgspec.convert(raw, RESOURCE_TYPES[rtype])
        except msgspec.ValidationError as exc:
            path, message = split_error_path(str(exc))
            owner = slots.status if rtype == "Slot" and path == "$.status" else resources.fhir_valid
            self.results.fail(owner.check, where, f"{message} at {path}")
            if isinstance(raw.get("id"), str):
                self.published.ids[rtype].add(raw["id"])  # so Slots pointing at it are not also dangling
            return None
        return resource, bad

    def json_checks(self, rtype: str, where: str, raw: dict[str, Any], *, screened: bool = False) -> None:
        """The checks of the line's JSON as published: FHIR JSON's rules (unless the screen found the
        line clean, which spares the walk), then the profile's rules."""
        if not screened:
            self._json_rules.check(where, raw, rtype)
        self._profile_rules.check(where, raw, rtype)

    # --- one decoded resource --------------------------------------------------------------------

    def resource(self, rtype: str, resource: Resource, where: str, bad: frozenset[str]) -> None:
        facts = Facts.of(resource, where, self.profile, self.published, bad)
        for logic, fail in self._checks[rtype]:
            logic(fail, resource, facts)
        self.published.record(resource)

"""Run every check of a profile over one publication, streaming each NDJSON file line by line.

Specification, "Manifest File" and the Location/Schedule/Slot (and 2026 PractitionerRole,
HealthcareService, Practitioner) File sections. Files are read in dependency order (places and roles,
then Schedules, then Slots) so that references are resolved as Slots stream past; only ids and the
small Location/Schedule facts the time zone check needs are kept, never a file. With `max_lines`,
each file is sampled: checks that need a whole file (final newline, references into a sampled type)
are then skipped rather than guessed.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urljoin

import httpx
import msgspec

from slotlinks.conformance import profiles as pr
from slotlinks.conformance.checks import CheckResult, Results, checks_for
from slotlinks.conformance.http_checks import check_accept_file, check_cache_control, check_manifest_http
from slotlinks.conformance.manifest_checks import Output, check_manifest, check_manifest_url
from slotlinks.conformance.source import DirectorySource, LiveSource, open_source
from slotlinks.conformance.zones import offset_plausible, zones_for
from slotlinks.errors import SourceError
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.ids import InvalidReference, parse_reference
from slotlinks.fhir.instant import InvalidInstant, parse_instant
from slotlinks.fhir.ndjson import LineError, LineSplitter, decode_line, split_error_path
from slotlinks.fhir.resources import (
    RESOURCE_DECODERS,
    RESOURCE_TYPES,
    HealthcareService,
    Location,
    PractitionerRole,
    Resource,
    Schedule,
    Slot,
)
from slotlinks.fhir.validate import validate_resource

__all__ = ["Progress", "Report", "run_validation"]

_ORDER = ("Location", "HealthcareService", "PractitionerRole", "Practitioner", "Schedule", "Slot")
_JSON_KIND = {"valueInteger": "integer", "valueCoding": "object"}


class Progress(Protocol):
    """What the runner tells a progress display (the CLI's Rich bar on a TTY)."""

    def start_file(self, name: str, total: int | None) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def end_file(self) -> None: ...


@dataclass(slots=True)
class Report:
    """The outcome of one run: every check's result, and what was read."""

    target: str
    profile: str
    live: bool
    results: list[CheckResult]
    resources: dict[str, int] = field(default_factory=dict)
    files: int = 0
    sampled: bool = False

    def counts(self, *, strict: bool) -> tuple[int, int]:
        """(passed, failed) among the checks that decide the exit status."""
        gating = [r for r in self.results if r.gating(strict=strict) and r.status != "skipped"]
        failed = sum(1 for r in gating if r.status == "failed")
        return len(gating) - failed, failed

    def exit_code(self, *, strict: bool) -> int:
        """0 when no required check (and, with `strict`, no recommended one) failed; else 1."""
        return 1 if self.counts(strict=strict)[1] else 0


class _Index:
    """What later files need from earlier ones: ids per type, and where each Schedule is."""

    def __init__(self) -> None:
        self.ids: dict[str, set[str]] = defaultdict(set)
        self.complete: dict[str, bool] = {}
        self.location_zones: dict[str, tuple[str, ...]] = {}
        self.places: dict[str, list[str]] = {}  # PractitionerRole/HealthcareService id -> Location ids
        self.schedule_zones: dict[str, tuple[str, ...]] = {}
        self.vtrcks_seen = False

    def published(self, rtype: str) -> bool | None:
        """True when every file of `rtype` was read whole, None when one was sampled."""
        state = self.complete.get(rtype)
        return True if state is None else (state or None)


class _Run:
    def __init__(
        self,
        source: LiveSource | DirectorySource,
        profile: pr.Profile,
        max_lines: int | None,
        progress: Progress | None,
    ) -> None:
        self.source = source
        self.profile = profile
        self.max_lines = max_lines
        self.progress = progress
        self.results = Results(checks_for(profile.name))
        self.index = _Index()
        self.counts: Counter[str] = Counter()
        self.unverified: set[str] = set()
        self.files = 0
        self.sampled = False

    # --- the whole run ---------------------------------------------------------------------------

    def run(self) -> None:
        results, source = self.results, self.source
        if isinstance(source, LiveSource):
            check_manifest_url(source.url, results)
        else:
            for result in results.results():
                if result.check.live_only:
                    results.skip(result.check.id, "live publishers only")
        fetched = source.manifest()
        doc: Any = None
        if fetched.status == 200 and fetched.error is None:
            try:
                doc = msgspec.json.decode(fetched.body)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                results.fail("manifest.download", source.label, f"the manifest is not valid JSON: {exc}")
        else:
            results.fail(
                "manifest.download",
                source.label,
                f"the manifest could not be read: {fetched.error or f'HTTP {fetched.status}'}",
            )
        if doc is None:
            results.skip_all_but(
                ("manifest.url-ends-bulk-publish", "manifest.download"), "the manifest could not be read"
            )
            return
        outputs, transaction_time = check_manifest(doc, results, self.profile, live=source.live)
        if isinstance(source, LiveSource):
            check_manifest_http(source, fetched, results, transaction_time)
        rank = {t: i for i, t in enumerate(_ORDER)}
        for output in sorted(outputs, key=lambda o: (rank.get(o.type, len(_ORDER)), o.index)):
            self.read_file(output)
        self.finish()

    def finish(self) -> None:
        results = self.results
        if self.counts["Location"] and not self.index.vtrcks_seen:
            results.fail("location.vtrcks", "Location files", "No Locations included a VTrckS PIN.")
        for check_id in sorted(self.unverified):
            results.skip(check_id, "some referenced files were only sampled (--max-lines)")
        if self.sampled:
            results.skip("ndjson.final-newline", "files were only sampled (--max-lines)")

    # --- one file --------------------------------------------------------------------------------

    def read_file(self, output: Output) -> None:
        url = output.url
        if isinstance(self.source, LiveSource):
            url = urljoin(self.source.url, url)  # a relative URL is already reported; read it anyway
        name = url.rsplit("/", 1)[-1].split("?", 1)[0] or url
        self.files += 1
        complete, nbytes, digest = True, 0, hashlib.sha256()
        try:
            with self.source.open_file(url) as stream:
                if isinstance(self.source, LiveSource):
                    check_cache_control(stream.headers, self.results, name)
                if self.progress:
                    self.progress.start_file(name, stream.size)
                splitter = LineSplitter()
                last = b""
                lines = 0
                for chunk in stream.chunks:
                    nbytes += len(chunk)
                    digest.update(chunk)
                    last = chunk[-1:]
                    if self.progress:
                        self.progress.advance(len(chunk))
                    for item in splitter.feed(chunk):
                        if self.max_lines is not None and lines >= self.max_lines:
                            complete = False
                            break
                        self.line(output.type, name, item)
                        lines += 1
                    if not complete:
                        break
                if complete:
                    for item in splitter.finish():
                        self.line(output.type, name, item)
                    if nbytes and last != b"\n":
                        self.results.fail("ndjson.final-newline", name, "NDJSON file does not end with a newline")
        except SourceError as exc:
            self.results.fail("file.download", name, f"{output.type} file {url} could not be read: {exc}")
            complete = False
        finally:
            if self.progress:
                self.progress.end_file()
        if not complete:
            self.sampled = self.sampled or self.max_lines is not None
        self.index.complete[output.type] = self.index.complete.get(output.type, True) and complete
        if isinstance(self.source, LiveSource) and nbytes:
            check_accept_file(self.source, url, None if complete else nbytes, digest.hexdigest(), self.results, name)

    # --- one line --------------------------------------------------------------------------------

    def line(self, rtype: str, name: str, item: tuple[int, bytes] | LineError) -> None:
        if isinstance(item, LineError):
            self.results.fail("ndjson.json-object", f"{name}:{item.line}", item.message)
            return
        number, data = item
        where = f"{name}:{number}"
        decoded = decode_line(RESOURCE_DECODERS[rtype], number, data)
        bad: frozenset[str] = frozenset()
        if isinstance(decoded, LineError):
            lenient = self.lenient(rtype, where, data)
            if lenient is None:
                return
            decoded, bad = lenient
        self.counts[rtype] += 1
        self.resource(decoded, where, bad)

    def lenient(self, rtype: str, where: str, data: bytes) -> tuple[Resource, frozenset[str]] | None:
        """The slow path for a line the typed decoder refused: say precisely why, and check what can
        still be checked (a wrongly typed extension is reported and dropped, the rest decoded)."""
        results = self.results
        try:
            raw = msgspec.json.decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            results.fail("ndjson.json-object", where, f"line is not valid JSON: {exc}")
            return None
        if not isinstance(raw, dict):
            results.fail("ndjson.json-object", where, "line is not a JSON object")
            return None
        if raw.get("resourceType") != rtype:
            results.fail("ndjson.resource-type", where, f"resourceType {raw.get('resourceType')!r} in a {rtype} file")
            return None
        bad = self.extension_types(raw, where)
        try:
            resource = msgspec.convert(raw, RESOURCE_TYPES[rtype])
        except msgspec.ValidationError as exc:
            path, message = split_error_path(str(exc))
            check = "slot.status" if rtype == "Slot" and path == "$.status" else "resource.fhir-valid"
            results.fail(check, where, f"{message} at {path}")
            if isinstance(raw.get("id"), str):
                self.index.ids[rtype].add(raw["id"])  # so Slots pointing at it are not also dangling
            return None
        return resource, bad

    def extension_types(self, raw: dict[str, Any], where: str) -> frozenset[str]:
        """extension.value-type on raw JSON: drop (and report) SMART extensions of the wrong type."""
        extensions = raw.get("extension")
        if not isinstance(extensions, list):
            return frozenset()
        kept, bad = [], set()
        for extension in extensions:
            url = extension.get("url") if isinstance(extension, dict) else None
            field_name = ext.EXPECTED_VALUE_FIELD.get(url) if isinstance(url, str) else None
            if field_name is None or not isinstance(extension, dict):
                kept.append(extension)
                continue
            value = extension.get(field_name)
            ok = (
                isinstance(value, int) and not isinstance(value, bool)
                if field_name == "valueInteger"
                else isinstance(value, dict)
                if field_name == "valueCoding"
                else isinstance(value, str)
            )
            if ok:
                kept.append(extension)
                continue
            short = str(url).rsplit("/", 1)[-1]
            kind = _JSON_KIND.get(field_name, "string")
            what = f"has no `{field_name}`" if value is None else f"`{field_name}` is not a JSON {kind}: {value!r}"
            self.results.fail("extension.value-type", where, f"{short} {what}")
            bad.add(str(url))
        raw["extension"] = kept
        return frozenset(bad)

    # --- one decoded resource --------------------------------------------------------------------

    def resource(self, resource: Resource, where: str, bad: frozenset[str]) -> None:
        results = self.results
        rtype = type(resource).__name__

        def emit(check_id: str, message: str) -> None:
            results.fail(check_id, where, message)

        if resource.id in self.index.ids[rtype]:
            emit("resource.id-unique", f"{rtype} id {resource.id!r} appears more than once")
        self.index.ids[rtype].add(resource.id)
        for issue in validate_resource(resource):
            check = _issue_check(issue.diagnostics, issue.expression, issue.severity)
            if check is not None:
                emit(check, f"{issue.diagnostics} ({', '.join(issue.expression)})")
        if isinstance(resource, Location):
            self.location(resource, emit)
        elif isinstance(resource, PractitionerRole | HealthcareService):
            self.index.places[resource.id] = _location_ids(resource.location)
            if isinstance(resource, PractitionerRole):
                pr.check_practitioner_role(resource, emit)
        elif isinstance(resource, Schedule):
            self.schedule(resource, emit)
        elif isinstance(resource, Slot):
            pr.check_slot(resource, self.profile, emit, bad_extensions=bad)
            self.slot(resource, emit)

    def location(self, location: Location, emit: pr.Emit) -> None:
        pr.check_location(location, emit)
        state = location.address.state if location.address else None
        self.index.location_zones[location.id] = zones_for(state, ext.location_timezone(location))
        if any(i.system == ext.VTRCKS and i.value for i in location.identifier):
            self.index.vtrcks_seen = True

    def schedule(self, schedule: Schedule, emit: pr.Emit) -> None:
        pr.check_schedule(schedule, emit)
        zones: list[str] = []
        direct: list[str] = []
        for actor in schedule.actor:
            try:
                ref = parse_reference(actor.reference or "")
            except InvalidReference:
                continue  # reported by `resource.fhir-valid`
            if self.resolves(ref.type, ref.id, "schedule.actors-resolve") is False:
                emit("schedule.actors-resolve", f"Schedule/{schedule.id} actor {ref} is not a published {ref.type}")
            if ref.type == "Location":
                direct.append(ref.id)
        places = direct or [loc for a in schedule.actor for loc in self.index.places.get(_ref_id(a.reference), [])]
        for place in places:
            zones += [z for z in self.index.location_zones.get(place, ()) if z not in zones]
        self.index.schedule_zones[schedule.id] = tuple(zones)

    def resolves(self, rtype: str, rid: str, check_id: str) -> bool | None:
        """True/False when `rtype` files were read whole; None (check left unverified) when sampled."""
        if rid in self.index.ids.get(rtype, ()):
            return True
        if self.index.published(rtype) is None:
            self.unverified.add(check_id)
            return None
        return False

    def slot(self, slot: Slot, emit: pr.Emit) -> None:
        try:
            ref = parse_reference(slot.schedule.reference or "", expected="Schedule")
        except InvalidReference:
            return
        if self.resolves("Schedule", ref.id, "slot.schedule-resolves") is False:
            emit("slot.schedule-resolves", f"Slot/{slot.id} schedule {ref} is not in any Schedule file")
        zones = self.index.schedule_zones.get(ref.id, ())
        for name, text in (("start", slot.start), ("end", slot.end)):
            try:
                instant = parse_instant(text)
            except InvalidInstant:
                return
            if not offset_plausible(instant, zones):
                shown = ", ".join(zones[:3]) + (" ..." if len(zones) > 3 else "")
                emit(
                    "slot.offset-plausible", f"Slot/{slot.id} {name} {text}: offset is neither UTC nor local to {shown}"
                )
                return


def _ref_id(reference: str | None) -> str:
    try:
        return parse_reference(reference or "").id
    except InvalidReference:
        return ""


def _location_ids(refs: list[Any]) -> list[str]:
    out = []
    for ref in refs:
        try:
            parsed = parse_reference(ref.reference or "")
        except InvalidReference:
            continue
        if parsed.type == "Location":
            out.append(parsed.id)
    return out


def _issue_check(message: str, expression: tuple[str, ...], severity: str) -> str | None:
    """Which check a kernel `validate_resource` issue belongs to (None: reported by our own check)."""
    if severity not in ("error", "fatal"):
        return None
    where = " ".join(expression)
    if "is not after Slot.start" in message or "booking-deep-link must be" in message or where == "Slot.status":
        return None
    if ".extension[" in where or where.startswith(("Slot.extension", "Schedule.extension", "Location.extension")):
        return "extension.value-type"
    return "resource.fhir-valid"


def run_validation(
    target: str,
    *,
    profile: str = "general",
    max_lines: int | None = None,
    progress: Progress | None = None,
    client: httpx.Client | None = None,
) -> Report:
    """Check a publisher (manifest URL) or a static export (directory) against a profile.

    Network access is only what `target` and the manifest's URLs name; pass `client` to control it.
    """
    chosen = pr.PROFILES[profile]
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=True)
    try:
        source = open_source(target, http)
        run = _Run(source, chosen, max_lines, progress)
        run.run()
    finally:
        if own:
            http.close()
    return Report(
        target=source.label,
        profile=chosen.name,
        live=source.live,
        results=run.results.results(),
        resources=dict(run.counts),
        files=run.files,
        sampled=run.sampled,
    )

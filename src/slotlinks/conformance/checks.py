"""The check registry: every conformance check's id, severity, spec section and description.

Severities: `required` (a SHALL/MUST of the specification, or an error of the profile in use),
`recommended` (a SHOULD, or a warning of the Inferno test kit), `info` (allowed, but unusual enough to
trip a client). Sections name the specification heading the check comes from ("Manifest File",
"Slot File", ...; 2021 = smart-on-fhir/smart-scheduling-links specification.md, 2026 = the HL7 IG
draft). `Results` collects what a run found, check by check, keeping a count and the first examples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CHECKS",
    "MAX_EXAMPLES",
    "Check",
    "CheckResult",
    "Example",
    "Results",
    "Severity",
    "Status",
    "checks_for",
]

Severity = Literal["required", "recommended", "info"]
Status = Literal["passed", "failed", "skipped"]
ProfileName = Literal["general", "vaccine"]

#: How many examples each failed check keeps (the count is always exact).
MAX_EXAMPLES = 5

_BOTH: frozenset[str] = frozenset({"general", "vaccine"})
_VACCINE: frozenset[str] = frozenset({"vaccine"})
_GENERAL: frozenset[str] = frozenset({"general"})


@dataclass(frozen=True, slots=True)
class Check:
    """One conformance check. `live_only` checks need HTTP and are skipped for a directory."""

    id: str
    severity: Severity
    section: str
    title: str
    profiles: frozenset[str] = _BOTH
    live_only: bool = False


_ALL: tuple[Check, ...] = (
    # --- manifest (Inferno "Bulk Publication Manifest" group) ---
    Check("manifest.url-ends-bulk-publish", "required", "Quick Start Guide", "Manifest URL ends with `$bulk-publish`"),
    Check("manifest.download", "required", "Manifest File", "Manifest can be downloaded and is a JSON object"),
    Check("manifest.structure", "required", "Manifest File", "Manifest fields have the right JSON types"),
    Check("manifest.transaction-time", "required", "Timestamps", "`transactionTime` is a FHIR instant"),
    Check("manifest.request-url", "required", "Manifest File", "`request` is an absolute http(s) URL"),
    Check("manifest.output-url-absolute", "required", "Manifest File", "Every output `url` is an absolute http(s) URL"),
    Check("manifest.output-types", "required", "Manifest File", "The manifest lists the file types the profile needs"),
    Check(
        "manifest.unknown-output-type", "info", "Manifest File", "Output types clients do not know (they ignore them)"
    ),
    Check(
        "manifest.state-extension", "recommended", "Performance Considerations", "Every output has `extension.state`"
    ),
    Check("manifest.output-extension-keys", "info", "Manifest File", "Output `extension` carries only `state`"),
    # --- HTTP behaviour (live only) ---
    Check(
        "http.accept-manifest",
        "required",
        "Accept Headers",
        "Manifest identical with no Accept and `application/json`",
        live_only=True,
    ),
    Check(
        "http.accept-files",
        "required",
        "Accept Headers",
        "Files identical with no Accept and `application/fhir+ndjson`",
        live_only=True,
    ),
    Check(
        "http.cache-control",
        "recommended",
        "Performance Considerations",
        "Responses carry `Cache-Control: max-age=<seconds>`",
        live_only=True,
    ),
    Check(
        "http.conditional",
        "info",
        "Performance Considerations",
        "A validator (ETag/Last-Modified) is honoured with 304",
        live_only=True,
    ),
    Check(
        "http.since",
        "required",
        "Performance Considerations",
        "`_since` is answered with a manifest or ignored, never an error",
        live_only=True,
    ),
    # --- files ---
    Check("file.download", "required", "Manifest File", "Every output file can be downloaded"),
    Check("ndjson.json-object", "required", "Manifest File", "Every NDJSON line is one JSON object"),
    Check("ndjson.resource-type", "required", "Manifest File", "Every line's `resourceType` is the output's `type`"),
    Check("ndjson.final-newline", "info", "Manifest File", "Every NDJSON file ends with a newline"),
    # --- resources, both profiles ---
    Check("resource.fhir-valid", "required", "Location/Schedule/Slot File", "Resources are valid FHIR R4 JSON"),
    Check("resource.id-unique", "required", "Slot File", "No two resources of one type share an id"),
    Check("extension.value-type", "required", "Slot File", "SMART extensions carry the value[x] of the declared type"),
    Check("slot.status", "required", "Slot File", "Slot `status` is one the profile allows"),
    Check("slot.start-before-end", "required", "Slot File", "Slot `start` is before `end`"),
    Check("slot.schedule-resolves", "required", "Slot File", "Every Slot's schedule is a published Schedule"),
    Check("schedule.actors-resolve", "required", "Schedule File", "Every Schedule actor is a published resource"),
    Check(
        "slot.booking-link-url",
        "required",
        "Deep Links hosted by Provider Booking Portal",
        "booking-deep-link is an absolute http(s) URL",
    ),
    Check("slot.narrow-window", "recommended", "Slot File", "Slots last at most an hour (a narrow window SHOULD)"),
    Check("slot.longer-than-day", "info", "Slot File", "Slots last at most a day"),
    Check("slot.offset-plausible", "recommended", "Slot File", "Slot offsets are UTC or the Location's local offset"),
    # --- 2021 vaccine profiles (Inferno's vaccine-location/-schedule/-slot) ---
    Check(
        "location.vaccine-profile",
        "required",
        "Location File (2021)",
        "Location has name, telecom and address line/city/state/postalCode",
        _VACCINE,
    ),
    Check(
        "location.phone-and-url",
        "recommended",
        "Location File (2021)",
        "Location has a phone and a URL telecom (vaccine-location-1)",
        _VACCINE,
    ),
    Check(
        "location.vtrcks",
        "required",
        "Location File (2021)",
        "At least one Location has a VTrckS PIN identifier",
        _VACCINE,
    ),
    Check(
        "location.vtrcks-pin-format",
        "info",
        "Location File (2021)",
        "VTrckS identifier values look like PINs",
        _VACCINE,
    ),
    Check(
        "schedule.vaccine-actor",
        "required",
        "Schedule File (2021)",
        "Schedule has exactly one actor, a Location",
        _VACCINE,
    ),
    Check(
        "schedule.vaccine-service-type",
        "required",
        "Schedule File (2021)",
        "serviceType has 57 Immunization and covid19-immunization",
        _VACCINE,
    ),
    Check(
        "schedule.vaccine-product",
        "required",
        "Schedule File (2021)",
        "vaccine-product is a CVX Coding with code and display",
        _VACCINE,
    ),
    Check(
        "schedule.vaccine-product-repeat",
        "recommended",
        "Schedule File (2021)",
        "vaccine-product does not repeat (vaccine-schedule-1)",
        _VACCINE,
    ),
    Check(
        "slot.long-without-capacity",
        "recommended",
        "Slot File (2021)",
        "Slots over an hour carry slot-capacity",
        _VACCINE,
    ),
    Check(
        "slot.booking-link",
        "recommended",
        "Slot File (2021)",
        "Slot has a booking-deep-link (vaccine-slot-1)",
        _VACCINE,
    ),
    Check(
        "slot.booking-phone", "recommended", "Slot File (2021)", "Slot has a booking-phone (vaccine-slot-2)", _VACCINE
    ),
    # --- 2026 draft ---
    Check("location.address", "required", "Location File (2026)", "Location has an address", _GENERAL),
    Check(
        "location.address-complete",
        "recommended",
        "Location File (2026)",
        "Physical Locations give line, city, state and postalCode",
        _GENERAL,
    ),
    Check(
        "location.virtual-service",
        "required",
        "Location File (2026)",
        "virtualService entries give an address; addressUrl is absolute",
        _GENERAL,
    ),
    Check(
        "practitioner-role.npi",
        "required",
        "PractitionerRole File (2026)",
        "NPI identifiers are valid 10-digit NPIs",
        _GENERAL,
    ),
)

#: Every check, by id, in report order.
CHECKS: dict[str, Check] = {c.id: c for c in _ALL}


def checks_for(profile: str) -> list[Check]:
    """The checks a profile runs, in report order."""
    return [c for c in _ALL if profile in c.profiles]


@dataclass(frozen=True, slots=True)
class Example:
    """Where a check failed (`file:line`, `$bulk-publish output[2]`, a URL) and what was wrong."""

    where: str
    message: str


@dataclass(slots=True)
class CheckResult:
    """A check's outcome in one run: failed when it has findings, skipped with a reason, else passed."""

    check: Check
    count: int = 0
    examples: list[Example] = field(default_factory=list)
    skip_reason: str | None = None

    @property
    def status(self) -> Status:
        if self.count:
            return "failed"
        if self.skip_reason is not None:
            return "skipped"
        return "passed"

    def gating(self, *, strict: bool) -> bool:
        """Whether this check decides the exit status (required; recommended too under --strict)."""
        return self.check.severity == "required" or (strict and self.check.severity == "recommended")


class Results:
    """Findings of one run, per check of the profile in use."""

    def __init__(self, checks: Iterable[Check]) -> None:
        self.by_id: dict[str, CheckResult] = {c.id: CheckResult(c) for c in checks}

    def fail(self, check_id: str, where: str, message: str) -> None:
        """Record one failure; a check the profile does not run is ignored."""
        result = self.by_id.get(check_id)
        if result is None:
            return
        result.count += 1
        if len(result.examples) < MAX_EXAMPLES:
            result.examples.append(Example(where, message))

    def skip(self, check_id: str, reason: str) -> None:
        """Mark a check as not run (e.g. live-only on a directory); the first reason wins."""
        result = self.by_id.get(check_id)
        if result is not None and result.skip_reason is None:
            result.skip_reason = reason

    def skip_all_but(self, done: Iterable[str], reason: str) -> None:
        """Skip every check not in `done` (when the manifest itself could not be read)."""
        keep = set(done)
        for check_id in self.by_id:
            if check_id not in keep:
                self.skip(check_id, reason)

    def results(self) -> list[CheckResult]:
        """Every check's result, in report order."""
        return list(self.by_id.values())

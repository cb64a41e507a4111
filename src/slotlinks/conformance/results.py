"""What a run found, check by check: a count and the first examples of each failed check.

A `Results` holds one `CheckResult` per check of the profile in use. A finding for a check that is
registered but not part of that profile is dropped (the same resource function serves both
profiles); a finding for a check that no `@check` declared raises `UnregisteredCheck`, so a check
cannot be misnamed into silence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from slotlinks.conformance.registry import Check, Fail, UnregisteredCheck, is_registered

__all__ = ["MAX_EXAMPLES", "CheckResult", "Example", "Results", "Status"]

Status = Literal["passed", "failed", "skipped"]

#: How many examples each failed check keeps (the count is always exact).
MAX_EXAMPLES = 5


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

    def add(self, where: str, message: str) -> None:
        """Count one finding; keep it as an example while fewer than `MAX_EXAMPLES` are kept."""
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(Example(where, message))


def _ignore(where: str, message: str) -> None:
    """The `fail` of a check the running profile does not include."""


def _known(check: Check) -> Check:
    if not is_registered(check):
        raise UnregisteredCheck(f"no check {check.id!r} is registered (declare it with @check)")
    return check


class Results:
    """Findings of one run, per check of the profile in use, in report order."""

    def __init__(self, checks: Iterable[Check]) -> None:
        self.by_id: dict[str, CheckResult] = {_known(c).id: CheckResult(c) for c in checks}

    def failer(self, check: Check) -> Fail:
        """`fail(where, message)` for `check`: records into its result, or does nothing when the
        profile does not run it. Raises `UnregisteredCheck` for a check no `@check` declared."""
        result = self.by_id.get(_known(check).id)
        return _ignore if result is None else result.add

    def fail(self, check: Check, where: str, message: str) -> None:
        """Record one failure of `check` (see `failer`)."""
        self.failer(check)(where, message)

    def skip(self, check: Check, reason: str) -> None:
        """Mark a check as not run (e.g. live-only on a directory); the first reason wins."""
        result = self.by_id.get(_known(check).id)
        if result is not None and result.skip_reason is None:
            result.skip_reason = reason

    def skip_all_but(self, done: Iterable[Check], reason: str) -> None:
        """Skip every check not in `done` (when the manifest itself could not be read)."""
        keep = {_known(c).id for c in done}
        for result in self.by_id.values():
            if result.check.id not in keep:
                self.skip(result.check, reason)

    def results(self) -> list[CheckResult]:
        """Every check's result, in report order."""
        return list(self.by_id.values())

"""The check registry: each conformance check is declared by `@check` on the function that performs it.

A check has an id (`slot.narrow-window`), a severity, the specification section it comes from and a
one-line title. Severities: `required` (a SHALL/MUST of the specification, or an error of the profile
in use), `recommended` (a SHOULD, or a warning of the Inferno test kit), `info` (allowed, but unusual
enough to trip a client). Sections name the specification heading the check comes from ("Manifest
File", "Slot File", ...; 2021 = smart-on-fhir/smart-scheduling-links specification.md, 2026 = the
HL7 IG draft).

A check's function takes `fail` as its first argument and calls `fail(where, message)` once per
finding. Decorated, it becomes a `Checker`: the `Check` it declares plus the function, which the run
calls with its `Results` in place of `fail`:

    @check("manifest.request-url", "required", "Manifest File", "`request` is an absolute http(s) URL")
    def request_url(fail: Fail, doc: dict[str, Any]) -> None: ...

    request_url(results, doc)

`@resource_check(Slot, ...)` declares a check the streaming pass runs on every decoded resource of
that type (`Resource`: every type), as `logic(fail, resource, facts)`. Code that reports a failure
for a check declared elsewhere names it by reference (`slots.status.check`), never by its id, so a
misspelt check is an import or type error, not a check that silently passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, Protocol, TypeVar

from slotlinks.errors import UnregisteredCheck
from slotlinks.fhir.resources import Resource

if TYPE_CHECKING:
    from slotlinks.conformance.facts import Facts

__all__ = [
    "BOTH_PROFILES",
    "ONLY_GENERAL",
    "ONLY_VACCINE",
    "Check",
    "Checker",
    "Fail",
    "Failures",
    "Severity",
    "UnregisteredCheck",
    "check",
    "is_registered",
    "registered",
    "resource_check",
    "resource_checks",
]

Severity = Literal["required", "recommended", "info"]

#: `fail(where, message)`: one finding of one check (`where`: `file:line`, `$bulk-publish output[2]`, a URL).
Fail = Callable[[str, str], None]

BOTH_PROFILES: frozenset[str] = frozenset({"general", "vaccine"})
ONLY_VACCINE: frozenset[str] = frozenset({"vaccine"})
ONLY_GENERAL: frozenset[str] = frozenset({"general"})

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T", bound=Resource)


@dataclass(frozen=True, slots=True)
class Check:
    """One conformance check. `live_only` checks need HTTP and are skipped for a directory."""

    id: str
    severity: Severity
    section: str
    title: str
    profiles: frozenset[str] = BOTH_PROFILES
    live_only: bool = False


class Failures(Protocol):
    """Where a run records findings: one `fail` per check (`results.Results`)."""

    def failer(self, check: Check, /) -> Fail: ...


class Checker(Generic[P, R]):
    """A registered check and the function that performs it.

    Calling it with a run's `Results` (then the function's other arguments) runs the function with
    `fail` bound to this check.
    """

    __slots__ = ("check", "logic")

    def __init__(self, check: Check, logic: Callable[Concatenate[Fail, P], R]) -> None:
        self.check = check
        self.logic = logic

    def __call__(self, results: Failures, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.logic(results.failer(self.check), *args, **kwargs)

    def __repr__(self) -> str:
        return f"<check {self.check.id} {self.logic.__module__}.{self.logic.__qualname__}>"


_REGISTERED: dict[str, Check] = {}
_RESOURCE_CHECKS: list[tuple[type[Resource], Checker[[Any, Facts], None]]] = []


def _register(check: Check) -> None:
    if check.id in _REGISTERED:
        raise ValueError(f"check {check.id!r} is declared twice")
    _REGISTERED[check.id] = check


def check(
    id: str,
    severity: Severity,
    section: str,
    title: str,
    *,
    profiles: frozenset[str] = BOTH_PROFILES,
    live_only: bool = False,
) -> Callable[[Callable[Concatenate[Fail, P], R]], Checker[P, R]]:
    """Declare the check the decorated function performs (its first parameter is `fail`)."""
    declared = Check(id, severity, section, title, profiles, live_only)

    def register(logic: Callable[Concatenate[Fail, P], R]) -> Checker[P, R]:
        _register(declared)
        return Checker(declared, logic)

    return register


def resource_check(
    on: type[T],
    id: str,
    severity: Severity,
    section: str,
    title: str,
    *,
    profiles: frozenset[str] = BOTH_PROFILES,
) -> Callable[[Callable[[Fail, T, Facts], None]], Checker[[T, Facts], None]]:
    """Declare a check the streaming pass runs on every decoded resource of type `on`
    (`Resource`: all of them), as `logic(fail, resource, facts)`."""
    declared = Check(id, severity, section, title, profiles)

    def register(logic: Callable[[Fail, T, Facts], None]) -> Checker[[T, Facts], None]:
        _register(declared)
        checker = Checker(declared, logic)
        _RESOURCE_CHECKS.append((on, checker))
        return checker

    return register


def registered() -> dict[str, Check]:
    """Every declared check by id, in the order the declaring modules were imported."""
    return dict(_REGISTERED)


def is_registered(check: Check) -> bool:
    """Whether `check` is the very check some `@check` declared (not merely one with the same id)."""
    return _REGISTERED.get(check.id) is check


def resource_checks(resource_type: type[Resource], profile: str) -> list[Checker[[Any, Facts], None]]:
    """The resource checks `profile` runs on a resource of `resource_type`."""
    return [
        checker
        for on, checker in _RESOURCE_CHECKS
        if issubclass(resource_type, on) and profile in checker.check.profiles
    ]

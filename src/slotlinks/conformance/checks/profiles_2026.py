"""The 2026 IG draft's six profiles, element by element (`--profile general`), as tables.

Specification (2026 draft), `input/fsh/profiles/`: SmartSchedulingLocation, -Schedule, -Slot,
-PractitionerRole, -HealthcareService and -Practitioner. Each row below is one rule and one check:
a cardinality (`Location.telecom.system 1..1`), a Slot extension's (`booking-deep-link 0..1`), or a
binding of a coded element (FHIR R4's required bindings the profiles inherit, and the draft's
preferred value set for `Slot.appointmentType`). Rules read the line's JSON as published, so an
element a decoder would drop still counts; a rule on `a.b` applies to each `a` that is present.
Must-support elements without a narrowed cardinality are not rules: a publisher may omit them.
Slot status (`slot.status`) and the base Slot/Schedule elements a decoder cannot do without
(`resource.fhir-valid`) are checked elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from slotlinks.conformance.registry import ONLY_GENERAL, Checker, Fail, Failures, Severity, check
from slotlinks.fhir import extensions as ext

__all__ = ["BINDINGS", "CARDINALITIES", "ROWS", "RULES", "SLICES", "Binding", "Cardinality", "ProfileRules", "Slice"]


class Cardinality(NamedTuple):
    rtype: str
    path: str
    min: int
    max: int | None  # None: `*`


class Slice(NamedTuple):
    rtype: str
    url: str
    min: int
    max: int


class Binding(NamedTuple):
    rtype: str
    path: str  # a `code` element, or a CodeableConcept (`.coding` is then read)
    codes: frozenset[str] | dict[str, frozenset[str]]  # codes, or system -> codes for a CodeableConcept
    strength: str


CARDINALITIES: tuple[Cardinality, ...] = (
    Cardinality("Location", "identifier", 1, None),
    Cardinality("Location", "name", 1, 1),
    Cardinality("Location", "telecom", 1, None),
    Cardinality("Location", "telecom.system", 1, 1),
    Cardinality("Location", "telecom.value", 1, 1),
    Cardinality("Location", "address", 1, 1),
    Cardinality("Location", "address.line", 1, None),
    Cardinality("Location", "address.city", 1, 1),
    Cardinality("Location", "address.state", 1, 1),
    Cardinality("Location", "address.postalCode", 1, 1),
    Cardinality("Schedule", "actor", 1, None),
    Cardinality("Schedule", "actor.reference", 1, 1),
    Cardinality("Schedule", "serviceType", 1, None),
    Cardinality("PractitionerRole", "id", 1, 1),
    Cardinality("HealthcareService", "id", 1, 1),
    Cardinality("HealthcareService", "active", 1, 1),
    Cardinality("HealthcareService", "category", 0, 1),
    Cardinality("HealthcareService", "type", 1, 1),
    Cardinality("HealthcareService", "specialty", 1, 1),
    Cardinality("HealthcareService", "location", 1, 1),
    Cardinality("HealthcareService", "name", 1, 1),
    Cardinality("HealthcareService", "serviceProvisionCode", 0, 1),
    Cardinality("HealthcareService", "notAvailable.description", 1, 1),
    Cardinality("Practitioner", "id", 1, 1),
    Cardinality("Practitioner", "identifier", 1, 1),
)

SLICES: tuple[Slice, ...] = (
    Slice("Slot", ext.BOOKING_DEEP_LINK, 0, 1),
    Slice("Slot", ext.BOOKING_PHONE, 0, 1),
)

_CONTACT_SYSTEM = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_CONTACT_USE = frozenset({"home", "work", "temp", "old", "mobile"})
_ADDRESS_USE = frozenset({"home", "work", "temp", "old", "billing"})
_ADDRESS_TYPE = frozenset({"postal", "physical", "both"})
_DAYS = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
_IDENTIFIER_USE = frozenset({"usual", "official", "temp", "secondary", "old"})
_NAME_USE = frozenset({"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"})
ACCEPTING_PATIENTS = "http://terminology.hl7.org/CodeSystem/accepting-patients"
V2_0276 = "http://terminology.hl7.org/CodeSystem/v2-0276"
#: The draft's AppointmentTypeAndReasonsVS (`input/fsh/terminology/valuesets/`).
APPOINTMENT_TYPES: dict[str, frozenset[str]] = {
    ACCEPTING_PATIENTS: frozenset({"newpt", "existptonly", "existptfam", "nopt"}),
    V2_0276: frozenset({"ROUTINE", "FOLLOWUP", "WALKIN", "CHECKUP", "EMERGENCY"}),
}


def _contact_and_address(rtype: str, *, address: bool = True) -> tuple[Binding, ...]:
    rows = [
        Binding(rtype, "identifier.use", _IDENTIFIER_USE, "required"),
        Binding(rtype, "telecom.system", _CONTACT_SYSTEM, "required"),
        Binding(rtype, "telecom.use", _CONTACT_USE, "required"),
    ]
    if address:
        rows += [
            Binding(rtype, "address.use", _ADDRESS_USE, "required"),
            Binding(rtype, "address.type", _ADDRESS_TYPE, "required"),
        ]
    return tuple(rows)


BINDINGS: tuple[Binding, ...] = (
    Binding("Location", "status", frozenset({"active", "suspended", "inactive"}), "required"),
    Binding("Location", "mode", frozenset({"instance", "kind"}), "required"),
    *_contact_and_address("Location"),
    Binding("Location", "hoursOfOperation.daysOfWeek", _DAYS, "required"),
    Binding("Schedule", "identifier.use", _IDENTIFIER_USE, "required"),
    Binding("Slot", "identifier.use", _IDENTIFIER_USE, "required"),
    Binding("Slot", "appointmentType", APPOINTMENT_TYPES, "preferred"),
    *_contact_and_address("PractitionerRole", address=False),
    Binding("PractitionerRole", "availableTime.daysOfWeek", _DAYS, "required"),
    *_contact_and_address("HealthcareService", address=False),
    Binding("HealthcareService", "availableTime.daysOfWeek", _DAYS, "required"),
    *_contact_and_address("Practitioner"),
    Binding("Practitioner", "name.use", _NAME_USE, "required"),
    Binding("Practitioner", "gender", frozenset({"male", "female", "other", "unknown"}), "required"),
)


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z])([A-Z])", r"-\1", name).lower().replace(".", "-")


def _values(node: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    """(where, value) of each non-null value at `path` under `node`, arrays flattened."""
    if not path:
        return
    value = node.get(path[0]) if isinstance(node, dict) else None
    items = value if isinstance(value, list) else [] if value is None else [value]
    for i, item in enumerate(items):
        where = f"{path[0]}[{i}]" if isinstance(value, list) else path[0]
        if item is None:
            continue
        if len(path) == 1:
            yield where, item
        else:
            yield from ((f"{where}.{w}", v) for w, v in _values(item, path[1:]))


def _count(node: Any, name: str) -> int:
    value = node.get(name)
    return len([v for v in value if v is not None]) if isinstance(value, list) else int(value is not None)


def _cardinality_logic(rule: Cardinality) -> Any:
    *parents, leaf = rule.path.split(".")
    shown = "*" if rule.max is None else str(rule.max)
    span = f"{rule.rtype}.{rule.path} is {rule.min}..{shown}"

    def logic(fail: Fail, where: str, raw: dict[str, Any]) -> None:
        holders = [("", raw)] if not parents else [(f"{w}.", v) for w, v in _values(raw, parents)]
        for prefix, holder in holders:
            if not isinstance(holder, dict):
                continue  # the shape is `json.element-shape`'s finding
            n = _count(holder, leaf)
            if n < rule.min or (rule.max is not None and n > rule.max):
                name = f"{rule.rtype}/{raw.get('id', '?')}"
                fail(where, f"{name} has {n} {prefix}{leaf} ({span})")

    return logic


def _slice_logic(rule: Slice) -> Any:
    short = rule.url.rsplit("/", 1)[-1]

    def logic(fail: Fail, where: str, raw: dict[str, Any]) -> None:
        n = sum(1 for _, e in _values(raw, ["extension"]) if isinstance(e, dict) and e.get("url") == rule.url)
        if n < rule.min or n > rule.max:
            fail(where, f"{rule.rtype}/{raw.get('id', '?')} has {n} {short} ({short} is {rule.min}..{rule.max})")

    return logic


def _binding_logic(rule: Binding) -> Any:
    path = rule.path.split(".")

    def logic(fail: Fail, where: str, raw: dict[str, Any]) -> None:
        for at, value in _values(raw, path):
            if isinstance(rule.codes, frozenset):
                if isinstance(value, str) and value and value not in rule.codes:
                    fail(where, f"{at} {value!r} is not one of {', '.join(sorted(rule.codes))}")
                continue
            coding = value.get("coding") if isinstance(value, dict) else None
            codings = [c for c in coding if isinstance(c, dict)] if isinstance(coding, list) else []
            if not any(c.get("code") in rule.codes.get(c.get("system") or "", ()) for c in codings):
                shown = [f"{c.get('system')}|{c.get('code')}" for c in codings] or ["no coding"]
                fail(where, f"{at} ({', '.join(shown)}) has no code from {', '.join(rule.codes)}")

    return logic


Rule = Checker[[str, dict[str, Any]], None]


def _declare(rtype: str, suffix: str, severity: Severity, title: str, logic: Any) -> Rule:
    section = f"{rtype} profile (2026)"
    declared: Rule = check(f"{_kebab(rtype)}.{suffix}", severity, section, title, profiles=ONLY_GENERAL)(logic)
    return declared


def _declare_row(row: Cardinality | Slice | Binding) -> Rule:
    """The check one table row declares: its id, severity, title and logic."""
    if isinstance(row, Cardinality):
        title = f"`{row.rtype}.{row.path}` {row.min}..{'*' if row.max is None else row.max}"
        return _declare(row.rtype, _kebab(row.path), "required", title, _cardinality_logic(row))
    if isinstance(row, Slice):
        short = row.url.rsplit("/", 1)[-1]
        title = f"`{row.rtype}.extension` {short} {row.min}..{row.max}"
        return _declare(row.rtype, f"{short}-cardinality", "required", title, _slice_logic(row))
    severity: Severity = "required" if row.strength == "required" else "recommended"
    title = f"`{row.rtype}.{row.path}` from its value set ({row.strength})"
    return _declare(row.rtype, f"{_kebab(row.path)}-binding", severity, title, _binding_logic(row))


#: check id -> the table row it checks, in table order.
ROWS: dict[str, Cardinality | Slice | Binding] = {}
#: resourceType -> the rules of its profile, in table order.
RULES: dict[str, list[Rule]] = {}
_TABLE: tuple[Cardinality | Slice | Binding, ...] = (*CARDINALITIES, *SLICES, *BINDINGS)
for _row in _TABLE:
    _rule = _declare_row(_row)
    ROWS[_rule.check.id] = _row
    RULES.setdefault(_row.rtype, []).append(_rule)


class ProfileRules:
    """Every rule of a resource's profile on its JSON, with `fail` bound once per run."""

    def __init__(self, results: Failures, profile: str) -> None:
        self._bound = {
            rtype: [(c.logic, results.failer(c.check)) for c in checkers if profile in c.check.profiles]
            for rtype, checkers in RULES.items()
        }

    def check(self, where: str, raw: dict[str, Any], rtype: str) -> None:
        for logic, fail in self._bound.get(rtype, ()):
            logic(fail, where, raw)

"""Checks every resource gets, under both profiles: valid FHIR R4, unique ids, typed SMART extensions.

Specification, Location/Schedule/Slot File sections: each line is a FHIR R4 resource with an id
(no two of one type alike); the SMART extensions (booking-deep-link, booking-phone, slot-capacity,
vaccine-product, ...) carry the value[x] their definition declares. Most of this is the kernel's
`fhir.validate.validate_resource`, whose issues `Facts` holds; these checks sort them: an issue on an
extension is `extension.value-type`, one another check owns (Slot status, start/end order, booking
link) is left to it, the rest is `resource.fhir-valid`.
"""

from __future__ import annotations

from typing import Any

from slotlinks.conformance.facts import Facts
from slotlinks.conformance.registry import Fail, resource_check
from slotlinks.errors import Issue
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import Resource

__all__ = ["extension_value_type", "fhir_valid", "id_unique", "wrongly_typed_extensions"]

_JSON_KIND = {"valueInteger": "integer", "valueCoding": "object"}


def _owned_elsewhere(issue: Issue) -> bool:
    """Kernel issues another check reports in its own words, or that are not errors at all."""
    if issue.severity not in ("error", "fatal"):
        return True
    message, where = issue.diagnostics, " ".join(issue.expression)
    return "is not after Slot.start" in message or "booking-deep-link must be" in message or where == "Slot.status"


def _on_extension(issue: Issue) -> bool:
    where = " ".join(issue.expression)
    return ".extension[" in where or where.startswith(("Slot.extension", "Schedule.extension", "Location.extension"))


def _show(issue: Issue) -> str:
    return f"{issue.diagnostics} ({', '.join(issue.expression)})"


@resource_check(
    Resource, "resource.fhir-valid", "required", "Location/Schedule/Slot File", "Resources are valid FHIR R4 JSON"
)
def fhir_valid(fail: Fail, resource: Resource, facts: Facts) -> None:
    """The kernel validator's errors that no more precise check owns. (A line that does not even
    decode as its type is reported here by the pass, with msgspec's message and JSON path.)"""
    for issue in facts.issues:
        if not _owned_elsewhere(issue) and not _on_extension(issue):
            fail(facts.where, _show(issue))


@resource_check(Resource, "resource.id-unique", "required", "Slot File", "No two resources of one type share an id")
def id_unique(fail: Fail, resource: Resource, facts: Facts) -> None:
    """An id already published by an earlier line (of any file) of the same type."""
    rtype = type(resource).__name__
    if resource.id in facts.published.ids[rtype]:
        fail(facts.where, f"{rtype} id {resource.id!r} appears more than once")


@resource_check(
    Resource,
    "extension.value-type",
    "required",
    "Slot File",
    "SMART extensions carry the value[x] of the declared type",
)
def extension_value_type(fail: Fail, resource: Resource, facts: Facts) -> None:
    """The kernel validator's errors on extensions (several values, none, a bad value). A value of
    the wrong JSON type never decodes: `wrongly_typed_extensions` reports that one."""
    for issue in facts.issues:
        if not _owned_elsewhere(issue) and _on_extension(issue):
            fail(facts.where, _show(issue))


def wrongly_typed_extensions(fail: Fail, where: str, raw: dict[str, Any]) -> frozenset[str]:
    """`extension.value-type` on a line's raw JSON, for the slow path: report each SMART extension
    whose value[x] has the wrong JSON type, drop it from `raw` (so the rest decodes) and return
    the URLs dropped. The pass binds `fail` to `extension_value_type.check`."""
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
        fail(where, f"{short} {what}")
        bad.add(str(url))
    raw["extension"] = kept
    return frozenset(bad)

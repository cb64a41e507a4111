"""In-memory matching of a resource's FHIR JSON against search criteria (search.html, by type).

Chained criteria must have been resolved (by `execute.py`) into reference criteria first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slotlinks.fhirapi.dates import DateValue
from slotlinks.fhirapi.near import Near
from slotlinks.fhirapi.references import Ref, ref_matches
from slotlinks.fhirapi.request import Criterion
from slotlinks.fhirapi.strings import string_matches
from slotlinks.fhirapi.tokens import Token, token_matches

__all__ = ["element", "matches", "matches_all"]


def _walk(value: Any, parts: list[str]) -> Iterator[Any]:
    if not parts:
        if isinstance(value, list):
            yield from value
        elif value is not None:
            yield value
        return
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, parts)
    elif isinstance(value, dict):
        yield from _walk(value.get(parts[0]), parts[1:])


def element(resource: dict[str, Any], path: str) -> list[Any]:
    """The values at a dotted path (lists flattened)."""
    return list(_walk(resource, path.split(".")))


def matches(resource: dict[str, Any], criterion: Criterion) -> bool:
    """True when the resource satisfies one criterion (any of its OR values)."""
    param = criterion.param
    if param.type == "special":
        near = criterion.values[0]
        assert isinstance(near, Near)
        return near.within(resource)
    values = element(resource, param.path)
    if param.type == "token":
        return token_matches([v for v in criterion.values if isinstance(v, Token)], values)
    if param.type == "reference":
        return ref_matches([v for v in criterion.values if isinstance(v, Ref)], values)
    if param.type == "string":
        if param.path == "name" and resource.get("resourceType") == "Location":
            values = [*values, *element(resource, "alias")]
        return string_matches([str(v) for v in criterion.values], values, criterion.modifier)
    dates = [v for v in criterion.values if isinstance(v, DateValue)]
    if param.path == "planningHorizon":
        horizon = values[0] if values and isinstance(values[0], dict) else {}
        return any(d.matches_period(horizon.get("start"), horizon.get("end")) for d in dates)
    return any(d.matches_instant(v) for d in dates for v in values if isinstance(v, str))


def matches_all(resource: dict[str, Any], criteria: tuple[Criterion, ...] | list[Criterion]) -> bool:
    return all(matches(resource, c) for c in criteria)

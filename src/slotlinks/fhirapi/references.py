"""Reference search (http://hl7.org/fhir/R4/search.html#reference): `Type/id`, a bare `id`, an
absolute URL ending in `Type/id`, or `id` with a `:Type` modifier. Chained parameters
(search.html#chaining, e.g. `schedule.actor:Location.near`) are resolved by `execute.py` to id sets
and then matched here like plain references.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from slotlinks.fhir.ids import InvalidReference, is_valid_id, parse_reference
from slotlinks.fhirapi.params import invalid

__all__ = ["Ref", "parse_ref", "ref_matches", "references_of"]


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference search value: `type` None means any of the parameter's target types."""

    type: str | None
    id: str


def parse_ref(param: str, text: str, targets: tuple[str, ...], type_modifier: str | None = None) -> Ref:
    """Parses one reference value; the type must be one the parameter may point at."""
    if "/" in text:
        try:
            parsed = parse_reference(text)
        except InvalidReference as exc:
            raise invalid(param, str(exc)) from None
        rtype: str | None = parsed.type
        rid = parsed.id
        if type_modifier and rtype != type_modifier:
            raise invalid(param, f"{text!r} is not a {type_modifier}")
    else:
        if not is_valid_id(text):
            raise invalid(param, f"{text!r} is not a resource id (1-64 of A-Z a-z 0-9 - .)")
        rtype, rid = type_modifier, text
    if rtype is not None and rtype not in targets:
        raise invalid(param, f"{rtype} is not a target of {param} (expected {' or '.join(targets)})")
    return Ref(rtype, rid)


def references_of(value: Any) -> Iterator[tuple[str, str]]:
    """(type, id) of each literal reference in a Reference or a list of them; others are skipped."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("reference"), str):
            try:
                parsed = parse_reference(item["reference"])
            except InvalidReference:
                continue
            yield parsed.type, parsed.id


def ref_matches(refs: Iterable[Ref], value: Any) -> bool:
    """True when any reference in `value` is one of `refs` (an OR list)."""
    found = list(references_of(value))
    return any(rid == ref.id and (ref.type is None or rtype == ref.type) for ref in refs for rtype, rid in found)

"""The typed search request: a FHIR search parsed once (http://hl7.org/fhir/R4/search.html).

`parse_search(type, pairs, strict=...)` turns the query (or form body) into a `SearchRequest`:
criteria as data (each value parsed by its parameter type: `tokens`, `strings`, `dates`,
`references`, `near`), chains (search.html#chaining) as nested criteria, and the result
parameters `_count`, `_sort`, `_include`, `_revinclude`, `_elements`, `_summary`, `_total` and
our opaque paging cursor. Repeated parameters AND together, comma-separated values OR
(search.html#combining). Unknown parameters are ignored (and left out of the `self` link) unless
`Prefer: handling=strict` (search.html#errors); malformed values and unsupported modifiers are a
400 naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slotlinks.errors import InvalidInput
from slotlinks.fhirapi.dates import parse_date
from slotlinks.fhirapi.near import Near, parse_near
from slotlinks.fhirapi.params import PARAMS, ParamDef, invalid
from slotlinks.fhirapi.references import parse_ref
from slotlinks.fhirapi.tokens import parse_token

__all__ = [
    "CURSOR_PARAM",
    "INCLUDES",
    "MAX_COUNT",
    "REVINCLUDES",
    "SORTS",
    "Chain",
    "Criterion",
    "SearchRequest",
    "parse_search",
]

CURSOR_PARAM = "_cursor"
DEFAULT_COUNT = 50
MAX_COUNT = 1000

#: `_include` / `_revinclude` values we honour: (source type, search parameter) -> included type(s).
INCLUDES: dict[str, tuple[str, str]] = {"Slot:schedule": ("Slot", "schedule"), "Schedule:actor": ("Schedule", "actor")}
REVINCLUDES: dict[str, tuple[str, str]] = {"Slot:schedule": ("Schedule", "Slot")}

#: `_sort` keys per type (a leading `-` sorts descending); `near` needs a `near` criterion.
SORTS: dict[str, tuple[str, ...]] = {
    "Slot": ("start", "end", "_lastUpdated", "_id", "near"),
    "Schedule": ("_id", "_lastUpdated"),
    "Location": ("_id", "_lastUpdated", "name", "near"),
    "PractitionerRole": ("_id", "_lastUpdated"),
    "HealthcareService": ("_id", "_lastUpdated", "name"),
    "Practitioner": ("_id", "_lastUpdated"),
}

_RESULT_PARAMS = {
    "_count",
    "_sort",
    "_include",
    "_revinclude",
    "_elements",
    "_summary",
    "_total",
    CURSOR_PARAM,
    "_format",
    "_pretty",
}
_ELEMENT_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_STRING_MODIFIERS = {"", "exact", "contains"}


@dataclass(frozen=True, slots=True)
class Chain:
    """`ref.inner`: resources whose `ref` points at one of `types` matching `inner`."""

    types: tuple[str, ...]
    inner: Criterion


@dataclass(frozen=True, slots=True)
class Criterion:
    """One parameter occurrence: its values OR together. `chain` set: `values` is empty."""

    param: ParamDef
    name: str  # as written, for the self link
    raw: str
    modifier: str = ""
    values: tuple[Any, ...] = ()
    chain: Chain | None = None


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A parsed search of one resource type."""

    type: str
    criteria: tuple[Criterion, ...] = ()
    count: int = DEFAULT_COUNT
    sort: tuple[tuple[str, bool], ...] = ()  # (key, descending)
    include: tuple[str, ...] = ()
    revinclude: tuple[str, ...] = ()
    elements: tuple[str, ...] = ()
    summary_count: bool = False
    total: bool = False
    cursor: str | None = None
    used: tuple[tuple[str, str], ...] = field(default=())  # the pairs we honoured, for `self`

    def near(self) -> Near | None:
        """The `near` point of this search, directly or through a chain (for distance sorting)."""
        for criterion in self.criteria:
            found = _near_of(criterion)
            if found is not None:
                return found
        return None


def _near_of(criterion: Criterion) -> Near | None:
    if criterion.chain is not None:
        return _near_of(criterion.chain.inner)
    if criterion.param.name == "near" and criterion.values:
        value = criterion.values[0]
        assert isinstance(value, Near)
        return value
    return None


def _split(text: str) -> list[str]:
    """Splits an OR list on commas not escaped as `\\,` (search.html#escaping)."""
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _criterion(rtype: str, name: str, raw: str, full_name: str) -> Criterion | None:
    """Parses `name=raw` for `rtype`; None if the parameter is unknown."""
    head, dot, rest = name.partition(".")
    base, _, modifier = head.partition(":")
    pdef = PARAMS[rtype].get(base)
    if pdef is None:
        return None
    if dot:
        if pdef.type != "reference":
            raise invalid(full_name, f"{base} is not a reference parameter, so it cannot be chained")
        types = tuple(t for t in pdef.targets if (not modifier or t == modifier))
        if modifier and not types:
            raise invalid(full_name, f"{modifier} is not a target of {base}")
        inner_base = rest.partition(".")[0].partition(":")[0]
        types = tuple(t for t in types if inner_base in PARAMS[t])
        if not types:
            return None
        inners = [_criterion(t, rest, raw, full_name) for t in types]
        inner = next((c for c in inners if c is not None), None)
        if inner is None:
            return None
        return Criterion(pdef, full_name, raw, modifier, chain=Chain(types, inner))
    items = _split(raw)
    if pdef.type == "reference":
        mod = modifier or None
        if mod is not None and mod not in pdef.targets:
            raise invalid(full_name, f"modifier :{modifier} is not supported (expected a target type)")
        return Criterion(
            pdef, full_name, raw, modifier, tuple(parse_ref(full_name, v, pdef.targets, mod) for v in items)
        )
    if pdef.type == "string":
        if modifier not in _STRING_MODIFIERS:
            raise invalid(full_name, f"modifier :{modifier} is not supported (expected :exact or :contains)")
        if any(not v for v in items):
            raise invalid(full_name, "empty string value")
        return Criterion(pdef, full_name, raw, modifier, tuple(items))
    if modifier:
        raise invalid(full_name, f"modifier :{modifier} is not supported on a {pdef.type} parameter")
    if pdef.type == "token":
        values: tuple[Any, ...] = tuple(parse_token(full_name, v) for v in items)
    elif pdef.type == "date":
        values = tuple(parse_date(full_name, v) for v in items)
    else:  # near
        if len(items) != 1:
            raise invalid(full_name, "takes exactly one lat|long|distance|units value")
        values = (parse_near(full_name, raw),)
    return Criterion(pdef, full_name, raw, modifier, values)


def _count(raw: str) -> int:
    if not raw.isdigit():
        raise invalid("_count", f"{raw!r} is not a non-negative integer")
    return min(int(raw), MAX_COUNT)


def _sort(rtype: str, raw: str) -> tuple[tuple[str, bool], ...]:
    keys = []
    for item in raw.split(","):
        desc = item.startswith("-")
        key = item[1:] if desc else item
        if key not in SORTS[rtype]:
            raise invalid("_sort", f"cannot sort {rtype} by {key!r} (supported: {', '.join(SORTS[rtype])})")
        keys.append((key, desc))
    return tuple(keys)


def parse_search(rtype: str, pairs: Sequence[tuple[str, str]], *, strict: bool = False) -> SearchRequest:
    """Parses a search of `rtype` from its (name, value) pairs, in order."""
    if rtype not in PARAMS:
        raise InvalidInput(f"{rtype} is not a searchable type here", expression=["type"])
    out: dict[str, Any] = {"criteria": [], "include": [], "revinclude": [], "used": []}
    for name, raw in pairs:
        if name in _RESULT_PARAMS:
            _result_param(rtype, name, raw, out)
            if name not in {"_format", "_pretty", CURSOR_PARAM}:
                out["used"].append((name, raw))
            continue
        criterion = _criterion(rtype, name, raw, name)
        if criterion is None:
            if strict:
                raise invalid(name, f"is not a supported search parameter of {rtype}")
            continue
        out["criteria"].append(criterion)
        out["used"].append((name, raw))
    sort = out.get("sort", ())
    if any(key == "near" for key, _ in sort) and _request(rtype, out).near() is None:
        raise invalid("_sort", "sorting by near needs a near search parameter")
    return _request(rtype, out)


def _request(rtype: str, out: dict[str, Any]) -> SearchRequest:
    return SearchRequest(
        type=rtype,
        criteria=tuple(out["criteria"]),
        count=out.get("count", DEFAULT_COUNT),
        sort=out.get("sort", ()),
        include=tuple(out["include"]),
        revinclude=tuple(out["revinclude"]),
        elements=out.get("elements", ()),
        summary_count=out.get("summary_count", False),
        total=out.get("total", False),
        cursor=out.get("cursor"),
        used=tuple(out["used"]),
    )


def _result_param(rtype: str, name: str, raw: str, out: dict[str, Any]) -> None:
    if name == "_count":
        out["count"] = _count(raw)
    elif name == "_sort":
        out["sort"] = _sort(rtype, raw)
    elif name == "_include":
        for item in _split(raw):
            if item not in INCLUDES or INCLUDES[item][0] != rtype:
                raise invalid("_include", f"{item!r} is not supported on {rtype} (see /metadata)")
            out["include"].append(item)
    elif name == "_revinclude":
        for item in _split(raw):
            if item not in REVINCLUDES or REVINCLUDES[item][0] != rtype:
                raise invalid("_revinclude", f"{item!r} is not supported on {rtype} (see /metadata)")
            out["revinclude"].append(item)
    elif name == "_elements":
        elements = tuple(e.strip() for e in raw.split(",") if e.strip())
        if not elements or not all(_ELEMENT_RE.fullmatch(e) for e in elements):
            raise invalid("_elements", f"{raw!r} is not a comma-separated list of element names")
        out["elements"] = elements
    elif name == "_summary":
        if raw not in {"count", "false"}:
            raise invalid("_summary", f"{raw!r} is not supported (supported: count, false)")
        out["summary_count"] = raw == "count"
    elif name == "_total":
        if raw not in {"none", "estimate", "accurate"}:
            raise invalid("_total", f"{raw!r} is not one of none, estimate, accurate")
        out["total"] = raw == "accurate"
    elif name == CURSOR_PARAM:
        out["cursor"] = raw

"""Running a `SearchRequest` against a `FhirStore` (http://hl7.org/fhir/R4/search.html).

Descriptive types are matched, sorted and paged in memory. Slot searches first resolve everything
that lives on the Schedule (service-type, specialty, `schedule.*` chains, `near`) to a set of
schedule ids in memory, then hand the store one `SlotQuery` (ids, ranges, statuses, keyset bounds)
to run in SQL. Paging is keyset paging (search.html#paging): the opaque cursor carries the sort key
of the last (or first) row shown, so rows inserted or changed elsewhere never shift a page and no
unchanged row is skipped or repeated.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from slotlinks.fhirapi.dates import DateValue
from slotlinks.fhirapi.matching import matches, matches_all
from slotlinks.fhirapi.near import Near
from slotlinks.fhirapi.params import invalid
from slotlinks.fhirapi.references import Ref, references_of
from slotlinks.fhirapi.request import Criterion, SearchRequest
from slotlinks.fhirapi.store import FhirStore, Key, SlotQuery
from slotlinks.fhirapi.tokens import Token

__all__ = ["SearchResult", "decode_cursor", "encode_cursor", "run_search"]

#: At most this many Slots are added per page by `_revinclude=Slot:schedule`.
REVINCLUDE_LIMIT = 1000
_FAR = 1e300  # sorts resources without a position last (JSON has no infinity)
_SLOT_SQL = {"_id", "_lastUpdated", "start", "end", "status", "schedule"}
_SLOT_VIA_SCHEDULE = {"service-type", "specialty"}
_STATUS_SYSTEM = "http://hl7.org/fhir/slotstatus"


@dataclass(slots=True)
class SearchResult:
    """One page: matches, included resources, the total (if asked) and the cursors of next/previous."""

    matches: list[dict[str, Any]] = field(default_factory=list)
    included: list[dict[str, Any]] = field(default_factory=list)
    total: int | None = None
    next_cursor: str | None = None
    previous_cursor: str | None = None


def encode_cursor(direction: str, key: Key) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([direction, list(key)])).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[str, Key]:
    """Decodes a cursor we issued; anything else is a 400 naming `_cursor`."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise invalid("_cursor", "not a paging cursor issued by this server") from None
    if (
        not isinstance(data, list)
        or len(data) != 2
        or data[0] not in ("a", "b")
        or not isinstance(data[1], list)
        or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in data[1])
    ):
        raise invalid("_cursor", "not a paging cursor issued by this server")
    return data[0], tuple(data[1])


# -- chains and schedule-level criteria -------------------------------------------------------------


def _matching_ids(store: FhirStore, rtype: str, criteria: Iterable[Criterion]) -> set[str]:
    resolved = [_resolve(store, c) for c in criteria]
    return {str(r.get("id")) for r in store.resources(rtype) if matches_all(r, resolved)}


def _resolve(store: FhirStore, criterion: Criterion) -> Criterion:
    """A chained criterion becomes a reference criterion listing the matching targets."""
    if criterion.chain is None:
        return criterion
    refs: list[Ref] = []
    for rtype in criterion.chain.types:
        refs.extend(Ref(rtype, rid) for rid in _matching_ids(store, rtype, [criterion.chain.inner]))
    return replace(criterion, values=tuple(refs), chain=None, modifier="")


def _schedule_ids(store: FhirStore, criteria: list[Criterion]) -> frozenset[str] | None:
    """The schedules allowed by Schedule-level criteria of a Slot search (None: no restriction)."""
    allowed: set[str] | None = None

    def narrow(ids: set[str]) -> None:
        nonlocal allowed
        allowed = ids if allowed is None else allowed & ids

    for c in criteria:
        name = c.param.name
        if c.chain is not None:
            narrow({ref.id for ref in _resolve(store, c).values if isinstance(ref, Ref)})
        elif name == "schedule":
            narrow({ref.id for ref in c.values if isinstance(ref, Ref)})
        elif name in _SLOT_VIA_SCHEDULE:
            narrow(_matching_ids(store, "Schedule", [c]))
    return None if allowed is None else frozenset(allowed)


def _schedule_ranks(store: FhirStore, near: Near, allowed: frozenset[str] | None) -> dict[str, int]:
    """Schedule id -> rank by the distance of its nearest Location actor."""
    locations = {str(r.get("id")): near.distance(r) for r in store.resources("Location")}
    distances = []
    for schedule in store.resources("Schedule"):
        sid = str(schedule.get("id"))
        if allowed is not None and sid not in allowed:
            continue
        found = [locations.get(rid) for rtype, rid in references_of(schedule.get("actor")) if rtype == "Location"]
        known = [d for d in found if d is not None]
        distances.append((min(known) if known else _FAR, sid))
    return {sid: rank for rank, (_, sid) in enumerate(sorted(distances))}


# -- Slot ---------------------------------------------------------------------------------------------


def _slot_query(store: FhirStore, req: SearchRequest) -> tuple[SlotQuery | None, list[Criterion]]:
    """The SQL part of a Slot search and the criteria left to check per slot (None: nothing matches)."""
    criteria = list(req.criteria)
    schedule_ids = _schedule_ids(store, criteria)
    if schedule_ids is not None and not schedule_ids:
        return None, []
    ids: list[frozenset[str]] = []
    statuses: list[frozenset[str]] = []
    dates: list[tuple[str, DateValue]] = []
    residual: list[Criterion] = []
    for c in criteria:
        name = c.param.name
        tokens = [v for v in c.values if isinstance(v, Token)]
        if name == "_id":
            ids.append(frozenset(t.code for t in tokens if t.code is not None and not t.system))
        elif name == "status":
            ok = [t for t in tokens if t.system in (None, _STATUS_SYSTEM)]
            statuses.append(frozenset(t.code for t in ok if t.code is not None))
            if any(t.code is None for t in ok):  # `system|`: any status
                statuses.pop()
        elif name in ("start", "end", "_lastUpdated") and c.chain is None:
            dates.extend((name, v) for v in c.values if isinstance(v, DateValue))
        elif c.chain is None and name not in _SLOT_SQL and name not in _SLOT_VIA_SCHEDULE:
            residual.append(c)
    sort = req.sort or (("start", False),)
    ranks = None
    if any(key == "near" for key, _ in sort):
        near = req.near()
        assert near is not None
        ranks = _schedule_ranks(store, near, schedule_ids)
    query = SlotQuery(
        schedule_ids=schedule_ids,
        ids=tuple(ids),
        statuses=tuple(statuses),
        dates=tuple(dates),
        sort=sort,
        ranks=ranks,
    )
    return query, residual


def _page(
    rows: Iterator[tuple[Key, dict[str, Any]]], keep: Callable[[dict[str, Any]], bool], count: int
) -> list[tuple[Key, dict[str, Any]]]:
    out = []
    for key, resource in rows:
        if keep(resource):
            out.append((key, resource))
            if len(out) > count:
                break
    return out


def _finish(result: SearchResult, page: list[tuple[Key, dict[str, Any]]], count: int, direction: str | None) -> None:
    more = len(page) > count
    page = page[:count]
    if direction == "b":
        page.reverse()
    result.matches = [r for _, r in page]
    if not page:
        return
    first, last = page[0][0], page[-1][0]
    if direction == "b":
        result.next_cursor = encode_cursor("a", last)
        result.previous_cursor = encode_cursor("b", first) if more else None
    else:
        result.next_cursor = encode_cursor("a", last) if more else None
        result.previous_cursor = encode_cursor("b", first) if direction == "a" else None


def _search_slots(store: FhirStore, req: SearchRequest) -> SearchResult:
    result = SearchResult()
    query, residual = _slot_query(store, req)
    if query is None:
        result.total = 0 if req.total or req.summary_count else None
        return result

    def keep(resource: dict[str, Any]) -> bool:
        return matches_all(resource, residual)

    if req.total or req.summary_count:
        if residual:
            result.total = sum(1 for _, r in store.slots(query) if keep(r))
        else:
            result.total = store.count_slots(query)
    if req.summary_count:
        return result
    direction, key = decode_cursor(req.cursor) if req.cursor else (None, None)
    query = replace(
        query,
        after=key if direction == "a" else None,
        before=key if direction == "b" else None,
        limit=None if residual else req.count + 1,
    )
    _finish(result, _page(store.slots(query), keep, req.count) if req.count else [], req.count, direction)
    return result


# -- descriptive types --------------------------------------------------------------------------------


def _sort_value(resource: dict[str, Any], key: str, near: Near | None) -> Any:
    if key == "near":
        d = near.distance(resource) if near is not None else None
        return _FAR if d is None else round(d, 6)
    if key == "_lastUpdated":
        return str((resource.get("meta") or {}).get("lastUpdated") or "")
    if key == "_id":
        return str(resource.get("id") or "")
    value = resource.get(key)
    return value if isinstance(value, str) else ""


def _compare(a: Key, b: Key, descending: tuple[bool, ...]) -> int:
    for x, y, desc in zip(a, b, descending, strict=False):
        if x != y:
            less = x < y
            return (1 if less else -1) if desc else (-1 if less else 1)
    return 0


def _search_descriptive(store: FhirStore, req: SearchRequest) -> SearchResult:
    result = SearchResult()
    criteria = [_resolve(store, c) for c in req.criteria]
    found = [r for r in store.resources(req.type) if all(matches(r, c) for c in criteria)]
    if req.total or req.summary_count:
        result.total = len(found)
    if req.summary_count:
        return result
    near = req.near()
    sort: list[tuple[str, bool]] = list(req.sort)
    if not sort and near is not None and req.type == "Location":
        sort = [("near", False)]
    keys = [*(k for k, _ in sort), "_id"]
    descending = (*(d for _, d in sort), sort[0][1] if sort else False)
    rows: list[tuple[Key, dict[str, Any]]] = [(tuple(_sort_value(r, k, near) for k in keys), r) for r in found]

    def order(a: tuple[Key, dict[str, Any]], b: tuple[Key, dict[str, Any]]) -> int:
        return _compare(a[0], b[0], descending)

    try:
        rows.sort(key=functools.cmp_to_key(order))
    except TypeError:
        raise invalid("_sort", "values of mixed types cannot be sorted") from None
    direction, cursor = decode_cursor(req.cursor) if req.cursor else (None, None)
    try:
        if direction == "a" and cursor is not None:
            rows = [row for row in rows if _compare(row[0], cursor, descending) > 0]
        elif direction == "b" and cursor is not None:
            rows = [row for row in rows if _compare(row[0], cursor, descending) < 0][::-1]
    except TypeError:
        raise invalid("_cursor", "does not belong to this search") from None
    _finish(result, rows[: req.count + 1] if req.count else [], req.count, direction)
    return result


# -- includes -----------------------------------------------------------------------------------------


def _includes(store: FhirStore, req: SearchRequest, result: SearchResult) -> None:
    seen: set[tuple[str, str]] = {(str(r.get("resourceType")), str(r.get("id"))) for r in result.matches}
    wanted: list[tuple[str, str]] = []
    for item in req.include:
        element = "schedule" if item == "Slot:schedule" else "actor"
        for resource in result.matches:
            wanted.extend(references_of(resource.get(element)))
    for rtype, rid in wanted:
        if (rtype, rid) not in seen:
            seen.add((rtype, rid))
            found = store.read(rtype, rid)
            if found is not None:
                result.included.append(found)
    if req.revinclude and result.matches:
        ids = frozenset(str(r.get("id")) for r in result.matches)
        query = SlotQuery(schedule_ids=ids, sort=(("start", False),), limit=REVINCLUDE_LIMIT)
        result.included.extend(r for _, r in store.slots(query))


def run_search(store: FhirStore, req: SearchRequest) -> SearchResult:
    """Runs one search: a page of matches plus includes, the total if asked, and paging cursors."""
    result = _search_slots(store, req) if req.type == "Slot" else _search_descriptive(store, req)
    if req.include or req.revinclude:
        _includes(store, req, result)
    return result

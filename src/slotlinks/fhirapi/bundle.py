"""The `searchset` Bundle (http://hl7.org/fhir/R4/bundle.html, search.html#return): `total` when
asked, `self`/`next`/`previous` links, matches (`search.mode = match`) then includes (`include`),
and `_elements` subsetting (search.html#elements: mandatory elements kept, tagged SUBSETTED).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from slotlinks.fhirapi.execute import SearchResult
from slotlinks.fhirapi.request import CURSOR_PARAM, SearchRequest

__all__ = ["SUBSETTED", "search_bundle", "subset"]

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
_MANDATORY = ("resourceType", "id", "meta")


def subset(resource: dict[str, Any], elements: Sequence[str]) -> dict[str, Any]:
    """Only the named top-level elements (plus the mandatory ones), tagged as a subset."""
    out = {k: v for k, v in resource.items() if k in _MANDATORY or k in elements}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out


def _link(base: str, req: SearchRequest, cursor: str | None) -> str:
    pairs = list(req.used)
    if cursor:
        pairs.append((CURSOR_PARAM, cursor))
    query = urlencode(pairs, safe="|:,")
    return f"{base}/{req.type}" + (f"?{query}" if query else "")


def search_bundle(base: str, req: SearchRequest, result: SearchResult) -> dict[str, Any]:
    """The Bundle for one page of a search; `base` is the absolute FHIR base URL."""
    links = [{"relation": "self", "url": _link(base, req, req.cursor)}]
    if result.next_cursor:
        links.append({"relation": "next", "url": _link(base, req, result.next_cursor)})
    if result.previous_cursor:
        links.append({"relation": "previous", "url": _link(base, req, result.previous_cursor)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        bundle["total"] = result.total
    bundle["link"] = links
    entries = []
    for resource in result.matches:
        shown = subset(resource, req.elements) if req.elements else resource
        entries.append(_entry(base, shown, "match"))
    entries.extend(_entry(base, r, "include") for r in result.included)
    if entries:
        bundle["entry"] = entries
    return bundle


def _entry(base: str, resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{resource.get('resourceType')}/{resource.get('id')}",
        "resource": resource,
        "search": {"mode": mode},
    }

"""The patient's search, carried by the links of the pages it leads to.

A search is its query string (`/search?near=02114&service=primary+care`). The pages pass it on in
two ways, so no step loses it:

- a result's location links to `/locations/{pk}?<location_query>`: the search's own filters (service,
  clinician, organization, the who-can-book filters, the dates), without where the patient is (the
  location page shows one place), so the location page shows only the times that match;
- a time links to `/go/{pk}?<search_query>`: `/go` keeps the query with the referral it hands out,
  and `/back` (the return URL portals send the patient to) answers with those results again.

Only the search's own parameters (`query.PARAMETERS`) are carried, each trimmed and bounded, so
nothing else a link may hold is ever stored or echoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from slotlinks.discovery.search.query import FILTERS, MAX_TEXT, PARAMETERS

__all__ = ["LOCATION_PARAMETERS", "MAX_QUERY", "location_query", "search_query", "stored_search"]

# The filters a location page keeps (the contract with `GET /locations/{pk}`): all but where the
# patient is and how results are ranked and counted.
LOCATION_PARAMETERS = FILTERS
MAX_QUERY = 2000  # a search's query is far shorter; a longer one is not kept


def _chosen(params: Mapping[str, str], names: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for name in names:
        value = (params.get(name) or "").strip()
        if value and len(value) <= MAX_TEXT and value.isprintable():
            pairs.append((name, value))
    return pairs


def search_query(params: Mapping[str, str]) -> str:
    """The search parameters of `params` with a value, as a query string (no `?`); "" when none or
    when they would make an over-long query."""
    query = urlencode(_chosen(params, PARAMETERS))
    return query if len(query) <= MAX_QUERY else ""


def location_query(params: Mapping[str, str]) -> str:
    """The filters a location page keeps (`LOCATION_PARAMETERS`), as a query string (no `?`)."""
    return urlencode(_chosen(params, LOCATION_PARAMETERS))


def stored_search(text: str | None) -> str | None:
    """A query string read back from storage, cleaned again as `search_query` cleans it (None when
    nothing of it is a search)."""
    if not text or len(text) > MAX_QUERY:
        return None
    return search_query(dict(parse_qsl(text))) or None

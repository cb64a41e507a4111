"""Search across publishers: the request, SQL, ranking, the JSON API, the pages and the CLI.

- `audience`: Who a slot is for, in search: the filters, and the plain-language badges shown before a link.
- `calendar`: A location's week: its open times for seven local days by day and time of day (the location
  page), and how a time is spoken on every page.
- `cli`: `slotlinks search`: the discovery search from the command line (a Rich table, or JSON).
- `execute`: Search compiled to SQL: where, what and when, over the publishers' current data generation only.
- `pages`: The discovery client's web pages: search form, results, a location's calendar, publisher status.
- `query`: The search request: parsed once from text parameters into one typed value.
- `ranking`: Ranking search results: soonest, nearest, or the best trade of distance against wait.
- `routes_api`: The search JSON API (`GET /api/search`, documented by OpenAPI) and the deep links (`GET /go/{pk}`).

Routes and commands (the modules named routes, pages or cli) are wired by the app factory and the CLI,
which import them by module path; what is listed below is the capability's surface for the rest of slotlinks.
"""

from __future__ import annotations

from slotlinks.discovery.search.audience import SlotAudience
from slotlinks.discovery.search.calendar import location_week, spoken_time
from slotlinks.discovery.search.execute import LocationResult, local_instant, search, zone_named
from slotlinks.discovery.search.query import DEFAULT_DAYS, DEFAULT_RADIUS_MILES, SearchRequest, parse_search
from slotlinks.discovery.search.ranking import MINUTES_PER_MILE, Candidate, best_score, dominates, rank

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_RADIUS_MILES",
    "MINUTES_PER_MILE",
    "Candidate",
    "LocationResult",
    "SearchRequest",
    "SlotAudience",
    "best_score",
    "dominates",
    "local_instant",
    "location_week",
    "parse_search",
    "rank",
    "search",
    "spoken_time",
    "zone_named",
]

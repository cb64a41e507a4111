"""The aggregate re-publication (spec "Slot Aggregators") through the shared pipeline
(`slotlinks.publishing`), and its FHIR read/search.

- `cache`: The aggregate publication encoded once per data version, on disk (spec "Bulk Publication", "Slot
  Aggregators").
- `changes`: What the aggregate's `_since` answers hold: the changed lines, or none when a sync removed
  something since (then the full data set is the answer).
- `fhirstore`: The discovery store served through the FHIR REST layer (`slotlinks.fhirapi`), as the aggregate
  publication publishes it (spec "Slot Aggregators"): the same ids, references, identifiers, `meta` and
  `has-availability`, so a client can go from the aggregate's NDJSON to reads and searches here.
- `pushchanges`: The aggregate's changes as events of the "availability changed" topic (chained push).
- `pushstore`: Chained push: the aggregate's subscriptions and their outbox over the discovery store, and
  the downstream subscribers the admin registers.
- `push_routes`: The Subscription endpoints at the aggregate's FHIR base and `PUT /admin/subscribers/{name}`.
- `render`: Rendering the discovery store as the lines of one SMART Scheduling Links publication.
- `rewrite`: One publisher's resource rewritten as the aggregate publishes it: new ids, references,
  provenance (`identifier`, `meta.source`, `lastSourceSync`) and `has-availability`.
- `routes`: The aggregate re-publication: `GET|HEAD {discovery_url}/aggregate/$bulk-publish` and its NDJSON files,
  wired to the aggregate's `_since` answers.
- `sources`: The publishers whose data the aggregate re-publishes, as rendering needs them.

Routes and commands (the modules named routes, pages or cli) are wired by the app factory and the CLI,
which import them by module path; what is listed below is the capability's surface for the rest of slotlinks.
"""

from __future__ import annotations

from slotlinks.discovery.aggregate.cache import AggregateCache
from slotlinks.discovery.aggregate.fhirstore import DiscoveryFhirStore
from slotlinks.discovery.aggregate.rewrite import aggregate_id

__all__ = ["AggregateCache", "DiscoveryFhirStore", "aggregate_id"]

"""The provider's publication: its store rendered as `$bulk-publish` and NDJSON through the shared
pipeline (`slotlinks.publishing`), and FHIR read/search.

- `fhirstore`: The provider store served through the FHIR REST layer (`slotlinks.fhirapi`).
- `render`: Rendering the provider store as the lines of a SMART Scheduling Links publication.
- `routes`: The publication endpoints: `GET|HEAD {base}/$bulk-publish` and the NDJSON files it lists, wired to
  the provider's `_since` answers.
- `snapshots`: Encoded publications on disk: the live server's cache and `slotlinks publish export`.

Routes and commands (the modules named routes, pages or cli) are wired by the app factory and the CLI,
which import them by module path; what is listed below is the capability's surface for the rest of slotlinks.
"""

from __future__ import annotations

from slotlinks.provider.publication.fhirstore import ProviderFhirStore
from slotlinks.provider.publication.render import iter_lines, render_slot, slot_json
from slotlinks.provider.publication.snapshots import PublicationCache, export

__all__ = [
    "ProviderFhirStore",
    "PublicationCache",
    "export",
    "iter_lines",
    "render_slot",
    "slot_json",
]

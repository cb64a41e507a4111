"""The admin API under `/admin/`: resources, slots, opening hours, closures, settings, sources.

- `api`: The staff/admin API's services: the bearer-token check, request bodies decoded by the kernel (so every
  error names its field), and one store transaction per call over the records layer (`records`, `slots`, `ruleset`,
  `importer`, `provider_settings`).
- `booking_routes`: Admin and partner routes of the booking portal.
- `routes`: The admin API under `/admin/`: staff manage resources, slots, opening hours, closures and settings.

Routes and commands (the modules named routes, pages or cli) are wired by the app factory and the CLI,
which import them by module path; what is listed below is the capability's surface for the rest of slotlinks.
"""

from __future__ import annotations

from slotlinks.provider.admin import api

__all__ = ["api"]

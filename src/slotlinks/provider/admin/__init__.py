"""The admin API under `/admin/`: resources, slots, opening hours, closures, settings, questionnaires, sources.

- `api`: The admin API's services: one store transaction per call over the records layer (`records`,
  `schedule.slots`, `schedule.rules`, `importer`, `store.settings`) and the portal's questionnaires.
- `booking_routes`: Admin and partner routes of the booking portal: questionnaires, referring sources, and
  the referral outcome API.
- `routes`: The admin API under `/admin/`: staff manage resources, slots, opening hours, closures and settings.
- `wire`: The admin API's wire format: the bearer token, request bodies decoded by the kernel (so every error
  names its field), the paging parameters, and the plain JSON it answers with.

Routes and commands (the modules named routes, pages or cli) are wired by the app factory and the CLI,
which import them by module path; what is listed below is the capability's surface for the rest of slotlinks.
"""

from __future__ import annotations

from slotlinks.provider.admin import api, wire

__all__ = ["api", "wire"]

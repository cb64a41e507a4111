"""From availability rules to Slots: opening hours expanded into slot times, regenerated over a rolling horizon, and
slots set by hand.

- `expand`: Availability rules: weekly opening windows and dated closures, expanded into slot times.
- `regenerate`: Turning a schedule's availability rules into Slot rows for a rolling horizon, idempotently.
- `rules`: Availability rules and closures as staff write them: the admin-facing layer over `slotgen`.
- `slots`: Slots in the provider store: slots made by hand and staff status changes (spec "Slot File").
"""

from __future__ import annotations

from slotlinks.provider.schedule import rules, slots
from slotlinks.provider.schedule.expand import (
    Closure,
    Rule,
    SlotTime,
    expand,
    format_instant,
    format_weekdays,
    parse_weekdays,
    slot_id,
    validate_closure,
    validate_rule,
)
from slotlinks.provider.schedule.regenerate import (
    DEFAULT_HORIZON_DAYS,
    RegenStats,
    regenerate,
    regenerate_schedules,
    save_closure,
    save_rule,
)
from slotlinks.provider.schedule.rules import ClosureRecord, ClosureSpec, RuleRecord, RuleSpec
from slotlinks.provider.schedule.slots import create_slot, get_slot, set_slot_status, slot_json

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "Closure",
    "ClosureRecord",
    "ClosureSpec",
    "RegenStats",
    "Rule",
    "RuleRecord",
    "RuleSpec",
    "SlotTime",
    "create_slot",
    "expand",
    "format_instant",
    "format_weekdays",
    "get_slot",
    "parse_weekdays",
    "regenerate",
    "regenerate_schedules",
    "rules",
    "save_closure",
    "save_rule",
    "set_slot_status",
    "slot_id",
    "slot_json",
    "slots",
    "validate_closure",
    "validate_rule",
]

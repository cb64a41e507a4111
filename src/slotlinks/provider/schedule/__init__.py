"""From opening hours to Slots: a Schedule's availability rules become slot times, then Slot rows over a rolling
horizon; staff edit the rules and set slots by hand.

Where a Slot is made from an availability rule, in order:

- `opening_hours`: What a rule (a weekly opening window on the Location's wall clock) and a closure are; weekday
  notation (`mon-fri`); what makes one unusable.
- `slot_times`: Opening hours to slot times: `expand` yields the FHIR instants of each slot, across DST changes;
  `slot_id` names each slot.
- `regenerate`: Slot times to Slot rows for a rolling horizon, idempotently (added, updated, retired).

Around it:

- `rules`: Availability rules and closures as staff write them (field-checked specs, records), saved and
  regenerated in one transaction: the admin API's layer over `regenerate`.
- `slots`: Slots in the provider store: slots made by hand and staff status changes (spec "Slot File").
"""

from __future__ import annotations

from slotlinks.provider.schedule import rules, slots
from slotlinks.provider.schedule.opening_hours import (
    Closure,
    Rule,
    format_weekdays,
    parse_weekdays,
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
from slotlinks.provider.schedule.slot_times import SlotTime, expand, slot_id
from slotlinks.provider.schedule.slots import create_slot, get_slot, set_slot_status

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
    "slots",
    "validate_closure",
    "validate_rule",
]

"""Checks of references across files: every Slot's Schedule and every Schedule actor is published.

Specification, "Slot File": `schedule` references a Schedule of the Schedule file; "Schedule File":
`actor` references the Location (2026: also PractitionerRole, HealthcareService or Practitioner) it
belongs to. `Published` holds the ids earlier files published; when the referenced type was only
sampled (`--max-lines`) a miss proves nothing, so the check is left unverified and the run skips it.
"""

from __future__ import annotations

from slotlinks.conformance.facts import Facts
from slotlinks.conformance.registry import Fail, resource_check
from slotlinks.fhir.ids import InvalidReference, parse_reference
from slotlinks.fhir.resources import Schedule, Slot

__all__ = ["schedule_actors_resolve", "slot_schedule_resolves"]


@resource_check(
    Slot, "slot.schedule-resolves", "required", "Slot File", "Every Slot's schedule is a published Schedule"
)
def slot_schedule_resolves(fail: Fail, slot: Slot, facts: Facts) -> None:
    """The Slot's Schedule is in a Schedule file (an unreadable reference is `resource.fhir-valid`)."""
    ref = facts.schedule
    if ref is not None and facts.published.resolves("Schedule", ref.id, slot_schedule_resolves.check) is False:
        fail(facts.where, f"Slot/{slot.id} schedule {ref} is not in any Schedule file")


@resource_check(
    Schedule, "schedule.actors-resolve", "required", "Schedule File", "Every Schedule actor is a published resource"
)
def schedule_actors_resolve(fail: Fail, schedule: Schedule, facts: Facts) -> None:
    """Each actor is a resource of a file read before the Schedules."""
    for actor in schedule.actor:
        try:
            ref = parse_reference(actor.reference or "")
        except InvalidReference:
            continue  # reported by `resource.fhir-valid`
        if facts.published.resolves(ref.type, ref.id, schedule_actors_resolve.check) is False:
            fail(facts.where, f"Schedule/{schedule.id} actor {ref} is not a published {ref.type}")

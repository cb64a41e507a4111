"""Checks of each Slot, under both profiles: status, times, offsets and the booking link.

Specification, "Slot File": `status` is `free` or `busy` (2026 adds `busy-tentative` and
`busy-unavailable`); `start` and `end` are instants with an accurate offset that SHOULD be UTC or the
Location's own (see `zones.py`); a Slot SHOULD be a narrow window, and one longer than a day is
unusual enough to trip clients. "Deep Links hosted by Provider Booking Portal": a booking-deep-link
is an absolute http(s) URL. `Facts` holds the Slot's times parsed once (None when unreadable:
`resource.fhir-valid` reports that).
"""

from __future__ import annotations

from datetime import timedelta

from slotlinks.conformance.facts import Facts
from slotlinks.conformance.registry import Fail, resource_check
from slotlinks.conformance.zones import offset_plausible
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import Slot
from slotlinks.fhir.urls import is_http_url

__all__ = ["HOUR", "booking_link_url", "local_offset", "longer_than_day", "narrow_window", "start_before_end", "status"]

#: Longer than this, a Slot is no longer a narrow window.
HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@resource_check(Slot, "slot.status", "required", "Slot File", "Slot `status` is one the profile allows")
def status(fail: Fail, slot: Slot, facts: Facts) -> None:
    """The status is one the profile allows. (A status outside FHIR's value set does not decode:
    the pass reports that here too, with msgspec's message.)"""
    allowed = facts.profile.slot_statuses
    if slot.status not in allowed:
        fail(facts.where, f"Slot/{slot.id} status {slot.status!r} is not {' | '.join(sorted(allowed))}")


@resource_check(Slot, "slot.start-before-end", "required", "Slot File", "Slot `start` is before `end`")
def start_before_end(fail: Fail, slot: Slot, facts: Facts) -> None:
    """A Slot ends after it starts."""
    if facts.start is not None and facts.end is not None and facts.end <= facts.start:
        fail(facts.where, f"Slot/{slot.id} start {slot.start} is not before end {slot.end}")


@resource_check(
    Slot,
    "slot.booking-link-url",
    "required",
    "Deep Links hosted by Provider Booking Portal",
    "booking-deep-link is an absolute http(s) URL",
)
def booking_link_url(fail: Fail, slot: Slot, facts: Facts) -> None:
    """The booking-deep-link, when there is one, is an absolute http(s) URL (never `javascript:`)."""
    link = ext.booking_deep_link(slot)
    if link is not None and not is_http_url(link):
        fail(facts.where, f"booking-deep-link {link!r} is not an absolute http(s) URL")


@resource_check(
    Slot, "slot.narrow-window", "recommended", "Slot File", "Slots last at most an hour (a narrow window SHOULD)"
)
def narrow_window(fail: Fail, slot: Slot, facts: Facts) -> None:
    """A Slot lasts at most an hour."""
    if facts.start is not None and facts.end is not None and facts.end - facts.start > HOUR:
        fail(facts.where, f"Slot lasts over an hour: {slot.start} to {slot.end}")


@resource_check(Slot, "slot.longer-than-day", "info", "Slot File", "Slots last at most a day")
def longer_than_day(fail: Fail, slot: Slot, facts: Facts) -> None:
    """A Slot lasts at most a day."""
    if facts.start is not None and facts.end is not None and facts.end - facts.start > _DAY:
        fail(facts.where, f"Slot lasts longer than a day: {slot.start} to {slot.end}")


@resource_check(
    Slot, "slot.offset-plausible", "recommended", "Slot File", "Slot offsets are UTC or the Location's local offset"
)
def local_offset(fail: Fail, slot: Slot, facts: Facts) -> None:
    """`start` (then `end`) carries UTC or an offset a zone of the Slot's Location has at that moment;
    the first implausible one is reported. Zones come from the Schedule's Locations (`Published`)."""
    if facts.schedule is None:
        return
    zones = facts.published.schedule_zones.get(facts.schedule.id, ())
    if facts.start is None:
        return
    if not offset_plausible(facts.start, zones):
        fail(facts.where, _implausible(slot, "start", slot.start, zones))
    elif facts.end is not None and not offset_plausible(facts.end, zones):
        fail(facts.where, _implausible(slot, "end", slot.end, zones))


def _implausible(slot: Slot, name: str, text: str, zones: tuple[str, ...]) -> str:
    shown = ", ".join(zones[:3]) + (" ..." if len(zones) > 3 else "")
    return f"Slot/{slot.id} {name} {text}: offset is neither UTC nor local to {shown}"

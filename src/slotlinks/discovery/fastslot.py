"""The everyday Slot, in one pass: prove it valid and derive its stored columns together.

Nearly every line of a feed is a plain Slot: a Schedule reference, start and end, a status, a
booking link and phone. For those, `clean_slot_values` checks what `fhir/validate.py` adds to the
typed decode (real calendar dates, end after start, a reference to a Schedule, each extension's
value) and reads the columns search needs (`SLOT_VALUE_COLUMNS`) in the same pass, since both need
the same parsed instants, the same reference and the same walk over the extensions.

It answers None when it cannot be sure: "take the full route" (`validate_resource`, then the
lenient repairs of quirks.py), which names the problem or accepts the Slot. So it may decline a
valid Slot, never accept an invalid one, and for what it accepts gives what `ingest.slot_values`
gives. tests/discovery/test_ingest_fast.py holds it to both.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from msgspec.structs import astuple

from slotlinks.fhir.extensions import BOOKING_DEEP_LINK, BOOKING_PHONE, EXPECTED_VALUE_FIELD, SLOT_CAPACITY
from slotlinks.fhir.ids import InvalidReference, parse_reference
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms
from slotlinks.fhir.resources import Extension, Slot

__all__ = ["SLOT_VALUE_COLUMNS", "clean_slot_values", "plain_http_url", "reference_id"]

#: What `clean_slot_values` returns, in this order.
SLOT_VALUE_COLUMNS = (
    "schedule_source_id",
    "start_ms",
    "end_ms",
    "status",
    "capacity",
    "booking_link",
    "booking_phone",
)

_KNOWN_URLS = frozenset(EXPECTED_VALUE_FIELD)
_VALUE_FIELDS = [name for name in Extension.__struct_fields__ if name.startswith("value")]
# An Extension's fields are its url (never None), the value[x] variants and its nested `extension`
# list (never None): with exactly one value set, this many of its fields are None.
_NONES_WITH_ONE_VALUE = len(_VALUE_FIELDS) - 1


@lru_cache(maxsize=1 << 16)
def reference_id(reference: str | None, rtype: str) -> str | None:
    """The id `reference` points at when it is a valid reference to a `rtype`, else None (cached: every
    Slot of a Schedule names it)."""
    if not reference:
        return None
    try:
        parsed = parse_reference(reference)
    except InvalidReference:
        return None
    return parsed.id if parsed.type == rtype else None


def plain_http_url(value: str) -> bool:
    """True for an everyday absolute http(s) URL (`http://host...`), decided without `urlsplit`.

    False means "look closer" (other schemes, odd characters), not "invalid": callers then fall back
    on `urlsplit`, whose verdict is the rule. Whenever this says True, `urlsplit` finds the scheme
    http or https and a non-empty host, without raising (no brackets, no non-ASCII host, no tab or
    newline for it to remove).
    """
    if value.startswith("http://"):
        host = value[7:8]
    elif value.startswith("https://"):
        host = value[8:9]
    else:
        return False
    return (
        host != ""
        and host not in "/?#"
        and value.isascii()
        and "[" not in value
        and "]" not in value
        and "\t" not in value
        and "\n" not in value
        and "\r" not in value
    )


# Feeds repeat the same instants heavily (every Schedule has Slots at the same times), and a cached
# answer here costs one call where `instant_to_ms` behind a try costs three.
@lru_cache(maxsize=1 << 16)
def _instant_ms(text: str) -> int | None:
    try:
        return instant_to_ms(text)
    except InvalidInstant:
        return None


def clean_slot_values(slot: Slot) -> tuple[Any, ...] | None:
    """The `SLOT_VALUE_COLUMNS` of `slot` when `validate_resource(slot)` certainly finds no error in
    it; None otherwise (see the module's docstring).

    Each of the three known extensions is read from the first extension with its URL; a known
    extension must hold exactly one value of its type, and any other must hold one value or only
    nested extensions.
    """
    meta = slot.meta
    if meta is not None and (meta.extension or (meta.lastUpdated and _instant_ms(meta.lastUpdated) is None)):
        return None
    link: str | None = None
    phone: str | None = None
    capacity: int | None = None
    one = _NONES_WITH_ONE_VALUE
    for extension in slot.extension:
        nones = astuple(extension).count(None)
        url = extension.url
        if url == BOOKING_DEEP_LINK:
            value = extension.valueUrl
            if nones != one or value is None or not plain_http_url(value):
                return None
            link = link or value
        elif url == BOOKING_PHONE:
            value = extension.valueString
            if nones != one or value is None or not value.strip():
                return None
            phone = phone or value
        elif url == SLOT_CAPACITY:
            count = extension.valueInteger
            if nones != one or type(count) is not int or count < 0:
                return None
            if capacity is None:
                capacity = count
        elif url in _KNOWN_URLS or (nones != one and not (nones == one + 1 and extension.extension)):
            return None  # a known extension out of its place, or an odd one: the full check decides
    start, end = _instant_ms(slot.start), _instant_ms(slot.end)
    if start is None or end is None or end <= start:
        return None  # equal milliseconds may still be a valid (sub-millisecond) Slot: the full check says
    schedule = reference_id(slot.schedule.reference, "Schedule")
    if schedule is None:
        return None
    return (schedule, start, end, slot.status, 1 if capacity is None else capacity, link, phone)

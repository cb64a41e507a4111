"""The everyday Slot, in one pass: prove it valid and derive its stored columns together.

Nearly every line of a feed is a plain Slot: an id, a Schedule reference, start and end, a status,
a booking link and phone, perhaps a capacity and `meta.lastUpdated`. `plain_slot_row` reads such a
line into its stored row directly. It decodes the line into `_PlainSlot`, which has only those
fields and refuses any other, so whatever it decodes is fully described by them; then it checks
what the typed decode (`fhir/resources.py`: the id and instant patterns) and `fhir/validate.py`
(real calendar dates, end after start, a reference to a Schedule, each extension's value) would
check, and reads the columns search needs (`SLOT_VALUE_COLUMNS`) in the same pass. The typed decode
checks its patterns with a regular expression per value; here the instants, which repeat across a
feed, are checked once per distinct text, which makes this path several times cheaper.
`clean_slot_values` does the second half for a Slot that went through the typed decode.

Both answer None when they cannot be sure: "take the full route" (the typed decode,
`validate_resource`, then the lenient repairs of quirks.py), which names the problem or accepts the
Slot. So they may decline a valid Slot, never accept one the full route would reject or repair, and
for what they accept give what `slots.slot_tuple` gives. tests/discovery/test_ingest_fast.py holds
them to that.
"""

# FHIR's own camelCase field names are the point of the plain structs.
# ruff: noqa: N815

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import msgspec
from msgspec.structs import astuple

from slotlinks.discovery.ingest.audience import patients_of
from slotlinks.fhir.extensions import BOOKING_DEEP_LINK, BOOKING_PHONE, EXPECTED_VALUE_FIELD, SLOT_CAPACITY
from slotlinks.fhir.ids import InvalidReference, is_valid_id, parse_reference
from slotlinks.fhir.instant import INSTANT_PATTERN, InvalidInstant, instant_to_ms
from slotlinks.fhir.resources import Extension, Slot, SlotStatus
from slotlinks.fhir.urls import MAX_BOOKING_LINK_CHARS, is_booking_link

__all__ = [
    "SLOT_ROW_COLUMNS",
    "SLOT_VALUE_COLUMNS",
    "clean_slot_values",
    "plain_http_url",
    "plain_slot_row",
    "reference_id",
]

#: What `clean_slot_values` returns, in this order.
SLOT_VALUE_COLUMNS = (
    "schedule_source_id",
    "start_ms",
    "end_ms",
    "status",
    "capacity",
    "booking_link",
    "booking_phone",
    "patients",
)

#: What `plain_slot_row` returns, in this order: the Slot's id, its JSON as received, its values.
SLOT_ROW_COLUMNS = ("source_id", "resource", *SLOT_VALUE_COLUMNS)


class _PlainReference(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    reference: str | None = None


class _PlainMeta(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    lastUpdated: str | None = None


class _PlainCoding(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    system: str | None = None
    version: str | None = None
    code: str | None = None
    display: str | None = None
    userSelected: bool | None = None


class _PlainConcept(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    # Who a slot is for (the 2026 IG's must-support `appointmentType`): publishers now send it on
    # every Slot, so without it here every Slot would take the full route.
    coding: list[_PlainCoding] = []
    text: str | None = None


class _PlainExtension(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    url: str
    valueUrl: str | None = None
    valueString: str | None = None
    valueInteger: int | None = None


class _PlainSlot(msgspec.Struct, forbid_unknown_fields=True, gc=False, tag_field="resourceType", tag="Slot"):
    """The everyday Slot's fields, typed as `resources.Slot` types them but for the patterns, which
    `plain_slot_row` checks itself; a line with any other field does not decode."""

    id: str
    schedule: _PlainReference
    status: SlotStatus
    start: str
    end: str
    meta: _PlainMeta | None = None
    appointmentType: _PlainConcept | None = None
    extension: list[_PlainExtension] = []


_PLAIN_DECODER = msgspec.json.Decoder(_PlainSlot)
_INSTANT_TEXT = re.compile(INSTANT_PATTERN)
_KNOWN_URLS = frozenset(EXPECTED_VALUE_FIELD)
# An Extension's fields are its url (never None), its value[x] variants and, in `resources.Extension`,
# its nested `extension` list (never None): with exactly one value set, this many of them are None.
_NONES_WITH_ONE_VALUE = {
    cls: sum(name.startswith("value") for name in cls.__struct_fields__) - 1 for cls in (Extension, _PlainExtension)
}


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
    """True for an everyday booking link (`http://host/...`), decided without `urlsplit`.

    False means "look closer" (other schemes, odd characters, user-info or great length), not
    "invalid": callers then fall back on the kernel's `is_booking_link`, whose verdict is the rule.
    Whenever this says True, `is_booking_link` says True too: at most `MAX_BOOKING_LINK_CHARS`
    characters of ASCII without space, tab or newline, and an authority (or a stretch that starts with
    it) that the rule itself accepts (a host without user-info, and a port in range when one is written).
    """
    if value[:8] == "https://":
        authority = value[8:].partition("/")[0]
    elif value[:7] == "http://":
        authority = value[7:].partition("/")[0]
    else:
        return False
    return (
        len(value) <= MAX_BOOKING_LINK_CHARS
        and _plain_authority(authority)
        and value.isascii()
        and " " not in value
        and "\t" not in value
        and "\n" not in value
        and "\r" not in value
    )


# A feed's links share a few hosts, so the verdict on each authority is cached.
@lru_cache(maxsize=1024)
def _plain_authority(authority: str) -> bool:
    # The kernel's rule judges a URL's host, user-info and port from its authority alone (the path cannot
    # fail it once the characters and the length are checked), so its verdict on `http://<authority>`
    # holds for the whole link.
    return authority != "" and authority[0] not in "?#" and is_booking_link("http://" + authority)


# Feeds repeat the same instants heavily (every Schedule has Slots at the same times), and a cached
# answer here costs one call where `instant_to_ms` behind a try costs three.
@lru_cache(maxsize=1 << 16)
def _instant_ms(text: str) -> int | None:
    """The instant's milliseconds when `text` matches FHIR's instant pattern (the typed decode's
    check) and is a real time; else None."""
    if _INSTANT_TEXT.fullmatch(text) is None:
        return None
    try:
        return instant_to_ms(text)
    except InvalidInstant:
        return None


def plain_slot_row(raw: bytes) -> tuple[Any, ...] | None:
    """The stored row (`SLOT_ROW_COLUMNS`) of the Slot line `raw` when the full route would take the
    line as it is; None otherwise (see the module's docstring)."""
    try:
        slot = _PLAIN_DECODER.decode(raw)
    except msgspec.MsgspecError:
        return None
    meta = slot.meta
    if not is_valid_id(slot.id) or (
        meta is not None and meta.lastUpdated is not None and _instant_ms(meta.lastUpdated) is None
    ):
        return None
    values = _values(slot)
    if values is None:
        return None
    # msgspec has checked that the line is UTF-8 (JSON outside its strings is ASCII)
    return (slot.id, raw.decode(), *values)


def clean_slot_values(slot: Slot) -> tuple[Any, ...] | None:
    """The `SLOT_VALUE_COLUMNS` of `slot`, which passed the typed decode, when `validate_resource(slot)`
    certainly finds no error in it; None otherwise (see the module's docstring)."""
    meta = slot.meta
    if meta is not None and (meta.extension or (meta.lastUpdated and _instant_ms(meta.lastUpdated) is None)):
        return None
    return _values(slot)


def _values(slot: Slot | _PlainSlot) -> tuple[Any, ...] | None:
    """The `SLOT_VALUE_COLUMNS` of `slot` when its times, Schedule reference and extensions pass
    `validate_resource`'s checks; else None.

    Each of the three known extensions is read from the first extension with its URL; a known
    extension must hold exactly one value of its type, and any other must hold one value or only
    nested extensions.
    """
    link: str | None = None
    phone: str | None = None
    capacity: int | None = None
    for extension in slot.extension:
        nones = astuple(extension).count(None)
        one = _NONES_WITH_ONE_VALUE[type(extension)]
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
        elif url in _KNOWN_URLS or (nones != one and not (nones == one + 1 and getattr(extension, "extension", None))):
            return None  # a known extension out of its place, or an odd one: the full check decides
    start, end = _instant_ms(slot.start), _instant_ms(slot.end)
    if start is None or end is None or end <= start:
        return None  # equal milliseconds may still be a valid (sub-millisecond) Slot: the full check says
    schedule = reference_id(slot.schedule.reference, "Schedule")
    if schedule is None:
        return None
    patients = patients_of(slot.appointmentType)
    return (schedule, start, end, slot.status, 1 if capacity is None else capacity, link, phone, patients)

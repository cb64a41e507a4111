"""Extension URLs, code systems, and typed readers/builders for the extensions the spec names.

Specification sections: "Slot File" (booking-deep-link, booking-phone, slot-capacity), "Schedule
File" (vaccine-product, vaccine-dose, specialty), "Slot Aggregators" (has-availability,
lastSourceSync on `meta`). The timezone extension on Location is FHIR's own, which we use so that a
client knows the Location's local time without geocoding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

from slotlinks.fhir.resources import Coding, Extension, Location, Meta, Schedule, Slot

__all__ = [
    "BOOKING_DEEP_LINK",
    "BOOKING_PHONE",
    "CVX",
    "EXPECTED_VALUE_FIELD",
    "HAS_AVAILABILITY",
    "HAS_AVAILABILITY_CODES",
    "HL7_SERVICE_TYPE",
    "LAST_SOURCE_SYNC",
    "NPI",
    "SLOT_CAPACITY",
    "SMART_EXTENSION_BASE",
    "SMART_SERVICE_TYPE",
    "SNOMED_CT",
    "SPECIALTY",
    "TIMEZONE",
    "VACCINE_DOSE",
    "VACCINE_PRODUCT",
    "VTRCKS",
    "HasExtensions",
    "booking_deep_link",
    "booking_phone",
    "extension_value",
    "extension_values",
    "find_extensions",
    "has_availability",
    "last_source_sync",
    "location_timezone",
    "make_extension",
    "slot_capacity",
    "specialty",
    "vaccine_doses",
    "vaccine_products",
    "with_extension",
]

SMART_EXTENSION_BASE = "http://fhir-registry.smarthealthit.org/StructureDefinition/"

#: Slot: valueUrl, a deep link into the Provider Booking Portal.
BOOKING_DEEP_LINK = SMART_EXTENSION_BASE + "booking-deep-link"
#: Slot: valueString, a phone number to book by.
BOOKING_PHONE = SMART_EXTENSION_BASE + "booking-phone"
#: Slot: valueInteger, how many identical slots this one stands for.
SLOT_CAPACITY = SMART_EXTENSION_BASE + "slot-capacity"
#: Schedule: valueCoding (CVX), the vaccine product offered. SHOULD NOT repeat.
VACCINE_PRODUCT = SMART_EXTENSION_BASE + "vaccine-product"
#: Schedule: valueInteger, a dose number offered (may repeat).
VACCINE_DOSE = SMART_EXTENSION_BASE + "vaccine-dose"
#: Schedule: valueCoding, the clinical specialty.
SPECIALTY = SMART_EXTENSION_BASE + "specialty"
#: Schedule (aggregators only): valueCode `some` | `none` | `unknown`.
HAS_AVAILABILITY = SMART_EXTENSION_BASE + "has-availability"
#: Resource.meta (aggregators): valueDateTime, when the data was last known accurate.
LAST_SOURCE_SYNC = "http://hl7.org/fhir/StructureDefinition/lastSourceSync"
#: Location: valueCode, the IANA time zone name (e.g. `America/New_York`).
TIMEZONE = "http://hl7.org/fhir/StructureDefinition/timezone"

HAS_AVAILABILITY_CODES = frozenset({"some", "none", "unknown"})

HL7_SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
SMART_SERVICE_TYPE = "http://fhir-registry.smarthealthit.org/CodeSystem/service-type"
SNOMED_CT = "http://snomed.info/sct"
CVX = "http://hl7.org/fhir/sid/cvx"
NPI = "http://hl7.org/fhir/sid/us-npi"
VTRCKS = "https://cdc.gov/vaccines/programs/vtrcks"


class HasExtensions(Protocol):
    """Anything carrying an `extension` list: every resource, `Meta`, `Extension` itself."""

    @property
    def extension(self) -> list[Extension]: ...


def find_extensions(holder: HasExtensions | None, url: str) -> list[Extension]:
    """Every extension on `holder` with this `url`, in order."""
    if holder is None:
        return []
    return [ext for ext in holder.extension if ext.url == url]


def extension_value(holder: HasExtensions | None, url: str) -> Any:
    """The value[x] of the first extension with this `url`, or None when there is none."""
    for ext in find_extensions(holder, url):
        return ext.value
    return None


def extension_values(holder: HasExtensions | None, url: str) -> list[Any]:
    """The value[x] of every extension with this `url` (for repeating ones like vaccine-dose)."""
    return [v for v in (ext.value for ext in find_extensions(holder, url)) if v is not None]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    # bool is an int in Python, but a valueBoolean is never a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def booking_deep_link(slot: Slot) -> str | None:
    """The Slot's booking-deep-link URL, if any (spec "Slot File")."""
    return _str(extension_value(slot, BOOKING_DEEP_LINK))


def booking_phone(slot: Slot) -> str | None:
    """The Slot's booking-phone, if any (spec "Slot File")."""
    return _str(extension_value(slot, BOOKING_PHONE))


def slot_capacity(slot: Slot) -> int | None:
    """The Slot's slot-capacity, if any; None means one appointment (spec "Slot File")."""
    return _int(extension_value(slot, SLOT_CAPACITY))


def vaccine_products(schedule: Schedule) -> list[Coding]:
    """The Schedule's vaccine-product codings (CVX), in order (2021 spec "Schedule File")."""
    return [v for v in extension_values(schedule, VACCINE_PRODUCT) if isinstance(v, Coding)]


def vaccine_doses(schedule: Schedule) -> list[int]:
    """The dose numbers a Schedule offers (vaccine-dose may repeat)."""
    return [d for d in map(_int, extension_values(schedule, VACCINE_DOSE)) if d is not None]


def specialty(schedule: Schedule) -> Coding | None:
    """The Schedule's specialty extension coding, if any (2026 IG "Schedule Extensions")."""
    value = extension_value(schedule, SPECIALTY)
    return value if isinstance(value, Coding) else None


def has_availability(schedule: Schedule) -> Literal["some", "none", "unknown"] | None:
    """The aggregator's has-availability code on a Schedule, or None when absent or not a known code."""
    value = extension_value(schedule, HAS_AVAILABILITY)
    if value == "some":
        return "some"
    if value == "none":
        return "none"
    if value == "unknown":
        return "unknown"
    return None


def last_source_sync(meta: Meta | None) -> str | None:
    """`meta.extension` lastSourceSync: when an aggregator last knew the data accurate."""
    return _str(extension_value(meta, LAST_SOURCE_SYNC))


def location_timezone(location: Location) -> str | None:
    """The IANA time zone name on a Location's timezone extension, if any."""
    return _str(extension_value(location, TIMEZONE))


def make_extension(url: str, value: str | int | bool | Coding) -> Extension:
    """Build an extension, choosing the value[x] the spec defines for `url`.

    Known URLs get their own type (valueUrl for booking-deep-link, valueCode for has-availability
    and timezone, valueDateTime for lastSourceSync, ...); others fall back on the Python type. A value
    of the wrong type for a known URL raises `TypeError` (e.g. a capacity given as `"5"`).
    """
    field = _VALUE_FIELD_BY_URL.get(url)
    if field is not None:
        wanted = _PY_TYPE[field]
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            raise TypeError(f"{url} takes {field} ({wanted.__name__}), got {type(value).__name__}")
    else:
        if isinstance(value, bool):
            field = "valueBoolean"
        elif isinstance(value, int):
            field = "valueInteger"
        elif isinstance(value, Coding):
            field = "valueCoding"
        else:
            field = "valueString"
    kwargs: dict[str, Any] = {field: value}
    return Extension(url=url, **kwargs)


_VALUE_FIELD_BY_URL: dict[str, str] = {
    BOOKING_DEEP_LINK: "valueUrl",
    BOOKING_PHONE: "valueString",
    SLOT_CAPACITY: "valueInteger",
    VACCINE_PRODUCT: "valueCoding",
    VACCINE_DOSE: "valueInteger",
    SPECIALTY: "valueCoding",
    HAS_AVAILABILITY: "valueCode",
    LAST_SOURCE_SYNC: "valueDateTime",
    TIMEZONE: "valueCode",
}

_PY_TYPE: dict[str, type[Any]] = {
    "valueUrl": str,
    "valueString": str,
    "valueCode": str,
    "valueDateTime": str,
    "valueInteger": int,
    "valueCoding": Coding,
}

#: For validation: which value[x] each known extension must carry.
EXPECTED_VALUE_FIELD: dict[str, str] = dict(_VALUE_FIELD_BY_URL)


def with_extension(extensions: Sequence[Extension], ext: Extension, *, replace: bool = True) -> list[Extension]:
    """A new extension list with `ext` added; with `replace`, earlier ones with the same URL go."""
    kept: Iterable[Extension] = (e for e in extensions if not (replace and e.url == ext.url))
    return [*kept, ext]

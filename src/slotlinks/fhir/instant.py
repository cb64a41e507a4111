"""FHIR instants: the only timestamp format SMART Scheduling Links allows.

Specification, "Timestamps": every timestamp SHALL be `YYYY-MM-DDThh:mm:ss.sss+zz:zz` (fraction optional),
given at least to the second and always with an offset (`Z` allowed for UTC), i.e. FHIR's `instant`
(http://hl7.org/fhir/R4/datatypes.html#instant).

We keep instants as strings inside resources (so a publisher's offset survives a round trip) and turn
them into aware `datetime`s only where arithmetic is needed. Stores keep UTC milliseconds since the epoch.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

__all__ = [
    "DATETIME_PATTERN",
    "INSTANT_PATTERN",
    "InvalidInstant",
    "format_instant",
    "format_offset",
    "instant_to_ms",
    "ms_to_instant",
    "normalize_offset",
    "parse_instant",
]

# Unanchored bodies: use with `re.fullmatch`; `resources.py` anchors them for msgspec. Leap second `60`
# is refused: Python's datetime cannot hold it, and no scheduling feed has needed one.
_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
_OFFSET = r"(?:Z|[+-](?:0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)"

#: FHIR `instant`: date, time to the second (fraction optional) and a required offset.
INSTANT_PATTERN = _DATE + "T" + _TIME + _OFFSET

#: FHIR `dateTime`: a year, year-month, date, or a full instant (an offset is required once a time is given).
DATETIME_PATTERN = r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12][0-9]|3[01])(?:T" + _TIME + _OFFSET + r")?)?)?"

_INSTANT_RE = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})"
)
_PARTIAL_RE = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})(?:T(?P<time>[0-9:.]*)(?P<rest>.*))?", re.DOTALL)
_SHORT_OFFSET_RE = re.compile(
    r"(?P<head>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)"
    r"(?P<sign>[+-])(?P<hh>[0-9]{2})(?P<mm>[0-9]{2})?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MINUTE = timedelta(minutes=1)


class InvalidInstant(ValueError):
    """A string that is not a FHIR instant; the message says which part is wrong."""


def _explain(text: str) -> str:
    """Say why `text` is not an instant, as precisely as a quick look allows."""
    if not text:
        return "empty string is not a FHIR instant"
    partial = _PARTIAL_RE.fullmatch(text)
    if partial is None:
        return f"{text!r} is not a FHIR instant: expected YYYY-MM-DDThh:mm:ss[.sss](Z|+hh:mm|-hh:mm)"
    if partial.group("time") is None:
        return f"{text!r} is not a FHIR instant: a time (at least to the second) and an offset are required"
    time, rest = partial.group("time"), partial.group("rest")
    if time.count(":") < 2:
        return f"{text!r} is not a FHIR instant: the time must be given at least to the second"
    if not rest:
        return f"{text!r} is not a FHIR instant: the time zone offset (Z or +hh:mm/-hh:mm) is missing"
    if re.fullmatch(r"[+-][0-9]{2}(?:[0-9]{2})?", rest):
        return f"{text!r} is not a FHIR instant: the offset {rest!r} must be written as +hh:mm or -hh:mm"
    return f"{text!r} is not a FHIR instant: expected YYYY-MM-DDThh:mm:ss[.sss](Z|+hh:mm|-hh:mm)"


def parse_instant(text: str) -> datetime:
    """Parse a FHIR instant into an aware `datetime` that keeps the written offset.

    Fractions beyond microseconds are truncated. Raises `InvalidInstant` naming the wrong part
    (missing offset, missing seconds, month 13, 30 February, ...). Spec: "Timestamps".
    """
    return _parse_cached(text)


# Feeds repeat the same instants heavily (every Schedule has slots at the same times), so parses are
# cached; the results are immutable. Failures raise and are not cached.
_CACHE_SIZE = 1 << 16


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_cached(text: str) -> datetime:
    m = _INSTANT_RE.fullmatch(text)
    if m is None:
        raise InvalidInstant(_explain(text))
    return _parse_matched(text, m)


def _parse_matched(text: str, m: re.Match[str]) -> datetime:
    g = m.groupdict()
    month, day, hour, minute, second = (int(g[k]) for k in ("month", "day", "hour", "minute", "second"))
    for name, value, low, high in (
        ("month", month, 1, 12),
        ("hour", hour, 0, 23),
        ("minute", minute, 0, 59),
        ("second", second, 0, 59),
    ):
        if not low <= value <= high:
            raise InvalidInstant(f"{text!r} is not a FHIR instant: {name} {value} is out of range")
    offset = g["offset"]
    if offset == "Z":
        tz: timezone = UTC
    else:
        oh, om = int(offset[1:3]), int(offset[4:6])
        if om > 59 or oh * 60 + om > 14 * 60:
            raise InvalidInstant(f"{text!r} is not a FHIR instant: offset {offset} is out of range")
        delta = timedelta(hours=oh, minutes=om)
        tz = timezone(-delta if offset[0] == "-" else delta)
    fraction = g["fraction"] or ""
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        return datetime(int(g["year"]), month, day, hour, minute, second, micros, tzinfo=tz)
    except ValueError as exc:
        raise InvalidInstant(f"{text!r} is not a FHIR instant: {exc}") from None


def format_offset(offset: timedelta, *, utc_as_z: bool = True) -> str:
    """Write a UTC offset as a FHIR instant ends: `+hh:mm` or `-hh:mm`, and zero as `Z`.

    `utc_as_z=False` writes zero as `+00:00`: a local time whose offset happens to be zero (a
    Location in UTC, or in London in winter) then stays visibly local, as RFC 3339 (4.3) tells the
    two apart; both are valid FHIR instants (spec "Timestamps"). Offsets with seconds are refused
    (`InvalidInstant`): an instant cannot express them.
    """
    if offset % _MINUTE:
        raise InvalidInstant(f"offset {offset} has seconds, which a FHIR instant cannot express")
    if not offset and utc_as_z:
        return "Z"
    minutes = offset // _MINUTE
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def format_instant(dt: datetime, *, millis: bool = False, utc_as_z: bool = True) -> str:
    """Write an aware `datetime` as a FHIR instant in its own offset (`Z` when the offset is zero,
    unless `utc_as_z=False`: see `format_offset`).

    Seconds precision by default; `millis=True` adds `.sss`. Sub-second digits beyond what is written
    are truncated, never rounded, so an instant never moves into the next second. Naive datetimes are
    refused: the spec requires an offset ("Timestamps").
    """
    offset = dt.utcoffset()
    if offset is None:
        raise InvalidInstant("a naive datetime cannot be written as a FHIR instant: give an aware one (with a zone)")
    text = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if millis:
        text += f".{dt.microsecond // 1000:03d}"
    return text + format_offset(offset, utc_as_z=utc_as_z)


@lru_cache(maxsize=_CACHE_SIZE)
def ms_to_instant(ms: int) -> str:
    """Write milliseconds since the Unix epoch (our stores' timestamps) as a UTC instant with `.sss`."""
    # Cached: rows stored by one load share their `updated_ms`, and rendering them writes it per row.
    return format_instant(_EPOCH + timedelta(milliseconds=ms), millis=True)


def instant_to_ms(text: str) -> int:
    """Milliseconds since the Unix epoch of a FHIR instant (sub-millisecond digits are dropped)."""
    return _ms_cached(text)


@lru_cache(maxsize=_CACHE_SIZE)
def _ms_cached(text: str) -> int:
    return (_parse_cached(text) - _EPOCH) // _MS


def normalize_offset(text: str) -> str | None:
    """Rewrite a short offset (`-05`, `-0500`) to FHIR's `-05:00`; None if there is nothing to fix.

    Real feeds (and the 2026 specification's own Slot example, `2021-03-10T15:00:00-05`) write such
    offsets. Strict decoding rejects them; lenient readers may call this first and then parse again.
    Only the offset is touched: the result may still be invalid for other reasons.
    """
    m = _SHORT_OFFSET_RE.fullmatch(text)
    if m is None:
        return None
    return f"{m.group('head')}{m.group('sign')}{m.group('hh')}:{m.group('mm') or '00'}"

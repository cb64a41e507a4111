"""Date search (http://hl7.org/fhir/R4/search.html#date): prefixes `eq ne gt lt ge le sa eb` on
partial dates (`2026`, `2026-11`, `2026-11-24`), local times (`2026-11-24T09:00`) and instants.

A search value stands for the range its precision implies: `2026-11` is all of November. A value
without a time zone is compared with the target's own local wall time (FHIR: "where ... do not have
time zones, the server's local time zone should be assumed"; a slot's local time is the natural
reading of "slots on 2026-11-24"). A value with an offset is an absolute range in epoch milliseconds.

Targets are instants (Slot.start, meta.lastUpdated: points) or Periods (Schedule.planningHorizon).
For a point t and a range [lo, hi): eq lo<=t<hi, ne not eq, gt/sa t>=hi, lt/eb t<lo, ge t>=lo, le t<hi.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, true

from slotlinks.fhir.instant import InvalidInstant, instant_to_ms
from slotlinks.fhirapi.params import PREFIXES, invalid

__all__ = ["DateValue", "parse_date"]

_RE = re.compile(
    r"(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2})"
    r"(?:T(?P<hh>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?)?"
    r"(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?"
)
_EPOCH = datetime(1970, 1, 1)
#: Offsets range over -12:00..+14:00; a local range maps into the absolute one widened by this much.
_WIDEN_MS = 14 * 3600 * 1000


def _ms(naive: datetime) -> int:
    return (naive - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class DateValue:
    """A parsed date search value: a prefix and the range [lo, hi) its precision implies.

    `local` values compare on wall-clock text (`lo_text`/`hi_text`); absolute ones on `lo_ms`/`hi_ms`.
    For local values `lo_ms`/`hi_ms` are the wall clock read as UTC (widened by 14 h in SQL)."""

    prefix: str
    local: bool
    lo_ms: int
    hi_ms: int
    lo_text: str = ""
    hi_text: str = ""

    def _compare(self, key: int | str, lo: int | str, hi: int | str) -> bool:
        p = self.prefix
        if p == "eq":
            return lo <= key < hi  # type: ignore[operator]
        if p == "ne":
            return not lo <= key < hi  # type: ignore[operator]
        if p in ("gt", "sa"):
            return key >= hi  # type: ignore[operator]
        if p in ("lt", "eb"):
            return key < lo  # type: ignore[operator]
        if p == "ge":
            return key >= lo  # type: ignore[operator]
        return key < hi  # type: ignore[operator]  # le

    def matches_instant(self, instant: str | None) -> bool:
        """Compares a FHIR instant (a point in time) with this value."""
        if not instant:
            return False
        if self.local:
            return self._compare(instant[:19], self.lo_text, self.hi_text)
        try:
            return self._compare(instant_to_ms(instant), self.lo_ms, self.hi_ms)
        except InvalidInstant:
            return False

    def matches_period(self, start: str | None, end: str | None) -> bool:
        """Compares a Period (missing ends are open) with this value (search.html#date, ranges)."""
        if self.local:
            s: int | str = start[:19] if start else ""
            e: int | str = end[:19] if end else "~"  # sorts after any digit
            lo: int | str = self.lo_text
            hi: int | str = self.hi_text
        else:
            try:
                s = instant_to_ms(start) if start else -(2**62)
                e = instant_to_ms(end) if end else 2**62
            except InvalidInstant:
                return False
            lo, hi = self.lo_ms, self.hi_ms
        overlap = s < hi and e > lo  # type: ignore[operator]
        p = self.prefix
        if p == "eq":
            return overlap
        if p == "ne":
            return not overlap
        if p in ("gt", "ge"):
            return e >= hi if p == "gt" else e > lo  # type: ignore[operator]
        if p in ("lt", "le"):
            return s < lo if p == "lt" else s < hi  # type: ignore[operator]
        if p == "sa":
            return s >= hi  # type: ignore[operator]
        return e <= lo  # type: ignore[operator]  # eb

    def clause(self, ms_col: ColumnElement[int], text_col: ColumnElement[str] | None = None) -> ColumnElement[bool]:
        """SQL for a point column: `ms_col` holds UTC epoch ms; `text_col` (if any) the local instant.
        Without `text_col`, a local value yields a superset (the 14 h widening); filter it afterwards
        with `matches_instant`."""
        if not self.local:
            return self._sql(ms_col, self.lo_ms, self.hi_ms)
        wide = self._sql(ms_col, self.lo_ms - _WIDEN_MS, self.hi_ms + _WIDEN_MS, widening=True)
        if text_col is None:
            return wide
        return and_(wide, self._sql(text_col, self.lo_text, self.hi_text))

    def _sql(self, col: ColumnElement[Any], lo: object, hi: object, *, widening: bool = False) -> ColumnElement[bool]:
        p = self.prefix
        if p == "eq":
            return and_(col >= lo, col < hi)
        if p == "ne":
            return true() if widening else not_(and_(col >= lo, col < hi))
        if p in ("gt", "sa"):
            return col >= (lo if widening else hi)
        if p in ("lt", "eb"):
            return col < (hi if widening else lo)
        if p == "ge":
            return col >= lo
        return col < hi


def parse_date(param: str, text: str) -> DateValue:
    """Parses `[prefix]date` into a `DateValue`, or raises InvalidInput naming `param`."""
    prefix = "eq"
    if len(text) >= 2 and text[:2] in PREFIXES:
        prefix, text = text[:2], text[2:]
    text = text.replace(" ", "+")  # an unencoded '+' in a query string arrives as a space
    m = _RE.fullmatch(text)
    if m is None:
        raise invalid(
            param, f"{text!r} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][offset])"
        )
    g = m.groupdict()
    try:
        lo = datetime(int(g["y"]), int(g["m"] or 1), int(g["d"] or 1), int(g["hh"] or 0), int(g["mi"] or 0))
        if g["ss"]:
            lo = lo.replace(second=int(g["ss"]))
        if g["f"]:
            lo = lo.replace(microsecond=int(g["f"][:6].ljust(6, "0")))
    except ValueError as exc:
        raise invalid(param, f"{text!r} is not a valid date: {exc}") from None
    try:
        if g["m"] is None:
            hi, text_len = datetime(lo.year + 1, 1, 1), 4
        elif g["d"] is None:
            hi, text_len = datetime(lo.year + (lo.month == 12), lo.month % 12 + 1, 1), 7
        elif g["hh"] is None:
            hi, text_len = lo + timedelta(days=1), 10
        elif g["ss"] is None:
            hi, text_len = lo + timedelta(minutes=1), 16
        elif g["f"] is None:
            hi, text_len = lo + timedelta(seconds=1), 19
        else:
            # Absolute: millisecond precision; local text compares to the second.
            hi = lo + timedelta(milliseconds=1) if g["tz"] else lo.replace(microsecond=0) + timedelta(seconds=1)
            text_len = 19
    except (ValueError, OverflowError):
        raise invalid(param, f"{text!r} is too far in the future") from None
    tz = g["tz"]
    if tz is None:
        return DateValue(prefix, True, _ms(lo), _ms(hi), lo.isoformat()[:text_len], hi.isoformat()[:text_len])
    try:
        offset = _offset(tz)
    except ValueError:
        raise invalid(param, f"{text!r} has an invalid time zone offset {tz!r}") from None
    lo_abs = lo.replace(tzinfo=UTC) - offset
    hi_abs = hi.replace(tzinfo=UTC) - offset
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = timedelta(milliseconds=1)
    return DateValue(prefix, False, (lo_abs - epoch) // step, (hi_abs - epoch) // step)


def _offset(tz: str) -> timedelta:
    if tz == "Z":
        return timedelta(0)
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise ValueError(tz)
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if tz[0] == "-" else delta

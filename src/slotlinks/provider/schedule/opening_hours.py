"""Opening hours on a Location's wall clock: weekly opening windows (`Rule`) and dated closures.

A Schedule's hours are kept as rules on the Location's local wall clock (its IANA time zone), because
that is how staff think ("Mon-Fri 08:00-17:00, 20-minute visits"). This module holds what a rule and a
closure are, how weekdays are written (`mon-fri`, `sat,sun`, `daily`) and what makes one unusable;
`slot_times` turns them into slot times, `regenerate` into Slot rows, and `rules` is how staff edit them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time

__all__ = [
    "MAX_SLOT_MINUTES",
    "MIN_SLOT_MINUTES",
    "Closure",
    "Rule",
    "format_weekdays",
    "parse_weekdays",
    "seconds_after_midnight",
    "validate_closure",
    "validate_rule",
]

MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 1440

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {name: i for i, name in enumerate(_DAY_NAMES)} | {name: i for i, name in enumerate(_FULL_DAY_NAMES)}


@dataclass(frozen=True, slots=True)
class Rule:
    """One weekly opening window on the Location's local wall clock.

    ``weekdays`` uses 0=Monday .. 6=Sunday; ``end`` is exclusive; ``valid_from``/``valid_to`` are
    inclusive local dates (None = unbounded).
    """

    id: str
    weekdays: frozenset[int]
    start: time
    end: time
    slot_minutes: int
    capacity: int = 1
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class Closure:
    """A dated exception: closed all day (no times) or closed in ``[start, end)`` local time.

    Only one bound given means "from the start of the day" or "to the end of the day".
    """

    day: date
    start: time | None = None
    end: time | None = None
    reason: str = ""


def seconds_after_midnight(t: time) -> int:
    """Seconds from midnight to the wall-clock time `t` (its microseconds ignored)."""
    return t.hour * 3600 + t.minute * 60 + t.second


# ---------------------------------------------------------------------------------------------------
# Weekdays


def parse_weekdays(text: str) -> frozenset[int]:
    """Parse ``"mon-fri"``, ``"mon,wed,fri"``, ``"sat,sun"``, ``"mon-wed,fri"`` or ``"daily"``.

    Day names are three-letter or full English names, case-insensitive. Ranges must run forwards
    (``"fri-mon"`` is refused rather than guessed, since it is more often a typo than a wish for a
    long weekend). Raises ValueError naming the offending part.
    """
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("weekdays are empty; expected e.g. 'mon-fri' or 'mon,wed,fri'")
    if cleaned in ("daily", "all", "every day"):
        return frozenset(range(7))
    days: set[int] = set()
    for raw_part in cleaned.split(","):
        part = raw_part.strip()
        if not part:
            raise ValueError(f"weekdays {text!r} have an empty item; expected e.g. 'mon,wed,fri'")
        if "-" in part:
            first, _, last = (p.strip() for p in part.partition("-"))
            lo, hi = _day_index(first, text), _day_index(last, text)
            if lo > hi:
                raise ValueError(
                    f"weekday range {part!r} runs backwards; write it forwards, e.g. "
                    f"'{_DAY_NAMES[lo]}-sun,mon-{_DAY_NAMES[hi]}'"
                )
            days.update(range(lo, hi + 1))
        else:
            days.add(_day_index(part, text))
    return frozenset(days)


def _day_index(name: str, text: str) -> int:
    try:
        return _DAY_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown weekday {name!r} in {text!r}; use mon, tue, wed, thu, fri, sat, sun") from None


def format_weekdays(days: Iterable[int]) -> str:
    """Format weekday numbers compactly: runs of three or more as ranges (``"mon-fri,sun"``).

    The result parses back with `parse_weekdays` and fits the store's 32-character column.
    """
    ordered = sorted(set(days))
    if not ordered:
        raise ValueError("no weekdays to format")
    if ordered[0] < 0 or ordered[-1] > 6:
        raise ValueError(f"weekdays must be 0 (Monday) .. 6 (Sunday), got {ordered}")
    parts: list[str] = []
    run_start = prev = ordered[0]
    for day in [*ordered[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        if prev - run_start >= 2:
            parts.append(f"{_DAY_NAMES[run_start]}-{_DAY_NAMES[prev]}")
        else:
            parts.extend(_DAY_NAMES[d] for d in range(run_start, prev + 1))
        if day is not None:
            run_start = prev = day
    return ",".join(parts)


# ---------------------------------------------------------------------------------------------------
# Validation


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M:%S") if t.second else t.strftime("%H:%M")


def validate_rule(rule: Rule) -> list[str]:
    """Return precise problems with ``rule`` (empty when `slot_times.expand` can use it)."""
    problems: list[str] = []
    if not rule.id:
        problems.append("rule id must not be empty")
    if not rule.weekdays:
        problems.append("weekdays must name at least one day")
    bad_days = sorted(d for d in rule.weekdays if not 0 <= d <= 6)
    if bad_days:
        problems.append(f"weekdays {bad_days} are out of range 0 (Monday) .. 6 (Sunday)")
    for label, t in (("start", rule.start), ("end", rule.end)):
        if t.tzinfo is not None:
            problems.append(f"{label} must be a local wall-clock time without a time zone")
        if t.second or t.microsecond:
            problems.append(f"{label} {t.isoformat()} must be on a whole minute")
    if rule.end <= rule.start:
        problems.append(f"end {_hhmm(rule.end)} must be after start {_hhmm(rule.start)}")
    if not MIN_SLOT_MINUTES <= rule.slot_minutes <= MAX_SLOT_MINUTES:
        problems.append(f"slot_minutes {rule.slot_minutes} is out of range {MIN_SLOT_MINUTES}..{MAX_SLOT_MINUTES}")
    elif rule.end > rule.start:
        window = (seconds_after_midnight(rule.end) - seconds_after_midnight(rule.start)) // 60
        if rule.slot_minutes > window:
            problems.append(
                f"a {rule.slot_minutes}-minute slot does not fit between {_hhmm(rule.start)} and "
                f"{_hhmm(rule.end)} ({window} minutes)"
            )
    if rule.capacity < 1:
        problems.append(f"capacity {rule.capacity} must be at least 1")
    if rule.valid_from and rule.valid_to and rule.valid_from > rule.valid_to:
        problems.append(f"valid_from {rule.valid_from} is after valid_to {rule.valid_to}")
    return problems


def validate_closure(closure: Closure) -> list[str]:
    """Return precise problems with ``closure`` (empty when `slot_times.expand` can use it)."""
    problems: list[str] = []
    for label, t in (("start", closure.start), ("end", closure.end)):
        if t is not None and t.tzinfo is not None:
            problems.append(f"{label} must be a local wall-clock time without a time zone")
    if closure.start is not None and closure.end is not None and closure.end <= closure.start:
        problems.append(
            f"closure on {closure.day}: end {_hhmm(closure.end)} must be after start {_hhmm(closure.start)}"
        )
    return problems

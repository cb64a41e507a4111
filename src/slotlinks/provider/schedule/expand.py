"""Availability rules: weekly opening windows and dated closures, expanded into slot times.

A Schedule's hours are kept as rules on the Location's local wall clock (its IANA time zone), because
that is how staff think ("Mon-Fri 08:00-17:00, 20-minute visits"). Publication needs FHIR instants:
the spec asks that Slot ``start``/``end`` carry "the Location's local offset or UTC" (SPEC-NOTES,
Publication). `expand` bridges the two, and is on the hot path of regeneration: it computes the UTC
offset once per local day and only falls back to per-slot zoneinfo arithmetic on days with a
transition, where wall-clock times may be missing (spring forward) or repeated (fall back).

Semantics:

* slots are laid out from a rule's ``start`` every ``slot_minutes`` while ``start + length <= end``,
  measured on the local wall clock;
* local times that do not exist (spring-forward gap) produce no slot; repeated local times
  (fall-back) produce one slot, at their first occurrence;
* a slot's end is its start plus its length in absolute time, written in the offset in force at that
  instant, so a slot that straddles a transition has two different offsets;
* a slot overlapping a closure (in absolute time) is dropped;
* when two rules produce the same start instant, the rule listed first wins;
* output is sorted by ``start_ms``.
"""

from __future__ import annotations

import hashlib
import re
import time as _time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "Closure",
    "Rule",
    "SlotTime",
    "expand",
    "format_instant",
    "format_weekdays",
    "parse_weekdays",
    "slot_id",
    "validate_closure",
    "validate_rule",
]

MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 1440

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {name: i for i, name in enumerate(_DAY_NAMES)} | {name: i for i, name in enumerate(_FULL_DAY_NAMES)}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


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


@dataclass(frozen=True, slots=True)
class SlotTime:
    """One generated slot: UTC epoch milliseconds for queries, FHIR instants for publication."""

    start_ms: int
    end_ms: int
    start: str
    end: str
    capacity: int
    rule_id: str


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
    """Return precise problems with ``rule`` (empty when it is usable by `expand`)."""
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
        window = (_seconds(rule.end) - _seconds(rule.start)) // 60
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
    """Return precise problems with ``closure`` (empty when it is usable by `expand`)."""
    problems: list[str] = []
    for label, t in (("start", closure.start), ("end", closure.end)):
        if t is not None and t.tzinfo is not None:
            problems.append(f"{label} must be a local wall-clock time without a time zone")
    if closure.start is not None and closure.end is not None and closure.end <= closure.start:
        problems.append(
            f"closure on {closure.day}: end {_hhmm(closure.end)} must be after start {_hhmm(closure.start)}"
        )
    return problems


# ---------------------------------------------------------------------------------------------------
# Instants and ids


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _offset_text(offset_s: int) -> str:
    sign = "+" if offset_s >= 0 else "-"
    minutes = abs(offset_s) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_instant(moment: datetime) -> str:
    """Format an aware datetime as a FHIR instant to the second, in its own offset."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("a FHIR instant needs an aware datetime")
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}{_offset_text(int(offset.total_seconds()))}"
    )


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_MS


def slot_id(schedule_id: str, start_ms: int) -> str:
    """A deterministic FHIR id for the slot of ``schedule_id`` starting at ``start_ms``.

    ``{schedule_id}-{yyyymmddhhmm}`` in UTC (seconds appended when the start is not on a whole
    minute). FHIR ids are at most 64 characters, so a long schedule id is shortened and a hash of the
    whole id keeps the result unique.
    """
    if not _FHIR_ID.fullmatch(schedule_id):
        raise ValueError(f"schedule id {schedule_id!r} is not a valid FHIR id [A-Za-z0-9-.]{{1,64}}")
    seconds, ms = divmod(start_ms, 1000)
    pattern = "%Y%m%d%H%M" if seconds % 60 == 0 and ms == 0 else "%Y%m%d%H%M%S"
    stamp = _time.strftime(pattern, _time.gmtime(seconds))
    if ms:
        stamp += f".{ms:03d}"
    candidate = f"{schedule_id}-{stamp}"
    if len(candidate) <= 64:
        return candidate
    digest = hashlib.sha256(schedule_id.encode()).hexdigest()[:10]
    keep = 64 - len(stamp) - len(digest) - 2
    return f"{schedule_id[:keep]}-{digest}-{stamp}"


# ---------------------------------------------------------------------------------------------------
# Expansion


class _ClockText(dict[int, str]):
    """Wall-clock seconds after midnight -> ``"hh:mm:ss"``, formatted once per expansion."""

    def __missing__(self, s: int) -> str:
        text = self[s] = f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
        return text


@dataclass(frozen=True, slots=True)
class _PreparedRule:
    rule: Rule
    start_s: int
    last_start_s: int  # the latest start whose slot still ends by the rule's end
    step_s: int


def _prepare(rules: Sequence[Rule], closures: Sequence[Closure]) -> list[_PreparedRule]:
    problems = [f"rule {r.id!r}: {p}" for r in rules for p in validate_rule(r)]
    problems += [p for c in closures for p in validate_closure(c)]
    if problems:
        raise ValueError("; ".join(problems))
    prepared = []
    for rule in rules:
        step = rule.slot_minutes * 60
        prepared.append(_PreparedRule(rule, _seconds(rule.start), _seconds(rule.end) - step, step))
    return prepared


def _local(day: date, seconds: int, tz: ZoneInfo) -> datetime:
    """The local wall-clock time ``seconds`` after midnight of ``day`` (fold=0: first occurrence)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(seconds=seconds)


def _day_offset(day: date, tz: ZoneInfo) -> int:
    offset = datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
    assert offset is not None  # a ZoneInfo always answers
    return int(offset.total_seconds())


def expand(
    rules: Sequence[Rule],
    closures: Sequence[Closure],
    tz: ZoneInfo,
    first_day: date,
    last_day: date,
) -> Iterator[SlotTime]:
    """Yield the slots ``rules`` open on the local days ``first_day`` .. ``last_day`` (inclusive).

    See the module docstring for the exact semantics. Rules and closures are validated first; a
    problem raises ValueError listing every message from `validate_rule` / `validate_closure`.
    The result is a generator sorted by ``start_ms``, so callers can stream millions of slots.
    """
    prepared = _prepare(rules, closures)
    by_weekday: list[list[_PreparedRule]] = [[p for p in prepared if wd in p.rule.weekdays] for wd in range(7)]
    closures_by_day: dict[date, list[Closure]] = {}
    for closure in closures:
        closures_by_day.setdefault(closure.day, []).append(closure)
    return _expand_days(by_weekday, closures_by_day, tz, first_day, last_day)


def _expand_days(
    by_weekday: list[list[_PreparedRule]],
    closures_by_day: dict[date, list[Closure]],
    tz: ZoneInfo,
    first_day: date,
    last_day: date,
) -> Iterator[SlotTime]:
    one_day = timedelta(days=1)
    clock = _ClockText()
    day = first_day
    offset_today = _day_offset(day, tz)
    while day <= last_day:
        tomorrow = day + one_day
        offset_tomorrow = _day_offset(tomorrow, tz)
        day_rules = [
            p
            for p in by_weekday[day.weekday()]
            if (p.rule.valid_from is None or p.rule.valid_from <= day)
            and (p.rule.valid_to is None or day <= p.rule.valid_to)
        ]
        if day_rules:
            # Same offset at both midnights: no transition today (tzdata has no zone with two
            # transitions in one day), so wall-clock seconds map to UTC by one subtraction.
            if offset_today == offset_tomorrow:
                slots = _expand_steady_day(day, day_rules, closures_by_day.get(day), offset_today, tz, clock)
            else:
                slots = _expand_transition_day(day, day_rules, closures_by_day.get(day), tz)
            yield from slots
        day = tomorrow
        offset_today = offset_tomorrow


def _closed_intervals(
    day: date, closures: list[Closure] | None, tz: ZoneInfo, base_ms: int | None
) -> list[tuple[int, int]]:
    """Closures of ``day`` as absolute ``[start_ms, end_ms)`` intervals."""
    if not closures:
        return []
    intervals = []
    for closure in closures:
        start_s = _seconds(closure.start) if closure.start is not None else 0
        if base_ms is not None and closure.end is not None:
            intervals.append((base_ms + start_s * 1000, base_ms + _seconds(closure.end) * 1000))
            continue
        start_ms = _epoch_ms(_local(day, start_s, tz))
        if closure.end is not None:
            end_ms = _epoch_ms(_local(day, _seconds(closure.end), tz))
        else:
            next_day = day + timedelta(days=1)
            end_ms = _epoch_ms(datetime(next_day.year, next_day.month, next_day.day, tzinfo=tz))
        intervals.append((start_ms, end_ms))
    return intervals


def _overlaps(start_ms: int, end_ms: int, intervals: list[tuple[int, int]]) -> bool:
    return any(start_ms < c_end and c_start < end_ms for c_start, c_end in intervals)


def _expand_steady_day(
    day: date,
    day_rules: list[_PreparedRule],
    closures: list[Closure] | None,
    offset_s: int,
    tz: ZoneInfo,
    clock: _ClockText,
) -> list[SlotTime]:
    base_ms = ((day.toordinal() - _EPOCH_ORDINAL) * 86400 - offset_s) * 1000
    closed = _closed_intervals(day, closures, tz, base_ms)
    prefix = f"{day.isoformat()}T"
    suffix = _offset_text(offset_s)
    if len(day_rules) == 1 and not closed:
        # The common case, kept tight: one rule's starts are distinct and already increasing.
        prepared = day_rules[0]
        rule_id, capacity, step_s = prepared.rule.id, prepared.rule.capacity, prepared.step_s
        step_ms = step_s * 1000
        return [
            SlotTime(
                base_ms + s * 1000,
                base_ms + s * 1000 + step_ms,
                prefix + clock[s] + suffix,
                prefix + clock[s + step_s] + suffix,
                capacity,
                rule_id,
            )
            for s in range(prepared.start_s, prepared.last_start_s + 1, step_s)
        ]
    by_start: dict[int, SlotTime] = {}
    for prepared in day_rules:
        rule = prepared.rule
        step_s = prepared.step_s
        step_ms = step_s * 1000
        for s in range(prepared.start_s, prepared.last_start_s + 1, step_s):
            start_ms = base_ms + s * 1000
            if start_ms in by_start:
                continue
            end_ms = start_ms + step_ms
            if closed and _overlaps(start_ms, end_ms, closed):
                continue
            by_start[start_ms] = SlotTime(
                start_ms,
                end_ms,
                prefix + clock[s] + suffix,
                prefix + clock[s + step_s] + suffix,
                rule.capacity,
                rule.id,
            )
    if len(day_rules) == 1:
        return list(by_start.values())
    return [by_start[k] for k in sorted(by_start)]


def _expand_transition_day(
    day: date,
    day_rules: list[_PreparedRule],
    closures: list[Closure] | None,
    tz: ZoneInfo,
) -> list[SlotTime]:
    closed = _closed_intervals(day, closures, tz, None)
    by_start: dict[int, SlotTime] = {}
    for prepared in day_rules:
        rule = prepared.rule
        length = timedelta(seconds=prepared.step_s)
        for s in range(prepared.start_s, prepared.last_start_s + 1, prepared.step_s):
            wall = _local(day, s, tz)
            instant = wall.astimezone(UTC)
            local = instant.astimezone(tz)
            if local.replace(tzinfo=None) != wall.replace(tzinfo=None):
                continue  # in the spring-forward gap: this wall-clock time never happens
            start_ms = _epoch_ms(instant)
            if start_ms in by_start:
                continue
            end_instant = instant + length
            end_ms = _epoch_ms(end_instant)
            if closed and _overlaps(start_ms, end_ms, closed):
                continue
            by_start[start_ms] = SlotTime(
                start_ms,
                end_ms,
                format_instant(local),
                format_instant(end_instant.astimezone(tz)),
                rule.capacity,
                rule.id,
            )
    return [by_start[k] for k in sorted(by_start)]

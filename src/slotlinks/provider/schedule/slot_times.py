"""Opening hours to slot times: the slots a Schedule's rules open on given days, as FHIR instants.

Rules and closures (`opening_hours`) are on the Location's local wall clock; publication needs FHIR
instants, and the spec asks that Slot ``start``/``end`` carry "the Location's local offset or UTC"
(SPEC-NOTES, Publication). `expand` bridges the two, writing every instant in the Location's own offset
with the kernel's formatter (``+00:00`` where that offset is zero: a local time, not a UTC one). It is on
the hot path of regeneration: it computes the UTC offset once per local day and only falls back to
per-slot zoneinfo arithmetic on days with a transition, where wall-clock times may be missing (spring
forward) or repeated (fall back). `regenerate` turns its slot times into Slot rows.

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
import time as _time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from slotlinks.fhir.ids import is_valid_id
from slotlinks.fhir.instant import format_instant, format_offset
from slotlinks.provider.schedule.opening_hours import (
    Closure,
    Rule,
    seconds_after_midnight,
    validate_closure,
    validate_rule,
)

__all__ = ["SlotTime", "expand", "slot_id"]

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class SlotTime:
    """One generated slot: UTC epoch milliseconds for queries, FHIR instants for publication."""

    start_ms: int
    end_ms: int
    start: str
    end: str
    capacity: int
    rule_id: str


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_MS


def slot_id(schedule_id: str, start_ms: int) -> str:
    """A deterministic FHIR id for the slot of ``schedule_id`` starting at ``start_ms``.

    ``{schedule_id}-{yyyymmddhhmm}`` in UTC (seconds appended when the start is not on a whole
    minute). FHIR ids are at most 64 characters, so a long schedule id is shortened and a hash of the
    whole id keeps the result unique.
    """
    if not is_valid_id(schedule_id):
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
        prepared.append(
            _PreparedRule(rule, seconds_after_midnight(rule.start), seconds_after_midnight(rule.end) - step, step)
        )
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
        start_s = seconds_after_midnight(closure.start) if closure.start is not None else 0
        if base_ms is not None and closure.end is not None:
            intervals.append((base_ms + start_s * 1000, base_ms + seconds_after_midnight(closure.end) * 1000))
            continue
        start_ms = _epoch_ms(_local(day, start_s, tz))
        if closure.end is not None:
            end_ms = _epoch_ms(_local(day, seconds_after_midnight(closure.end), tz))
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
    suffix = format_offset(timedelta(seconds=offset_s), utc_as_z=False)  # the Location's offset, +00:00 too
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
                format_instant(local, utc_as_z=False),
                format_instant(end_instant.astimezone(tz), utc_as_z=False),
                rule.capacity,
                rule.id,
            )
    return [by_start[k] for k in sorted(by_start)]

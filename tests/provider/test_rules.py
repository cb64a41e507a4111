"""Availability rules -> slot times: DST days, closures, validity, overlaps, properties, throughput."""

from __future__ import annotations

import itertools
import re
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slotlinks.provider.schedule.opening_hours import (
    Closure,
    Rule,
    format_weekdays,
    parse_weekdays,
    validate_closure,
    validate_rule,
)
from slotlinks.provider.schedule.slot_times import SlotTime, expand, slot_id

NEW_YORK = ZoneInfo("America/New_York")
PHOENIX = ZoneInfo("America/Phoenix")
EVERY_DAY = frozenset(range(7))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")

SPRING_FORWARD_2026 = date(2026, 3, 8)  # US: 02:00 local -> 03:00
FALL_BACK_2026 = date(2026, 11, 1)  # US: 02:00 local -> 01:00


def ms(instant: str) -> int:
    return (datetime.fromisoformat(instant) - EPOCH) // timedelta(milliseconds=1)


def rule(
    start: str = "09:00",
    end: str = "12:00",
    minutes: int = 30,
    days: str = "daily",
    rule_id: str = "r1",
    **kwargs: object,
) -> Rule:
    return Rule(
        rule_id,
        parse_weekdays(days),
        time.fromisoformat(start),
        time.fromisoformat(end),
        minutes,
        **kwargs,  # type: ignore[arg-type]
    )


def starts(slots: list[SlotTime]) -> list[str]:
    return [s.start for s in slots]


def wall(slots: list[SlotTime]) -> list[str]:
    return [s.start[11:16] for s in slots]


# --- layout on ordinary days ---------------------------------------------------------------------


def test_lays_out_slots_from_start_while_they_fit() -> None:
    slots = list(expand([rule("09:00", "11:50", 30)], [], NEW_YORK, date(2026, 1, 5), date(2026, 1, 5)))
    assert wall(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00"]  # 11:30 would end 12:00
    first = slots[0]
    assert first.start == "2026-01-05T09:00:00-05:00"
    assert first.end == "2026-01-05T09:30:00-05:00"
    assert first.start_ms == ms(first.start)
    assert first.end_ms - first.start_ms == 30 * 60_000
    assert (first.capacity, first.rule_id) == (1, "r1")


def test_uses_daylight_offset_in_summer() -> None:
    slots = list(expand([rule()], [], NEW_YORK, date(2026, 7, 1), date(2026, 7, 1)))
    assert slots[0].start == "2026-07-01T09:00:00-04:00"


def test_weekdays_select_days() -> None:
    # 2026-01-05 is a Monday; two weeks of Mon/Wed/Fri.
    slots = list(expand([rule(days="mon,wed,fri")], [], NEW_YORK, date(2026, 1, 5), date(2026, 1, 18)))
    days = sorted({s.start[:10] for s in slots})
    assert days == [
        "2026-01-05", "2026-01-07", "2026-01-09", "2026-01-12", "2026-01-14", "2026-01-16",
    ]  # fmt: skip
    assert len(slots) == 6 * 6


def test_empty_range_and_no_rules() -> None:
    assert list(expand([rule()], [], NEW_YORK, date(2026, 1, 6), date(2026, 1, 5))) == []
    assert list(expand([], [], NEW_YORK, date(2026, 1, 1), date(2026, 12, 31))) == []


def test_capacity_is_carried() -> None:
    slots = list(expand([rule(capacity=4)], [], NEW_YORK, date(2026, 1, 5), date(2026, 1, 5)))
    assert {s.capacity for s in slots} == {4}


# --- DST ------------------------------------------------------------------------------------------


def test_spring_forward_skips_missing_local_times() -> None:
    slots = list(expand([rule("00:00", "05:00", 30)], [], NEW_YORK, SPRING_FORWARD_2026, SPRING_FORWARD_2026))
    assert starts(slots) == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T00:30:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T01:30:00-05:00",
        # 02:00 and 02:30 do not exist
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-08T04:00:00-04:00",
        "2026-03-08T04:30:00-04:00",
    ]
    straddling = slots[3]
    assert straddling.end == "2026-03-08T03:00:00-04:00"  # 30 real minutes after 01:30 EST
    for s in slots:
        assert s.end_ms - s.start_ms == 30 * 60_000
        assert (s.start_ms, s.end_ms) == (ms(s.start), ms(s.end))


def test_spring_forward_in_business_hours_is_an_ordinary_day() -> None:
    slots = list(expand([rule("09:00", "10:00", 30)], [], NEW_YORK, SPRING_FORWARD_2026, SPRING_FORWARD_2026))
    assert starts(slots) == ["2026-03-08T09:00:00-04:00", "2026-03-08T09:30:00-04:00"]


def test_fall_back_uses_first_occurrence_only() -> None:
    slots = list(expand([rule("00:00", "04:00", 30)], [], NEW_YORK, FALL_BACK_2026, FALL_BACK_2026))
    assert starts(slots) == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:00:00-04:00",  # first 01:00 (EDT); the repeated 01:00 EST is not offered
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T02:30:00-05:00",
        "2026-11-01T03:00:00-05:00",
        "2026-11-01T03:30:00-05:00",
    ]
    assert slots[3].end == "2026-11-01T01:00:00-05:00"  # 30 real minutes after 01:30 EDT
    assert len({s.start_ms for s in slots}) == len(slots)
    for s in slots:
        assert s.end_ms - s.start_ms == 30 * 60_000
        assert (s.start_ms, s.end_ms) == (ms(s.start), ms(s.end))


@pytest.mark.parametrize("day", [SPRING_FORWARD_2026, FALL_BACK_2026])
def test_phoenix_has_no_dst(day: date) -> None:
    slots = list(expand([rule("00:00", "04:00", 30)], [], PHOENIX, day, day))
    assert len(slots) == 8
    assert all(s.start.endswith("-07:00") and s.end.endswith("-07:00") for s in slots)
    assert [b.start_ms - a.start_ms for a, b in itertools.pairwise(slots)] == [1_800_000] * 7


def test_long_slot_across_the_transition_keeps_its_absolute_length() -> None:
    slots = list(expand([rule("01:00", "05:00", 120)], [], NEW_YORK, SPRING_FORWARD_2026, SPRING_FORWARD_2026))
    assert [(s.start, s.end) for s in slots] == [
        ("2026-03-08T01:00:00-05:00", "2026-03-08T04:00:00-04:00"),
        # 03:00 is the next wall-clock start; 01:00 + 120 min = 03:00 on the wall clock
        ("2026-03-08T03:00:00-04:00", "2026-03-08T05:00:00-04:00"),
    ]


def test_half_hour_offsets_format_correctly() -> None:
    slots = list(expand([rule()], [], ZoneInfo("Asia/Kolkata"), date(2026, 1, 5), date(2026, 1, 5)))
    assert slots[0].start == "2026-01-05T09:00:00+05:30"
    assert slots[0].start_ms == ms(slots[0].start)


# --- closures -------------------------------------------------------------------------------------


def test_whole_day_closure_removes_the_day() -> None:
    closures = [Closure(date(2026, 1, 6), reason="Staff training")]
    slots = list(expand([rule()], closures, NEW_YORK, date(2026, 1, 5), date(2026, 1, 7)))
    assert sorted({s.start[:10] for s in slots}) == ["2026-01-05", "2026-01-07"]


def test_partial_closure_removes_overlapping_slots_only() -> None:
    day = date(2026, 1, 5)
    closures = [Closure(day, time(10, 15), time(10, 45))]
    slots = list(expand([rule()], closures, NEW_YORK, day, day))
    assert wall(slots) == ["09:00", "09:30", "11:00", "11:30"]  # 10:00 and 10:30 touch the closure
    aligned = [Closure(day, time(10, 0), time(11, 0))]
    assert wall(list(expand([rule()], aligned, NEW_YORK, day, day))) == ["09:00", "09:30", "11:00", "11:30"]


def test_open_ended_closures() -> None:
    day = date(2026, 1, 5)
    from_ten = [Closure(day, start=time(10, 0))]
    until_ten = [Closure(day, end=time(10, 0))]
    assert wall(list(expand([rule()], from_ten, NEW_YORK, day, day))) == ["09:00", "09:30"]
    assert wall(list(expand([rule()], until_ten, NEW_YORK, day, day))) == ["10:00", "10:30", "11:00", "11:30"]


def test_closure_on_a_dst_day() -> None:
    closures = [Closure(FALL_BACK_2026, time(1, 0), time(2, 0))]
    slots = list(expand([rule("00:00", "04:00", 30)], closures, NEW_YORK, FALL_BACK_2026, FALL_BACK_2026))
    # The closure runs from 01:00 EDT to 02:00 EST: two real hours, covering the repeated hour.
    assert wall(slots) == ["00:00", "00:30", "02:00", "02:30", "03:00", "03:30"]


# --- validity and overlapping rules ---------------------------------------------------------------


def test_valid_from_and_to_are_inclusive() -> None:
    limited = rule(valid_from=date(2026, 1, 6), valid_to=date(2026, 1, 7))
    slots = list(expand([limited], [], NEW_YORK, date(2026, 1, 5), date(2026, 1, 8)))
    assert sorted({s.start[:10] for s in slots}) == ["2026-01-06", "2026-01-07"]


def test_same_start_from_two_rules_gives_one_slot_first_rule_wins() -> None:
    first = rule("09:00", "11:00", 30, rule_id="first", capacity=2)
    second = rule("09:00", "11:00", 20, rule_id="second", capacity=5)
    slots = list(expand([first, second], [], NEW_YORK, date(2026, 1, 5), date(2026, 1, 5)))
    assert [(s.start[11:16], s.rule_id) for s in slots] == [
        ("09:00", "first"),
        ("09:20", "second"),
        ("09:30", "first"),
        ("09:40", "second"),
        ("10:00", "first"),
        ("10:20", "second"),
        ("10:30", "first"),
        ("10:40", "second"),
    ]
    assert [s.capacity for s in slots[:2]] == [2, 5]
    reversed_order = list(expand([second, first], [], NEW_YORK, date(2026, 1, 5), date(2026, 1, 5)))
    assert next(s for s in reversed_order if s.start[11:16] == "09:00").rule_id == "second"


def test_output_is_sorted_across_rules_and_days() -> None:
    rules = [rule("13:00", "15:00", 60, rule_id="pm"), rule("08:00", "10:00", 45, rule_id="am")]
    slots = list(expand(rules, [], NEW_YORK, date(2026, 3, 1), date(2026, 3, 14)))
    assert [s.start_ms for s in slots] == sorted(s.start_ms for s in slots)


# --- validation -----------------------------------------------------------------------------------


def test_validate_rule_accepts_a_good_rule() -> None:
    assert validate_rule(rule()) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (rule("12:00", "09:00"), "end 09:00 must be after start 12:00"),
        (rule("09:00", "09:30", 45), "a 45-minute slot does not fit between 09:00 and 09:30 (30 minutes)"),
        (rule(minutes=3), "slot_minutes 3 is out of range 5..1440"),
        (rule(minutes=2000), "slot_minutes 2000 is out of range 5..1440"),
        (rule(capacity=0), "capacity 0 must be at least 1"),
        (
            rule(valid_from=date(2026, 2, 1), valid_to=date(2026, 1, 1)),
            "valid_from 2026-02-01 is after valid_to 2026-01-01",
        ),
        (rule(rule_id=""), "rule id must not be empty"),
        (rule("09:00:30"), "start 09:00:30 must be on a whole minute"),
        (Rule("r", frozenset(), time(9), time(10), 30), "weekdays must name at least one day"),
        (Rule("r", frozenset({7}), time(9), time(10), 30), "weekdays [7] are out of range"),
    ],
)
def test_validate_rule_messages(bad: Rule, message: str) -> None:
    assert any(p.startswith(message) for p in validate_rule(bad)), validate_rule(bad)


def test_validate_closure() -> None:
    assert validate_closure(Closure(date(2026, 1, 1))) == []
    assert validate_closure(Closure(date(2026, 1, 1), time(12), time(11))) == [
        "closure on 2026-01-01: end 11:00 must be after start 12:00"
    ]


def test_expand_refuses_invalid_rules_with_all_messages() -> None:
    with pytest.raises(ValueError, match=r"rule 'r1': capacity 0 must be at least 1"):
        list(expand([rule(capacity=0)], [], NEW_YORK, date(2026, 1, 1), date(2026, 1, 2)))
    with pytest.raises(ValueError, match="must be after start"):
        expand(
            [rule()],
            [Closure(date(2026, 1, 1), time(12), time(11))],
            NEW_YORK,
            date(2026, 1, 1),
            date(2026, 1, 1),
        )


# --- weekdays -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("mon,wed,fri", {0, 2, 4}),
        ("sat,sun", {5, 6}),
        ("Mon - Wed, Sat", {0, 1, 2, 5}),
        ("daily", set(range(7))),
        ("tuesday", {1}),
        ("sun", {6}),
    ],
)
def test_parse_weekdays(text: str, days: set[int]) -> None:
    assert parse_weekdays(text) == frozenset(days)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "weekdays are empty"),
        ("mon,,fri", "empty item"),
        ("mon-fro", "unknown weekday 'fro'"),
        ("fri-mon", "runs backwards"),
        ("weekdays", "unknown weekday 'weekdays'"),
    ],
)
def test_parse_weekdays_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_weekdays(text)


def test_format_weekdays() -> None:
    assert format_weekdays({0, 1, 2, 3, 4}) == "mon-fri"
    assert format_weekdays({5, 6}) == "sat,sun"
    assert format_weekdays({0, 2, 4, 5, 6}) == "mon,wed,fri-sun"
    assert format_weekdays(range(7)) == "mon-sun"
    with pytest.raises(ValueError, match="no weekdays"):
        format_weekdays([])
    with pytest.raises(ValueError, match="0 \\(Monday\\)"):
        format_weekdays([7])


@given(st.frozensets(st.integers(0, 6), min_size=1))
def test_format_weekdays_round_trips(days: frozenset[int]) -> None:
    text = format_weekdays(days)
    assert parse_weekdays(text) == days
    assert len(text) <= 32  # the store's column


# --- ids and instants -----------------------------------------------------------------------------


def test_slot_id_is_deterministic_and_valid() -> None:
    start_ms = ms("2026-03-08T09:00:00-04:00")
    assert slot_id("sched-7", start_ms) == "sched-7-202603081300"
    assert slot_id("sched-7", start_ms + 30_000) == "sched-7-20260308130030"
    long_a, long_b = "a" * 60 + "1", "a" * 60 + "2"
    ids = {slot_id(long_a, start_ms), slot_id(long_b, start_ms)}
    assert len(ids) == 2
    for value in ids:
        assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", value)
    with pytest.raises(ValueError, match="not a valid FHIR id"):
        slot_id("bad id", start_ms)


# --- properties -----------------------------------------------------------------------------------

ZONES = [
    "America/New_York",
    "America/Phoenix",
    "Europe/London",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Asia/Kolkata",
    "Pacific/Auckland",
    "America/Santiago",  # transitions at local midnight
    "UTC",
]
# Ranges that include the zones' transitions in 2026.
ANCHORS = [
    date(2026, 3, 7),
    date(2026, 3, 28),
    date(2026, 4, 4),
    date(2026, 9, 5),
    date(2026, 10, 3),
    date(2026, 10, 24),
    date(2026, 10, 31),
]


@st.composite
def rule_strategy(draw: st.DrawFn, index: int) -> Rule:
    start_min = draw(st.integers(0, 23 * 60))
    end_min = draw(st.integers(start_min + 5, 24 * 60 - 1))
    minutes = draw(st.integers(5, min(240, end_min - start_min)))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    valid_from = draw(st.none() | st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    valid_to = draw(st.none() | st.dates(valid_from or date(2026, 1, 1), date(2026, 12, 31)))
    return Rule(
        f"r{index}",
        days,
        time(start_min // 60, start_min % 60),
        time(end_min // 60, end_min % 60),
        minutes,
        draw(st.integers(1, 5)),
        valid_from,
        valid_to,
    )


@st.composite
def closure_strategy(draw: st.DrawFn, first: date, last: date) -> Closure:
    day = draw(st.dates(first, last))
    if draw(st.booleans()):
        return Closure(day)
    start_min = draw(st.integers(0, 24 * 60 - 2))
    end_min = draw(st.integers(start_min + 1, 24 * 60 - 1))
    return Closure(day, time(start_min // 60, start_min % 60), time(end_min // 60, end_min % 60))


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[Rule], list[Closure], ZoneInfo, date, date]:
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    anchor = draw(st.sampled_from(ANCHORS))
    first = anchor - timedelta(days=draw(st.integers(0, 3)))
    last = anchor + timedelta(days=draw(st.integers(0, 4)))
    rules = [draw(rule_strategy(i)) for i in range(draw(st.integers(1, 3)))]
    closures = draw(st.lists(closure_strategy(first, last), max_size=3))
    return rules, closures, tz, first, last


def _closure_interval(closure: Closure, tz: ZoneInfo) -> tuple[int, int]:
    midnight = datetime.combine(closure.day, time(0), tzinfo=tz)
    start = datetime.combine(closure.day, closure.start or time(0), tzinfo=tz)
    end = (
        datetime.combine(closure.day, closure.end, tzinfo=tz)
        if closure.end
        else datetime.combine(closure.day + timedelta(days=1), time(0), tzinfo=tz)
    )
    assert midnight <= start
    return (start - EPOCH) // timedelta(milliseconds=1), (end - EPOCH) // timedelta(milliseconds=1)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_expand_properties(case: tuple[list[Rule], list[Closure], ZoneInfo, date, date]) -> None:
    rules, closures, tz, first, last = case
    slots = list(expand(rules, closures, tz, first, last))
    by_id = {r.id: r for r in rules}
    closed = [_closure_interval(c, tz) for c in closures]

    # Sorted, no two slots share a start.
    assert [s.start_ms for s in slots] == sorted({s.start_ms for s in slots})

    for s in slots:
        assert INSTANT.fullmatch(s.start)
        assert INSTANT.fullmatch(s.end)
        assert (ms(s.start), ms(s.end)) == (s.start_ms, s.end_ms)  # instants parse back
        assert s.start_ms < s.end_ms
        r = by_id[s.rule_id]
        assert s.capacity == r.capacity
        assert s.end_ms - s.start_ms == r.slot_minutes * 60_000
        # The start lies on the rule's wall-clock grid, inside its window, on one of its days.
        local = datetime.fromisoformat(s.start)
        assert local.utcoffset() == datetime.fromtimestamp(s.start_ms / 1000, tz).utcoffset()
        day = local.date()
        assert first <= day <= last
        assert day.weekday() in r.weekdays
        assert (r.valid_from or day) <= day <= (r.valid_to or day)
        offset_min = (local.hour * 60 + local.minute) - (r.start.hour * 60 + r.start.minute)
        assert offset_min >= 0
        assert offset_min % r.slot_minutes == 0
        assert local.hour * 60 + local.minute + r.slot_minutes <= r.end.hour * 60 + r.end.minute
        # The wall-clock start exists and is its first occurrence.
        naive = local.replace(tzinfo=None)
        assert datetime.fromtimestamp(s.start_ms / 1000, tz).replace(tzinfo=None) == naive
        assert (naive.replace(tzinfo=tz, fold=0) - EPOCH) // timedelta(milliseconds=1) == s.start_ms
        # No overlap with a closure.
        for c_start, c_end in closed:
            assert not (s.start_ms < c_end and c_start < s.end_ms)

    # Nothing is lost: every slot one rule opens on its own is in the result, unless a closure or an
    # earlier rule's slot at the same instant took its place.
    produced = {s.start_ms for s in slots}
    for r in rules:
        for s in expand([r], [], tz, first, last):
            if any(s.start_ms < c_end and c_start < s.end_ms for c_start, c_end in closed):
                continue
            assert s.start_ms in produced


# --- throughput -----------------------------------------------------------------------------------


def test_throughput(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the rates; asserts only the counts so slow CI machines do not fail it."""
    # One very dense schedule over ten years: the per-slot cost.
    dense = [
        rule("00:00", "23:55", 5, rule_id="dense"),
        rule("08:00", "17:00", 20, days="mon-fri", rule_id="clinic"),
    ]
    began = clock.perf_counter()
    count = sum(1 for _ in expand(dense, [], NEW_YORK, date(2026, 1, 1), date(2035, 12, 31)))
    elapsed = clock.perf_counter() - began
    # Many clinic schedules over one quarter with holidays: the per-call and per-day costs too.
    clinic = [
        rule("08:00", "17:00", 15, days="mon-fri", rule_id="weekday"),
        rule("09:00", "12:00", 15, days="sat", rule_id="saturday"),
    ]
    holidays = [Closure(date(2026, 1, 1)), Closure(date(2026, 1, 19)), Closure(date(2026, 2, 16))]
    began = clock.perf_counter()
    many = sum(1 for _ in range(430) for _ in expand(clinic, holidays, NEW_YORK, date(2026, 1, 1), date(2026, 3, 31)))
    many_elapsed = clock.perf_counter() - began
    with capsys.disabled():
        print(f"\nexpand() dense: {count:,} slots in {elapsed:.2f} s = {count / elapsed:,.0f} slots/s")
        print(
            f"expand() 430 clinic schedules x 90 days: {many:,} slots in {many_elapsed:.2f} s"
            f" = {many / many_elapsed:,.0f} slots/s"
        )
    assert count >= 1_000_000
    assert many >= 1_000_000

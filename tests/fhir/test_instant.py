from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotlinks.fhir.instant import (
    DATETIME_PATTERN,
    INSTANT_PATTERN,
    InvalidInstant,
    format_instant,
    format_offset,
    instant_to_ms,
    ms_to_instant,
    normalize_offset,
    parse_instant,
)
from tests.fhir import hypothesis_settings

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-03-01T14:00:00.000Z", datetime(2021, 3, 1, 14, tzinfo=UTC)),
        ("2017-01-01T00:00:00Z", datetime(2017, 1, 1, tzinfo=UTC)),
        (
            "2015-02-07T13:28:17.239+02:00",
            datetime(2015, 2, 7, 13, 28, 17, 239000, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2021-04-21T10:45:00.000-04:00", datetime(2021, 4, 21, 14, 45, tzinfo=UTC)),
        ("2021-04-21T10:45:00-05:30", datetime(2021, 4, 21, 16, 15, tzinfo=UTC)),
        ("2021-04-21T10:45:00.123456789+14:00", datetime(2021, 4, 20, 20, 45, 0, 123456, tzinfo=UTC)),
        ("2024-02-29T23:59:59.5Z", datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=UTC)),
    ],
)
def test_parse_instant_accepts_offsets_and_fractions(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed.tzinfo is not None
    assert re.fullmatch(INSTANT_PATTERN, text)


def test_parse_instant_keeps_the_written_offset() -> None:
    assert parse_instant("2021-04-21T10:45:00-04:00").utcoffset() == timedelta(hours=-4)
    assert parse_instant("2021-04-21T10:45:00Z").utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2021-03-01T14:00:00", "offset"),
        ("2021-03-01T14:00:00.000", "offset"),
        ("2021-03-01T14:00Z", "second"),
        ("2021-03-01T14Z", "second"),
        ("2021-03-01", "time"),
        ("2021-13-01T00:00:00Z", "month 13"),
        ("2021-00-10T00:00:00Z", "month 0"),
        ("2021-02-30T00:00:00Z", "day is out of range"),
        ("2021-03-01T24:00:00Z", "hour 24"),
        ("2021-03-01T12:60:00Z", "minute 60"),
        ("2021-03-01T12:00:60Z", "second 60"),
        ("2021-03-01T12:00:00+15:00", "offset +15:00"),
        ("2021-03-01T12:00:00+05:60", "offset +05:60"),
        ("2021-03-10T15:00:00-05", "+hh:mm or -hh:mm"),
        ("2021-03-10T15:00:00-0500", "+hh:mm or -hh:mm"),
        ("2021-03-01 12:00:00Z", "not a FHIR instant"),
        ("2021-03-01T12:00:00z", "not a FHIR instant"),
        ("2021-03-01T12:00:00Z\n", "not a FHIR instant"),
        ("", "empty"),
        ("soon", "not a FHIR instant"),
        ("٢٠٢١-03-01T12:00:00Z", "not a FHIR instant"),
    ],
)
def test_parse_instant_rejects_with_a_precise_message(text: str, why: str) -> None:
    with pytest.raises(InvalidInstant, match=re.escape(why)):
        parse_instant(text)
    assert not re.fullmatch(INSTANT_PATTERN, text) or why == "day is out of range"


def test_invalid_instant_is_a_value_error() -> None:
    assert issubclass(InvalidInstant, ValueError)


def test_format_instant_keeps_offset_and_writes_utc_as_z() -> None:
    assert format_instant(datetime(2021, 4, 21, 14, 45, tzinfo=UTC)) == "2021-04-21T14:45:00Z"
    dt = datetime(2021, 4, 21, 10, 45, 7, 123999, tzinfo=timezone(timedelta(hours=-4)))
    assert format_instant(dt) == "2021-04-21T10:45:07-04:00"
    assert format_instant(dt, millis=True) == "2021-04-21T10:45:07.123-04:00"
    assert format_instant(datetime(2021, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=45)))) == (
        "2021-01-01T00:00:00+05:45"
    )
    assert format_instant(datetime(2021, 1, 1, tzinfo=timezone(timedelta(0)))) == "2021-01-01T00:00:00Z"


def test_format_instant_with_a_local_zero_offset_for_slot_times() -> None:
    """What the slot generator publishes (moved from the provider's rule tests): a Location's own
    offset, `+00:00` included, never `Z`."""
    moment = datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK)
    assert format_instant(moment, utc_as_z=False) == "2026-03-08T09:00:00-04:00"
    assert format_instant(datetime(2026, 1, 1, tzinfo=UTC), utc_as_z=False) == "2026-01-01T00:00:00+00:00"
    with pytest.raises(ValueError, match="aware"):
        format_instant(datetime(2026, 1, 1), utc_as_z=False)


def test_format_offset() -> None:
    assert format_offset(timedelta(0)) == "Z"
    assert format_offset(timedelta(0), utc_as_z=False) == "+00:00"
    assert format_offset(timedelta(hours=-4)) == format_offset(timedelta(hours=-4), utc_as_z=False) == "-04:00"
    assert format_offset(timedelta(hours=5, minutes=45)) == "+05:45"
    assert format_offset(timedelta(hours=-9, minutes=-30)) == "-09:30"
    assert format_offset(timedelta(hours=14)) == "+14:00"
    with pytest.raises(InvalidInstant, match="seconds"):
        format_offset(timedelta(hours=-4, minutes=-56, seconds=-2))  # New York's local mean time


@hypothesis_settings
@given(st.integers(min_value=-14 * 60, max_value=14 * 60), st.booleans())
def test_format_offset_parses_back(minutes: int, utc_as_z: bool) -> None:
    offset = timedelta(minutes=minutes)
    text = "2026-01-01T00:00:00" + format_offset(offset, utc_as_z=utc_as_z)
    assert parse_instant(text).utcoffset() == offset


def test_format_instant_refuses_naive_and_second_offsets() -> None:
    with pytest.raises(InvalidInstant, match="naive"):
        format_instant(datetime(2021, 1, 1))
    with pytest.raises(InvalidInstant, match="seconds"):
        format_instant(datetime(2021, 1, 1, tzinfo=timezone(timedelta(minutes=-44, seconds=-30))))


def test_dst_spring_forward_in_new_york() -> None:
    before = datetime(2021, 3, 14, 1, 30, tzinfo=NEW_YORK)
    after = before.astimezone(UTC) + timedelta(hours=1)
    assert format_instant(before) == "2021-03-14T01:30:00-05:00"
    assert format_instant(after.astimezone(NEW_YORK)) == "2021-03-14T03:30:00-04:00"
    # One real hour apart although the wall clock moved two.
    assert instant_to_ms("2021-03-14T03:30:00-04:00") - instant_to_ms("2021-03-14T01:30:00-05:00") == 3_600_000
    assert parse_instant("2021-03-14T03:30:00-04:00").astimezone(NEW_YORK).hour == 3


def test_dst_fall_back_in_new_york_distinguishes_the_repeated_hour() -> None:
    first = datetime(2021, 11, 7, 1, 30, tzinfo=NEW_YORK, fold=0)
    second = datetime(2021, 11, 7, 1, 30, tzinfo=NEW_YORK, fold=1)
    assert format_instant(first) == "2021-11-07T01:30:00-04:00"
    assert format_instant(second) == "2021-11-07T01:30:00-05:00"
    assert instant_to_ms(format_instant(second)) - instant_to_ms(format_instant(first)) == 3_600_000
    back = parse_instant("2021-11-07T01:30:00-05:00").astimezone(NEW_YORK)
    assert (back.hour, back.fold) == (1, 1)


def test_a_day_of_local_slots_across_a_transition_keeps_local_offsets() -> None:
    day = [datetime(2021, 3, 14, h, tzinfo=NEW_YORK) for h in (0, 1, 3, 4)]
    assert [format_instant(d)[-6:] for d in day] == ["-05:00", "-05:00", "-04:00", "-04:00"]


def test_ms_round_trip() -> None:
    assert ms_to_instant(0) == "1970-01-01T00:00:00.000Z"
    assert ms_to_instant(1614607200000) == "2021-03-01T14:00:00.000Z"
    assert ms_to_instant(-1) == "1969-12-31T23:59:59.999Z"
    assert instant_to_ms("2021-03-01T09:00:00.000-05:00") == 1614607200000
    assert instant_to_ms("2021-03-01T14:00:00.0019Z") == 1614607200001


@hypothesis_settings
@given(st.integers(min_value=-(10**12), max_value=4 * 10**12))
def test_ms_to_instant_and_back(ms: int) -> None:
    text = ms_to_instant(ms)
    assert re.fullmatch(INSTANT_PATTERN, text)
    assert instant_to_ms(text) == ms


@hypothesis_settings
@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
    st.booleans(),
)
def test_format_then_parse_is_identity_to_the_written_precision(
    naive: datetime, offset_minutes: int, millis: bool
) -> None:
    dt = naive.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    text = format_instant(dt, millis=millis)
    assert re.fullmatch(INSTANT_PATTERN, text)
    micro = (dt.microsecond // 1000) * 1000 if millis else 0
    assert parse_instant(text) == dt.replace(microsecond=micro)
    assert parse_instant(text).utcoffset() == dt.utcoffset()


@hypothesis_settings
@given(st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()))
def test_format_with_real_time_zones(dt: datetime) -> None:
    text = format_instant(dt, millis=True)
    parsed = parse_instant(text)
    # Compare in UTC: PEP 495 makes an ambiguous local time unequal to any time in another zone.
    assert parsed.astimezone(UTC) == dt.replace(microsecond=(dt.microsecond // 1000) * 1000).astimezone(UTC)
    assert parsed.utcoffset() == dt.utcoffset()


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("2021-03-10T15:00:00-05", "2021-03-10T15:00:00-05:00"),
        ("2021-03-10T15:00:00-0500", "2021-03-10T15:00:00-05:00"),
        ("2021-03-10T15:00:00.250+0530", "2021-03-10T15:00:00.250+05:30"),
        ("2021-03-10T15:00:00+00", "2021-03-10T15:00:00+00:00"),
    ],
)
def test_normalize_offset_fixes_short_offsets(text: str, fixed: str) -> None:
    assert normalize_offset(text) == fixed
    parse_instant(fixed)


@pytest.mark.parametrize(
    "text", ["2021-03-10T15:00:00-05:00", "2021-03-10T15:00:00Z", "2021-03-10", "2021-03-10T15:00-05", "x"]
)
def test_normalize_offset_leaves_the_rest(text: str) -> None:
    assert normalize_offset(text) is None


@pytest.mark.parametrize(
    "text", ["2021", "2021-04", "2021-04-19", "2021-04-19T20:35:05.000Z", "2021-04-19T20:35:05+02:00"]
)
def test_datetime_pattern_accepts_partial_dates(text: str) -> None:
    assert re.fullmatch(DATETIME_PATTERN, text)


@pytest.mark.parametrize("text", ["2021-04-19T20:35:05", "2021-4-19", "2021-04-19T20:35Z", "21"])
def test_datetime_pattern_rejects(text: str) -> None:
    assert not re.fullmatch(DATETIME_PATTERN, text)

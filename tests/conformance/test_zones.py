"""Offsets plausible for a Location's state (zoneinfo and the state table)."""

from __future__ import annotations

from slotlinks.conformance.zones import STATE_ZONES, offset_plausible, zones_for
from slotlinks.fhir.instant import parse_instant


def test_utc_is_always_plausible() -> None:
    for text in ("2021-05-18T09:00:00Z", "2021-05-18T09:00:00+00:00"):
        assert offset_plausible(parse_instant(text), zones_for("VA", None))


def test_local_offsets_follow_daylight_saving() -> None:
    va = zones_for("VA", None)
    assert offset_plausible(parse_instant("2021-05-18T09:00:00-04:00"), va)
    assert not offset_plausible(parse_instant("2021-12-18T09:00:00-04:00"), va)
    assert offset_plausible(parse_instant("2021-12-18T09:00:00-05:00"), va)
    assert not offset_plausible(parse_instant("2021-05-18T09:00:00-07:00"), va)


def test_split_states_accept_either_zone() -> None:
    tx = zones_for("tx", None)
    assert offset_plausible(parse_instant("2021-07-01T09:00:00-06:00"), tx)  # El Paso (MDT)
    assert offset_plausible(parse_instant("2021-07-01T09:00:00-05:00"), tx)  # Houston (CDT)
    assert offset_plausible(parse_instant("2021-07-01T09:00:00-07:00"), zones_for("AZ", None))  # no DST


def test_timezone_extension_wins_and_unknown_states_are_not_judged() -> None:
    assert zones_for("MA", "America/Chicago") == ("America/Chicago",)
    assert zones_for("ZZ", None) == ()
    assert offset_plausible(parse_instant("2021-07-01T09:00:00+09:00"), ())


def test_every_zone_in_the_table_exists() -> None:
    from zoneinfo import ZoneInfo

    for zones in STATE_ZONES.values():
        for name in zones:
            ZoneInfo(name)

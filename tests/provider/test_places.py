"""Real US places from the offline zipcodes data."""

from __future__ import annotations

import random
import re
from zoneinfo import ZoneInfo

import pytest

from slotlinks.provider.demo.catalog import street_address
from slotlinks.provider.places import (
    Place,
    phone_for,
    pick_places,
    place_for_zip,
    places_in,
)

# Area codes whose home is Massachusetts (NANP assignments).
MA_AREA_CODES = {"339", "351", "413", "508", "617", "774", "781", "857", "978"}


def test_places_in_a_state() -> None:
    places = places_in(["MA"])
    assert len(places) > 300
    assert all(p.state == "MA" for p in places)
    assert [p.zip for p in places] == sorted(p.zip for p in places)
    cambridge = next(p for p in places if p.zip == "02139")
    assert cambridge.city == "Cambridge"
    assert cambridge.county == "Middlesex County"
    assert cambridge.tz == "America/New_York"
    assert 42 < cambridge.lat < 43
    assert -72 < cambridge.long < -71
    for p in places:
        ZoneInfo(p.tz)  # every time zone is a real IANA zone


def test_places_in_several_states_case_insensitive() -> None:
    places = places_in(["az", "HI"])
    assert {p.state for p in places} == {"AZ", "HI"}
    assert {p.tz for p in places if p.state == "AZ"} <= {"America/Phoenix", "America/Denver"}
    assert {p.tz for p in places if p.state == "HI"} == {"Pacific/Honolulu"}


def test_unknown_states_are_named() -> None:
    with pytest.raises(ValueError, match="unknown US state codes: ZZ, QQ"):
        places_in(["MA", "ZZ", "QQ"])
    with pytest.raises(ValueError, match="ZZ"):
        pick_places(["ZZ"], 1, random.Random(1))
    with pytest.raises(TypeError, match="sequence of codes"):
        places_in("MA")


def test_only_standard_active_zips() -> None:
    zips = {p.zip for p in places_in(["MA"])}
    assert "02139" in zips
    # 02205 is a Boston PO Box ZIP: known to place_for_zip but not offered for new Locations.
    po_box = place_for_zip("02205")
    assert po_box is not None
    assert po_box.zip not in zips


def test_pick_places_is_deterministic_distinct_and_spread() -> None:
    states = ["MA", "AZ", "HI"]
    first = pick_places(states, 12, random.Random(42))
    again = pick_places(states, 12, random.Random(42))
    other = pick_places(states, 12, random.Random(43))
    assert first == again
    assert first != other
    assert len({p.zip for p in first}) == 12
    counts = {s: sum(p.state == s for p in first) for s in states}
    assert counts == {"MA": 4, "AZ": 4, "HI": 4}


def test_pick_places_uses_small_states_up_then_the_rest() -> None:
    small = len(places_in(["DC"]))
    picked = pick_places(["DC", "MA"], 2 * small + 20, random.Random(1))
    assert sum(p.state == "DC" for p in picked) == small  # DC runs out; MA fills the rest
    assert sum(p.state == "MA" for p in picked) == small + 20
    assert len({p.zip for p in picked}) == 2 * small + 20


def test_pick_places_limits() -> None:
    assert pick_places(["MA"], 0, random.Random(1)) == []
    with pytest.raises(ValueError, match="asked for 100000 places"):
        pick_places(["RI"], 100_000, random.Random(1))
    with pytest.raises(ValueError, match="must not be negative"):
        pick_places(["RI"], -1, random.Random(1))


def test_place_for_zip() -> None:
    phoenix = place_for_zip("85004")
    assert phoenix is not None
    assert (phoenix.city, phoenix.state, phoenix.tz) == ("Phoenix", "AZ", "America/Phoenix")
    assert place_for_zip("02139-4307") == place_for_zip("02139")
    assert place_for_zip("99999") is None
    assert place_for_zip("abc") is None
    assert place_for_zip("") is None


def test_phone_numbers_use_the_states_own_area_codes() -> None:
    rng = random.Random(5)
    for place in pick_places(["MA"], 40, rng):
        number = phone_for(place, rng)
        match = re.fullmatch(r"\((\d{3})\) 555-01(\d\d)", number)
        assert match, number
        assert match.group(1) in MA_AREA_CODES
    agawam = place_for_zip("01001")  # lists Connecticut's 860 and 959 as well as 413
    assert agawam is not None
    assert {phone_for(agawam, random.Random(i))[1:4] for i in range(30)} == {"413"}


def test_phone_for_is_deterministic() -> None:
    place = place_for_zip("02139")
    assert place is not None
    assert phone_for(place, random.Random(3)) == phone_for(place, random.Random(3))


def test_phone_for_a_place_without_zip_data_falls_back_to_the_state() -> None:
    invented = Place("00000", "Nowhere", "VT", "Nowhere County", 44.0, -72.7, "America/New_York")
    assert phone_for(invented, random.Random(1)).startswith("(802) ")


def test_street_address() -> None:
    rng = random.Random(9)
    lines = [street_address(rng) for _ in range(200)]
    pattern = re.compile(r"\d{1,4} [A-Z][A-Za-z .]+ [A-Z][a-z]+(, Suite \d{2,3})?")
    assert all(pattern.fullmatch(line) for line in lines), [line for line in lines if not pattern.fullmatch(line)]
    assert any("Suite" in line for line in lines)
    assert len(set(lines)) > 190

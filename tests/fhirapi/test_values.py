"""Unit tests of parameter values and request parsing (no database)."""

from __future__ import annotations

import pytest

from slotlinks.errors import InvalidInput
from slotlinks.fhirapi.dates import parse_date
from slotlinks.fhirapi.near import distance_km, parse_near
from slotlinks.fhirapi.request import parse_search
from slotlinks.fhirapi.strings import string_matches
from slotlinks.fhirapi.tokens import Token, parse_token, token_matches

SLOT = "2026-11-24T09:00:00-05:00"  # 14:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-24", True),
        ("eq2026-11", True),
        ("2026", True),
        ("2026-11-25", False),
        ("ne2026-11-24", False),
        ("ne2026-11-25", True),
        ("gt2026-11-23", True),
        ("gt2026-11-24", False),
        ("sa2026-11-23", True),
        ("lt2026-11-25", True),
        ("lt2026-11-24", False),
        ("eb2026-11-25", True),
        ("ge2026-11-24", True),
        ("ge2026-11-24T09:00", True),
        ("ge2026-11-24T09:01", False),
        ("le2026-11-24T09:00", True),
        ("le2026-11-24T08:59", False),
        ("eq2026-11-24T14:00:00Z", True),
        ("eq2026-11-24T09:00:00-05:00", True),
        ("gt2026-11-24T13:59:59Z", True),
        ("gt2026-11-24T14:00:00Z", False),
        ("lt2026-11-24T14:00:01Z", True),
        ("le2026-11-24T14:00:00Z", True),
        ("lt2026-11-24T14:00:00Z", False),
        ("ge2026-11-24T14:00:00+00:00", True),
    ],
)
def test_dates_on_an_instant(value: str, expected: bool) -> None:
    assert parse_date("start", value).matches_instant(SLOT) is expected


def test_date_periods() -> None:
    assert parse_date("date", "2026-11").matches_period("2026-11-20T00:00:00Z", "2026-12-20T00:00:00Z")
    assert not parse_date("date", "2027").matches_period("2026-11-20T00:00:00Z", "2026-12-20T00:00:00Z")
    assert parse_date("date", "2027").matches_period(None, None)  # no horizon: open-ended
    assert parse_date("date", "sa2026-10").matches_period("2026-11-20T00:00:00Z", None)


@pytest.mark.parametrize(
    "value", ["2026-13", "2026-02-30", "xx2026", "2026-11-24T25:00", "2026-11-24T10:00+15:00", "", "9999-12-31T23:59"]
)
def test_malformed_dates_name_the_parameter(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_date("start", value)
    assert info.value.expression == ("start",)


def test_tokens_in_three_forms() -> None:
    concept = {"coding": [{"system": "http://snomed.info/sct", "code": "394582007"}]}
    assert token_matches([parse_token("p", "394582007")], concept)
    assert token_matches([parse_token("p", "http://snomed.info/sct|394582007")], concept)
    assert token_matches([parse_token("p", "http://snomed.info/sct|")], concept)
    assert not token_matches([parse_token("p", "http://other|394582007")], concept)
    assert not token_matches([parse_token("p", "|394582007")], concept)
    assert token_matches([parse_token("p", "|x")], {"code": "x"})
    assert parse_token("p", "a|") == Token("a", None)
    assert token_matches([parse_token("p", "true")], True)
    assert token_matches([parse_token("p", "sys|v1")], {"system": "sys", "value": "v1"})
    with pytest.raises(InvalidInput):
        parse_token("p", "a|b|c")


def test_strings_fold_case_and_accents() -> None:
    assert string_matches(["zoe"], "Zoë Clinic")
    assert string_matches(["ZOË"], ["zoe"])
    assert not string_matches(["clinic"], "Zoë Clinic")
    assert string_matches(["clinic"], "Zoë Clinic", "contains")
    assert not string_matches(["zoe clinic"], "Zoë Clinic", "exact")
    assert string_matches(["city"], {"city": "City", "use": "home"})


def test_near() -> None:
    near = parse_near("near", "42.36|-71.06|25|mi_us")
    assert near.radius_km == pytest.approx(40.23, abs=0.01)
    assert distance_km(42.36, -71.06, 42.36, -71.06) == 0
    assert distance_km(42.3601, -71.0589, 40.7128, -74.0060) == pytest.approx(306, abs=2)
    for bad in ["1", "x|1", "91|0|1|km", "1|2|-3|km", "1|2|3|parsec", "1|2|inf|km"]:
        with pytest.raises(InvalidInput):
            parse_near("near", bad)


def test_request_parsing() -> None:
    req = parse_search(
        "Slot",
        [
            ("status", "free,busy"),
            ("start", "ge2026-11-30"),
            ("start", "lt2026-12-07"),
            ("schedule.actor:Location.near", "42.36|-71.06|25|mi_us"),
            ("bogus", "1"),
            ("_count", "20"),
            ("_sort", "-start"),
        ],
    )
    assert [c.name for c in req.criteria] == ["status", "start", "start", "schedule.actor:Location.near"]
    assert len(req.criteria[0].values) == 2
    assert req.count == 20
    assert req.sort == (("start", True),)
    assert req.near() is not None
    assert ("bogus", "1") not in req.used
    with pytest.raises(InvalidInput):
        parse_search("Slot", [("bogus", "1")], strict=True)
    with pytest.raises(InvalidInput):
        parse_search("Slot", [("_sort", "near")])
    with pytest.raises(InvalidInput):
        parse_search("Slot", [("status:exact", "free")])
    with pytest.raises(InvalidInput):
        parse_search("Location", [("name:fuzzy", "x")])

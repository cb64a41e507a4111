"""The topic's filters (unit): parsed once, ANDed, by state and by service type."""

from __future__ import annotations

import pytest

from slotlinks.errors import InvalidInput
from slotlinks.subscriptions import EventFacts, matches, parse_filter, parse_filters

SMART = "http://fhir-registry.smarthealthit.org/CodeSystem/service-type"
MA_PRIMARY = EventFacts("MA", frozenset({(SMART, "primary-care"), ("http://snomed.info/sct", "394802001")}))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((), True),
        (("Slot?state=MA",), True),
        (("state=ma",), True),
        (("Slot?state=RI",), False),
        ((f"Slot?service-type={SMART}|primary-care",), True),
        (("Slot?service-type=primary-care",), True),
        (("Slot?service-type=http://other.example|primary-care",), False),
        (("Slot?state=MA", "Slot?service-type=394802001"), True),
        (("Slot?state=MA", "Slot?service-type=dentistry"), False),
    ],
)
def test_filters_and_together(filters: tuple[str, ...], expected: bool) -> None:
    assert matches(parse_filters(filters), MA_PRIMARY) is expected


def test_an_event_without_a_state_matches_no_state_filter() -> None:
    assert not matches(parse_filters(("Slot?state=MA",)), EventFacts())


@pytest.mark.parametrize(
    "text",
    [
        "Slot?state=Massachusetts",
        "Patient?state=MA",
        "Slot?status=free",
        "state",
        "Slot?service-type=a|b|c",
        "Slot?service-type=",
    ],
)
def test_a_filter_the_topic_does_not_define_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="filter"):
        parse_filter(text)


def test_too_many_filters_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at most"):
        parse_filters(["Slot?state=MA"] * 21)

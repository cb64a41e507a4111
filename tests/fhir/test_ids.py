from __future__ import annotations

import re

import pytest

from slotlinks.fhir.ids import ID_PATTERN, InvalidReference, ParsedReference, Reference, is_valid_id, parse_reference


@pytest.mark.parametrize("value", ["0", "13656", "C28A418A39B52251E0536CF0D90AF81D", "a.b-c", "-", "x" * 64])
def test_valid_ids(value: str) -> None:
    assert is_valid_id(value)
    assert re.fullmatch(ID_PATTERN, value)


@pytest.mark.parametrize("value", ["", "x" * 65, "a_b", "a b", "a/b", "é", "١٢", "abc\n", "a:b"])
def test_invalid_ids(value: str) -> None:
    assert not is_valid_id(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Schedule/10", Reference("Schedule", "10")),
        ("Location/13656", Reference("Location", "13656")),
        ("PractitionerRole/doc-smith-role", Reference("PractitionerRole", "doc-smith-role")),
        ("https://example.org/fhir/Location/123", Reference("Location", "123")),
        ("http://example.org/Schedule/a.b", Reference("Schedule", "a.b")),
        ("Slot/1/_history/2", Reference("Slot", "1")),
        ("https://example.org/fhir/Slot/1/_history/2", Reference("Slot", "1")),
    ],
)
def test_parse_reference(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


def test_reference_str_and_alias() -> None:
    ref = parse_reference("Schedule/10", expected="Schedule")
    assert str(ref) == "Schedule/10"
    assert (ref.type, ref.id) == ("Schedule", "10")
    assert ParsedReference is Reference


@pytest.mark.parametrize(
    ("text", "expected", "message"),
    [
        ("Schedule", None, "not of the form Type/id"),
        ("Schedule/", None, "invalid id"),
        ("Schedule/a b", None, "invalid id"),
        ("Schedule/" + "x" * 65, None, "invalid id"),
        ("schedule/10", None, "invalid resource type 'schedule'"),
        ("Sched_ule/10", None, "invalid resource type"),
        ("/10", None, "invalid resource type"),
        ("Schedule/10/extra", None, "not of the form Type/id"),
        ("#contained", None, "contained"),
        ("https://example.org", None, "does not end in Type/id"),
        ("https://example.org/fhir/Location/1?x=y", None, "does not end in Type/id"),
        ("Location/10", "Schedule", "points at a Location, expected a Schedule"),
        ("https://example.org/Location/10", "Schedule", "expected a Schedule"),
    ],
)
def test_parse_reference_says_what_is_wrong(text: str, expected: str | None, message: str) -> None:
    with pytest.raises(InvalidReference, match=re.escape(message)):
        parse_reference(text, expected=expected)


def test_invalid_reference_is_a_value_error() -> None:
    assert issubclass(InvalidReference, ValueError)

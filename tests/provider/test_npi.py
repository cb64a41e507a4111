"""NPI check digits (Luhn over 80840 + 9 digits), validation and generation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotlinks.provider.records.npi import is_valid_npi, make_npi, npi_check_digit


def test_cms_example() -> None:
    # CMS's worked example: 123456789 -> check digit 3.
    assert npi_check_digit("123456789") == 3
    assert is_valid_npi("1234567893")


@pytest.mark.parametrize(
    "text",
    [
        "1234567890",  # wrong check digit
        "1234567894",
        "123456789",  # 9 digits
        "12345678933",  # 11 digits
        "3234567893",  # NPIs start with 1 or 2
        "123456789a",
        "12345 6789",
        "１２３４５６７８９３",  # fullwidth digits are not ASCII digits
        "",
        " 1234567893",
    ],
)
def test_invalid_npis(text: str) -> None:
    assert not is_valid_npi(text)


def test_check_digit_needs_nine_digits() -> None:
    with pytest.raises(ValueError, match="exactly 9 digits"):
        npi_check_digit("12345678")
    with pytest.raises(ValueError, match="exactly 9 digits"):
        npi_check_digit("12345678x")


def test_make_npi_is_valid_and_deterministic() -> None:
    rng = random.Random(2024)
    npis = [make_npi(rng) for _ in range(500)]
    assert all(is_valid_npi(n) for n in npis)
    assert {n[0] for n in npis} == {"1", "2"}
    assert len(set(npis)) == 500
    assert npis[:5] == [make_npi(r) for r in [random.Random(2024)] for _ in range(5)]


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_prefix_has_exactly_one_check_digit(first9: str) -> None:
    valid = [d for d in range(10) if is_valid_npi(first9 + str(d))]
    if first9[0] in "12":
        assert valid == [npi_check_digit(first9)]
    else:
        assert valid == []


@given(st.integers(0, 10**9 - 1), st.integers(0, 8), st.integers(1, 9))
def test_a_single_digit_error_is_caught(number: int, position: int, delta: int) -> None:
    first9 = "1" + f"{number:09d}"[1:]
    npi = first9 + str(npi_check_digit(first9))
    digits = list(npi)
    digits[position + 1] = str((int(digits[position + 1]) + delta) % 10)
    assert not is_valid_npi("".join(digits))

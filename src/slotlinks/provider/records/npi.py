"""National Provider Identifiers: check digits, validation and fake ones for demo data.

PractitionerRole SHALL carry the NPI (``http://hl7.org/fhir/sid/us-npi``) when available
(SPEC-NOTES, Resources). An NPI is 10 digits: 9 identifying digits and a check digit computed, as
CMS specifies, with the Luhn formula (ISO/IEC 7812) over the card-issuer prefix 80840 followed by the
9 digits. Issued NPIs start with 1 (individuals) or 2 (organizations).
"""

from __future__ import annotations

import random
import re

__all__ = ["is_valid_npi", "make_npi", "npi_check_digit"]

_PREFIX = "80840"
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_NPI = re.compile(r"[12][0-9]{9}")


def npi_check_digit(first9: str) -> int:
    """The Luhn check digit of ``80840`` + ``first9`` (nine ASCII digits)."""
    if not _NINE_DIGITS.fullmatch(first9):
        raise ValueError(f"an NPI check digit needs exactly 9 digits, got {first9!r}")
    total = 0
    # Walking right to left over the payload, every other digit starting with the rightmost is
    # doubled (it sits left of the check digit once that is appended).
    for position, char in enumerate(reversed(_PREFIX + first9)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(text: str) -> bool:
    """True when ``text`` is 10 ASCII digits, starts with 1 or 2 and its check digit is right."""
    if not _NPI.fullmatch(text):
        return False
    return npi_check_digit(text[:9]) == int(text[9])


def make_npi(rng: random.Random) -> str:
    """A valid-looking NPI (starts with 1 or 2, correct check digit), deterministic for the rng.

    It is not checked against the NPPES registry, so it may belong to a real provider: use only for
    demo data.
    """
    first9 = rng.choice("12") + "".join(rng.choice("0123456789") for _ in range(8))
    return first9 + str(npi_check_digit(first9))

"""Resource ids and references between resources.

Specification, "Slot File" / "Schedule File": ids are up to 64 characters from `[A-Za-z0-9\\-\\.]`
(FHIR's `id` type, http://hl7.org/fhir/R4/datatypes.html#id). A Slot points at its Schedule as
`Schedule/<id>`; a Schedule points at its actors as `Location/<id>`, `PractitionerRole/<id>`, ...
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "ID_PATTERN",
    "InvalidReference",
    "ParsedReference",
    "Reference",
    "is_valid_id",
    "parse_reference",
]

#: FHIR `id`, unanchored: use with `re.fullmatch` (`resources.py` anchors it for msgspec).
ID_PATTERN = r"[A-Za-z0-9\-\.]{1,64}"

_ID_RE = re.compile(ID_PATTERN)
_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{0,63}")
# An absolute reference is any http(s) URL whose last two segments (before an optional
# `_history/<version>`) are `Type/id`: aggregators and FHIR servers both write them.
_ABSOLUTE_RE = re.compile(r"https?://[^\s?#]+?/(?P<rel>[^/\s?#]+/[^/\s?#]+(?:/_history/[^/\s?#]+)?)")


class InvalidReference(ValueError):
    """A reference that is not `Type/id` (or an absolute URL ending in it), or not of the expected type."""


class Reference(NamedTuple):
    """A parsed literal reference: the resource type and the logical id it points at."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}/{self.id}"


#: The package root exports `Reference` as the FHIR datatype; this alias names the parsed form there.
ParsedReference = Reference


def is_valid_id(s: str) -> bool:
    """True when `s` is a FHIR id: 1 to 64 of `A-Z a-z 0-9 - .`."""
    return _ID_RE.fullmatch(s) is not None


def parse_reference(text: str, *, expected: str | None = None) -> Reference:
    """Parse `Type/id` (or `https://server/base/Type/id`, optionally with `/_history/<v>`).

    With `expected`, the type must equal it (e.g. `expected="Schedule"` for `Slot.schedule`).
    Raises `InvalidReference` saying what is wrong: the shape, the type, the id or the expected type.
    """
    return _parse_cached(text, expected)


# Feeds repeat the same references heavily (every Slot of a Schedule points at it), so parses are
# cached; a `Reference` is immutable. Failures raise and are not cached.
@lru_cache(maxsize=1 << 16)
def _parse_cached(text: str, expected: str | None) -> Reference:
    rel = text
    if text.startswith(("http://", "https://")):
        m = _ABSOLUTE_RE.fullmatch(text)
        if m is None:
            raise InvalidReference(f"reference {text!r} is an absolute URL that does not end in Type/id")
        rel = m.group("rel")
    elif text.startswith("#"):
        raise InvalidReference(f"reference {text!r} points at a contained resource; expected Type/id")
    parts = rel.split("/")
    if len(parts) == 4 and parts[2] == "_history":
        parts = parts[:2]
    if len(parts) != 2:
        raise InvalidReference(f"reference {text!r} is not of the form Type/id")
    rtype, rid = parts
    if not _TYPE_RE.fullmatch(rtype):
        raise InvalidReference(f"reference {text!r} has an invalid resource type {rtype!r}")
    if not is_valid_id(rid):
        raise InvalidReference(
            f"reference {text!r} has an invalid id {rid!r}: expected 1-64 characters from A-Z a-z 0-9 - ."
        )
    if expected is not None and rtype != expected:
        raise InvalidReference(f"reference {text!r} points at a {rtype}, expected a {expected}")
    return Reference(rtype, rid)

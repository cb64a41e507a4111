"""String search (http://hl7.org/fhir/R4/search.html#string): case- and accent-insensitive, matching
when a field starts with the value; `:exact` compares the whole field exactly, `:contains` anywhere.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["normalize", "string_matches", "strings_of"]


def normalize(text: str) -> str:
    """Folds case and strips accents ("Zoë" and "zoe" compare equal), as the spec recommends."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def strings_of(value: Any) -> Iterator[str]:
    """Every string inside `value` (a string, a list, or a complex type such as Address or HumanName)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in {"extension", "period", "use", "system"}:
                yield from strings_of(item)


def string_matches(values: Iterable[str], field: Any, modifier: str = "") -> bool:
    """True when any value (an OR list) matches any string in `field`."""
    texts = list(strings_of(field))
    if modifier == "exact":
        return any(v == t for v in values for t in texts)
    folded = [normalize(t) for t in texts]
    wanted = [normalize(v) for v in values]
    if modifier == "contains":
        return any(w in f for w in wanted for f in folded)
    return any(f.startswith(w) for w in wanted for f in folded)

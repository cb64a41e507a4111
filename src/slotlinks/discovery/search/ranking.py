"""Ranking search results: soonest, nearest, or the best trade of distance against wait.

The discovery client "helps weigh distance vs wait" (SPEC-NOTES, Roles). Each candidate location is
reduced to two numbers: its distance in miles (None for a virtual location: no travel, ranked as 0)
and its wait, the minutes from the window start to its first matching time.

- `soonest`: by wait, then distance.
- `nearest`: by distance, then wait.
- `best`: by the score `miles + minutes_of_wait / MINUTES_PER_MILE`, with `MINUTES_PER_MILE = 120`:
  two hours of waiting weigh as much as one more mile of travel, so a day's wait is worth 12 miles.
  Ties fall to distance, then wait.

Pareto guarantee: no result is ranked above one that is both nearer-or-as-near and sooner-or-as-soon
(and strictly better in at least one). The score grows strictly with both inputs, and where floating
point rounding makes two scores equal the tie-breakers (distance, then wait) still order the dominating
result first. Every sort key ends with the location's pk, so rankings are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from slotlinks.discovery.search.query import Sort

__all__ = ["MINUTES_PER_MILE", "Candidate", "best_score", "dominates", "rank"]

MINUTES_PER_MILE = 120.0
_MS_PER_MINUTE = 60_000.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """What ranking needs of a location: its pk, distance (None: virtual) and first time in the window."""

    pk: int
    miles: float | None
    first_ms: int


def _miles(c: Candidate) -> float:
    return c.miles if c.miles is not None else 0.0


def _wait_minutes(c: Candidate, start_ms: int) -> float:
    return max(0, c.first_ms - start_ms) / _MS_PER_MINUTE


def best_score(c: Candidate, start_ms: int) -> float:
    """The `best` score: miles plus minutes of wait converted at MINUTES_PER_MILE (lower is better)."""
    return _miles(c) + _wait_minutes(c, start_ms) / MINUTES_PER_MILE


def dominates(a: Candidate, b: Candidate) -> bool:
    """True when `a` is at least as near and as soon as `b`, and strictly better in one of the two."""
    am, bm = _miles(a), _miles(b)
    return am <= bm and a.first_ms <= b.first_ms and (am < bm or a.first_ms < b.first_ms)


T = TypeVar("T")


def rank(items: Sequence[T], *, sort: Sort, start_ms: int, key: Callable[[T], Candidate]) -> list[T]:
    """`items` ordered by `sort` ("best", "soonest" or "nearest"); `key` gives each one's Candidate."""

    def sort_key(item: T) -> tuple[float, ...]:
        c = key(item)
        miles, first = _miles(c), float(c.first_ms)
        if sort == "soonest":
            return (first, miles, c.pk)
        if sort == "nearest":
            return (miles, first, c.pk)
        return (best_score(c, start_ms), miles, first, c.pk)

    return sorted(items, key=sort_key)

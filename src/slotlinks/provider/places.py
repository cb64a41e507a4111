"""Real US places from the offline ``zipcodes`` package, for generated providers' Locations.

A Location needs an address with city, state and postal code, and SHOULD have a position and a
phone (SPEC-NOTES, Resources); its IANA time zone decides the local offset of every slot. The
``zipcodes`` wheel carries all of that per ZIP code. Its own look-ups scan the whole table each call
(about 60 ms), so the table is read once, lazily, and indexed here by ZIP and by state.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import zipcodes

__all__ = [
    "STATE_CODES",
    "Place",
    "phone_for",
    "pick_places",
    "place_for_zip",
    "places_in",
]

# USPS codes of the states, DC and the inhabited territories (military "states" AA/AE/AP excluded:
# they have no coordinates or time zone).
STATE_CODES: frozenset[str] = frozenset((
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI",
))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Place:
    """One ZIP code's post office city with its position and IANA time zone."""

    zip: str
    city: str
    state: str
    county: str
    lat: float
    long: float
    tz: str


@dataclass(frozen=True, slots=True)
class _Index:
    by_zip: dict[str, tuple[Place, tuple[str, ...]]]  # every usable ZIP, with its area codes
    standard_by_state: dict[str, tuple[Place, ...]]  # active STANDARD ZIPs only, in ZIP order
    area_code_home: dict[str, str]  # area code -> the state where most of its ZIPs are


@cache
def _known_zone(name: str) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False  # the data has a few non-zone values, e.g. a town name
    return True


def _place(record: dict[str, Any]) -> Place | None:
    if not record["active"] or not record["lat"] or not record["long"]:
        return None
    if not _known_zone(record["timezone"]):
        return None
    return Place(
        zip=record["zip_code"],
        city=record["city"],
        state=record["state"],
        county=record["county"],
        lat=float(record["lat"]),
        long=float(record["long"]),
        tz=record["timezone"],
    )


def _all_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = zipcodes.list_all()  # type: ignore[no-untyped-call]
    return records


@cache
def _index() -> _Index:
    by_zip: dict[str, tuple[Place, tuple[str, ...]]] = {}
    by_state: dict[str, list[Place]] = {}
    code_states: dict[str, Counter[str]] = {}
    for record in _all_records():
        codes = tuple(record["area_codes"] or ())
        for code in codes:
            code_states.setdefault(code, Counter())[record["state"]] += 1
        place = _place(record)
        if place is None:
            continue
        by_zip[place.zip] = (place, codes)
        if record["zip_code_type"] == "STANDARD":
            by_state.setdefault(place.state, []).append(place)
    # Border ZIPs list neighbours' area codes too (Agawam, MA lists Connecticut's 860), so an area
    # code belongs to the state holding most of the ZIPs that list it.
    home = {code: states.most_common(1)[0][0] for code, states in code_states.items()}
    return _Index(
        by_zip,
        {state: tuple(sorted(places, key=lambda p: p.zip)) for state, places in by_state.items()},
        home,
    )


def _normalize_states(states: Sequence[str]) -> list[str]:
    if isinstance(states, str):
        raise TypeError("states must be a sequence of codes, e.g. ['MA'], not one string")
    normalized = list(dict.fromkeys(s.strip().upper() for s in states))
    unknown = [s for s in normalized if s not in STATE_CODES]
    if unknown:
        raise ValueError(f"unknown US state codes: {', '.join(unknown)}")
    return normalized


def places_in(states: Sequence[str]) -> list[Place]:
    """Active standard ZIP codes (with coordinates and time zone) of ``states``, state by state.

    Codes are USPS abbreviations, case-insensitive; unknown ones raise ValueError naming them.
    """
    index = _index()
    return [p for state in _normalize_states(states) for p in index.standard_by_state.get(state, ())]


def pick_places(states: Sequence[str], n: int, rng: random.Random) -> list[Place]:
    """``n`` distinct places spread over ``states`` (round-robin), deterministic for a seeded rng.

    Raises ValueError when the states do not have ``n`` usable ZIP codes between them.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    index = _index()
    pools: list[list[Place]] = []
    for state in _normalize_states(states):
        candidates = index.standard_by_state.get(state, ())
        if candidates:
            pools.append(rng.sample(candidates, len(candidates)))
    available = sum(len(pool) for pool in pools)
    if n > available:
        raise ValueError(f"asked for {n} places but {', '.join(states)} have only {available} usable ZIPs")
    picked: list[Place] = []
    depth = 0
    while len(picked) < n:
        for pool in pools:
            if depth < len(pool) and len(picked) < n:
                picked.append(pool[depth])
        depth += 1
    return picked


def place_for_zip(zip_code: str) -> Place | None:
    """The place of a 5-digit ZIP code (any active type, ZIP+4 accepted), or None if unknown."""
    key = zip_code.strip()[:5]
    entry = _index().by_zip.get(key)
    return entry[0] if entry else None


def phone_for(place: Place, rng: random.Random) -> str:
    """A fictional phone number with a real area code of ``place``'s state: ``(617) 555-0123``.

    555-0100 .. 555-0199 are reserved for fiction, so generated numbers never ring a real person.
    The area code is one listed for the ZIP itself when it belongs to the state, else one of the
    state's own codes.
    """
    index = _index()
    entry = index.by_zip.get(place.zip)
    own = [c for c in (entry[1] if entry else ()) if index.area_code_home.get(c) == place.state]
    if not own:
        own = sorted(c for c, state in index.area_code_home.items() if state == place.state)
    if not own:
        raise ValueError(f"no area code is known for {place.state}")
    return f"({rng.choice(own)}) 555-01{rng.randrange(100):02d}"

"""The search request: parsed once from text parameters into one typed value.

The JSON API, the web pages and the CLI all build a `SearchRequest` with `parse_search` from the same
parameter names (STYLE.md: "FHIR search: parse the query once into a typed request, compile it to SQL"),
so a malformed value is refused the same way everywhere: `InvalidInput` naming the parameter, which the
API turns into a 400 OperationOutcome. Parameters (SPEC-NOTES, Roles: the discovery client finds slots
across publishers and helps weigh distance against wait):

| name | meaning |
|---|---|
| near | a US ZIP code (`02114`) or `latitude,longitude` |
| radius | `25mi`, `40km` or a bare number of miles (default 25 miles) |
| service, specialty, vaccine | `system|code`, a bare `code`, or text (case-insensitive) |
| virtual | `true` (telehealth only) or `false` (in person only); absent: both |
| practitioner | part of a practitioner's name |
| publisher | a publisher's id, or part of its name (the health system) |
| organization | part of a publisher's name or of an organization named in its Locations, roles, services |
| from, to | a date (`2026-11-24`, local to `tz`; `to` includes that day) or a date-time, in the years 1900 to 2999 |
| tz | the patient's IANA time zone (default: the ZIP code's, else UTC) |
| sort | `best` (default), `soonest` or `nearest` |
| limit | how many locations (default 20, at most 200) |
| per_location | how many times per location (default 5, at most 50) |
| include_busy | `true` shows busy slots too (default: free slots with capacity only) |
| new_patients | `true`: only times published as open to new patients |
| no_referral | `true`: only times whose service says no referral is needed |
| age | the patient's age in whole years (0 to 130): only times whose published age range includes it |
| language | a language code (`es`, `pt-BR`) or its English name (`Spanish`): a practitioner speaks it |

The last four keep only what the publisher says matches; without them nothing is left out for what
a publisher does not say (search/audience.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slotlinks.discovery.geo import Point, parse_near, parse_radius
from slotlinks.discovery.search.audience import parse_language
from slotlinks.errors import InvalidInput

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_LIMIT",
    "DEFAULT_PER_LOCATION",
    "DEFAULT_RADIUS_MILES",
    "FILTERS",
    "PARAMETERS",
    "SearchRequest",
    "Sort",
    "parse_day",
    "parse_search",
]

Sort = Literal["best", "soonest", "nearest"]

DEFAULT_RADIUS_MILES = 25.0
DEFAULT_DAYS = 14
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
DEFAULT_PER_LOCATION = 5
MAX_PER_LOCATION = 50
MAX_TEXT = 200
MAX_AGE = 130

PARAMETERS = (
    "near",
    "radius",
    "service",
    "specialty",
    "vaccine",
    "virtual",
    "practitioner",
    "publisher",
    "organization",
    "from",
    "to",
    "tz",
    "sort",
    "limit",
    "per_location",
    "include_busy",
    "new_patients",
    "no_referral",
    "age",
    "language",
)
# Where the patient is, and how results are ranked and counted: what a page about one place leaves out.
_PLACE = {"near", "radius", "tz"}
_RANKING = {"sort", "limit", "per_location"}
#: The search's own filters, which hold wherever the patient is: every parameter but place and ranking.
FILTERS = tuple(name for name in PARAMETERS if name not in _PLACE | _RANKING)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The years a date may name. Beyond them the arithmetic on a window (a day added, a week either side,
# a time zone's offset, epoch milliseconds) would leave what `datetime` holds; no slot lies there.
FIRST_YEAR = 1900
LAST_YEAR = 2999


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One search, fully parsed. Times are UTC milliseconds; `[start_ms, end_ms)` is the window."""

    start_ms: int
    end_ms: int
    tz: str = "UTC"
    near: Point | None = None
    radius_miles: float = DEFAULT_RADIUS_MILES
    service: str | None = None
    specialty: str | None = None
    vaccine: str | None = None
    virtual: bool | None = None
    practitioner: str | None = None
    publisher: str | None = None
    organization: str | None = None
    sort: Sort = "best"
    limit: int = DEFAULT_LIMIT
    per_location: int = DEFAULT_PER_LOCATION
    free_only: bool = True
    new_patients: bool = False
    no_referral: bool = False
    age: int | None = None
    language: str | None = None  # a BCP-47 primary subtag (audience.parse_language)
    # Internal narrowing used by the stale-slot page: schedules with exactly these codes.
    schedule_codes: str | None = None
    only_location_pk: int | None = None

    def with_changes(self, **changes: object) -> SearchRequest:
        return replace(self, **changes)  # type: ignore[arg-type]


def _fail(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"parameter '{name}': {message}", expression=(name,))


def _text(params: Mapping[str, str | None], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_TEXT:
        raise _fail(name, f"longer than {MAX_TEXT} characters")
    if any(ord(c) < 32 for c in value):
        raise _fail(name, "contains control characters")
    return value


def _bool(params: Mapping[str, str | None], name: str) -> bool | None:
    value = _text(params, name)
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _fail(name, f"{value!r} is not true or false")


def _int(params: Mapping[str, str | None], name: str, default: int, high: int) -> int:
    value = _text(params, name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):  # "²" is a digit to `isdigit`, not to `int`
        raise _fail(name, f"{value!r} is not a whole number")
    number = int(value)
    if not 1 <= number <= high:
        raise _fail(name, f"must be between 1 and {high}")
    return number


def _age(params: Mapping[str, str | None]) -> int | None:
    value = _text(params, "age")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_AGE:  # see `_int`
        raise _fail("age", f"{value!r} is not an age in whole years (0 to {MAX_AGE})")
    return int(value)


def _language(params: Mapping[str, str | None]) -> str | None:
    value = _text(params, "language")
    if value is None:
        return None
    code = parse_language(value)
    if code is None:
        raise _fail("language", f"{value!r} is not a language code (es, pt-BR) or a language name we know")
    return code


def _in_range(name: str, text: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise _fail(name, f"{text!r} is outside the dates we search (the years {FIRST_YEAR} to {LAST_YEAR})")


def parse_day(name: str, text: str) -> date:
    """The date `text` (YYYY-MM-DD) for parameter `name`; raises `InvalidInput` naming it when it is not
    one or lies outside the years searched."""
    try:
        day = date.fromisoformat(text) if _DATE_RE.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        raise _fail(name, f"{text!r} is not a date (YYYY-MM-DD)")
    _in_range(name, text, day.year)
    return day


def _moment(name: str, text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date (local midnight; an end date includes the whole day) or an ISO date-time."""
    if _DATE_RE.fullmatch(text):
        day = parse_day(name, text)
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), tzinfo=zone)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise _fail(name, f"{text!r} is not a date (YYYY-MM-DD) or date-time") from None
    _in_range(name, text, moment.year)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def parse_search(params: Mapping[str, str | None], *, now: datetime) -> SearchRequest:
    """Parse search parameters (names above); raises `InvalidInput` naming the first bad one.

    `now` (aware) is the default window start; the window defaults to 14 days. Recorded data lies in
    the past, so any window is accepted, as long as it ends after it starts and spans at most a year.
    """
    near: Point | None = None
    if (near_text := _text(params, "near")) is not None:
        try:
            near = parse_near(near_text)
        except ValueError as exc:
            raise _fail("near", str(exc)) from None
    radius = DEFAULT_RADIUS_MILES
    if (radius_text := _text(params, "radius")) is not None:
        try:
            radius = parse_radius(radius_text)
        except ValueError as exc:
            raise _fail("radius", str(exc)) from None

    tz_name = _text(params, "tz") or (near.tz if near and near.tz else "UTC")
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("tz", f"unknown time zone {tz_name!r}") from None

    start = now
    if (from_text := _text(params, "from")) is not None:
        start = _moment("from", from_text, zone, end=False)
    end = start + timedelta(days=DEFAULT_DAYS)
    if (to_text := _text(params, "to")) is not None:
        end = _moment("to", to_text, zone, end=True)
    if end <= start:
        raise _fail("to", "the window must end after it starts")
    if end - start > timedelta(days=366):
        raise _fail("to", "the window may span at most 366 days")

    sort_text = (_text(params, "sort") or "best").lower()
    if sort_text not in get_args(Sort):
        raise _fail("sort", f"{sort_text!r} is not one of best, soonest, nearest")

    include_busy = _bool(params, "include_busy")
    return SearchRequest(
        start_ms=_to_ms(start),
        end_ms=_to_ms(end),
        tz=tz_name,
        near=near,
        radius_miles=radius,
        service=_text(params, "service"),
        specialty=_text(params, "specialty"),
        vaccine=_text(params, "vaccine"),
        virtual=_bool(params, "virtual"),
        practitioner=_text(params, "practitioner"),
        publisher=_text(params, "publisher"),
        organization=_text(params, "organization"),
        sort=sort_text,  # type: ignore[arg-type]
        limit=_int(params, "limit", DEFAULT_LIMIT, MAX_LIMIT),
        per_location=_int(params, "per_location", DEFAULT_PER_LOCATION, MAX_PER_LOCATION),
        free_only=not include_busy,
        new_patients=_bool(params, "new_patients") is True,
        no_referral=_bool(params, "no_referral") is True,
        age=_age(params),
        language=_language(params),
    )

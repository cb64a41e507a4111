"""An alert request: the patient's address and a search, parsed once from the API's JSON or the
results page's form.

The criteria are the search parameters themselves (`search.query.PARAMETERS`, less those that only
shape one page of results), kept as text and parsed again by `parse_search` at every match, so an
alert asks exactly what the same search would and a rolling window (no `from`) moves with time. A
place is required (`near`), unless the alert is for video visits only (`virtual=true`): an alert for
everything everywhere would mail every new slot of every publisher.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from slotlinks.discovery.search.query import PARAMETERS, SearchRequest, parse_search
from slotlinks.errors import InvalidInput
from slotlinks.web.i18n import LANGUAGES, current_language

__all__ = ["CRITERIA", "AlertRequest", "parse_alert", "parse_criteria", "parse_email", "search_for"]

#: The search parameters an alert keeps (paging and `include_busy` make no sense for "a time opened").
CRITERIA = tuple(name for name in PARAMETERS if name not in {"sort", "limit", "per_location", "include_busy"})
MAX_EMAIL = 254
# Deliberately plain: one @, no spaces, quotes or angle brackets, and a dotted domain.
_EMAIL = re.compile(r"[^@\s\"<>(),;:\\\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")


@dataclass(frozen=True, slots=True)
class AlertRequest:
    email: str
    criteria: dict[str, str]
    # An earlier-time offer (alerts/earlier.py): its booked referral, and when it ends at the latest
    # (the booked start: nothing can be earlier than a time that has passed).
    referral_id: str | None = None
    ends_ms: int | None = None
    # The language its messages are written in: the one it was asked in (`web.i18n`).
    language: str = field(default_factory=current_language)


def parse_email(value: object) -> str:
    """The patient's address, trimmed, its domain lower-cased; raises `InvalidInput` naming `email`."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("parameter 'email': an e-mail address is required", expression=("email",))
    text = value.strip()
    if len(text) > MAX_EMAIL or not _EMAIL.fullmatch(text):
        raise InvalidInput(f"parameter 'email': {text[:80]!r} is not an e-mail address", expression=("email",))
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def search_for(criteria: Mapping[str, str], *, now: datetime) -> SearchRequest:
    """The search an alert stands for, as of `now` (raises `InvalidInput` like the search API)."""
    return parse_search(dict(criteria), now=now)


def parse_alert(values: Mapping[str, object], *, now: datetime) -> AlertRequest:
    """Reads `email` and the criteria; raises `InvalidInput` naming the first bad parameter."""
    criteria = _criteria(values, also=("email", "language"))
    email = parse_email(values.get("email"))
    language = values.get("language") or current_language()
    if language not in LANGUAGES:
        raise InvalidInput(f"parameter 'language': one of {', '.join(LANGUAGES)}", expression=("language",))
    return AlertRequest(email=email, criteria=_checked_search(criteria, now=now), language=str(language))


def parse_criteria(values: Mapping[str, object], *, now: datetime) -> dict[str, str]:
    """The criteria alone, for an app's alert (no address: its webhook is the channel); errors as
    `parse_alert`'s."""
    return _checked_search(_criteria(values), now=now)


def _criteria(values: Mapping[str, object], *, also: tuple[str, ...] = ()) -> dict[str, str]:
    unknown = sorted(str(k) for k in values if k not in also and k not in PARAMETERS)
    if unknown:
        raise InvalidInput(f"parameter '{unknown[0]}' is not one an alert takes", expression=(unknown[0],))
    criteria: dict[str, str] = {}
    for name in CRITERIA:
        value = values.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, bool):  # JSON's true/false, as the search's own words
            criteria[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            criteria[name] = str(value)
        else:
            raise InvalidInput(f"parameter '{name}': expected text", expression=(name,))
    return criteria


def _checked_search(criteria: dict[str, str], *, now: datetime) -> dict[str, str]:
    request = search_for(criteria, now=now)
    if request.near is None and request.virtual is not True:
        raise InvalidInput("parameter 'near': an alert needs a place (or virtual=true)", expression=("near",))
    if request.end_ms <= int(now.timestamp() * 1000):
        raise InvalidInput("parameter 'to': the dates asked for have passed", expression=("to",))
    return criteria

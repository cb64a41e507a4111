"""Which open times an alert has not told its patient about yet.

The alert's search is run as the search API would run it (`search.execute.search`, the same
filters and ranking), from now on, over the current generation of every publisher. A time is news
when its row changed after the alert was confirmed (a slot newly published, or freed by a
cancellation or an expired hold: ingest stamps `updated_ms` on every row it adds or changes, and a
full load carries the stamps of unchanged rows over) and the alert has not announced it (by natural
key, since a full load gives every row a new pk). Times already free when the patient asked are not
news: they were on the results page.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from slotlinks.discovery.alerts import store as alerts
from slotlinks.discovery.alerts.criteria import search_for
from slotlinks.discovery.alerts.store import SlotKey
from slotlinks.discovery.search.execute import LocationResult, search
from slotlinks.discovery.search.query import MAX_PER_LOCATION
from slotlinks.discovery.store import tables as t
from slotlinks.errors import InvalidInput
from slotlinks.web.i18n import gettext_for
from slotlinks.web.timetext import in_zone, moment_text

__all__ = ["MOST_PER_MESSAGE", "Match", "criteria_of", "new_matches", "unannounced"]

_ = gettext_for("slotlinks.discovery")

#: Times one message lists, best first.
MOST_PER_MESSAGE = 5
# Locations a match looks through: enough that a freed time at a lower-ranked place is still seen.
_SCAN_LOCATIONS = 50
_CHUNK = 900


@dataclass(frozen=True, slots=True)
class Match:
    key: SlotKey
    location: str
    place: str
    distance_miles: float | None
    when: str  # in the location's own zone, as the pages say it
    link: str  # through the discovery server's /go, so the stale-slot check and referrals apply
    service: str | None
    start: str = ""  # FHIR instants, for webhooks (JSON) rather than people
    end: str = ""


def criteria_of(alert: Row[Any]) -> dict[str, str]:
    loaded = orjson.loads(alert.criteria)
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _stamps(conn: Connection, pks: Sequence[int]) -> Mapping[int, tuple[SlotKey, int]]:
    s = t.slot.c
    found: dict[int, tuple[SlotKey, int]] = {}
    for i in range(0, len(pks), _CHUNK):
        query = select(s.pk, s.publisher_id, s.source_id, s.start_ms, s.updated_ms).where(s.pk.in_(pks[i : i + _CHUNK]))
        for row in conn.execute(query):
            found[int(row.pk)] = ((int(row.publisher_id), str(row.source_id), int(row.start_ms)), int(row.updated_ms))
    return found


def new_matches(
    conn: Connection, alert: Row[Any], *, now: datetime, link_base: str, most: int = MOST_PER_MESSAGE
) -> list[Match]:
    """Up to `most` times the confirmed `alert` has not announced, in the search's ranking order."""
    now_ms = int(now.timestamp() * 1000)
    try:
        req = search_for(criteria_of(alert), now=now)
    except InvalidInput:  # e.g. its dates have passed: nothing to announce
        return []
    start_ms = max(req.start_ms, now_ms)
    if req.end_ms <= start_ms:
        return []
    req = req.with_changes(start_ms=start_ms, limit=_SCAN_LOCATIONS, per_location=MAX_PER_LOCATION)
    return unannounced(conn, alert, search(conn, req, now_ms=now_ms, link_base=link_base), most=most)


def unannounced(
    conn: Connection,
    alert: Row[Any],
    found: Sequence[LocationResult],
    *,
    most: int = MOST_PER_MESSAGE,
    skip: Container[SlotKey] = (),
) -> list[Match]:
    """Up to `most` of the times `found` (a search's results, in its order) that are news to the
    confirmed `alert`: changed since it was confirmed, never announced by it, and not in `skip`."""
    stamps = _stamps(conn, [slot.pk for loc in found for slot in loc.slots])
    seen = alerts.announced(conn, alert.id)
    since = int(alert.confirmed_ms)
    matches: list[Match] = []
    for loc in found:
        place = ", ".join(part for part in (loc.city, loc.state) if part) or (_("Video visit") if loc.virtual else "")
        for slot in loc.slots:
            stamp = stamps.get(slot.pk)
            if stamp is None or stamp[1] <= since or stamp[0] in seen or stamp[0] in skip:
                continue
            when = moment_text(in_zone(slot.start, loc.tz))
            matches.append(
                Match(
                    stamp[0], loc.name, place, loc.distance_miles, when, slot.link, slot.service, slot.start, slot.end
                )
            )
            if len(matches) >= most:
                return matches
    return matches

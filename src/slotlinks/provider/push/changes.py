"""The provider's change log read as events of the "availability changed" topic.

Every write to the data set goes through `ProviderStore.change()` / `stamp()`, which stamps the
`dataset` row and, in the same transaction, every row it touches (`last_updated`): holds, bookings,
cancellations, staff and admin edits, regeneration and imports alike. Those stamps are the outbox:
written with the change or not at all, increasing in commit order, and never lost with a crash. A
Slot, Schedule or Location row stamped in `(after, through]` is one event (removed when the row is
no longer active). Holds expire by the clock with no write at all, so a hold whose expiry falls in a
window is an event of its Slot at that instant (`expiries_between`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, select

from slotlinks.provider.store import tables as t
from slotlinks.subscriptions.topic import EventFacts

__all__ = ["Change", "changes_between", "expiries_between"]


@dataclass(frozen=True, slots=True)
class Change:
    at_ms: int
    resource_type: str
    resource_id: str
    removed: bool
    facts: EventFacts


def _services(resource_json: str) -> frozenset[tuple[str, str]]:
    try:
        resource = orjson.loads(resource_json)
    except orjson.JSONDecodeError:
        return frozenset()
    found = set()
    for concept in resource.get("serviceType") or []:
        for coding in (concept or {}).get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                found.add((str(coding.get("system") or ""), coding["code"]))
    return frozenset(found)


class _Facts:
    """Facts of Schedules and Locations, each read once per collection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._schedules: dict[str, EventFacts] = {}
        self._states: dict[str, str | None] = {}

    def state(self, location_id: str | None) -> str | None:
        if location_id is None:
            return None
        if location_id not in self._states:
            self._states[location_id] = self.conn.execute(
                select(t.location.c.state).where(t.location.c.id == location_id)
            ).scalar_one_or_none()
        return self._states[location_id]

    def schedule_row(self, row: Any) -> EventFacts:
        return EventFacts(self.state(row.location_id) or row.state, _services(row.resource))

    def schedule(self, schedule_id: str) -> EventFacts:
        if schedule_id not in self._schedules:
            c = t.schedule.c
            row = self.conn.execute(select(c.location_id, c.state, c.resource).where(c.id == schedule_id)).first()
            self._schedules[schedule_id] = EventFacts() if row is None else self.schedule_row(row)
        return self._schedules[schedule_id]

    def location(self, location_id: str, state: str | None) -> EventFacts:
        c = t.schedule.c
        rows = self.conn.execute(select(c.resource).where(c.location_id == location_id, c.active))
        services: frozenset[tuple[str, str]] = frozenset().union(*(_services(r.resource) for r in rows))
        return EventFacts(state, services)


def changes_between(conn: Connection, after_ms: int, through_ms: int) -> list[Change]:
    """The Slots, Schedules and Locations stamped in `(after_ms, through_ms]`, oldest first."""
    facts = _Facts(conn)
    found: list[Change] = []
    s = t.slot.c
    slots = select(s.id, s.schedule_id, s.active, s.last_updated).where(
        s.last_updated > after_ms, s.last_updated <= through_ms
    )
    for slot in conn.execute(slots):
        found.append(Change(int(slot.last_updated), "Slot", slot.id, not slot.active, facts.schedule(slot.schedule_id)))
    c = t.schedule.c
    schedules = select(c.id, c.active, c.location_id, c.state, c.resource, c.last_updated).where(
        c.last_updated > after_ms, c.last_updated <= through_ms
    )
    for schedule in conn.execute(schedules):
        found.append(
            Change(
                int(schedule.last_updated), "Schedule", schedule.id, not schedule.active, facts.schedule_row(schedule)
            )
        )
    loc = t.location.c
    locations = select(loc.id, loc.active, loc.state, loc.last_updated).where(
        loc.last_updated > after_ms, loc.last_updated <= through_ms
    )
    for place in conn.execute(locations):
        found.append(
            Change(
                int(place.last_updated), "Location", place.id, not place.active, facts.location(place.id, place.state)
            )
        )
    found.sort(key=lambda change: change.at_ms)
    return found


def expiries_between(conn: Connection, after_ms: int, through_ms: int) -> list[Change]:
    """A Slot event for each hold still `active` whose expiry falls in `(after_ms, through_ms]`."""
    facts = _Facts(conn)
    h, s = t.hold.c, t.slot.c
    query = (
        select(h.slot_id, h.expires_ms, s.schedule_id, s.active)
        .join(t.slot, s.id == h.slot_id)
        .where(h.state == "active", h.expires_ms > after_ms, h.expires_ms <= through_ms)
        .order_by(h.expires_ms)
    )
    return [
        Change(int(row.expires_ms), "Slot", row.slot_id, not row.active, facts.schedule(row.schedule_id))
        for row in conn.execute(query)
    ]

"""Earlier-time offers: after booking through the search tool, "tell me if an earlier time opens" for
the same service at the same place (issue 16, part 2).

An offer is an alert like any other (the same table, use cases, worker, double opt-in, period,
unsubscribe and expiry) bound to the patient's booked referral (`alert.referral_id`):

- It is asked for on "my referrals" (`POST /alerts/earlier`, offer_routes.py), for a referral in this
  browser's signed cookie whose outcome is `booked` and whose time is still ahead.
- Its news are free times at the booked Location (by publisher and the publisher's Location id: a
  full load gives rows new pks) in schedules with the booked slot's codes (the same service, as the
  stale-slot page narrows it), from now until strictly before the booked start, never the booked slot
  itself; and, as for every alert, changed since confirmation and never announced before. The booked
  start is read from the referral at every pass (the portal's final start when it reported one).
- It ends at the booked start at the latest. Once the booking is cancelled or called off (the
  referral's outcome, which the sync loop keeps reading while a confirmed offer stands) or its referral
  is no longer kept, it offers nothing and the next pass deletes it (`store.purge`): no time is ever
  offered as earlier than a booking that no longer stands.

The offer's criteria are what its messages say (the place, the booked time as the patient saw it, the
location's zone) and the schedule codes it matches; they are not search parameters, so the results
page's alert and the API never make one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, Row, and_, func, select

from slotlinks.discovery.alerts.criteria import AlertRequest, parse_email
from slotlinks.discovery.alerts.matcher import MOST_PER_MESSAGE, Match, criteria_of, unannounced
from slotlinks.discovery.alerts.offer_text import (
    ALREADY_ASKED,
    NO_LONGER_PUBLISHED,
    NOT_BOOKED,
    TIME_PASSED,
)
from slotlinks.discovery.alerts.store import SlotKey
from slotlinks.discovery.ingest.partitions import slot_by_pk
from slotlinks.discovery.search.execute import search
from slotlinks.discovery.search.query import MAX_PER_LOCATION, SearchRequest
from slotlinks.discovery.store import tables as t
from slotlinks.errors import Conflict, InvalidInput
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms

__all__ = ["Booking", "booking", "earlier_matches", "offer_request"]

# Searches one pass makes through the window, `MAX_PER_LOCATION` times each: the offer sees news among
# the first 1,000 free times before the booking.
_PAGES = 20


@dataclass(frozen=True, slots=True)
class Booking:
    """What a referral says was booked, as far as an offer needs it."""

    referral_id: str
    outcome: str | None
    publisher_id: int
    location_source_id: str | None
    slot_key: SlotKey  # the slot the deep link was for
    slot_pk: int | None  # its feed row then (a later full load may have replaced it)
    start_ms: int  # the booked start
    start: str | None  # the same, in the location's own offset, as the patient saw it


def booking(conn: Connection, referral_id: str) -> Booking | None:
    """The referral's booking, or None when the referral is not kept or its publisher is gone."""
    row = conn.execute(select(t.referral).where(t.referral.c.id == referral_id)).first()
    if row is None or row.publisher_id is None:
        return None
    start_ms, start = int(row.slot_start_ms), row.slot_start
    if row.outcome == "booked" and row.outcome_start:
        # The portal's final start: the patient may have picked another time there.
        with contextlib.suppress(InvalidInstant):
            start_ms, start = instant_to_ms(row.outcome_start), row.outcome_start
    return Booking(
        referral_id=str(row.id),
        outcome=row.outcome,
        publisher_id=int(row.publisher_id),
        location_source_id=row.location_source_id,
        slot_key=(int(row.publisher_id), str(row.slot_source_id), int(row.slot_start_ms)),
        slot_pk=row.slot_pk,
        start_ms=start_ms,
        start=start,
    )


def _booked_slot(conn: Connection, found: Booking) -> Any:
    """The booked slot's schedule codes, location name and zone: from the current generation by
    natural key, else from the row the deep link was for."""
    sl, sc, loc, p = t.slot, t.schedule, t.location, t.publisher
    query = (
        select(sc.c.codes, loc.c.name, loc.c.tz)
        .select_from(sl)
        .join(sc, sc.c.pk == sl.c.schedule_pk)
        .join(loc, loc.c.pk == sc.c.location_pk)
    )
    publisher_id, source_id, start_ms = found.slot_key
    current = query.join(p, and_(p.c.id == sl.c.publisher_id, p.c.generation == sl.c.generation)).where(
        sl.c.publisher_id == publisher_id, sl.c.source_id == source_id, sl.c.start_ms == start_ms
    )
    row = conn.execute(current).first()
    if row is None and found.slot_pk is not None:
        return slot_by_pk(conn, query, found.slot_pk)
    return row


def _location_pk(conn: Connection, publisher_id: int, source_id: str | None) -> int | None:
    """The current-generation feed Location with this publisher's id, if it is still published."""
    if source_id is None:
        return None
    loc, p = t.location, t.publisher
    pk = conn.execute(
        select(loc.c.pk)
        .join(p, and_(p.c.id == loc.c.publisher_id, p.c.generation == loc.c.generation))
        .where(loc.c.publisher_id == publisher_id, loc.c.source_id == source_id)
    ).scalar()
    return None if pk is None else int(pk)


def offer_request(conn: Connection, *, referral_id: str, email: object, now_ms: int) -> AlertRequest:
    """The alert an offer for this referral is (raises `InvalidInput` or `Conflict` in the patient's
    words when there can be none). The caller has checked the referral is this browser's."""
    address = parse_email(email)
    found = booking(conn, referral_id)
    if found is None or found.outcome != "booked":
        raise InvalidInput(NOT_BOOKED)
    if found.start_ms <= now_ms:
        raise InvalidInput(TIME_PASSED)
    slot = _booked_slot(conn, found)
    if slot is None or _location_pk(conn, found.publisher_id, found.location_source_id) is None:
        raise InvalidInput(NO_LONGER_PUBLISHED)
    a = t.alert.c
    asked = conn.execute(
        select(func.count()).where(a.referral_id == referral_id, a.email == address, a.expires_ms > now_ms)
    ).scalar_one()
    if asked:
        raise Conflict(ALREADY_ASKED)
    criteria = {
        "tz": str(slot.tz or "UTC"),
        "place": str(slot.name or ""),
        "booked": found.start or "",
        "schedule_codes": str(slot.codes or ""),
    }
    return AlertRequest(email=address, criteria=criteria, referral_id=referral_id, ends_ms=found.start_ms)


def earlier_matches(
    conn: Connection, alert: Row[Any], *, now: datetime, link_base: str, most: int = MOST_PER_MESSAGE
) -> list[Match]:
    """Up to `most` times earlier than the offer's booking that it has not announced, soonest first;
    none once the booking is no longer `booked`."""
    found = booking(conn, str(alert.referral_id))
    now_ms = int(now.timestamp() * 1000)
    if found is None or found.outcome != "booked" or found.start_ms <= now_ms:
        return []
    location_pk = _location_pk(conn, found.publisher_id, found.location_source_id)
    if location_pk is None:
        return []
    criteria = criteria_of(alert)
    request = SearchRequest(
        start_ms=now_ms,
        end_ms=found.start_ms,  # the window is half-open: strictly before the booked start
        tz=criteria.get("tz") or "UTC",
        sort="soonest",
        limit=1,
        per_location=MAX_PER_LOCATION,
        schedule_codes=criteria.get("schedule_codes", ""),
        only_location_pk=location_pk,
    )
    matches: list[Match] = []
    looked: set[int] = set()
    # Page through the window by start time: the times already free when the offer was confirmed
    # are not news, and a freed time may lie behind more of them than one search returns.
    for _ in range(_PAGES):
        results = search(conn, request, now_ms=now_ms, link_base=link_base)
        slots = [slot for slot in results[0].slots if slot.pk not in looked] if results else []
        if not slots:
            break
        looked.update(slot.pk for slot in slots)
        page = msgspec.structs.replace(results[0], slots=slots)
        matches += unannounced(conn, alert, [page], most=most - len(matches), skip={found.slot_key})
        if len(matches) >= most or len(results[0].slots) < MAX_PER_LOCATION:
            break
        # From the last start again (inclusive: times sharing it may have been cut off; `looked` skips the rest).
        request = request.with_changes(start_ms=instant_to_ms(slots[-1].start))
    return matches

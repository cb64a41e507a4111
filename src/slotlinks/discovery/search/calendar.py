"""A location's week: its open times for seven local days, laid out by day and time of day, for the
location page (`pages`, `GET /locations/{pk}`), and how a time is spoken on every page.

The location is read from its publisher's current data generation only, as search reads it; its
times come from the same `search` as the results page, limited to this location, never before now.
Days are the location's own (its time zone), so a week starts at its local midnight.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, RowMapping, and_, select

from slotlinks.discovery.publishers.freshness import describe_age
from slotlinks.discovery.search.execute import search, zone_named
from slotlinks.discovery.search.query import SearchRequest
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore

__all__ = ["CALENDAR_DAYS", "location_week", "spoken_time"]

CALENDAR_DAYS = 7
_KEYS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def spoken_time(instant: str, zone: str | None = None) -> str:
    """`2026-11-24T09:00:00-05:00` as `Tue Nov 24, 9:00 AM EST`: the local time the instant is written
    in, labelled with `zone`'s abbreviation (the location's zone), else with the instant's own offset
    (`UTC-05:00`), so a patient elsewhere (a video visit, a trip) is never left guessing."""
    moment = datetime.fromisoformat(instant)
    hour = moment.hour % 12 or 12
    text = f"{moment:%a %b} {moment.day}, {hour}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"
    label = moment.tzname()
    if zone:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            label = moment.astimezone(ZoneInfo(zone)).tzname()
    return f"{text} {label}" if label else text


def _midnight_ms(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp() * 1000)


def _current_location(conn: Connection, pk: int) -> RowMapping | None:
    """The location `pk` if it belongs to its publisher's current generation, with the publisher's
    name and last successful sync."""
    loc, p = t.location, t.publisher
    return (
        conn.execute(
            select(loc, p.c.name.label("publisher_name"), p.c.last_success_ms)
            .join(p, and_(p.c.id == loc.c.publisher_id, p.c.generation == loc.c.generation))
            .where(loc.c.pk == pk)
        )
        .mappings()
        .first()
    )


def location_week(
    *,
    store: DiscoveryStore,
    pk: int,
    start_day: date | None,
    service: str | None,
    link_base: str,
    audience: SearchRequest | None = None,
    audience_query: str = "",
) -> dict[str, Any] | None:
    """The location page's content: the location, its publisher and freshness, and a grid of its open
    times (rows: local time of day; columns: the seven days from `start_day`, default the location's
    today), each cell linking to `/go/{slot pk}`. None when the location is not in current data.

    `audience` carries the patient's who-can-book filters (`audience.AUDIENCE_PARAMETERS`, as
    `audience_query` for the week links); `audiences` lists each distinct set of badges with the
    letter the cells of its times name."""
    with store.read() as conn:
        row = _current_location(conn, pk)
        if row is None:
            return None
        zone = zone_named(row["tz"])
        now_ms = store.now_ms()
        first = start_day or datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(zone).date()
        start_ms = _midnight_ms(first, zone)
        end_ms = _midnight_ms(first + timedelta(days=CALENDAR_DAYS), zone)
        req = SearchRequest(
            start_ms=max(start_ms, now_ms),
            end_ms=max(end_ms, now_ms + 1),
            tz=zone.key,
            service=service,
            only_location_pk=pk,
            per_location=500,
            new_patients=audience.new_patients if audience else False,
            no_referral=audience.no_referral if audience else False,
            age=audience.age if audience else None,
            language=audience.language if audience else None,
        )
        found = search(conn, req, now_ms=now_ms, link_base=link_base)
    days = [first + timedelta(days=i) for i in range(CALENDAR_DAYS)]
    grid: dict[str, list[list[dict[str, Any]]]] = {}
    keys: dict[tuple[str, ...], str] = {}
    phone = row["phone"]
    for result in found:
        phone = result.phone or phone
        for slot in result.slots:
            moment = datetime.fromisoformat(slot.start).astimezone(zone)
            label = f"{moment:%H:%M}"
            cells = grid.setdefault(label, [[] for _ in days])
            index = (moment.date() - first).days
            if 0 <= index < len(days):
                spoken = spoken_time(slot.start, zone.key)
                badges = slot.audience.badges
                key = keys.setdefault(tuple(badges), _KEYS[len(keys) % len(_KEYS)])
                cells[index].append(
                    {"pk": slot.pk, "capacity": slot.capacity, "label": spoken, "badges": badges, "key": key}
                )
    extra = "&".join(q for q in (urlencode({"service": service}) if service else "", audience_query) if q)
    return {
        "pk": pk,
        "name": row["name"],
        "city": row["city"],
        "state": row["state"],
        "publisher": row["publisher_name"],
        "freshness": describe_age(now_ms, row["last_success_ms"]),
        "phone": phone,
        "tz": zone.key,
        "days": [f"{d:%a %b} {d.day}" for d in days],
        "first_day": f"{first:%b} {first.day}",
        "last_day": f"{days[-1]:%b} {days[-1].day}",
        "prev_from": (first - timedelta(days=CALENDAR_DAYS)).isoformat(),
        "next_from": (first + timedelta(days=CALENDAR_DAYS)).isoformat(),
        "extra_query": ("&" + extra) if extra else "",
        "rows": sorted(grid.items()),
        "audiences": [(key, list(badges)) for badges, key in keys.items()],
    }

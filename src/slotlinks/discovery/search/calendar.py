"""A location's week, for the location page (`pages`, `GET /locations/{pk}`): its open times for seven
local days, grouped by service and clinician, each day a row of times; and how a time is spoken on
the other pages (`spoken_time`).

The page keeps the search the patient came from: its query carries the search's own filters
(`CALENDAR_FILTERS`: `query.FILTERS`, `/search`'s names without the place and ranking, but for
`include_busy`), so a calendar reached from a "primary care" search lists only primary care. The
location is read from its publisher's current data generation only, as search reads it; its times
come from the same `search` as the results page, limited to this location, never before now. Days
are the location's own (its time zone), so a week starts at its local midnight; times are written
one way (`web.timetext`) in the page's language.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date
from babel.lists import format_list
from sqlalchemy import Connection, RowMapping, and_, select

from slotlinks.discovery.search.audience import SlotAudience
from slotlinks.discovery.search.execute import SlotResult, search, zone_named
from slotlinks.discovery.search.query import FILTERS, SearchRequest, parse_search
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.fhir.audience import language_name
from slotlinks.web import timetext
from slotlinks.web.i18n import N_, current_language, gettext_for

__all__ = ["CALENDAR_DAYS", "CALENDAR_FILTERS", "location_week", "spoken_time"]

_ = gettext_for("slotlinks.discovery")

CALENDAR_DAYS = 7
MAX_TIMES = 500  # a week of one location's times; far more than any clinic publishes
#: The search's filters a location page keeps (the results link with them, its week links carry them):
#: all but `include_busy`, so the week lists free times only.
CALENDAR_FILTERS = tuple(name for name in FILTERS if name != "include_busy")


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


@dataclass
class Day:
    """One row of a group: the day in words and its times."""

    words: str
    times: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Audience:
    """Times of one group that share who may book them, with those badges, by day."""

    badges: list[dict[str, Any]]
    days: dict[date, Day] = field(default_factory=dict)


@dataclass
class Clinician:
    name: str | None
    audiences: dict[tuple[str, ...], Audience] = field(default_factory=dict)


@dataclass
class Service:
    name: str | None
    clinicians: dict[str, Clinician] = field(default_factory=dict)


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


def _freshness(now_ms: int, then_ms: int | None) -> str:
    """How old the times are, in the page's language (`freshness.describe_age`'s measure). One and many
    are two messages: English and Spanish have just these two forms."""
    if then_ms is None:
        return _("not yet updated")
    seconds = max(0, now_ms - then_ms) // 1000
    if seconds >= 86_400:
        days = seconds // 86_400
        return _("updated 1 day ago") if days == 1 else _("updated %(num)d days ago", num=days)
    if seconds >= 3_600:
        hours = seconds // 3_600
        return _("updated 1 hour ago") if hours == 1 else _("updated %(num)d hours ago", num=hours)
    if seconds >= 60:
        minutes = seconds // 60
        return _("updated 1 minute ago") if minutes == 1 else _("updated %(num)d minutes ago", num=minutes)
    return _("updated just now")


def day_words(day: date, today: date) -> str:
    """ "Today", "Tomorrow", else the day with its weekday in full: `Tuesday, December 8` / `martes, 8
    de diciembre` (`timetext.day` abbreviates the weekday: Babel's skeleton match keeps `E`'s width)."""
    return timetext.day_words(day, today) if 0 <= (day - today).days <= 1 else _long_day(day)


def _long_day(day: date) -> str:
    locale = Locale.parse(current_language())
    pattern = re.sub("E+", "EEEE", locale.datetime_skeletons["MMMMEd"].pattern)
    return format_date(day, pattern, locale=locale)


def _booked_text(moment: datetime) -> str:
    """`Wednesday, November 25, 10:00 AM EST` (`timetext.moment_text` with the weekday in full)."""
    return f"{_long_day(moment.date())}, {timetext.clock_zone(moment)}"


def _language_names(codes: list[str]) -> str:
    """`Spanish and Portuguese` / `español y portugués`."""
    locale = Locale.parse(current_language())
    names = [locale.languages.get(code) or language_name(code) or code for code in codes]
    return format_list(names, locale=locale)


_PATIENTS = {
    "newpt": N_("New patients welcome"),
    "existptonly": N_("Existing patients only"),
    "existptfam": N_("Existing patients and their families only"),
    "nopt": N_("Not accepting patients"),
}


def badges(audience: SlotAudience) -> list[dict[str, Any]]:
    """Who may book a time, in the page's language, as `audience.slot_audience` words it: each badge's
    `text`, and `unknown` where the publisher says nothing."""
    out: list[dict[str, Any]] = []
    status = audience.patients
    if status in _PATIENTS:
        out.append({"text": _(_PATIENTS[status]), "unknown": False})
    else:
        out.append({"text": _("Who can book: not stated"), "unknown": True})
    if audience.referral is not None:
        out.append({"text": _("Referral needed") if audience.referral else _("No referral needed"), "unknown": False})
    elif status is not None:
        out.append({"text": _("Referral: not stated"), "unknown": True})
    low, high = audience.min_age, audience.max_age
    if low is not None and high is not None:
        out.append({"text": _("Ages %(low)d\u2013%(high)d", low=low, high=high), "unknown": False})
    elif low is not None:
        out.append({"text": _("Ages %(low)d and over", low=low), "unknown": False})
    elif high is not None:
        out.append({"text": _("Ages %(high)d and under", high=high), "unknown": False})
    # English is taken for granted on an English page; the badge names the others.
    others = [code for code in audience.languages if code != "en"]
    if others:
        out.append({"text": _("Speaks %(languages)s", languages=_language_names(others)), "unknown": False})
    return out


def _filters(params: Mapping[str, str]) -> dict[str, str]:
    """The search filters among `params`, as given (blank ones dropped)."""
    chosen = {name: (params.get(name) or "").strip() for name in CALENDAR_FILTERS}
    return {name: value for name, value in chosen.items() if value}


def _summary(req: SearchRequest, zone: ZoneInfo) -> list[str]:
    """The filters in effect, in words, for the line that says what the page shows."""
    out = [
        text % {"text": value}
        for text, value in (
            (_("Service: %(text)s"), req.service),
            (_("Specialty: %(text)s"), req.specialty),
            (_("Vaccine: %(text)s"), req.vaccine),
            (_("Clinician: %(text)s"), req.practitioner),
            (_("Health system: %(text)s"), req.publisher),
            (_("Organization: %(text)s"), req.organization),
        )
        if value
    ]
    if req.virtual is not None:
        out.append(_("Video visits only") if req.virtual else _("In-person visits only"))
    if req.new_patients:
        out.append(_("Accepting new patients"))
    if req.no_referral:
        out.append(_("No referral needed"))
    if req.age is not None:
        out.append(_("Patient's age: %(age)d", age=req.age))
    if req.language:
        out.append(_("Speaks %(languages)s", languages=_language_names([req.language])))
    return out


def _time(slot: SlotResult, moment: datetime, day_words: str) -> dict[str, Any]:
    return {
        "pk": slot.pk,
        "clock": timetext.clock_zone(moment),
        "day": day_words,
        "capacity": slot.capacity,
        "service": slot.service,
        "practitioner": slot.practitioner,
    }


def _grouped(slots: list[SlotResult], zone: ZoneInfo, today: date) -> list[Service]:
    """Times by service, then clinician, then who may book them, then day; services and clinicians
    in alphabetical order (unnamed last), days and times in order."""
    services: dict[str, Service] = {}
    for slot in sorted(slots, key=lambda s: s.start):
        moment = timetext.in_zone(slot.start, zone.key)
        service = services.setdefault(slot.service or "", Service(slot.service))
        clinician = service.clinicians.setdefault(slot.practitioner or "", Clinician(slot.practitioner))
        audience = clinician.audiences.setdefault(tuple(slot.audience.badges), Audience(badges(slot.audience)))
        row = audience.days.setdefault(moment.date(), Day(day_words(moment.date(), today)))
        row.times.append(_time(slot, moment, row.words))

    def order(name: str) -> tuple[bool, str]:
        return (not name, name.casefold())

    ordered = [services[name] for name in sorted(services, key=order)]
    for service in ordered:
        service.clinicians = {name: service.clinicians[name] for name in sorted(service.clinicians, key=order)}
    return ordered


def location_week(
    *,
    store: DiscoveryStore,
    pk: int,
    params: Mapping[str, str],
    link_base: str,
    booked: list[str] | None = None,
) -> dict[str, Any] | None:
    """The location page's content: the location, its publisher and freshness, and its open times for
    seven days from `from` (default the location's today) that match the search filters in `params`
    (`CALENDAR_FILTERS`), grouped by service and clinician (`_grouped`), each linking to
    `/go/{slot pk}`; `booked` are this browser's booked start times here. None when the location is
    not in current data. Raises `InvalidInput` naming a filter it cannot read."""
    filters = _filters(params)
    parse_search(filters, now=store.clock())  # a bad filter is refused before the location is looked up
    with store.read() as conn:
        row = _current_location(conn, pk)
        if row is None:
            return None
        zone = zone_named(row["tz"])
        now_ms = store.now_ms()
        asked = parse_search({**filters, "tz": zone.key}, now=store.clock())
        now = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(zone)
        first = (
            datetime.fromtimestamp(asked.start_ms / 1000, UTC).astimezone(zone).date()
            if "from" in filters
            else now.date()
        )
        week_end_ms = _midnight_ms(first + timedelta(days=CALENDAR_DAYS), zone)
        start_ms = max(asked.start_ms if "from" in filters else 0, _midnight_ms(first, zone), now_ms)
        end_ms = min(week_end_ms, asked.end_ms) if "to" in filters else week_end_ms
        req = asked.with_changes(
            start_ms=start_ms,
            end_ms=max(end_ms, start_ms + 1),
            near=None,
            only_location_pk=pk,
            per_location=MAX_TIMES,
            limit=1,
        )
        found = search(conn, req, now_ms=now_ms, link_base=link_base)
    slots = [slot for result in found for slot in result.slots]
    phone = next((r.phone for r in found if r.phone), None) or row["phone"]
    last = first + timedelta(days=CALENDAR_DAYS - 1)
    carried = urlencode({name: value for name, value in filters.items() if name != "from"})
    week_query = ("&" + carried) if carried else ""
    prev_first = first - timedelta(days=CALENDAR_DAYS)
    next_first = first + timedelta(days=CALENDAR_DAYS)
    return {
        "pk": pk,
        "name": row["name"],
        "city": row["city"],
        "state": row["state"],
        "publisher": row["publisher_name"],
        "freshness": _freshness(now_ms, row["last_success_ms"]),
        "phone": phone,
        "zone": timetext.zone_words(now),
        "first_day": _long_day(first),
        "last_day": _long_day(last),
        # No week before today's, and none after the search's end date.
        "prev_href": f"/locations/{pk}?from={prev_first.isoformat()}{week_query}" if first > now.date() else None,
        "next_href": (
            f"/locations/{pk}?from={next_first.isoformat()}{week_query}"
            if "to" not in filters or asked.end_ms > week_end_ms
            else None
        ),
        "summary": _summary(asked, zone),
        "all_href": f"/locations/{pk}" if filters.keys() - {"from", "to"} else None,
        "services": _grouped(slots, zone, now.date()),
        "count": len(slots),
        "booked_here": [_booked_text(timetext.in_zone(start, zone.key)) for start in booked or [] if start],
        "has_booking": bool(booked),
    }

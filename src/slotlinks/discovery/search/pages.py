"""The discovery client's web pages: search form, results, a location's calendar, publisher status.

Server-rendered (Jinja2, autoescaping on), usable without JavaScript, accessible (labels, headings,
landmarks, a skip link, visible focus) and phone-sized (ARCHITECTURE.md, "HTTP"). The pages parse
their query with the same `parse_search` as the JSON API and the CLI; on the web the window never
starts before now. Only the discovery server's own `/go/{pk}` links are rendered for booking
(deeplinks.py turns them into the publisher's http(s) link), and phones become `tel:` links.

Referral outcomes (outcomes.py): `/back?booking-referral=...` is the return URL this deployment
registers with portals; it reads that referral's outcome, adds it to the browser's signed referral
cookie and sends the patient to `/my-referrals`, which lists this browser's referrals with their
outcome (refreshing a few unfinished ones). Result and location pages show a "Booked" badge where this
browser has a booked referral.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from jinja2 import Environment
from sqlalchemy import and_, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from slotlinks.config import Settings
from slotlinks.discovery.publishers.freshness import describe_age, publisher_statuses
from slotlinks.discovery.referrals.deeplinks import (
    REFERRAL_COOKIE,
    add_referral_cookie,
    cookie_key,
    is_referral_id,
    read_referral_cookie,
)
from slotlinks.discovery.referrals.outcomes import (
    FINAL_OUTCOMES,
    ReferralView,
    booked_locations,
    load_referrals,
    refresh_many,
    refresh_outcome,
)
from slotlinks.discovery.search.execute import LocationResult, search, zone_named
from slotlinks.discovery.search.query import PARAMETERS, SearchRequest, parse_search
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput
from slotlinks.web.templating import page_templates

__all__ = ["html_page", "make_templates", "web_router"]

CALENDAR_DAYS = 7
MY_REFERRALS_REFRESH = 5  # unfinished referrals whose outcome "my referrals" reads per view
_DAY_MS = 86_400_000
_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def _when(instant: str, zone: str | None = None) -> str:
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


def make_templates() -> Environment:
    """The pages' Jinja2 environment: autoescape on for every template, undefined names are errors."""
    env = page_templates("slotlinks.discovery")
    env.filters["when"] = _when
    # Location pk -> booked start times of this browser's referrals there (pages that know pass theirs).
    env.globals["booked"] = {}
    return env


def html_page(env: Environment, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(env.get_template(template).render(**context), status_code=status, headers=_HEADERS)


def _form(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in PARAMETERS}


def _midnight_ms(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp() * 1000)


def web_router(settings: Settings, store: DiscoveryStore) -> APIRouter:
    """`/`, `/search`, `/locations/{pk}`, `/status`, `/my-referrals` and `/back` (HTML, not in the
    OpenAPI document)."""
    router = APIRouter(include_in_schema=False)
    env = make_templates()
    keys: list[bytes] = []
    secure_cookie = settings.discovery_url.startswith("https:")

    def key() -> bytes:
        if not keys:
            with store.read() as conn:
                keys.append(cookie_key(settings, conn))
        return keys[0]

    def my_ids(request: Request) -> list[str]:
        return read_referral_cookie(key(), request.cookies.get(REFERRAL_COOKIE))

    def booked_for(ids: list[str]) -> dict[int, list[str]]:
        if not ids:
            return {}
        with store.read() as conn:
            return booked_locations(conn, ids)

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return html_page(env, "index.html", form=_form(request))

    def _search(req: SearchRequest) -> list[LocationResult]:
        with store.read() as conn:
            return search(conn, req, now_ms=store.now_ms(), link_base=settings.discovery_url)

    @router.get("/search", response_class=HTMLResponse)
    async def results(request: Request) -> HTMLResponse:
        form = _form(request)
        try:
            req = parse_search(dict(request.query_params), now=store.clock())
        except InvalidInput as exc:
            return html_page(env, "results.html", 400, form=form, error=exc.message, where="", locations=[])
        now_ms = store.now_ms()
        if req.start_ms < now_ms:  # the web page starts at now
            req = req.with_changes(start_ms=now_ms, end_ms=max(req.end_ms, now_ms + 1))
        locations = await run_in_threadpool(_search, req)
        booked = await run_in_threadpool(lambda: booked_for(my_ids(request)))
        where = req.near.label if req.near else ""
        return html_page(env, "results.html", form=form, error=None, where=where, locations=locations, booked=booked)

    def _calendar(pk: int, start_day: date | None, service: str | None) -> dict[str, Any] | None:
        loc, p = t.location, t.publisher
        with store.read() as conn:
            row = (
                conn.execute(
                    select(loc, p.c.name.label("publisher_name"), p.c.last_success_ms)
                    .join(p, and_(p.c.id == loc.c.publisher_id, p.c.generation == loc.c.generation))
                    .where(loc.c.pk == pk)
                )
                .mappings()
                .first()
            )
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
            )
            found = search(conn, req, now_ms=now_ms, link_base=settings.discovery_url)
        days = [first + timedelta(days=i) for i in range(CALENDAR_DAYS)]
        grid: dict[str, list[list[dict[str, Any]]]] = {}
        phone = row["phone"]
        for result in found:
            phone = result.phone or phone
            for slot in result.slots:
                moment = datetime.fromisoformat(slot.start).astimezone(zone)
                label = f"{moment:%H:%M}"
                cells = grid.setdefault(label, [[] for _ in days])
                index = (moment.date() - first).days
                if 0 <= index < len(days):
                    spoken = _when(slot.start, zone.key)
                    cells[index].append({"pk": slot.pk, "capacity": slot.capacity, "label": spoken})
        extra = urlencode({"service": service}) if service else ""
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
        }

    @router.get("/locations/{pk}", response_class=HTMLResponse)
    async def location_page(pk: int, request: Request) -> HTMLResponse:
        start_text = request.query_params.get("from") or None
        service = (request.query_params.get("service") or "").strip()[:200] or None
        start_day: date | None = None
        if start_text:
            try:
                start_day = date.fromisoformat(start_text)
            except ValueError:
                message = "parameter 'from': not a date (YYYY-MM-DD)"
                return html_page(env, "gone.html", 400, heading="Not a date", message=message, **_empty())
        context = await run_in_threadpool(_calendar, pk, start_day, service)
        if context is None:
            message = "This location is not in the current data of any publisher."
            return html_page(env, "gone.html", 404, heading="Location not found", message=message, **_empty())
        booked = await run_in_threadpool(lambda: booked_for(my_ids(request)))
        return html_page(env, "location.html", booked_here=booked.get(pk, []), **context)

    @router.get("/status", response_class=HTMLResponse)
    async def status_page() -> HTMLResponse:
        def load() -> list[Any]:
            with store.read() as conn:
                return list(publisher_statuses(conn, now_ms=store.now_ms()))

        return html_page(env, "status.html", publishers=await run_in_threadpool(load))

    def _mine(ids: list[str]) -> list[ReferralView]:
        with store.read() as conn:
            return load_referrals(conn, ids)

    @router.get("/my-referrals", response_class=HTMLResponse)
    async def my_referrals(request: Request) -> HTMLResponse:
        ids = await run_in_threadpool(my_ids, request)
        views = await run_in_threadpool(_mine, ids)
        unfinished = [v.id for v in views if v.outcome not in FINAL_OUTCOMES][:MY_REFERRALS_REFRESH]
        if unfinished:
            await refresh_many(store, settings, unfinished)
            views = await run_in_threadpool(_mine, ids)
        return html_page(env, "my_referrals.html", referrals=views)

    @router.get("/back")
    async def back(request: Request) -> Response:
        """The return URL registered with portals: the patient is back from booking or calling off."""
        referral = request.query_params.get("booking-referral") or ""
        response = RedirectResponse("/my-referrals", status_code=303, headers=dict(_HEADERS))
        if not is_referral_id(referral):
            return response

        def known() -> bool:
            with store.read() as conn:
                return conn.execute(select(t.referral.c.id).where(t.referral.c.id == referral)).first() is not None

        if await run_in_threadpool(known):
            await refresh_outcome(store, settings, referral)
            current = request.cookies.get(REFERRAL_COOKIE)
            signing_key = await run_in_threadpool(key)
            add_referral_cookie(response, key=signing_key, current=current, referral=referral, secure=secure_cookie)
        return response

    return router


def _empty() -> dict[str, Any]:
    return {"phone": None, "same": [], "nearby": [], "location_name": None, "show_alternatives": False}

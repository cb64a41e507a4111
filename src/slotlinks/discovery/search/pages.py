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

Every error a page route raises, or a path or query value it cannot read (`/locations/abc`, a date
out of range), is answered with a page in plain words and its status (`web.errors.page_route`),
never with JSON.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from slotlinks.config import Settings
from slotlinks.discovery.publishers.freshness import publisher_statuses
from slotlinks.discovery.referrals.deeplinks import (
    REFERRAL_COOKIE,
    add_referral_cookie,
    cookie_key,
    is_known_referral,
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
from slotlinks.discovery.search.audience import AUDIENCE_PARAMETERS, by_audience
from slotlinks.discovery.search.calendar import location_week, spoken_time
from slotlinks.discovery.search.execute import LocationResult, search
from slotlinks.discovery.search.query import PARAMETERS, SearchRequest, parse_search
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput, SlotlinksError
from slotlinks.web.errors import page_route
from slotlinks.web.headers import csp_nonce
from slotlinks.web.paths import RowPk
from slotlinks.web.templating import page_templates

__all__ = ["html_page", "make_templates", "web_router"]

MY_REFERRALS_REFRESH = 5  # unfinished referrals whose outcome "my referrals" reads per view
# The security headers (CSP with the request's nonce, no framing, no referrer) are the app's (`web.headers`).
_HEADERS = {"Cache-Control": "no-store"}


def make_templates() -> Environment:
    """The pages' Jinja2 environment: autoescape on for every template, undefined names are errors."""
    env = page_templates("slotlinks.discovery")
    env.filters["when"] = spoken_time
    # Location pk -> booked start times of this browser's referrals there (pages that know pass theirs).
    env.globals["booked"] = {}
    env.filters["by_audience"] = by_audience
    # The patient's who-can-book filters as a query, for links to a location's calendar (pages that know).
    env.globals["location_query"] = ""
    env.globals["alerts_on"] = False  # the results page's alert form; the web router sets it
    return env


def html_page(env: Environment, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = env.get_template(template).render(nonce=csp_nonce(), **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


_ERROR_HEADINGS = {400: "We could not read that address", 404: "Page not found", 429: "Please wait a moment"}


def _plain(error: SlotlinksError) -> str:
    """What went wrong, for a person: our errors say it; the framework's name the part of the address."""
    names = [part.rpartition(".")[2] for issue in error.issues for part in issue.expression if part]
    if isinstance(error, InvalidInput) and error.message == "invalid request" and names:
        text = f"The address has a value we cannot use ({', '.join(names)})."
    else:
        text = error.message.rstrip(".") + "."
    return text + " Please check the link or search again." if error.status == 400 else text


def _audience_query(request: Request) -> str:
    """The who-can-book filters of the request, as a query string (without `?`)."""
    chosen = {name: request.query_params.get(name, "").strip() for name in AUDIENCE_PARAMETERS}
    return urlencode({name: value for name, value in chosen.items() if value})


def _form(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in PARAMETERS}


def web_router(settings: Settings, store: DiscoveryStore) -> APIRouter:
    """`/`, `/search`, `/locations/{pk}`, `/status`, `/my-referrals` and `/back` (HTML, not in the
    OpenAPI document)."""
    env = make_templates()
    env.globals["alerts_on"] = bool(settings.smtp_url)  # the results page offers an e-mail alert (alerts/)

    async def error_page(_request: Request, error: SlotlinksError) -> Response:
        heading = _ERROR_HEADINGS.get(error.status, "Something went wrong")
        return html_page(env, "gone.html", error.status, heading=heading, message=_plain(error), **_empty())

    router = APIRouter(include_in_schema=False, route_class=page_route(error_page))
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
        query = _audience_query(request)
        return html_page(
            env,
            "results.html",
            form=form,
            error=None,
            where=where,
            locations=locations,
            booked=booked,
            location_query="?" + query if query else "",
        )

    @router.get("/locations/{pk}", response_class=HTMLResponse)
    async def location_page(pk: RowPk, request: Request) -> HTMLResponse:
        booked = await run_in_threadpool(lambda: booked_for(my_ids(request)))
        context = await run_in_threadpool(
            lambda: location_week(
                store=store,
                pk=pk,
                params=request.query_params,
                link_base=settings.discovery_url,
                booked=booked.get(pk),
            )
        )
        if context is None:
            message = "This location is not in the current data of any publisher."
            return html_page(env, "gone.html", 404, heading="Location not found", message=message, **_empty())
        return html_page(env, "location.html", **context)

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
                return is_known_referral(conn, referral)

        if await run_in_threadpool(known):
            await refresh_outcome(store, settings, referral)
            current = request.cookies.get(REFERRAL_COOKIE)
            signing_key = await run_in_threadpool(key)
            add_referral_cookie(response, key=signing_key, current=current, referral=referral, secure=secure_cookie)
        return response

    return router


def _empty() -> dict[str, Any]:
    return {"phone": None, "same": [], "nearby": [], "location_name": None, "show_alternatives": False}

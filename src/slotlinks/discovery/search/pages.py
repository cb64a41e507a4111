"""The discovery client's web pages: search form, results, a location's calendar, publisher status.

Server-rendered (Jinja2, autoescaping on), usable without JavaScript, accessible (labels, headings,
landmarks, a skip link, visible focus) and phone-sized (ARCHITECTURE.md, "HTTP"). The pages parse
their query with the same `parse_search` as the JSON API and the CLI; on the web the window never
starts before now. Only the discovery server's own `/go/{pk}` links are rendered for booking
(deeplinks.py turns them into the publisher's http(s) link), and phones become `tel:` links.

The search is carried by the pages' links (carry.py): a result links to its location page with the
search's filters, and each time to `/go/{pk}` with the whole search, which `/go` keeps with the
referral. Referral outcomes (outcomes.py): `/back?booking-referral=...` is the return URL this
deployment registers with portals; it reads that referral's outcome, adds it to the browser's signed
referral cookie and sends the patient back to the results they came from (else to `/my-bookings`,
which lists this browser's bookings with their outcome, refreshing a few unfinished ones; the old
`/my-referrals` address leads there). Result and location pages show a "Booked" badge where this
browser has a booked referral.

On a phone the results come first: the form is a compact bar (place, service, date) with the other
filters behind a native "Filters" disclosure, and a line sums up the search. The service field
suggests the services in the current data (suggest.py); a search's mistakes are said in plain words
with the way out (pagetext.py), and a search for a service we do not have lists those we do.

Every error a page route raises, or a path or query value it cannot read (`/locations/abc`, a date
out of range), is answered with a page in plain words and its status (`web.errors.page_route`),
never with JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
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
    referral_search,
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
from slotlinks.discovery.search.carry import location_query, search_query, stored_search
from slotlinks.discovery.search.datatext import audience_words, freshness_words
from slotlinks.discovery.search.execute import LocationResult, search
from slotlinks.discovery.search.pagetext import (
    filter_summary,
    moment_words,
    outcome_words,
    plain_search_error,
    slot_time,
    today_in,
)
from slotlinks.discovery.search.query import PARAMETERS, SearchRequest, parse_search
from slotlinks.discovery.search.suggest import ServiceNames, close_services
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput, SlotlinksError
from slotlinks.web.errors import page_route
from slotlinks.web.headers import csp_nonce
from slotlinks.web.i18n import N_, gettext_for
from slotlinks.web.paths import RowPk
from slotlinks.web.templating import page_templates

__all__ = ["FILTER_FIELDS", "html_page", "make_templates", "web_router"]

_ = gettext_for("slotlinks.discovery")

MY_BOOKINGS_REFRESH = 5  # unfinished referrals whose outcome "my bookings" reads per view
# The security headers (CSP with the request's nonce, no framing, no referrer) are the app's (`web.headers`).
_HEADERS = {"Cache-Control": "no-store"}
# The search form's fields behind "Filters" (the bar shows near, service and from), and the values
# the form sends when left as they are, which are no filter of the patient's.
FILTER_FIELDS = (
    "radius",
    "to",
    "specialty",
    "vaccine",
    "practitioner",
    "organization",
    "virtual",
    "sort",
    "new_patients",
    "no_referral",
    "age",
    "language",
)
_FORM_DEFAULTS = {"radius": "25mi", "sort": "best"}


def _now() -> datetime:
    return datetime.now(UTC)


def make_templates(clock: Callable[[], datetime] = _now) -> Environment:
    """The pages' Jinja2 environment: autoescape on for every template, undefined names are errors.
    `clock` says what "today" is for the times' "Today" and "Tomorrow"."""
    env = page_templates("slotlinks.discovery")
    env.filters["when"] = spoken_time

    def time_of_slot(instant: str, zone: str | None = None) -> str:
        return slot_time(instant, zone, today_in(zone, clock()))

    env.filters.update(
        slot_time=time_of_slot,
        by_audience=by_audience,
        audience_words=audience_words,
        freshness=freshness_words,
        outcome_words=outcome_words,
        moment_words=moment_words,
    )
    # Location pk -> booked start times of this browser's referrals there (pages that know pass theirs).
    env.globals["booked"] = {}
    # The search carried by a result's links (carry.py): its filters to the location page, the whole
    # search to /go (pages that know pass theirs, with their `?`).
    env.globals["location_query"] = ""
    env.globals["go_query"] = ""
    env.globals["alerts_on"] = False  # the results page's alert form; the web router sets it
    env.globals.update(services=[], error_field=None, filters_on=0, filter_fields=FILTER_FIELDS, back_to_search=None)
    return env


def html_page(env: Environment, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = env.get_template(template).render(nonce=csp_nonce(), **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


_ERROR_HEADINGS = {
    400: N_("We could not read that address"),
    404: N_("Page not found"),
    429: N_("Please wait a moment"),
}


def _plain(error: SlotlinksError) -> str:
    """What went wrong, for a person, in the page's language: a search filter the address carries
    said as the search page says it (with the way out), else what kind of thing went wrong."""
    named = {part.rpartition(".")[2] for issue in error.issues for part in issue.expression}
    if isinstance(error, InvalidInput) and named & set(PARAMETERS):
        return plain_search_error(error, {})[0]
    if error.status == 400:
        return _("The address has a value we cannot use. Please check the link or search again.")
    if error.status == 404:
        return _("We could not find that page. Please check the link or search again.")
    if error.status == 429:
        return _(
            "We've had a lot of requests from your connection in a short time. Please wait a minute, then try again."
        )
    return _("Something went wrong on our side. Please try again in a few minutes.")


def _audience_query(request: Request) -> str:
    """The who-can-book filters of the request, as a query string (without `?`)."""
    chosen = {name: request.query_params.get(name, "").strip() for name in AUDIENCE_PARAMETERS}
    return urlencode({name: value for name, value in chosen.items() if value})


def _form(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in PARAMETERS}


def _filters_on(form: dict[str, str]) -> int:
    """How many of the filters behind "Filters" the patient chose (not left as the form sends them)."""
    return sum(1 for name in FILTER_FIELDS if form.get(name, "").strip() not in ("", _FORM_DEFAULTS.get(name)))


def _question(query: str) -> str:
    return "?" + query if query else ""


def _suggestions(form: dict[str, str], names: list[str]) -> list[tuple[str, str]]:
    """Each service of `names` with the address of this search for it."""
    return [(name, "/search?" + search_query({**form, "service": name})) for name in names]


def web_router(settings: Settings, store: DiscoveryStore) -> APIRouter:
    """`/`, `/search`, `/locations/{pk}`, `/status`, `/my-bookings` (and the old `/my-referrals`) and
    `/back` (HTML, not in the OpenAPI document)."""
    env = make_templates(store.clock)
    env.globals["alerts_on"] = bool(settings.smtp_url)  # the results page offers an e-mail alert (alerts/)
    service_names = ServiceNames()

    async def error_page(_request: Request, error: SlotlinksError) -> Response:
        heading = _(_ERROR_HEADINGS.get(error.status, N_("Something went wrong")))
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

    def services() -> list[str]:
        with store.read() as conn:
            return service_names.names(conn)

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        form = _form(request)
        known = await run_in_threadpool(services)
        return html_page(env, "index.html", form=form, services=known, filters_on=_filters_on(form))

    def _search(req: SearchRequest) -> list[LocationResult]:
        with store.searching() as conn:
            return search(conn, req, now_ms=store.now_ms(), link_base=settings.discovery_url)

    @router.get("/search", response_class=HTMLResponse)
    async def results(request: Request) -> HTMLResponse:
        form = _form(request)
        known = await run_in_threadpool(services)
        common: dict[str, Any] = {"form": form, "services": known, "filters_on": _filters_on(form)}
        try:
            req = parse_search(dict(request.query_params), now=store.clock())
        except InvalidInput as exc:
            message, field = plain_search_error(exc, form)
            return html_page(
                env, "results.html", 400, error=message, error_field=field, where="", locations=[], summary=[], **common
            )
        now_ms = store.now_ms()
        if req.start_ms < now_ms:  # the web page starts at now
            req = req.with_changes(start_ms=now_ms, end_ms=max(req.end_ms, now_ms + 1))
        locations = await run_in_threadpool(_search, req)
        booked = await run_in_threadpool(lambda: booked_for(my_ids(request)))
        suggestions: list[tuple[str, str]] = []
        unknown_service = False
        if not locations and known:
            asked = (req.service or "").casefold()
            unknown_service = bool(asked) and not any(asked in name.casefold() for name in known)
            # A service we have none of: those that look like it, else those we have.
            names = close_services(req.service or "", known) if unknown_service else []
            suggestions = _suggestions(form, names)
        return html_page(
            env,
            "results.html",
            error=None,
            where=req.near.label if req.near else "",
            summary=filter_summary(form, req),
            locations=locations,
            booked=booked,
            location_query=_question(location_query(form)),
            go_query=_question(search_query(form)),
            suggestions=suggestions,
            unknown_service=unknown_service,
            **common,
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
            message = _("This location is not in the current data of any provider. Please search again.")
            return html_page(env, "gone.html", 404, heading=_("Location not found"), message=message, **_empty())
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

    @router.get("/my-bookings", response_class=HTMLResponse)
    async def my_bookings(request: Request) -> HTMLResponse:
        ids = await run_in_threadpool(my_ids, request)
        views = await run_in_threadpool(_mine, ids)
        unfinished = [v.id for v in views if v.outcome not in FINAL_OUTCOMES][:MY_BOOKINGS_REFRESH]
        if unfinished:
            await refresh_many(store, settings, unfinished)
            views = await run_in_threadpool(_mine, ids)
        return html_page(env, "my_bookings.html", referrals=views)

    @router.get("/my-referrals")
    async def my_referrals() -> Response:
        """The page's old address, kept for links and bookmarks made before it was renamed."""
        return RedirectResponse("/my-bookings", status_code=301)

    @router.get("/back")
    async def back(request: Request) -> Response:
        """The return URL registered with portals: the patient is back from booking or calling off,
        and returns to the results the booked time was chosen from (else to "my bookings")."""
        referral = request.query_params.get("booking-referral") or ""
        if not is_referral_id(referral):
            return RedirectResponse("/my-bookings", status_code=303, headers=dict(_HEADERS))

        def known() -> tuple[bool, str | None]:
            with store.read() as conn:
                return is_known_referral(conn, referral), stored_search(referral_search(conn, referral))

        ours, query = await run_in_threadpool(known)
        target = "/search?" + query if ours and query else "/my-bookings"
        response = RedirectResponse(target, status_code=303, headers=dict(_HEADERS))
        if ours:
            await refresh_outcome(store, settings, referral)
            current = request.cookies.get(REFERRAL_COOKIE)
            signing_key = await run_in_threadpool(key)
            add_referral_cookie(response, key=signing_key, current=current, referral=referral, secure=secure_cookie)
        return response

    return router


def _empty() -> dict[str, Any]:
    return {"phone": None, "same": [], "nearby": [], "location_name": None, "show_alternatives": False}

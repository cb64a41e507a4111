"""The search JSON API (`GET /api/search`, documented by OpenAPI) and the deep links (`GET /go/{pk}`).

Routes stay thin (STYLE.md): parse with `parse_search` (malformed parameters become a 400
OperationOutcome naming the parameter, through the app's error handlers), call `search`, encode.
`/go/{pk}` implements the spec's "Deep links" with the stale-slot check of deeplinks.py; the search
a result's time link carries (`?near=...&service=...`, carry.py) is kept with the referral, for the
way back to the results, and links the fallback pages back to it. Each follow
stores a referral row and may re-read the slot from its publisher, so it is rate-limited per client
(`deeplink_attempts` per `deeplink_window_seconds`): over the limit a browser gets a plain-words 429
page, any other client an OperationOutcome, both with Retry-After. Every page `/go` answers with is in
plain words, in the patient's language.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from slotlinks.config import Settings
from slotlinks.discovery.referrals.deeplinks import (
    REFERRAL_COOKIE,
    SlotTarget,
    add_referral_cookie,
    alternatives,
    build_deep_link,
    cookie_key,
    is_bookable_link,
    load_slot,
    new_referral_id,
    record_referral,
    still_free,
)
from slotlinks.discovery.search.carry import location_query, search_query
from slotlinks.discovery.search.execute import LocationResult, search
from slotlinks.discovery.search.pages import html_page, make_templates
from slotlinks.discovery.search.query import parse_search
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import RateLimited
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.web.errors import FHIR_JSON
from slotlinks.web.i18n import current_language, gettext_for, switch_to, translations
from slotlinks.web.paths import RowPk
from slotlinks.web.ratelimit import RateLimiter, client_key

__all__ = ["SearchResponse", "search_response_schema", "search_router"]

_ = gettext_for("slotlinks.discovery")


class SearchWindow(msgspec.Struct, kw_only=True):
    start: str
    end: str
    tz: str


class SearchResponse(msgspec.Struct, kw_only=True):
    """The JSON API's answer: the window searched, the ranking used and the locations found."""

    window: SearchWindow
    sort: str
    radius_miles: float | None
    count: int
    locations: list[LocationResult]


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def search_response_schema() -> dict[str, Any]:
    """The JSON Schema of `SearchResponse`, references inlined (for the OpenAPI document)."""
    schema = msgspec.json.schema(SearchResponse)
    result = _inline(schema, schema.get("$defs", {}))
    assert isinstance(result, dict)
    return result


_DOCS = {
    "near": "ZIP code (02114) or latitude,longitude (42.36,-71.06)",
    "radius": "25mi, 40km or a bare number of miles; default 25mi",
    "service": "Service type: system|code, code, or text",
    "specialty": "Specialty: system|code, code, or text",
    "vaccine": "Vaccine product: system|code (CVX), code, or text",
    "virtual": "true: telehealth only; false: in person only",
    "practitioner": "Part of a practitioner's name",
    "publisher": "Publisher id, or part of its name",
    "organization": "Part of the name of a publisher or of an organization in its data (health system)",
    "from": "Window start: date or date-time; default now",
    "to": "Window end: date (inclusive) or date-time; default +14 days",
    "tz": "Patient's IANA time zone; default the ZIP code's, else UTC",
    "sort": "best (default), soonest or nearest",
    "limit": "Locations to return, 1-200 (default 20)",
    "per_location": "Times per location, 1-50 (default 5)",
    "include_busy": "true: busy slots too (default: free only)",
    "new_patients": "true: only times published as open to new patients (times that do not say are left out)",
    "no_referral": "true: only times whose service says no referral is needed (times that do not say are left out)",
    "age": "Patient's age in whole years, 0-130: only times whose published age range includes it",
    "language": "A language code (es, pt-BR) or English name (Spanish) a practitioner speaks",
}

# Documented here and read from the query string as they are (parse_search checks them): declared
# as FastAPI parameters, the twenty were a tenth of the server's time in a search.
_PARAMETERS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}
    for name, text in _DOCS.items()
]

_ENCODER = msgspec.json.Encoder()


def search_router(settings: Settings, store: DiscoveryStore) -> APIRouter:
    """`GET /api/search` and `GET /go/{slot_pk}`."""
    router = APIRouter()
    env = make_templates(store.clock)
    schema = search_response_schema()
    deeplinks = RateLimiter(settings.deeplink_attempts, settings.deeplink_window_seconds)

    def run(params: dict[str, str | None]) -> SearchResponse:
        req = parse_search(params, now=store.clock())
        with store.searching() as conn:
            found = search(conn, req, now_ms=store.now_ms(), link_base=settings.discovery_url)
        return SearchResponse(
            window=SearchWindow(start=ms_to_instant(req.start_ms), end=ms_to_instant(req.end_ms), tz=req.tz),
            sort=req.sort,
            radius_miles=req.radius_miles if req.near else None,
            count=len(found),
            locations=found,
        )

    @router.get(
        "/api/search",
        summary="Search open appointment slots across publishers",
        response_class=Response,
        responses={
            200: {
                "description": "Matching locations, ranked",
                "content": {"application/json": {"schema": schema}},
            },
            400: {
                "description": "A malformed parameter (OperationOutcome naming it)",
                "content": {FHIR_JSON: {}},
            },
        },
        tags=["search"],
        openapi_extra={"parameters": _PARAMETERS},
    )
    async def api_search(request: Request) -> Response:
        query = request.query_params
        params = {name: query.get(name) for name in _DOCS}
        answer = await run_in_threadpool(run, params)
        return Response(_ENCODER.encode(answer), media_type="application/json", headers={"Cache-Control": "no-store"})

    def _load(slot_pk: int) -> SlotTarget | None:
        with store.read() as conn:
            return load_slot(conn, slot_pk)

    def _alternatives(target: SlotTarget) -> tuple[list[LocationResult], list[LocationResult]]:
        with store.read() as conn:
            return alternatives(conn, target, now_ms=store.now_ms(), link_base=settings.discovery_url)

    def _record(target: SlotTarget, referral: str, link: str, search: str) -> None:
        with store.write() as conn:
            record_referral(conn, target, referral=referral, link=link, now_ms=store.now_ms(), search_query=search)

    def _page(status: int, heading: str, message: str, search: dict[str, str], **alternatives: Any) -> Response:
        """A page `/go` answers with instead of the provider's site (`alternatives`: the next open times
        and the phone, where there are any); its links carry the search on, and lead back to it."""
        query = search_query(search)
        places = location_query(search)
        switch_to("/search" if query else "/", query)  # never `/go` again: that would open the link anew
        context: dict[str, Any] = {
            "phone": None,
            "same": [],
            "nearby": [],
            "location_name": None,
            "show_alternatives": False,
            **alternatives,
        }
        return html_page(
            env,
            "gone.html",
            status,
            heading=heading,
            message=message,
            back_to_search="/search?" + query if query else None,
            go_query="?" + query if query else "",
            location_query="?" + places if places else "",
            **context,
        )

    async def _gone(target: SlotTarget, heading: str, message: str, search: dict[str, str]) -> Response:
        same, nearby = await run_in_threadpool(_alternatives, target)
        return _page(
            200,
            heading,
            message,
            search,
            phone=target.booking_phone,
            same=same,
            nearby=nearby,
            location_name=target.location_name,
            show_alternatives=True,
        )

    def _slow_down(request: Request, wait: int, search: dict[str, str]) -> Response:
        if "text/html" not in request.headers.get("accept", ""):
            raise RateLimited(wait)  # an OperationOutcome, through the app's error handler
        minutes = max(1, -(-wait // 60))
        catalogue = translations("slotlinks.discovery", current_language())
        message = catalogue.ngettext(
            "We've had a lot of requests to open booking links from your connection in a short time. "
            "Please wait about %(num)s minute, then choose the time again.",
            "We've had a lot of requests to open booking links from your connection in a short time. "
            "Please wait about %(num)s minutes, then choose the time again.",
            minutes,
        ) % {"num": minutes}
        page = _page(429, _("Please wait a moment"), message, search)
        page.headers["Retry-After"] = str(wait)
        return page

    @router.get(
        "/go/{slot_pk}",
        summary="Follow a slot's booking deep link",
        tags=["search"],
        status_code=303,
        responses={429: {"description": "Too many deep links followed from this client; see Retry-After"}},
    )
    async def go(request: Request, slot_pk: RowPk) -> Response:
        peer = request.client.host if request.client else None
        client = client_key(peer, request.headers.get("x-forwarded-for"), behind_proxy=settings.behind_proxy)
        search = dict(request.query_params)
        if wait := deeplinks.take(client):
            return _slow_down(request, wait, search)
        target = await run_in_threadpool(_load, slot_pk)
        if target is None:
            message = _("The provider no longer offers this appointment time. Please choose another time.")
            return _page(404, _("This time is no longer listed"), message, search)
        if target.status != "free" or target.capacity <= 0:
            message = _("Someone else has booked this time. Here are the next open times.")
            return await _gone(target, _("This time is taken"), message, search)
        link = target.booking_link
        if link is None or not is_bookable_link(link):
            message = _("This provider takes bookings for this time by phone.")
            return await _gone(target, _("Book by phone"), message, search)
        if await still_free(target, settings=settings) is False:
            message = _("The provider tells us this time was just taken. Here are the next open times.")
            return await _gone(target, _("This time was just taken"), message, search)
        referral = new_referral_id()
        final = build_deep_link(link, source=settings.source_id, referral=referral, language=current_language())
        await run_in_threadpool(_record, target, referral, final, search_query(search))
        response = RedirectResponse(final, status_code=303, headers={"Cache-Control": "no-store"})
        # The browser keeps its referrals (no account): "my bookings" and the booked badges read them.
        add_referral_cookie(
            response,
            key=await run_in_threadpool(_cookie_key),
            current=request.cookies.get(REFERRAL_COOKIE),
            referral=referral,
            secure=settings.discovery_url.startswith("https:"),
        )
        return response

    def _cookie_key() -> bytes:
        with store.read() as conn:
            return cookie_key(settings, conn)

    return router

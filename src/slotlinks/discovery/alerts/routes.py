"""The alerts' routes: `POST /api/alerts` (JSON, in the OpenAPI document), the results page's form
(`POST /alerts`), the earlier-time offer's form on "my referrals" (`POST /alerts/earlier`,
offer_routes.py), and the links in the messages: confirm (`/alerts/{id}/confirm`) and unsubscribe
(`/alerts/{id}/unsubscribe`).

Confirming takes a press of a button (GET shows it, POST confirms): mail scanners open links, and a
scanner must not be able to confirm for the address owner. Unsubscribing takes no more than opening
the link, and RFC 8058's one-click POST to the same URL does it too: at worst a scanner ends an alert,
never starts one. Creation is rate-limited per client (`alert_attempts` per `alert_window_seconds`)
and at most `alerts_per_address` per address. Without `--smtp-url` alerts are off: there is no
`POST /api/alerts`, the results page shows no form, and the links of alerts made before still work.

An app registered by the admin (`app_routes.py`) posts to `POST /api/alerts` with `Authorization:
Bearer <app key>` and no `email`: its alert is active at once, and its news goes to the app's webhook.
That takes no mail server, so with the admin API on the route is there without `--smtp-url` too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from slotlinks.config import Settings
from slotlinks.discovery.alerts.apps import app_for_key, create_app_alert
from slotlinks.discovery.alerts.criteria import CRITERIA, parse_alert
from slotlinks.discovery.alerts.links import alert_key
from slotlinks.discovery.alerts.mailer import Mailer
from slotlinks.discovery.alerts.messages import end_date
from slotlinks.discovery.alerts.offer_routes import add_offer_route
from slotlinks.discovery.alerts.service import cancel_alert, confirm_alert, create_alert
from slotlinks.discovery.search.pages import html_page, make_templates
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput, RateLimited, SlotlinksError, Unavailable
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.web.bodies import MAX_FORM_BYTES, read_body, read_form
from slotlinks.web.errors import FHIR_JSON, page_route
from slotlinks.web.i18n import LANGUAGES, N_, gettext_for
from slotlinks.web.ratelimit import RateLimiter, client_key, wait_in_words

__all__ = ["alerts_router"]

_ = gettext_for("slotlinks.discovery")

_HEADINGS = {
    400: N_("Please check the alert"),
    404: N_("This link does not work"),
    409: N_("Too many alerts for this address"),
    429: N_("Please wait a moment"),
    503: N_("Alerts are not available"),
}

_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["near"],
    "properties": {
        "email": {
            "type": "string",
            "format": "email",
            "description": "Where to send the messages: required, except from an app (its key), which gives none",
        },
        "near": {"type": "string", "description": "ZIP code or latitude,longitude (not needed with virtual=true)"},
        "radius": {"type": "string", "description": "25mi, 40km or a bare number of miles; default 25mi"},
        "service": {"type": "string", "description": "Service type: system|code, code, or text"},
        "specialty": {"type": "string", "description": "Specialty: system|code, code, or text"},
        "vaccine": {"type": "string", "description": "Vaccine product: system|code (CVX), code, or text"},
        "virtual": {"type": "string", "enum": ["true", "false"], "description": "Telehealth only, or in person"},
        "practitioner": {"type": "string", "description": "Part of a practitioner's name"},
        "publisher": {"type": "string", "description": "Publisher id, or part of its name"},
        "organization": {"type": "string", "description": "Part of the name of a health system"},
        "from": {"type": "string", "description": "First date (YYYY-MM-DD) or date-time; default: now, rolling"},
        "to": {"type": "string", "description": "Last date (included) or date-time; default: 14 days on, rolling"},
        "tz": {"type": "string", "description": "The patient's IANA time zone for from/to"},
        "language": {
            "type": "string",
            "enum": list(LANGUAGES),
            "description": "The language of the messages; default: the request's Accept-Language, else en",
        },
    },
}
_CREATED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["confirmation-sent", "active"]},
        "expires": {"type": "string", "description": "When the alert ends (FHIR instant)"},
        "message": {"type": "string"},
    },
}


def alerts_router(settings: Settings, store: DiscoveryStore, mailer: Mailer | None) -> APIRouter:
    """`POST /api/alerts`, `POST /alerts` and the confirm and unsubscribe links."""
    env = make_templates()
    limiter = RateLimiter(settings.alert_attempts, settings.alert_window_seconds)
    keys: list[bytes] = []

    def key() -> bytes:
        if not keys:
            with store.read() as conn:
                keys.append(alert_key(settings, conn))
        return keys[0]

    def page(heading: str, message: str, status: int = 200, **form: Any) -> HTMLResponse:
        return html_page(env, "alert.html", status, heading=heading, message=message, form=form or None)

    async def error_page(_request: Request, error: SlotlinksError) -> Response:
        return page(_(_HEADINGS.get(error.status, N_("Something went wrong"))), _plain(error), error.status)

    def admit(request: Request) -> None:
        """Before any alert is made: alerts are on, and the client within its rate limit (taken before
        the input is read, so refused input also counts)."""
        if mailer is None:
            raise Unavailable("e-mail alerts are not set up on this server")
        peer = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-for")
        wait = limiter.take(client_key(peer, forwarded, behind_proxy=settings.behind_proxy))
        if wait:
            raise RateLimited(wait)

    def create(request: Request, values: dict[str, Any]) -> dict[str, Any]:
        """Shared by the API and the form."""
        admit(request)
        assert mailer is not None  # admit refused otherwise
        parsed = parse_alert(values, now=store.clock())
        made = create_alert(store=store, settings=settings, mailer=mailer, key=key(), request=parsed)
        return {
            "id": made.id,
            "status": "confirmation-sent",
            "expires": ms_to_instant(made.expires_ms),
            "message": f"A message was sent to {made.email}: the alert starts when its link is followed.",
        }

    def create_for_app(request: Request, values: dict[str, Any]) -> dict[str, Any]:
        app = app_for_key(store, request.headers.get("authorization"))
        made = create_app_alert(store=store, settings=settings, app=app, values=values)
        return {
            "id": made.id,
            "status": "active",
            "expires": ms_to_instant(made.expires_ms),
            "message": "The alert is on: matching times are posted to the app's webhook.",
        }

    api = APIRouter()
    pages = APIRouter(include_in_schema=False, route_class=page_route(error_page))

    @api.post(
        "/api/alerts",
        summary="Ask to be e-mailed when a matching appointment time opens",
        description=(
            "Double opt-in: only a confirmation message is sent until its link is followed. Then at most one "
            "message per period (default 15 minutes) lists the best new matching times, each linked through "
            "/go. Every message has a one-click unsubscribe link (RFC 8058). Alerts end after 30 days "
            "(configurable); a few per address; creation is rate-limited per client.\n\n"
            "An app registered with `PUT /admin/apps/{name}` sends `Authorization: Bearer <app key>` and no "
            "`email`: the alert is active at once (201) and each message is a JSON POST to the app's webhook, "
            "signed: header `Slotlinks-Timestamp: <Unix seconds>` and `Slotlinks-Signature: sha256=<hex>`, the "
            "HMAC-SHA256 with the app's secret of `<timestamp>.<body>`. Failed deliveries (no answer, 5xx, 429) "
            "are retried with exponential backoff; `DELETE /api/alerts/{id}` with the key ends the alert."
        ),
        status_code=202,
        response_class=Response,
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}},
        responses={
            201: {
                "description": "An app's alert, active",
                "content": {"application/json": {"schema": _CREATED_SCHEMA}},
            },
            202: {"description": "Confirmation sent", "content": {"application/json": {"schema": _CREATED_SCHEMA}}},
            401: {"description": "An Authorization header that is no app's key", "content": {FHIR_JSON: {}}},
            400: {"description": "A malformed parameter (OperationOutcome naming it)", "content": {FHIR_JSON: {}}},
            409: {"description": "This address has the most alerts allowed", "content": {FHIR_JSON: {}}},
            413: {"description": "The body is too large", "content": {FHIR_JSON: {}}},
            429: {"description": "Too many alerts from this client; see Retry-After", "content": {FHIR_JSON: {}}},
            503: {"description": "Alerts are off, or the mail server refused", "content": {FHIR_JSON: {}}},
        },
        tags=["alerts"],
    )
    async def api_create(request: Request) -> Response:
        body = await read_body(request, MAX_FORM_BYTES)
        try:
            values = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidInput("the body is not JSON") from None
        if not isinstance(values, dict):
            raise InvalidInput("the body must be a JSON object of the alert's parameters")
        if "authorization" in request.headers:
            made = await run_in_threadpool(create_for_app, request, values)
            return Response(orjson.dumps(made), status_code=201, media_type="application/json")
        made = await run_in_threadpool(create, request, values)
        return Response(orjson.dumps(made), status_code=202, media_type="application/json")

    @pages.post("/alerts", response_class=HTMLResponse)
    async def form_create(request: Request) -> HTMLResponse:
        form = await read_form(request)
        values = {name: form[name] for name in (*CRITERIA, "email") if name in form}
        made = await run_in_threadpool(create, request, values)
        message = _(
            "We sent a message to %(email)s. Open its link and press Confirm to start "
            "the alert; until then nothing else is sent. The alert ends on %(ends)s.",
            email=values.get("email", "").strip(),
            ends=end_date(_ms(made["expires"]), "UTC"),
        )
        return page(_("Check your e-mail"), message, 202)

    def _token(request: Request) -> str:
        return request.query_params.get("token", "")

    @pages.get("/alerts/{alert_id}/confirm", response_class=HTMLResponse)
    async def confirm_page(alert_id: str, request: Request) -> HTMLResponse:
        token = _token(request)
        await run_in_threadpool(
            lambda: confirm_alert(store=store, key=key(), alert_id=alert_id, token=token, dry_run=True)
        )
        return page(
            _("Start this alert?"),
            _("Press Confirm to be e-mailed when a matching appointment time opens."),
            action=f"/alerts/{alert_id}/confirm",
            token=token,
            button=_("Confirm"),
        )

    @pages.post("/alerts/{alert_id}/confirm", response_class=HTMLResponse)
    async def confirm(alert_id: str, request: Request) -> HTMLResponse:
        token = (await read_form(request)).get("token", "")
        expires_ms = await run_in_threadpool(
            lambda: confirm_alert(store=store, key=key(), alert_id=alert_id, token=token)
        )
        message = _(
            "We will e-mail you when a matching time opens, at most once every %(minutes)s minutes. "
            "The alert ends on %(ends)s; every message has a link to stop it sooner.",
            minutes=max(1, settings.alert_period_seconds // 60),
            ends=end_date(expires_ms, "UTC"),
        )
        return page(_("Your alert is on"), message)

    async def unsubscribe(alert_id: str, request: Request) -> HTMLResponse:
        token = _token(request)
        await run_in_threadpool(lambda: cancel_alert(store=store, key=key(), alert_id=alert_id, token=token))
        return page(_("Alert cancelled"), _("You will get no more messages from this alert, and we deleted it."))

    pages.add_api_route("/alerts/{alert_id}/unsubscribe", unsubscribe, methods=["GET", "POST"])
    add_offer_route(pages, settings=settings, store=store, mailer=mailer, key=key, admit=admit, page=page)
    router = APIRouter()
    router.include_router(pages)
    if mailer is not None or settings.admin_enabled:  # the API (and its OpenAPI entry) only where it can work
        router.include_router(api)
    return router


# What a person is told about a field the form or link got wrong (the API's OperationOutcome keeps
# the precise message for programs).
_FIELDS = {
    "email": N_("Please enter your e-mail address, like name@example.com."),
    "near": N_("Please search with a place (a 5-digit ZIP code) before asking for an alert."),
    "to": N_("The dates of this search have passed. Please search again for dates ahead."),
}
_UNAVAILABLE = N_("E-mail alerts are not available right now. Please try again later.")


def _plain(error: SlotlinksError) -> str:
    """The error in plain words, in the page's language: a rate limit with its wait, a field by its
    name, a mail server away as such (its details are for the log), else the message itself
    (translated where it was marked)."""
    if isinstance(error, RateLimited):
        wait = wait_in_words(error.retry_after)
        return _("Too many alerts were asked for from here. Please try again in %(wait)s.", wait=wait)
    fields = [part for issue in error.issues for part in issue.expression if part in _FIELDS]
    if fields:
        return _(_FIELDS[fields[0]])
    if isinstance(error, Unavailable):
        return _(_UNAVAILABLE)
    text = _(error.message)
    return text[:1].upper() + text[1:].rstrip(".") + "."


def _ms(instant: str) -> int:
    return int(datetime.fromisoformat(instant).astimezone(UTC).timestamp() * 1000)

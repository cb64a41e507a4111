"""The staff side of the portal, its admin API, and the limit on patients' booking attempts.

    GET  /staff/login                        sign-in form
    POST /staff/login                        sign in (failures limited per client, slowed per username)
    POST /staff/logout                       sign out
    GET  /staff/?location=&day=              today's and upcoming bookings, by location and schedule
    POST /staff/appointments/{id}/cancel     cancel on the patient's behalf (frees the slot)
    PUT|DELETE /admin/staff/{username}       {"password"} (admin token)

Every staff page needs a session: without one, a page redirects to the sign-in form and shows nothing.
The session cookie holds a random token (the database keeps its hash), is HttpOnly, SameSite=Strict,
Secure when the base URL is https, and lasts `staff_auth.SESSION_HOURS`. Every form carries a CSRF
token (`csrf`): bound to a sign-in cookie on the sign-in form, to the session afterwards, and to what
the form acts on. Every page is rendered with the request's CSP nonce (`web.headers`, which also forbids
framing), and no response is cached.

Failed sign-ins are limited per client (a 429 with Retry-After once its bucket is empty) and slowed
per username (`ratelimit.Backoff`: every sign-in to an account with many recent failures waits a
few seconds at most before its password is looked at, right or wrong, so the wait tells nothing).
The account is never refused outright: anyone can name it, so a refusal would let strangers keep
the real user out by trickling wrong passwords from many addresses.

`BookingAttempts` is the portal's dependency on its hold and book POSTs: a token bucket per client
(`ratelimit`); over the limit, `rate_limited_page` answers 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
from datetime import date
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec
from fastapi import APIRouter, Depends, Request
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from slotlinks.clock import now_ms
from slotlinks.config import Settings
from slotlinks.errors import InvalidInput, NotFound, RateLimited
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.provider.admin.wire import json_bytes, require_token
from slotlinks.provider.portal import csrf
from slotlinks.provider.portal.responses import make_templates
from slotlinks.provider.staff.auth import (
    SESSION_HOURS,
    delete_staff_user,
    put_staff_user,
    session_user,
    sign_in,
    sign_out,
)
from slotlinks.provider.staff.bookings import cancel_for_patient, locations, staff_bookings
from slotlinks.provider.store.store import ProviderStore
from slotlinks.web.bodies import MAX_BODY_BYTES, read_body, read_form
from slotlinks.web.headers import csp_nonce
from slotlinks.web.i18n import gettext_for
from slotlinks.web.ratelimit import Backoff, RateLimiter, client_key, wait_in_words

__all__ = ["BookingAttempts", "rate_limited_page", "staff_admin_router", "staff_router"]

STAFF_PATH = "/staff/"
SESSION_COOKIE = "slotlinks_staff"
LOGIN_COOKIE = "slotlinks_staff_login"
_ = gettext_for("slotlinks.provider")
WRONG_CREDENTIALS = "That username and password do not match an account."


@cache
def _templates() -> Environment:
    return make_templates()


def _render(template: str, status: int = 200, *, headers: dict[str, str] | None = None, **context: Any) -> Response:
    context.setdefault("back", None)
    html = _templates().get_template(template).render(nonce=csp_nonce(), **context)
    response = Response(html, status_code=status, media_type="text/html; charset=utf-8", headers=headers)
    response.headers.update(csrf.page_headers())
    return response


def _redirect(location: str) -> Response:
    response = RedirectResponse(location, status_code=303)
    response.headers.update(csrf.page_headers())
    return response


def _client(request: Request, behind_proxy: bool) -> str:
    peer = request.client.host if request.client else None
    return client_key(peer, request.headers.get("x-forwarded-for"), behind_proxy=behind_proxy)


# --- the patients' booking attempts ----------------------------------------------------------------


class BookingAttempts:
    """A FastAPI dependency: one token per booking attempt from a client; raises `RateLimited` when
    the client's bucket is empty."""

    def __init__(self, settings: Settings, limiter: RateLimiter | None = None) -> None:
        self.limiter = limiter or RateLimiter(settings.booking_attempts, settings.booking_window_seconds)
        self.behind_proxy = settings.behind_proxy

    async def __call__(self, request: Request) -> None:
        wait = self.limiter.take(_client(request, self.behind_proxy))
        if wait:
            raise RateLimited(wait)


def _patient_wait(seconds: int) -> str:
    # A patient's page (the booking attempts' limit), so in the patient's language.
    minutes = max(1, -(-seconds // 60))
    if minutes == 1:
        return _(
            "We've had a lot of booking attempts from your connection in a short time. "
            "Please wait about a minute, then try again. Nothing has been booked."
        )
    return _(
        "We've had a lot of booking attempts from your connection in a short time. "
        "Please wait about %(minutes)s minutes, then try again. Nothing has been booked.",
        minutes=minutes,
    )


async def rate_limited_page(_request: Request, exc: Exception) -> Response:
    """The polite 429 page (an exception handler for `RateLimited`)."""
    assert isinstance(exc, RateLimited)
    return _render(
        "staff_message.html",
        429,
        headers={"Retry-After": str(exc.retry_after)},
        title=_("Please wait a moment"),
        heading=_("Please wait a moment"),
        message=_patient_wait(exc.retry_after),
        link=None,
    )


# --- staff pages -----------------------------------------------------------------------------------


def staff_router(settings: Settings, store: ProviderStore, *, login_limiter: RateLimiter | None = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    clock = store.clock
    limiter = login_limiter or RateLimiter(settings.login_attempts, settings.login_window_seconds)
    backoff = Backoff(
        settings.login_attempts, settings.login_window_seconds, max_delay=settings.login_max_delay_seconds
    )
    secure = urlsplit(settings.base_url).scheme == "https"
    secret_cache: list[bytes] = []

    def secret() -> bytes:
        if not secret_cache:
            secret_cache.append(csrf.portal_secret(settings, store))
        return secret_cache[0]

    def signed_in(request: Request) -> tuple[str, str] | None:
        """(username, session token) of a live session, else None."""
        token = request.cookies.get(SESSION_COOKIE)
        user = session_user(store=store, clock=clock, token=token)
        return None if user is None or token is None else (user, token)

    def login_page(
        request: Request, status: int = 200, *, error: str | None = None, username: str = "", retry_after: int = 0
    ) -> Response:
        cookie = request.cookies.get(LOGIN_COOKIE) or csrf.new_flow()
        response = _render(
            "staff_login.html",
            status,
            headers={"Retry-After": str(retry_after)} if retry_after else None,
            csrf_token=csrf.csrf_token(secret(), cookie, "staff-login"),
            error=error,
            username=username,
            action=STAFF_PATH + "login",
        )
        if request.cookies.get(LOGIN_COOKIE) != cookie:
            response.set_cookie(LOGIN_COOKIE, cookie, path=STAFF_PATH, httponly=True, samesite="strict", secure=secure)
        return response

    def message(status: int, heading: str, text: str) -> Response:
        return _render("staff_message.html", status, title=heading, heading=heading, message=text, link=STAFF_PATH)

    @router.get(STAFF_PATH + "login")
    def login_form(request: Request) -> Response:
        if signed_in(request):
            return _redirect(STAFF_PATH)
        return login_page(request)

    @router.post(STAFF_PATH + "login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        username = form.get("username", "").strip()[:64]
        if not csrf.check_csrf(secret(), request.cookies.get(LOGIN_COOKIE), "staff-login", form.get("csrf")):
            return login_page(request, 403, error="This form has expired. Please sign in again.", username=username)
        client = _client(request, settings.behind_proxy)
        wait = limiter.take(client)
        if wait:
            error = (
                "Too many failed sign-ins from your connection. "
                f"Please wait about {wait_in_words(wait)}, then try again."
            )
            return login_page(request, 429, error=error, username=username, retry_after=wait)
        account = username.lower()
        delay = backoff.delay(account)
        if delay:
            await asyncio.sleep(delay)
        session = await run_in_threadpool(
            sign_in, store=store, clock=clock, username=username, password=form.get("password", "")
        )
        if session is None:
            backoff.fail(account)
            return login_page(request, 401, error=WRONG_CREDENTIALS, username=username)
        limiter.refund(client)  # only failed sign-ins count
        response = _redirect(STAFF_PATH)
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            max_age=SESSION_HOURS * 3600,
            path=STAFF_PATH,
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    @router.post(STAFF_PATH + "logout")
    async def logout(request: Request) -> Response:
        form = await read_form(request)
        current = await run_in_threadpool(signed_in, request)
        if current is None:
            return _redirect(STAFF_PATH + "login")
        if not csrf.check_csrf(secret(), current[1], "staff-logout", form.get("csrf")):
            return message(403, "Please try again", "This form has expired. Reload the page and try again.")
        await run_in_threadpool(sign_out, store=store, clock=clock, token=current[1])
        response = _redirect(STAFF_PATH + "login")
        response.delete_cookie(SESSION_COOKIE, path=STAFF_PATH, httponly=True, samesite="strict", secure=secure)
        return response

    @router.get(STAFF_PATH)
    def bookings(request: Request) -> Response:
        current = signed_in(request)
        if current is None:
            return _redirect(STAFF_PATH + "login")
        user, token = current
        location_id = request.query_params.get("location") or None
        raw_day = (request.query_params.get("day") or "").strip()
        notice = {"cancelled": "The appointment was cancelled and its time is free again."}.get(
            request.query_params.get("done", "")
        )
        day: date | None = None
        if raw_day:
            try:
                day = date.fromisoformat(raw_day)
            except ValueError:
                notice = "Please give the date as YYYY-MM-DD. Showing today and later."
        with store.read() as conn:
            groups, truncated = staff_bookings(conn, at_ms=now_ms(clock), location_id=location_id, day=day)
            places = locations(conn)
        return _render(
            "staff_bookings.html",
            user=user,
            groups=groups,
            truncated=truncated,
            places=places,
            location_id=location_id or "",
            day=day.isoformat() if day else "",
            notice=notice,
            csrf_for=lambda purpose: csrf.csrf_token(secret(), token, purpose),
        )

    @router.post(STAFF_PATH + "appointments/{appointment_id}/cancel")
    async def cancel_on_behalf(appointment_id: str, request: Request) -> Response:
        form = await read_form(request)
        current = await run_in_threadpool(signed_in, request)
        if current is None:
            return _redirect(STAFF_PATH + "login")
        user, token = current
        if not csrf.check_csrf(secret(), token, f"staff-cancel:{appointment_id}", form.get("csrf")):
            return message(403, "Please try again", "This form has expired. Reload the page and try again.")
        try:
            await run_in_threadpool(
                cancel_for_patient, store=store, clock=clock, appointment_id=appointment_id, username=user
            )
        except NotFound:
            return message(404, "No such appointment", "That appointment could not be found.")
        back = {k: v for k in ("location", "day") if (v := form.get(k, "").strip())}
        return _redirect(STAFF_PATH + "?" + urlencode({**back, "done": "cancelled"}))

    return router


# --- staff accounts (admin API) --------------------------------------------------------------------


class _PasswordBody(msgspec.Struct, forbid_unknown_fields=True):
    password: str


def staff_admin_router(settings: Settings, store: ProviderStore) -> APIRouter:
    """`/admin/staff/{username}`; mounted before `admin.routes`, whose `/admin/{Type}/{id}` would take it."""

    async def authorized(request: Request) -> None:
        require_token(settings, request.headers.get("authorization"))

    router = APIRouter(prefix="/admin/staff", dependencies=[Depends(authorized)], tags=["admin"])

    @router.put("/{username}")
    async def put_user(username: str, request: Request) -> Response:
        raw = await read_body(request, MAX_BODY_BYTES)
        try:
            body = msgspec.json.decode(raw, type=_PasswordBody)
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"invalid body: {exc}", expression=("password",)) from exc
        except msgspec.DecodeError as exc:
            raise InvalidInput(f"the body is not JSON: {exc}") from exc
        user = await run_in_threadpool(
            put_staff_user, store=store, clock=store.clock, username=username, password=body.password
        )
        made = {"username": user.username, "active": user.active, "created": ms_to_instant(user.created_ms)}
        return Response(json_bytes(made), media_type="application/json")

    @router.delete("/{username}")
    def delete_user(username: str) -> Response:
        delete_staff_user(store=store, username=username)
        return Response(status_code=204)

    return router

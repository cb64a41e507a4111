"""`POST /alerts/earlier`: "Tell me if an earlier time opens", the form on "my referrals" beside a
booked referral (`_earlier_offer.html`).

The referral must be one of this browser's (its signed referral cookie, which SameSite=Lax keeps off
another site's POST), booked, with its time ahead. The offer is made like any alert (service.py: the
same per-address limit, double opt-in and confirmation link) and counts against the same per-client
rate limit as the results page's form, which `admit` (routes.py) applies before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from slotlinks.config import Settings
from slotlinks.discovery.alerts.earlier import offer_request
from slotlinks.discovery.alerts.mailer import Mailer
from slotlinks.discovery.alerts.messages import end_date
from slotlinks.discovery.alerts.offer_text import NOT_YOURS, SENT_HEADING, offer_sent
from slotlinks.discovery.alerts.service import Created, create_alert
from slotlinks.discovery.referrals.deeplinks import REFERRAL_COOKIE, cookie_key, read_referral_cookie
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput
from slotlinks.web.bodies import read_form
from slotlinks.web.i18n import gettext_for

__all__ = ["add_offer_route"]

_ = gettext_for("slotlinks.discovery")


def add_offer_route(
    pages: APIRouter,
    *,
    settings: Settings,
    store: DiscoveryStore,
    mailer: Mailer | None,
    key: Callable[[], bytes],
    admit: Callable[[Request], None],
    page: Callable[..., HTMLResponse],
) -> None:
    """Adds `POST /alerts/earlier` to the alerts' page router (its error pages are theirs)."""

    def mine(request: Request) -> list[str]:
        with store.read() as conn:
            signing_key = cookie_key(settings, conn)
        return read_referral_cookie(signing_key, request.cookies.get(REFERRAL_COOKIE))

    def make(request: Request, referral: str, email: str) -> Created:
        admit(request)
        assert mailer is not None  # admit refused otherwise
        if referral not in mine(request):
            raise InvalidInput(NOT_YOURS)
        with store.read() as conn:
            wanted = offer_request(conn, referral_id=referral, email=email, now_ms=store.now_ms())
        return create_alert(store=store, settings=settings, mailer=mailer, key=key(), request=wanted)

    @pages.post("/alerts/earlier", response_class=HTMLResponse)
    async def ask_for_earlier(request: Request) -> HTMLResponse:
        form = await read_form(request)
        referral, email = form.get("referral", ""), form.get("email", "")
        made = await run_in_threadpool(make, request, referral, email)
        return page(_(SENT_HEADING), offer_sent(made.email, end_date(made.expires_ms, "UTC")), 202)

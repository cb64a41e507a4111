"""How the portal answers: its templates, the frame every page is sent in, and the pages that more
than one route sends (the slot is no longer available; the booking was called off).

Every page is rendered with the request's CSP nonce (`web.headers`, which also forbids framing and
referrers) and is never cached (`csrf.page_headers`). The browser's flow cookie (`flows`) is set on
the first page, and on any page whose request carried no flow the portal minted; every form carries
a CSRF token bound to it and to what the form acts on (`csrf`). A slot that cannot be had is
always the "no longer available" page with the nearest other free times of the same schedule (UX
problem 2), never an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment
from starlette.responses import Response

from slotlinks.clock import now_ms
from slotlinks.config import Settings
from slotlinks.provider.portal import csrf
from slotlinks.provider.portal.flows import FlowCookies
from slotlinks.provider.portal.holds import Hold
from slotlinks.provider.portal.questionnaires import option_key, option_label
from slotlinks.provider.portal.reference import spaced
from slotlinks.provider.portal.referrals import return_link
from slotlinks.provider.portal.slotinfo import alternatives, slot_view
from slotlinks.provider.store.settings import BOOKING_PATH, NAME_SETTING
from slotlinks.provider.store.store import ProviderStore
from slotlinks.web.headers import csp_nonce
from slotlinks.web.templating import page_templates

__all__ = ["PORTAL_QUERY", "PortalPages", "link_query", "make_templates"]


def make_templates() -> Environment:
    """The provider's page templates (portal and staff), with the portal's answer helpers; times are
    written by `web.timetext`'s filters, as on every page."""
    env = page_templates("slotlinks.provider")
    env.filters["spaced"] = spaced
    env.globals["option_key"] = option_key
    env.globals["option_label"] = option_label
    return env


# The query names a link into the flow carries: who referred the patient, and their referral's id.
PORTAL_QUERY = ("source", "booking-referral")


def link_query(source: str | None, referral: str | None) -> str:
    """`?source=…&booking-referral=…` for links back into the flow ("" when there is neither)."""
    pairs = [(k, v) for k, v in zip(PORTAL_QUERY, (source, referral), strict=True) if v]
    return "?" + urlencode(pairs) if pairs else ""


class PortalPages:
    """The page frame and the shared pages of one portal router."""

    def __init__(self, settings: Settings, store: ProviderStore) -> None:
        self.settings = settings
        self.store = store
        self.env = make_templates()
        self._secret: bytes | None = None
        self.flows = FlowCookies(settings, self.secret)

    def secret(self) -> bytes:
        """The portal's signing secret, read once (`csrf.portal_secret`)."""
        if self._secret is None:
            self._secret = csrf.portal_secret(self.settings, self.store)
        return self._secret

    def page(
        self, request: Request, template: str, status: int = 200, *, flow: str | None = None, **context: Any
    ) -> Response:
        """`template` rendered with a fresh nonce, CSRF tokens for the browser's flow, and the portal's
        headers; sets the flow cookie when the browser has no flow the portal minted."""
        nonce = csp_nonce()
        cookie = self.flows.current(request)
        flow = flow or cookie or self.flows.mint()
        context.setdefault("csrf_for", lambda purpose: csrf.csrf_token(self.secret(), flow, purpose))
        context.setdefault("attempt_for", lambda purpose: csrf.attempt_token(self.secret(), flow, purpose))
        context.setdefault("back", None)
        context.setdefault("slot", None)
        # The header names the provider from its own settings, never from the request (its Host).
        context.setdefault("provider_name", self.store.get_setting(NAME_SETTING))
        html = self.env.get_template(template).render(nonce=nonce, **context)
        response = Response(html, status_code=status, media_type="text/html; charset=utf-8")
        response.headers.update(csrf.page_headers())
        if cookie != flow:
            self.flows.set(response, flow)
        return response

    def unavailable(
        self,
        request: Request,
        slot_id: str,
        status: int,
        source: str | None,
        referral: str | None,
        reason: str = "taken",
    ) -> Response:
        """ "This time is no longer available", with the nearest other free times of the schedule."""
        at_ms = now_ms(self.store.clock)
        with self.store.read() as conn:
            view = slot_view(conn, slot_id)
            others = alternatives(conn, view, at_ms) if view is not None else []
            back = return_link(conn, source, referral)
        return self.page(
            request,
            "unavailable.html",
            status,
            slot=view,
            others=others,
            query=link_query(source, referral),
            reason=reason,
            back=back,
            book_path=BOOKING_PATH,
        )

    def called_off(self, request: Request, hold: Hold, outcome: str, messages: tuple[str, ...]) -> Response:
        """The hold was released (by the patient, or because the answers rule online booking out)."""
        with self.store.read() as conn:
            view = slot_view(conn, hold.slot_id)
            back = return_link(conn, hold.source, hold.referral)
        return self.page(request, "called_off.html", slot=view, outcome=outcome, messages=messages, back=back)

    def expired_form(self, request: Request, status: int, again: str | None = None, **context: Any) -> Response:
        """The form is no longer valid (wrong CSRF token, not this browser's hold, or a lapsed hold)."""
        return self.page(request, "expired_form.html", status, again=again, **context)

    def other_browser(self, request: Request, hold: Hold) -> Response:
        """The hold (and any appointment made from it) belongs to another browser's flow: nothing of
        it is shown, only the way to choose a time."""
        return self.page(request, "other_browser.html", 403, again=BOOKING_PATH + hold.slot_id)

    def appointment_url(self, key: str) -> str:
        """The patient's own link to the confirmation page (`key`: the booking reference), signed so
        only it opens the appointment."""
        token = csrf.sign(self.secret(), "appointment:" + key)
        return f"{BOOKING_PATH}appointment/{key}?token={token}"

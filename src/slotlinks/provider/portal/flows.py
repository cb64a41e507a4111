"""The browser's flow identity: minted and signed by the portal, carried in a cookie, and renewed
when the browser places a hold, so a value planted in a patient's browser never owns their hold
(session fixation, issue 12).

* A flow is `<random>.<HMAC(secret, flow:<random>)>`. A cookie that does not verify is not a flow:
  the next page replaces it with a freshly minted one and nothing is bound to it.
* The landing form's token names a one-time `attempt` (`csrf.attempt_token`). Placing the hold
  moves the browser to a new flow derived from that attempt (`for_attempt`), set on the answer to
  the POST; the hold belongs to it. Whoever knew the landing flow (say, because they planted it)
  knows neither the attempt, which only the patient's page carried, nor the secret, so they can
  neither own the hold nor reach the appointment through it. The derivation is deterministic so a
  double-clicked "Continue" (the same form sent twice, with the old cookie or the new one) lands on
  the same hold (`holds.place_hold`).
* Over https (the configured base URL's scheme; the Host header is never trusted) the cookie is
  `__Host-slotlinks_flow`, `Secure` and on `/`, which a sibling subdomain or a plain-http answer
  cannot set; over http it is `slotlinks_flow` on the portal's path. Always HttpOnly, SameSite=Lax.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from slotlinks.config import Settings
from slotlinks.provider.portal import csrf
from slotlinks.provider.store.settings import BOOKING_PATH

__all__ = ["FlowCookies"]

_COOKIE = "slotlinks_flow"


class FlowCookies:
    """Reads, mints and sets the flow cookie of one portal."""

    def __init__(self, settings: Settings, secret: Callable[[], bytes]) -> None:
        self.secure = urlsplit(settings.base_url).scheme == "https"
        self.name = "__Host-" + _COOKIE if self.secure else _COOKIE
        # `__Host-` requires Path=/; over http the cookie stays under the portal's pages.
        self.path = "/" if self.secure else BOOKING_PATH.rstrip("/")
        self._secret = secret

    def _signed(self, nonce: str) -> str:
        return f"{nonce}.{csrf.sign(self._secret(), 'flow:' + nonce)}"

    def mint(self) -> str:
        """A new flow, for a browser that has none (or sent one the portal did not make)."""
        return self._signed(csrf.new_flow())

    def current(self, request: Request) -> str | None:
        """The browser's flow, when its cookie is one the portal minted; else None."""
        value = request.cookies.get(self.name) or ""
        nonce, _, _ = value.rpartition(".")
        return value if nonce and secrets.compare_digest(self._signed(nonce), value) else None

    def for_attempt(self, purpose: str, attempt: str) -> str:
        """The flow that the hold placed by the form (`purpose`, `attempt`) belongs to."""
        return self._signed(csrf.sign(self._secret(), f"attempt-flow|{purpose}|{attempt}"))

    def continuing(self, request: Request, purpose: str, token: str | None) -> str | None:
        """The flow a hold placed by this landing form goes to, when the form was issued to this
        browser's flow, or this browser already moved to that flow (a repeated POST that followed
        the first one's answer). None for any other request."""
        flow = self.current(request)
        attempt = csrf.check_attempt(self._secret(), flow, purpose, token)
        if attempt is not None:
            return self.for_attempt(purpose, attempt)
        attempt = csrf.attempt_of(token)
        if flow is None or attempt is None:
            return None
        moved = self.for_attempt(purpose, attempt)
        return moved if secrets.compare_digest(moved, flow) else None

    def owns(self, request: Request, token: str) -> bool:
        """Whether this browser's flow is the one whose hash `token` a hold keeps."""
        flow = self.current(request)
        return flow is not None and secrets.compare_digest(token, csrf.flow_hash(flow))

    def set(self, response: Response, flow: str) -> None:
        response.set_cookie(self.name, flow, path=self.path, httponly=True, samesite="lax", secure=self.secure)

"""The security headers of both servers, set in one place: a middleware each app factory installs.

Every response, pages and redirects and APIs alike (one rule, nothing to classify):

- `X-Content-Type-Options: nosniff`: a browser never guesses a type, so an NDJSON file or an
  OperationOutcome quoting a publisher's text is never run as a page;
- `Referrer-Policy: no-referrer`: portal links carry tokens, and a patient's search is nobody else's;
- one strict Content-Security-Policy (ARCHITECTURE.md, "HTTP and pages"): nothing loads from elsewhere;
  inline `<style>` and `<script>` run only with the response's nonce, which a page's template takes from
  `csp_nonce()`; no plugin, no `<base>`, forms post only back to the server, and no site may frame a
  page (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for browsers that predate it), so a
  booking or a cancellation cannot be clickjacked.

The nonce is minted per request by the middleware and read through a context variable, so a page's
renderer needs no request in hand; the variable belongs to the request's own task (and the worker
threads it runs sync code in), never to the process.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "content_security_policy", "csp_nonce", "install_security_headers"]

_NONCE: ContextVar[str] = ContextVar("csp_nonce")


def content_security_policy(nonce: str) -> str:
    """The policy of every page, with the nonce its inline style and script carry."""
    return (
        "default-src 'none'; "
        f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def csp_nonce() -> str:
    """This request's nonce, for a page's inline `<style>` and `<script>`. Outside a request the
    middleware saw (an app assembled without it), a fresh one: the page renders, with no policy sent."""
    try:
        return _NONCE.get()
    except LookupError:
        nonce = secrets.token_urlsafe(16)
        _NONCE.set(nonce)
        return nonce


class SecurityHeaders:
    """ASGI middleware: mints the request's nonce, and adds the headers above to its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        token = _NONCE.set(nonce)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Content-Security-Policy"] = content_security_policy(nonce)
                headers["X-Frame-Options"] = "DENY"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            _NONCE.reset(token)


def install_security_headers(app: FastAPI) -> None:
    """Adds `SecurityHeaders` to `app` (inside the framework's last-resort 500 handler, outside every
    route and error handler, so error pages carry the headers too)."""
    app.add_middleware(SecurityHeaders)

"""Portal security: the signing secret, signed tokens, per-flow CSRF tokens and page headers.

* Secret: `Settings.portal_secret`, else the random `portal_secret` the 0002 migration stored with the
  provider's data (so every process of one provider signs alike, and nothing is guessable by default).
* Flow: a server-minted, signed value in a cookie (`flows`). A hold keeps the SHA-256 of the flow
  it belongs to (`hold.token`): only that browser may continue the hold.
* CSRF: every form carries `csrf = HMAC(secret, flow | purpose)`, where the purpose names what the
  form acts on (`land:<slot>`, `hold:<hold id>`, `cancel:<appointment id>`); a POST is accepted only
  with the cookie and the matching token (double submit, bound to the hold). The landing form's
  token also names a one-time attempt (`attempt.HMAC(secret, flow | purpose | attempt)`), from which
  the flow of the hold it places is derived (`flows.FlowCookies.for_attempt`).
* Appointment links (confirmation, `.ics`, cancellation) carry `HMAC(secret, appointment:<id>)`:
  unguessable, checkable without storing it, and shown only to the patient who booked.
* Headers: the app's security headers (`web.headers`: a CSP without inline script or style except by
  the request's nonce, no framing, no referrer since links carry tokens), and no caching.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from slotlinks.config import Settings
from slotlinks.provider.store.store import ProviderStore

__all__ = [
    "attempt_of",
    "attempt_token",
    "check_attempt",
    "check_csrf",
    "csrf_token",
    "flow_hash",
    "new_flow",
    "page_headers",
    "portal_secret",
    "sign",
    "verify",
]

PORTAL_SECRET_SETTING = "portal_secret"  # noqa: S105  (a setting key, not a secret)


def portal_secret(settings: Settings, store: ProviderStore) -> bytes:
    """The secret that signs this provider's portal tokens."""
    secret = settings.portal_secret or store.get_setting(PORTAL_SECRET_SETTING)
    if not secret:
        raise RuntimeError("no portal secret: set SLOTLINKS_PORTAL_SECRET or run the provider migrations")
    return secret.encode()


def sign(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def verify(secret: bytes, message: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(sign(secret, message).encode(), (token or "").encode())


def new_flow() -> str:
    return secrets.token_urlsafe(24)


def flow_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def csrf_token(secret: bytes, cookie: str, purpose: str) -> str:
    return sign(secret, f"csrf|{cookie}|{purpose}")


def check_csrf(secret: bytes, cookie: str | None, purpose: str, token: str | None) -> bool:
    """True when the form's token was issued to this browser's flow for this purpose."""
    return bool(cookie) and verify(secret, f"csrf|{cookie}|{purpose}", token)


def attempt_token(secret: bytes, flow: str, purpose: str) -> str:
    """A form token for `purpose` that also names a fresh one-time attempt."""
    attempt = secrets.token_urlsafe(16)
    return f"{attempt}.{csrf_token(secret, flow, f'{purpose}|{attempt}')}"


def attempt_of(token: str | None) -> str | None:
    """The attempt an `attempt_token` names (unverified), or None when it names none."""
    attempt, dot, _ = (token or "").partition(".")
    return attempt if dot and attempt else None


def check_attempt(secret: bytes, flow: str | None, purpose: str, token: str | None) -> str | None:
    """The attempt of an `attempt_token` issued to `flow` for `purpose`, else None."""
    attempt = attempt_of(token)
    if attempt is None:
        return None
    mac = (token or "").partition(".")[2]
    return attempt if check_csrf(secret, flow, f"{purpose}|{attempt}", mac) else None


def page_headers() -> dict[str, str]:
    """What a portal or staff response adds to the app's security headers: it is never cached."""
    return {"Cache-Control": "no-store"}

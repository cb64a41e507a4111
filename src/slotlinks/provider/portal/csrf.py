"""Portal security: the signing secret, signed tokens, per-flow CSRF tokens and page headers.

* Secret: `Settings.portal_secret`, else the random `portal_secret` the 0002 migration stored with the
  provider's data (so every process of one provider signs alike, and nothing is guessable by default).
* Flow cookie: a random value set on the first portal page (HttpOnly, SameSite=Lax, path `/book`).
  A hold keeps the SHA-256 of it (`hold.token`): only that browser may continue the hold.
* CSRF: every form carries `csrf = HMAC(secret, cookie | purpose)`, where the purpose names what the
  form acts on (`land:<slot>`, `hold:<hold id>`, `cancel:<appointment id>`); a POST is accepted only
  with the cookie and the matching token (double submit, bound to the hold).
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
    "FLOW_COOKIE",
    "check_csrf",
    "csrf_token",
    "flow_hash",
    "new_flow",
    "page_headers",
    "portal_secret",
    "sign",
    "verify",
]

FLOW_COOKIE = "slotlinks_flow"
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


def page_headers() -> dict[str, str]:
    """What a portal or staff response adds to the app's security headers: it is never cached."""
    return {"Cache-Control": "no-store"}

"""The links an alert's messages carry: confirm and unsubscribe, each signed for one alert.

A link's token is an HMAC of (purpose, alert id) under a key derived from the deployment's referral
cookie secret, so nothing about it is stored and an unsubscribe link keeps working in every message
until the alert is gone. Links are built from the configured discovery URL, never from a request's
Host header (a forged Host must not send a patient elsewhere).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

from sqlalchemy import Connection

from slotlinks.config import Settings
from slotlinks.discovery.referrals.deeplinks import cookie_key

__all__ = ["Purpose", "alert_key", "confirm_url", "sign", "unsubscribe_url", "verify"]

Purpose = Literal["confirm", "unsubscribe"]


def alert_key(settings: Settings, conn: Connection) -> bytes:
    """The alerts' own key, derived from the referral cookie secret (one secret, separate uses)."""
    return hmac.new(cookie_key(settings, conn), b"slotlinks alerts", hashlib.sha256).digest()


def sign(key: bytes, purpose: Purpose, alert_id: str) -> str:
    digest = hmac.new(key, f"{purpose}:{alert_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def verify(key: bytes, purpose: Purpose, alert_id: str, token: str) -> bool:
    return hmac.compare_digest(sign(key, purpose, alert_id).encode(), token.encode("utf-8", "replace"))


def confirm_url(base_url: str, key: bytes, alert_id: str) -> str:
    return f"{base_url.rstrip('/')}/alerts/{alert_id}/confirm?token={sign(key, 'confirm', alert_id)}"


def unsubscribe_url(base_url: str, key: bytes, alert_id: str) -> str:
    return f"{base_url.rstrip('/')}/alerts/{alert_id}/unsubscribe?token={sign(key, 'unsubscribe', alert_id)}"

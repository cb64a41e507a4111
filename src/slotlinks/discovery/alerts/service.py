"""The alerts' use cases: ask for one (and send its confirmation), confirm it, cancel it. An
earlier-time offer (earlier.py) is asked for, confirmed and cancelled the same way.

Plain functions with keyword-only dependencies (STYLE.md); routes parse, call one, render. Links
and the words of messages come from `links` and `messages`; the SQL from `store`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from slotlinks.config import Settings
from slotlinks.discovery.alerts import store as alerts
from slotlinks.discovery.alerts.criteria import AlertRequest, search_for
from slotlinks.discovery.alerts.links import Purpose, confirm_url, unsubscribe_url, verify
from slotlinks.discovery.alerts.mailer import Mailer
from slotlinks.discovery.alerts.messages import confirmation_message, end_date
from slotlinks.discovery.alerts.offer_text import offer_confirmation_message
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import Conflict, NotFound
from slotlinks.web.i18n import N_, speaking

__all__ = ["Created", "cancel_alert", "confirm_alert", "create_alert", "is_alert_id"]

_GONE = N_("This alert has ended or was cancelled.")


@dataclass(frozen=True, slots=True)
class Created:
    id: str
    email: str
    expires_ms: int


def is_alert_id(text: str) -> bool:
    return 8 <= len(text) <= 32 and all(c.isalnum() or c in "-_" for c in text)


def create_alert(
    *, store: DiscoveryStore, settings: Settings, mailer: Mailer, key: bytes, request: AlertRequest
) -> Created:
    """Stores the alert unconfirmed and sends its confirmation message; on a refusal by the mail
    server the alert is deleted again and `Unavailable` raised (nothing kept that nobody can confirm)."""
    now_ms = store.now_ms()
    alert_id = secrets.token_urlsafe(16)
    expires_ms = now_ms + settings.alert_days * 86_400_000
    if request.ends_ms is not None:
        expires_ms = min(expires_ms, request.ends_ms)
    with store.write() as conn:
        alerts.purge(conn, now_ms)
        if alerts.count_for_address(conn, request.email) >= settings.alerts_per_address:
            raise Conflict(
                N_(
                    "This address already has the most alerts one address may have. Cancel one (every alert "
                    "message has the link) before asking for another."
                )
            )
        criteria = orjson.dumps(request.criteria).decode()
        alerts.insert_alert(
            conn,
            alert_id=alert_id,
            email=request.email,
            criteria=criteria,
            created_ms=now_ms,
            expires_ms=expires_ms,
            referral_id=request.referral_id,
            language=request.language,
        )
    tz = search_for(request.criteria, now=datetime.fromtimestamp(now_ms / 1000, UTC)).tz
    confirmation = offer_confirmation_message if request.referral_id is not None else confirmation_message
    with speaking(request.language):
        message = confirmation(
            sender=settings.mail_from,
            to=request.email,
            criteria=request.criteria,
            site=settings.discovery_url,
            confirm=confirm_url(settings.discovery_url, key, alert_id),
            unsubscribe=unsubscribe_url(settings.discovery_url, key, alert_id),
            ends=end_date(expires_ms, tz),
        )
    try:
        mailer.send(message)
    except BaseException:
        with store.write() as conn:
            alerts.remove(conn, alert_id)
        raise
    return Created(alert_id, request.email, expires_ms)


def _checked(key: bytes, purpose: Purpose, alert_id: str, token: str) -> None:
    if not is_alert_id(alert_id) or not verify(key, purpose, alert_id, token):
        raise NotFound(N_("This link is not valid. Please use the link in your most recent alert message."))


def confirm_alert(*, store: DiscoveryStore, key: bytes, alert_id: str, token: str, dry_run: bool = False) -> int:
    """Confirms the alert (with `dry_run`, only checks the link); its expiry time."""
    _checked(key, "confirm", alert_id, token)
    with store.write() as conn:
        row = alerts.get(conn, alert_id)
        if row is None or row.expires_ms <= store.now_ms():
            raise NotFound(_GONE)
        if not dry_run:
            alerts.confirm(conn, alert_id, store.now_ms())
        return int(row.expires_ms)


def cancel_alert(*, store: DiscoveryStore, key: bytes, alert_id: str, token: str) -> bool:
    """Deletes the alert and all it kept; False when it was gone already (the answer is the same)."""
    _checked(key, "unsubscribe", alert_id, token)
    with store.write() as conn:
        return alerts.remove(conn, alert_id)

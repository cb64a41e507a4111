"""Apps that create alerts for their users and hear of matches by webhook (issue 16, part 3).

The admin registers an app (`put_app`): its webhook URL, checked now as the fetcher and push
subscribers' endpoints are (an absolute http(s) URL without credentials or fragment, whose host
resolves only to addresses the SSRF guard allows; every delivery goes through the guard again, so
DNS changed later still cannot reach a private service). Registering answers the app's API key and
signing secret once: the key is kept only as its SHA-256, the secret as it is (it signs every
notification). Registering again replaces both and the URL; removing the app deletes its alerts.

An app's alert (`create_app_alert`) has no address and no double opt-in (the app owns its user's
consent): it is active at once, and matched, limited and recorded like an e-mail alert; the worker
posts its news to the app's URL (`webhooks.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import delete, insert, select, update

from slotlinks.config import Settings
from slotlinks.discovery.alerts import store as alerts
from slotlinks.discovery.alerts.criteria import parse_criteria
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import Conflict, InvalidInput, NotFound, Unauthorized
from slotlinks.fhir.urls import is_http_url
from slotlinks.net.guard import resolve_checked

__all__ = [
    "MAX_URL_CHARS",
    "AppAlert",
    "Registered",
    "app_for_key",
    "check_webhook_url",
    "create_app_alert",
    "delete_app",
    "delete_app_alert",
    "get_app",
    "is_app_name",
    "put_app",
    "webhook_of",
]

MAX_URL_CHARS = 2048
#: Alerts one app may hold at once (its users' many; still bounded, so a leaked key cannot fill the store).
DEFAULT_ALERTS_PER_APP = 10_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_A = t.alert_app.c


@dataclass(frozen=True, slots=True)
class Registered:
    name: str
    url: str
    key: str  # shown once: only its hash is kept
    secret: str
    new: bool


@dataclass(frozen=True, slots=True)
class AppAlert:
    id: str
    expires_ms: int


def is_app_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def check_webhook_url(url: object, *, allow_private_networks: bool) -> str:
    """`url` when an app's webhook may point there; `InvalidInput` for a malformed one, `UrlRefused`
    or `AddressRefused` (403) for one the guard forbids. Nothing is sent to it."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"expected `url`, an http(s) URL of at most {MAX_URL_CHARS} characters", expression=["url"])
    if not is_http_url(url, allow_userinfo=False, allow_fragment=False):
        raise InvalidInput("`url` must be an absolute http(s) URL without credentials or fragment", expression=["url"])
    target = urlsplit(url)
    port = target.port or (443 if target.scheme.lower() == "https" else 80)
    await resolve_checked(target.hostname or "", port, allow_private_networks=allow_private_networks)
    return url


def put_app(store: DiscoveryStore, name: str, url: str) -> Registered:
    """Registers `name` with its checked `url` (or replaces its URL, key and secret)."""
    if not is_app_name(name):
        raise InvalidInput("an app's name is 1 to 64 letters, digits, '.', '_' or '-'", expression=["name"])
    key, secret = f"sla_{secrets.token_urlsafe(32)}", secrets.token_urlsafe(32)
    values = {"url": url, "key_hash": _hash(key), "secret": secret, "updated_ms": store.now_ms()}
    with store.write() as conn:
        new = conn.execute(select(_A.name).where(_A.name == name)).first() is None
        if new:
            conn.execute(insert(t.alert_app).values(name=name, **values))
        else:
            conn.execute(update(t.alert_app).where(_A.name == name).values(**values))
    return Registered(name, url, key, secret, new)


def get_app(store: DiscoveryStore, name: str) -> dict[str, Any]:
    """What the admin may read back of an app (never its key or secret)."""
    with store.read() as conn:
        row = conn.execute(select(_A.name, _A.url, _A.updated_ms).where(_A.name == name)).first()
        if row is None:
            raise NotFound(f"no app {name!r}")
        count = alerts.count_for_app(conn, name)
    return {"name": row.name, "url": row.url, "alerts": count}


def delete_app(store: DiscoveryStore, name: str) -> None:
    """Forgets the app, its key and secret, and deletes its alerts."""
    with store.write() as conn:
        if not conn.execute(delete(t.alert_app).where(_A.name == name)).rowcount:
            raise NotFound(f"no app {name!r}")
        alerts.remove_for_app(conn, name)


def webhook_of(store: DiscoveryStore, name: str) -> tuple[str, str] | None:
    """The app's URL and secret, for a delivery (None once the app is gone)."""
    with store.read() as conn:
        row = conn.execute(select(_A.url, _A.secret).where(_A.name == name)).first()
    return None if row is None else (str(row.url), str(row.secret))


def app_for_key(store: DiscoveryStore, authorization: str | None) -> str:
    """The app whose key `Authorization: Bearer <key>` carries; `Unauthorized` otherwise."""
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    if scheme.lower() == "bearer" and key:
        digest = _hash(key)
        with store.read() as conn:
            row = conn.execute(select(_A.name, _A.key_hash).where(_A.key_hash == digest)).first()
        if row is not None and hmac.compare_digest(row.key_hash, digest):
            return str(row.name)
    raise Unauthorized("a registered app's key is required (Authorization: Bearer <key>)")


def create_app_alert(*, store: DiscoveryStore, settings: Settings, app: str, values: dict[str, object]) -> AppAlert:
    """Stores `app`'s alert for the search `values`, active at once."""
    criteria = parse_criteria(values, now=store.clock())
    now_ms = store.now_ms()
    alert_id = secrets.token_urlsafe(16)
    expires_ms = now_ms + settings.alert_days * 86_400_000
    most = int(settings.extra.get("alerts_per_app", DEFAULT_ALERTS_PER_APP))
    with store.write() as conn:
        alerts.purge(conn, now_ms)
        if alerts.count_for_app(conn, app) >= most:
            raise Conflict(f"this app already has {most} alerts, the most one app may have; delete some first")
        alerts.insert_alert(
            conn,
            alert_id=alert_id,
            app=app,
            criteria=orjson.dumps(criteria).decode(),
            created_ms=now_ms,
            confirmed_ms=now_ms,  # active at once: the app owns its user's consent
            expires_ms=expires_ms,
        )
    return AppAlert(alert_id, expires_ms)


def delete_app_alert(*, store: DiscoveryStore, app: str, alert_id: str) -> None:
    """Deletes `app`'s alert; another app's alert, or none, is `NotFound` alike (ids are not disclosed)."""
    with store.write() as conn:
        row = alerts.get(conn, alert_id)
        if row is None or row.app != app:
            raise NotFound(f"this app has no alert {alert_id!r}")
        alerts.remove(conn, alert_id)

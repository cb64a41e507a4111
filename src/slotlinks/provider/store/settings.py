"""The provider's own settings, kept in the store: the booking portal's base URL (every Slot's
booking-deep-link starts with it, see `BOOKING_PATH`) and the provider's name.

Changing the portal URL changes every active slot as published, so they are all stamped for `_since`
clients. Raises only `slotlinks.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, update

from slotlinks.errors import InvalidInput
from slotlinks.fhir.urls import http_url_parts
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change, ProviderStore

__all__ = [
    "BOOKING_PATH",
    "NAME_SETTING",
    "PORTAL_URL_SETTING",
    "ProviderSettings",
    "provider_settings",
    "set_portal_url",
    "set_provider_name",
]

PORTAL_URL_SETTING = "portal_url"
#: Where a Slot\'s booking-deep-link points under the portal URL: `{portal}/book/{slot id}`.
BOOKING_PATH = "/book/"

NAME_SETTING = "name"


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    portal_url: str
    name: str


def provider_settings(store: ProviderStore, conn: Connection) -> ProviderSettings:
    return ProviderSettings(
        portal_url=store.get_setting(PORTAL_URL_SETTING, conn=conn),
        name=store.get_setting(NAME_SETTING, conn=conn),
    )


def set_portal_url(change: Change, url: str, *, store: ProviderStore) -> str:
    """Sets the booking portal's base URL (absolute http(s)); every active slot's deep link changes,
    so they are all stamped for `_since` clients. Returns the URL as stored."""
    url = url.strip().rstrip("/")
    parts = http_url_parts(url)
    if parts is None or any(c.isspace() for c in url):  # typed by staff: no Unicode space of any kind
        raise InvalidInput(f"portal URL must be an absolute http(s) URL, got {url!r}", expression=["portalUrl"])
    if parts.query or parts.fragment:
        raise InvalidInput("portal URL must not carry a query or fragment", expression=["portalUrl"])
    if store.get_setting(PORTAL_URL_SETTING, conn=change.conn) != url:
        store.set_setting(change, PORTAL_URL_SETTING, url)
        change.conn.execute(update(t.slot).where(t.slot.c.active).values(last_updated=change.stamp_ms))
    return url


def set_provider_name(change: Change, name: str, *, store: ProviderStore) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("the provider name must not be empty", expression=["name"])
    store.set_setting(change, NAME_SETTING, name)
    return name

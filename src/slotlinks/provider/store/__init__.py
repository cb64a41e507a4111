"""The provider store: engine, tables, migrations and the provider's own settings.

- `settings`: The provider's own settings, kept in the store: the booking portal's base URL (every Slot's
  booking-deep-link starts with it, see `BOOKING_PATH`) and the provider's name.
- `store`: The provider store: one SQLAlchemy Core implementation for SQLite and PostgreSQL.
- `tables`: The provider store's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.
"""

from __future__ import annotations

from slotlinks.provider.store import tables
from slotlinks.provider.store.settings import (
    BOOKING_PATH,
    PORTAL_URL_SETTING,
    ProviderSettings,
    provider_settings,
    set_portal_url,
    set_provider_name,
)
from slotlinks.provider.store.store import Change, ProviderStore, open_store

__all__ = [
    "BOOKING_PATH",
    "PORTAL_URL_SETTING",
    "Change",
    "ProviderSettings",
    "ProviderStore",
    "open_store",
    "provider_settings",
    "set_portal_url",
    "set_provider_name",
    "tables",
]

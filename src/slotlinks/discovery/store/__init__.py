"""The discovery store: engine, tables and migrations.

- `store`: The discovery store: one SQLAlchemy Core implementation for SQLite and PostgreSQL.
- `tables`: The discovery store's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.
"""

from __future__ import annotations

from slotlinks.discovery.store import tables
from slotlinks.discovery.store.store import DiscoveryStore, open_store

__all__ = ["DiscoveryStore", "open_store", "tables"]

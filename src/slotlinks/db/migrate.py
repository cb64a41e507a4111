"""Schema migrations (Alembic), run by `slotlinks db upgrade` and on first use of a new database.

Each side keeps its own migration history in its own package (`provider/migrations`,
`discovery/migrations`) and its own version table, so the two can even share one PostgreSQL database.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

__all__ = ["upgrade"]

_SIDES = {
    "provider": ("slotlinks.provider.store:migrations", "slotlinks_provider_version"),
    "discovery": ("slotlinks.discovery.store:migrations", "slotlinks_discovery_version"),
}


def upgrade(engine: Engine, side: str = "provider", revision: str = "head") -> None:
    """Brings the side's schema up to `revision` on the engine's database."""
    location, version_table = _SIDES[side]
    config = Config()
    config.set_main_option("script_location", location)
    config.attributes["engine"] = engine
    config.attributes["version_table"] = version_table
    command.upgrade(config, revision)

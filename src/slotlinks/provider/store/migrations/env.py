"""Alembic environment: runs migrations on the engine handed over by `slotlinks.db.migrate.upgrade`."""

from __future__ import annotations

from alembic import context

from slotlinks.db.engine import writing

config = context.config
engine = config.attributes["engine"]

with writing(engine) as connection:
    context.configure(connection=connection, version_table=config.attributes["version_table"])
    context.run_migrations()

"""No planner statistics on the feed tables' `generation` (PostgreSQL only).

Statistics describe the generations present when ANALYZE ran (by autovacuum, or the sync engine's
upkeep), never the one a load is writing: the planner then estimates the new generation at one row,
and a full reload's comparison of the old generation with the new (ingest/resolve.py) ran as a nested
loop over both, 100,000 x 100,000 rows per publisher, for minutes (bench/scale.py at 2 million slots,
once the tables had been analyzed). Without statistics on the column the planner takes a default
share for `generation = x` and hashes; searches, which join on the publisher's generation, keep their
index plans. Statistics target 0 keeps ANALYZE from gathering them; altering the column to its own
type drops what an earlier ANALYZE gathered.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FEED_TABLES = (
    "feed_healthcare_service",
    "feed_location",
    "feed_practitioner",
    "feed_practitioner_role",
    "feed_schedule",
    "feed_slot",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in FEED_TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN generation SET STATISTICS 0")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN generation TYPE integer")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in FEED_TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN generation SET STATISTICS -1")

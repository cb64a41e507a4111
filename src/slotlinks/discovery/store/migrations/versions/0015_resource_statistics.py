"""No planner statistics on the feed tables' `resource` (PostgreSQL only).

`resource` is each row's JSON as published: no query filters, joins or sorts on it, yet ANALYZE
spent most of its time on it (the widest column by far, a sample of 30,000 values compared for the
most common and distinct ones). Measured at 2 million slots: ANALYZE of `feed_slot` 6.7 s, 5.5 s
without it. On the partitioned `feed_slot` the setting reaches every partition; a load's own
table takes the parent's settings when it is created (ingest/partitions.py).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
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
        op.execute(f"ALTER TABLE {table} ALTER COLUMN resource SET STATISTICS 0")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in FEED_TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN resource SET STATISTICS -1")

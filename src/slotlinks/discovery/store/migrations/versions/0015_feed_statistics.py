"""Cheaper planner statistics on the feed tables (PostgreSQL only).

`resource` is each row's JSON as published: no query filters, joins or sorts on it, yet ANALYZE
spent much of its time on it (the widest column by far): no statistics on it. And `feed_slot`'s other
columns get statistics target 10 instead of 100: ANALYZE samples 300 rows per unit of target, and
10 gives the plans of search and FHIR queries what they need (which index, a time window's share of
rows) from 3,000 rows per table instead of 30,000. Measured at 2 million slots in 20 partitions:
ANALYZE of `feed_slot` (which analyzes every partition too) 6.7 s before, 5.5 s without `resource`,
0.37 s with both; one partition of 100,000 rows 17 ms instead of 320 ms. On the partitioned
`feed_slot` the settings reach every partition; a load's own table takes the parent's when it is
created (ingest/partitions.py).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: Statistics target of `feed_slot`'s columns but `resource` and `generation` (0: none).
SLOT_STATISTICS = 10
SLOT_COLUMNS = (
    "pk",
    "publisher_id",
    "source_id",
    "updated_ms",
    "schedule_source_id",
    "schedule_pk",
    "start_ms",
    "end_ms",
    "status",
    "capacity",
    "booking_link",
    "booking_phone",
    "patients",
    "load_key",
)
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
    columns = ", ".join(f"ALTER COLUMN {column} SET STATISTICS {SLOT_STATISTICS}" for column in SLOT_COLUMNS)
    op.execute(f"ALTER TABLE feed_slot {columns}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in FEED_TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN resource SET STATISTICS -1")
    op.execute("ALTER TABLE feed_slot " + ", ".join(f"ALTER COLUMN {c} SET STATISTICS -1" for c in SLOT_COLUMNS))

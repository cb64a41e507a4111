"""Organization names on locations, practitioner roles and schedules, for the organization filter;
schedules' practitioner names as published, for showing who a time is with.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLES = ("feed_location", "feed_practitioner_role", "feed_schedule")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("organization_text", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("feed_schedule") as batch:
        batch.add_column(sa.Column("practitioner_display", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("feed_schedule") as batch:
        batch.drop_column("practitioner_display")
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("organization_text")

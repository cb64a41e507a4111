"""E-mail alerts: an address and its search criteria, and the slots each alert has announced.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_ms", sa.BigInteger(), nullable=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_sent_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_email", "alert", ["email"])
    op.create_table(
        "alert_announced",
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("slot_source_id", sa.String(length=200), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("announced_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id", "publisher_id", "slot_source_id", "start_ms"),
    )


def downgrade() -> None:
    op.drop_table("alert_announced")
    op.drop_index("ix_alert_email", table_name="alert")
    op.drop_table("alert")

"""Push for the aggregate: downstream subscribers, their Subscriptions and events, and the outbox's state.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aggregate_subscriber",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_table(
        "aggregate_subscription",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("activated_ms", sa.BigInteger(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_aggregate_subscription_source", "aggregate_subscription", ["source"])
    op.create_table(
        "aggregate_event",
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "number"),
    )
    cursor = op.create_table(
        "aggregate_push_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changed_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(cursor, [{"id": 1, "changed_ms": 0}])
    op.create_table(
        "aggregate_push_publisher",
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("sync_state", sa.Text(), nullable=False),
        sa.Column("row_state", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("publisher_id"),
    )
    op.create_table(
        "aggregate_known",
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=True),
        sa.Column("codes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "publisher_id", "source_id", "start_ms"),
    )


def downgrade() -> None:
    for table in (
        "aggregate_known",
        "aggregate_push_publisher",
        "aggregate_push_cursor",
        "aggregate_event",
        "aggregate_subscription",
        "aggregate_subscriber",
    ):
        op.drop_table(table)

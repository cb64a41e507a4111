"""Push subscriptions (FHIR Subscriptions, Backport IG): subscriptions, their undelivered events, and how
far the data set's change log has been turned into events (starting from the data set as it stands).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscription",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("activated_ms", sa.BigInteger, nullable=True),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_push_subscription_source", "push_subscription", ["source"])
    op.create_table(
        "push_event",
        sa.Column("subscription_id", sa.String(64), primary_key=True),
        sa.Column("number", sa.BigInteger, primary_key=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
    )
    op.create_table(
        "push_cursor",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("changed_ms", sa.BigInteger, nullable=False),
        sa.Column("expired_ms", sa.BigInteger, nullable=False),
    )
    # Nothing before the migration is an event: the cursor starts at the data set's last change.
    op.execute("INSERT INTO push_cursor (id, changed_ms, expired_ms) SELECT 1, changed_ms, changed_ms FROM dataset")


def downgrade() -> None:
    op.drop_table("push_cursor")
    op.drop_table("push_event")
    op.drop_table("push_subscription")

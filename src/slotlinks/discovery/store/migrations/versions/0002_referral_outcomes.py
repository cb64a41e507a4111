"""Referral outcomes: per-publisher credentials for the portal's outcome API, what each referral needs
to be matched and checked later, and the stored secret that signs the browser's referral cookie.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COOKIE_SECRET_SETTING = "referral_cookie_secret"  # noqa: S105  (a setting key, not a secret)


def upgrade() -> None:
    with op.batch_alter_table("publisher") as batch:
        batch.add_column(sa.Column("referral_secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("referral_portal", sa.Text(), nullable=True))
    with op.batch_alter_table("referral") as batch:
        batch.add_column(sa.Column("slot_pk", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("slot_start", sa.Text(), nullable=True))
        batch.add_column(sa.Column("portal_origin", sa.Text(), nullable=True))
        batch.add_column(sa.Column("location_source_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("local_status", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("marked_slot_pk", sa.Integer(), nullable=True))
    op.create_index("ix_referral_created", "referral", ["created_ms"], unique=False)
    op.create_table(
        "discovery_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    setting = sa.table("discovery_setting", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(setting, [{"key": COOKIE_SECRET_SETTING, "value": secrets.token_urlsafe(32)}])


def downgrade() -> None:
    op.drop_table("discovery_setting")
    op.drop_index("ix_referral_created", table_name="referral")
    with op.batch_alter_table("referral") as batch:
        for name in ("marked_slot_pk", "local_status", "location_source_id", "portal_origin", "slot_start", "slot_pk"):
            batch.drop_column(name)
    with op.batch_alter_table("publisher") as batch:
        batch.drop_column("referral_portal")
        batch.drop_column("referral_secret")

"""Alert webhooks: apps registered by the admin (their webhook URL, their API key as its SHA-256, the
secret that signs their notifications), and the app an alert belongs to (an app's alerts have no
e-mail address).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_app",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("alert") as batch:
        batch.alter_column("email", existing_type=sa.String(length=254), nullable=True)
        batch.add_column(sa.Column("app", sa.String(length=64), nullable=True))
        batch.create_index("ix_alert_app", ["app"])


def downgrade() -> None:
    op.execute("DELETE FROM alert_announced WHERE alert_id IN (SELECT id FROM alert WHERE app IS NOT NULL)")
    op.execute("DELETE FROM alert WHERE app IS NOT NULL")
    with op.batch_alter_table("alert") as batch:
        batch.drop_index("ix_alert_app")
        batch.drop_column("app")
        batch.alter_column("email", existing_type=sa.String(length=254), nullable=False)
    op.drop_table("alert_app")

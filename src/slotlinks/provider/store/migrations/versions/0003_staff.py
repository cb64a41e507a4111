"""Staff accounts for the provider portal's staff pages: users (scrypt password hashes) and sessions
(only the SHA-256 of each session token is stored).

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


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "staff_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), sa.ForeignKey("staff_user.username"), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_staff_session_username", "staff_session", ["username"])
    op.create_index("ix_staff_session_expires", "staff_session", ["expires_ms"])


def downgrade() -> None:
    op.drop_table("staff_session")
    op.drop_table("staff_user")

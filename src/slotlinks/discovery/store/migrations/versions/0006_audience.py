"""Who a slot is for (issue 13): a Slot's patient status; a Schedule's patient status, referral
requirement, age range and languages; a Practitioner's languages.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_slot") as batch:
        batch.add_column(sa.Column("patients", sa.String(length=16), nullable=True))
    with op.batch_alter_table("feed_schedule") as batch:
        batch.add_column(sa.Column("patients", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("referral", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("min_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ages_stated", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("languages", sa.Text(), nullable=True))
    with op.batch_alter_table("feed_practitioner") as batch:
        batch.add_column(sa.Column("languages", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_practitioner") as batch:
        batch.drop_column("languages")
    with op.batch_alter_table("feed_schedule") as batch:
        for column in ("languages", "ages_stated", "max_age", "min_age", "referral", "patients"):
            batch.drop_column(column)
    with op.batch_alter_table("feed_slot") as batch:
        batch.drop_column("patients")

"""What a referral was for and where the patient came from (issue 15): the service and clinician of
the time followed, for "my bookings", and the search whose results listed it, for "back to your search".

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referral") as batch:
        batch.add_column(sa.Column("service", sa.Text(), nullable=True))
        batch.add_column(sa.Column("practitioner", sa.Text(), nullable=True))
        batch.add_column(sa.Column("search_query", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral") as batch:
        for column in ("search_query", "practitioner", "service"):
            batch.drop_column(column)

"""A data version per publisher that costs no scan: `publisher.data_changed_ms`.

The aggregate and the FHIR API rebuild what they serve when the store's data version changes
(aggregate/cache.py `data_state`). The version counted the rows of every feed table and took their
latest `updated_ms`: a scan of every Slot, about 3 s at 10 million slots on either database, paid by
a request whenever the version had not been read in the last second. Now every change to a
publisher's current data other than a full load (an incremental load, a pushed change, a booking
outcome) also sets this column, strictly later each time (store/changes.py); a full load changes
`generation`. The publisher rows alone are the version.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publisher") as batch:
        batch.add_column(sa.Column("data_changed_ms", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("publisher") as batch:
        batch.drop_column("data_changed_ms")

"""Where a Slot's pk lives on PostgreSQL: `publisher.slot_pk_low` and `slot_pk_high`.

A deep link (`/go/{pk}`) names a Slot by its pk alone, which is not `feed_slot`'s partition key, so
PostgreSQL planned the lookup over every publisher's partition: about 4 ms of planning at 200
publishers, growing with each one. A full load's rows take their pks from one sequence as they are
copied in, so its partition holds one range of them; the flip now records that range on the publisher
row (sync/poll.py), and the lookup names only the partitions whose range holds the pk
(ingest/partitions.py `pk_partitions`). NULL on SQLite and until a publisher's next full load.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publisher") as batch:
        batch.add_column(sa.Column("slot_pk_low", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("slot_pk_high", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("publisher") as batch:
        batch.drop_column("slot_pk_high")
        batch.drop_column("slot_pk_low")

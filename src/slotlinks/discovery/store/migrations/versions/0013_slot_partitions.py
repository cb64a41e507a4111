"""Slots in a partition per load on PostgreSQL, and a generation number per load.

`publisher.last_generation` is the highest generation number handed to a full load of the publisher
(each load takes the next, under its lease: sync/poll.py), so a worker that outlived its lease never
writes into the generation of the worker that took over.

On PostgreSQL, `feed_slot` becomes a table partitioned by list of a new column, `load_key`, with no
foreign key to `publisher` (`remove_publisher` deletes a publisher's rows itself). A full load copies
its Slots into a table of its own with no index, builds the indexes after, then attaches it as the
partition of its `load_key` when it flips (ingest/partitions.py), and a replaced generation is
dropped rather than deleted row by row. Every other row (stored before this migration, added by an
incremental load, written straight into the table) has `load_key` 0 and lives in `feed_slot_other`,
the old table renamed; its rows go as their publishers' next full loads replace them. That partition
is an ordinary one, not PostgreSQL's DEFAULT partition: attaching beside a default partition locks it
exclusively, so a flip would wait for every search under way. SQLite keeps one `feed_slot` table.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_SLOT_INDEXES = {
    "ix_feed_slot_source": "publisher_id, generation, source_id",
    "ix_feed_slot_schedule_start": "schedule_pk, start_ms",
    "ix_feed_slot_start": "start_ms",
}


def upgrade() -> None:
    with op.batch_alter_table("publisher") as batch:
        batch.add_column(sa.Column("last_generation", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE publisher SET last_generation = generation")
    if op.get_bind().dialect.name != "postgresql":
        return
    for fk in sa.inspect(op.get_bind()).get_foreign_keys("feed_slot"):
        op.execute(f'ALTER TABLE feed_slot DROP CONSTRAINT "{fk["name"]}"')
    op.execute("ALTER TABLE feed_slot ADD COLUMN load_key bigint NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE feed_slot RENAME TO feed_slot_other")
    for name in _SLOT_INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name.replace('feed_slot', 'feed_slot_other')}")
    op.execute("CREATE TABLE feed_slot (LIKE feed_slot_other INCLUDING DEFAULTS) PARTITION BY LIST (load_key)")
    op.execute("ALTER SEQUENCE feed_slot_pk_seq OWNED BY feed_slot.pk")
    for name, columns in _SLOT_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON feed_slot ({columns})")
    # The renamed table's indexes become the partitioned indexes' own on it: nothing is rebuilt.
    op.execute("ALTER TABLE feed_slot ATTACH PARTITION feed_slot_other FOR VALUES IN (0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE feed_slot DETACH PARTITION feed_slot_other")
        op.execute("INSERT INTO feed_slot_other SELECT * FROM feed_slot")
        op.execute("ALTER SEQUENCE feed_slot_pk_seq OWNED BY feed_slot_other.pk")
        op.execute("DROP TABLE feed_slot CASCADE")
        op.execute("ALTER TABLE feed_slot_other RENAME TO feed_slot")
        op.execute("ALTER TABLE feed_slot DROP COLUMN load_key")
        for name in _SLOT_INDEXES:
            op.execute(f"ALTER INDEX {name.replace('feed_slot', 'feed_slot_other')} RENAME TO {name}")
        op.execute(
            "ALTER TABLE feed_slot ADD CONSTRAINT feed_slot_publisher_id_fkey FOREIGN KEY (publisher_id) "
            "REFERENCES publisher (id) ON DELETE CASCADE"
        )
    with op.batch_alter_table("publisher") as batch:
        batch.drop_column("last_generation")

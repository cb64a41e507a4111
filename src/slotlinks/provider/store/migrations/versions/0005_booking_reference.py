"""A short booking reference on each appointment, for the patient to read out on the phone and find
in the portal's links (the internal id stays the key). Appointments booked before get one too.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Kept here as written when the migration was made (`portal.reference` may change later).
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_LENGTH = 8


def upgrade() -> None:
    op.add_column("appointment", sa.Column("reference", sa.String(16), nullable=True))
    conn = op.get_bind()
    table = sa.table("appointment", sa.column("id", sa.String), sa.column("reference", sa.String))
    used: set[str] = set()
    for (appointment_id,) in conn.execute(sa.select(table.c.id)).all():
        reference = ""
        while not reference or reference in used:
            reference = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
        used.add(reference)
        conn.execute(sa.update(table).where(table.c.id == appointment_id).values(reference=reference))
    op.create_index("ix_appointment_reference", "appointment", ["reference"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_appointment_reference", table_name="appointment")
    with op.batch_alter_table("appointment") as batch:
        batch.drop_column("reference")

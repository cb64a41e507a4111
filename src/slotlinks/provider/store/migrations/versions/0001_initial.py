"""The provider store: resources, availability rules, slots and the dataset change stamp.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _resource_table(name: str, *extra: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(8), nullable=True),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        *extra,
    )
    op.create_index(f"ix_{name}_last_updated", name, ["last_updated"])


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("changed_ms", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO dataset (id, version, changed_ms) VALUES (1, 0, 0)")
    op.create_table(
        "provider_setting",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    _resource_table(
        "location",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("postal_code", sa.String(16), nullable=True),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("latitude", sa.Float, nullable=True),
        sa.Column("longitude", sa.Float, nullable=True),
        sa.Column("phone", sa.String(64), nullable=True),
    )
    _resource_table("practitioner", sa.Column("name", sa.Text, nullable=False))
    _resource_table(
        "healthcare_service",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("location_id", sa.String(64), nullable=True),
    )
    _resource_table(
        "practitioner_role",
        sa.Column("practitioner_id", sa.String(64), nullable=True),
        sa.Column("location_id", sa.String(64), nullable=True),
    )
    _resource_table("schedule", sa.Column("location_id", sa.String(64), nullable=True))
    op.create_table(
        "availability_rule",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("schedule_id", sa.String(64), sa.ForeignKey("schedule.id"), nullable=False),
        sa.Column("weekdays", sa.String(32), nullable=False),
        sa.Column("start_time", sa.String(5), nullable=False),
        sa.Column("end_time", sa.String(5), nullable=False),
        sa.Column("slot_minutes", sa.Integer, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("valid_from", sa.String(10), nullable=True),
        sa.Column("valid_to", sa.String(10), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_availability_rule_schedule_id", "availability_rule", ["schedule_id"])
    op.create_table(
        "closure",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("schedule_id", sa.String(64), sa.ForeignKey("schedule.id"), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("start_time", sa.String(5), nullable=True),
        sa.Column("end_time", sa.String(5), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_closure_schedule_id", "closure", ["schedule_id"])
    op.create_table(
        "slot",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("schedule_id", sa.String(64), sa.ForeignKey("schedule.id"), nullable=False),
        sa.Column("start", sa.String(40), nullable=False),
        sa.Column("end", sa.String(40), nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("booked", sa.Integer, nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_slot_schedule_start", "slot", ["schedule_id", "start_ms", "id"])
    op.create_index("ix_slot_last_updated", "slot", ["last_updated"])


def downgrade() -> None:
    for name in (
        "slot",
        "closure",
        "availability_rule",
        "schedule",
        "practitioner_role",
        "healthcare_service",
        "practitioner",
        "location",
        "provider_setting",
        "dataset",
    ):
        op.drop_table(name)

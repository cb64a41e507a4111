"""The discovery store: publishers, sync history, feed data per generation, referrals.

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


def upgrade() -> None:
    op.create_table(
        "publisher",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("states", sa.Text(), nullable=False),
        sa.Column("allowed_hosts", sa.Text(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("transaction_time", sa.Text(), nullable=True),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("next_poll_ms", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_attempt_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_success_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url"),
    )
    op.create_table(
        "feed_healthcare_service",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("location_source_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index(
        "ix_feed_healthcare_service_source",
        "feed_healthcare_service",
        ["publisher_id", "generation", "source_id"],
        unique=False,
    )
    op.create_table(
        "feed_location",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("positioned", sa.Boolean(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("virtual", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_feed_location_lat_lon", "feed_location", ["latitude", "longitude"], unique=False)
    op.create_index(
        "ix_feed_location_source", "feed_location", ["publisher_id", "generation", "source_id"], unique=False
    )
    op.create_table(
        "feed_practitioner",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index(
        "ix_feed_practitioner_source", "feed_practitioner", ["publisher_id", "generation", "source_id"], unique=False
    )
    op.create_table(
        "feed_practitioner_role",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("practitioner_source_id", sa.String(length=200), nullable=True),
        sa.Column("location_source_id", sa.String(length=200), nullable=True),
        sa.Column("practitioner_name", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index(
        "ix_feed_practitioner_role_source",
        "feed_practitioner_role",
        ["publisher_id", "generation", "source_id"],
        unique=False,
    )
    op.create_table(
        "feed_schedule",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("location_source_id", sa.String(length=200), nullable=True),
        sa.Column("location_pk", sa.Integer(), nullable=True),
        sa.Column("service_text", sa.Text(), nullable=False),
        sa.Column("codes", sa.Text(), nullable=False),
        sa.Column("practitioner_text", sa.Text(), nullable=False),
        sa.Column("virtual", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_feed_schedule_location", "feed_schedule", ["location_pk"], unique=False)
    op.create_index(
        "ix_feed_schedule_source", "feed_schedule", ["publisher_id", "generation", "source_id"], unique=False
    )
    op.create_table(
        "feed_slot",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("schedule_source_id", sa.String(length=200), nullable=False),
        sa.Column("schedule_pk", sa.Integer(), nullable=True),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booking_link", sa.Text(), nullable=True),
        sa.Column("booking_phone", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_feed_slot_schedule_start", "feed_slot", ["schedule_pk", "start_ms"], unique=False)
    op.create_index("ix_feed_slot_source", "feed_slot", ["publisher_id", "generation", "source_id"], unique=False)
    op.create_index("ix_feed_slot_start", "feed_slot", ["start_ms"], unique=False)
    op.create_table(
        "referral",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=True),
        sa.Column("slot_source_id", sa.String(length=200), nullable=False),
        sa.Column("slot_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("location_name", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("outcome_detail", sa.Text(), nullable=True),
        sa.Column("outcome_start", sa.Text(), nullable=True),
        sa.Column("outcome_location", sa.Text(), nullable=True),
        sa.Column("outcome_checked_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("http_statuses", sa.Text(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("bad_lines", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("warning_kinds", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sync_run_publisher", "sync_run", ["publisher_id", "started_ms"], unique=False)
    op.create_table(
        "bad_line",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("file_url", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["publisher_id"], ["publisher.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["sync_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_bad_line_run_id"), "bad_line", ["run_id"], unique=False)


def downgrade() -> None:

    op.drop_index(op.f("ix_bad_line_run_id"), table_name="bad_line")
    op.drop_table("bad_line")
    op.drop_index("ix_sync_run_publisher", table_name="sync_run")
    op.drop_table("sync_run")
    op.drop_table("referral")
    op.drop_index("ix_feed_slot_start", table_name="feed_slot")
    op.drop_index("ix_feed_slot_source", table_name="feed_slot")
    op.drop_index("ix_feed_slot_schedule_start", table_name="feed_slot")
    op.drop_table("feed_slot")
    op.drop_index("ix_feed_schedule_source", table_name="feed_schedule")
    op.drop_index("ix_feed_schedule_location", table_name="feed_schedule")
    op.drop_table("feed_schedule")
    op.drop_index("ix_feed_practitioner_role_source", table_name="feed_practitioner_role")
    op.drop_table("feed_practitioner_role")
    op.drop_index("ix_feed_practitioner_source", table_name="feed_practitioner")
    op.drop_table("feed_practitioner")
    op.drop_index("ix_feed_location_source", table_name="feed_location")
    op.drop_index("ix_feed_location_lat_lon", table_name="feed_location")
    op.drop_table("feed_location")
    op.drop_index("ix_feed_healthcare_service_source", table_name="feed_healthcare_service")
    op.drop_table("feed_healthcare_service")
    op.drop_table("publisher")

"""The booking portal: holds, appointments, questionnaires, referral sources and outcomes, audit log,
and the stored portal secret (signing cancellation links and CSRF tokens when settings give none).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PORTAL_SECRET_SETTING = "portal_secret"  # noqa: S105  (a setting key, not a secret)


def upgrade() -> None:
    op.create_table(
        "hold",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("slot_id", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("referral", sa.String(128), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_hold_slot_state", "hold", ["slot_id", "state", "expires_ms"])
    op.create_index("ix_hold_state_expires", "hold", ["state", "expires_ms"])
    op.create_table(
        "appointment",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("slot_id", sa.String(64), nullable=False),
        sa.Column("hold_id", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("questionnaire_response", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_appointment_slot_id", "appointment", ["slot_id"])
    op.create_table(
        "questionnaire",
        sa.Column("owner", sa.String(96), primary_key=True),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "referral_source",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("return_url", sa.Text, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "referral_outcome",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.Column("slot_id", sa.String(64), nullable=True),
        sa.Column("start", sa.String(40), nullable=True),
        sa.Column("end", sa.String(40), nullable=True),
        sa.Column("location_id", sa.String(64), nullable=True),
        sa.Column("hold_id", sa.String(64), nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("slot_id", sa.String(64), nullable=True),
        sa.Column("hold_id", sa.String(64), nullable=True),
        sa.Column("appointment_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at_ms"])
    setting = sa.table("provider_setting", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(setting, [{"key": PORTAL_SECRET_SETTING, "value": secrets.token_urlsafe(32)}])


def downgrade() -> None:
    op.execute(f"DELETE FROM provider_setting WHERE key = '{PORTAL_SECRET_SETTING}'")
    for name in ("audit_log", "referral_outcome", "referral_source", "questionnaire", "appointment", "hold"):
        op.drop_table(name)

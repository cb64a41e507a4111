"""The provider store's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

Descriptive resources (Location, Practitioner, PractitionerRole, HealthcareService, Schedule) are kept
as the FHIR JSON we publish plus the columns we select on. Slots are kept as columns only: there are
millions of them, and the publisher renders their JSON from columns in one pass.

Every resource row carries `last_updated` (epoch milliseconds), stamped from the `dataset` row inside
the same write transaction: that is the change log `_since` reads. Rows are never deleted while a
`_since` client may still need to learn of the removal; they are deactivated (`active = false`) instead.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from slotlinks.subscriptions.sqlstore import subscription_tables

__all__ = [
    "RESOURCE_TABLES",
    "appointment",
    "audit_log",
    "closure",
    "dataset",
    "healthcare_service",
    "hold",
    "location",
    "metadata",
    "practitioner",
    "practitioner_role",
    "provider_setting",
    "push_cursor",
    "push_event",
    "push_subscription",
    "questionnaire",
    "referral",
    "referral_source",
    "rule",
    "schedule",
    "slot",
    "staff_session",
    "staff_user",
]

metadata = MetaData()

ID = String(64)

# One row (id = 1): `version` counts committed changes, `changed_ms` is the time of the last one.
# Every write transaction updates it first, which also serializes writers, so `last_updated` stamps
# increase in commit order and a `_since` client never misses a change committed "in the past".
dataset = Table(
    "dataset",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("changed_ms", BigInteger, nullable=False),
)

provider_setting = Table(
    "provider_setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def _resource_table(name: str, *extra: Column[object]) -> Table:
    table = Table(
        name,
        metadata,
        Column("id", ID, primary_key=True),
        Column("active", Boolean, nullable=False),
        # Two-letter US state (or other jurisdiction) the resource is published under.
        Column("state", String(8), nullable=True),
        Column("resource", Text, nullable=False),
        Column("last_updated", BigInteger, nullable=False),
        *extra,
    )
    Index(f"ix_{name}_last_updated", table.c.last_updated)
    return table


location = _resource_table(
    "location",
    Column("name", Text, nullable=False),
    Column("postal_code", String(16), nullable=True),
    Column("tz", String(64), nullable=False),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("phone", String(64), nullable=True),
)

practitioner = _resource_table(
    "practitioner",
    Column("name", Text, nullable=False),
)

healthcare_service = _resource_table(
    "healthcare_service",
    Column("name", Text, nullable=False),
    Column("location_id", ID, nullable=True),
)

practitioner_role = _resource_table(
    "practitioner_role",
    Column("practitioner_id", ID, nullable=True),
    Column("location_id", ID, nullable=True),
)

# `location_id` is the Location the schedule's slots happen at (its Location actor, or the location
# of its PractitionerRole actor); it gives the slots their time zone, state and booking phone.
schedule = _resource_table(
    "schedule",
    Column("location_id", ID, nullable=True),
)

RESOURCE_TABLES: dict[str, Table] = {
    "Location": location,
    "Practitioner": practitioner,
    "HealthcareService": healthcare_service,
    "PractitionerRole": practitioner_role,
    "Schedule": schedule,
}

# Weekly opening hours of a schedule, in its location's time zone.
rule = Table(
    "availability_rule",
    metadata,
    Column("id", ID, primary_key=True),
    Column("schedule_id", ID, ForeignKey("schedule.id"), nullable=False, index=True),
    Column("weekdays", String(32), nullable=False),
    Column("start_time", String(5), nullable=False),
    Column("end_time", String(5), nullable=False),
    Column("slot_minutes", Integer, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("valid_from", String(10), nullable=True),
    Column("valid_to", String(10), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
)

# Dated exceptions: the whole day (no times) or a part of it is closed.
closure = Table(
    "closure",
    metadata,
    Column("id", ID, primary_key=True),
    Column("schedule_id", ID, ForeignKey("schedule.id"), nullable=False, index=True),
    Column("day", String(10), nullable=False),
    Column("start_time", String(5), nullable=True),
    Column("end_time", String(5), nullable=True),
    Column("reason", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
)

# `status` is what staff or the rules set (free, busy, busy-unavailable); the published status also
# counts bookings against `capacity`. `rule_id` is NULL for slots created by hand, which regeneration
# never touches. `start`/`end` are instants in the location's offset, `start_ms`/`end_ms` the same in
# UTC epoch milliseconds for range queries.
slot = Table(
    "slot",
    metadata,
    Column("id", ID, primary_key=True),
    Column("schedule_id", ID, ForeignKey("schedule.id"), nullable=False),
    Column("start", String(40), nullable=False),
    Column("end", String(40), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("status", String(24), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("booked", Integer, nullable=False),
    Column("rule_id", ID, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    # Also the publication's order: slots grouped by schedule, then time; reading the table in this
    # order is close to its physical order, since slots are written schedule by schedule.
    Index("ix_slot_schedule_start", "schedule_id", "start_ms", "id"),
    Index("ix_slot_last_updated", "last_updated"),
)


# --- booking portal (migration 0002) ---------------------------------------------------------------
# None of these rows is published. Holds and appointments change slots, and those writes go through
# `store.change()` (the slot is stamped); the referral outcome log is written without bumping the data
# set (see `referrals`). `hold.slot_id` has no foreign key: regeneration may delete old inactive slots.

# A hold reserves one unit of a slot's capacity until `expires_ms` (by the store's clock), while
# `state` is `active`; then `booked`, `released` (called off) or `expired` (marked lazily: an active
# hold past its expiry already counts for nothing). `token` is the SHA-256 of the browser's flow
# cookie, which makes the hold its own.
hold = Table(
    "hold",
    metadata,
    Column("id", ID, primary_key=True),
    Column("slot_id", ID, nullable=False),
    Column("token", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("referral", String(128), nullable=True),
    Column("source", String(64), nullable=True),
    Column("last_updated", BigInteger, nullable=False),
    Index("ix_hold_slot_state", "slot_id", "state", "expires_ms"),
    Index("ix_hold_state_expires", "state", "expires_ms"),
)

# A booking: the FHIR Appointment JSON (with the patient and the answers contained), its state
# (`booked` | `cancelled`) and the QuestionnaireResponse also on its own.
appointment = Table(
    "appointment",
    metadata,
    Column("id", ID, primary_key=True),
    Column("slot_id", ID, nullable=False, index=True),
    Column("hold_id", ID, nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("resource", Text, nullable=False),
    Column("questionnaire_response", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    # The short reference the patient reads (`portal.reference`); set on every booking.
    Column("reference", String(16), nullable=True, unique=True, index=True),
)

# Pre-booking questionnaires (FHIR Questionnaire JSON), one per Schedule or HealthcareService:
# `owner` is `Schedule/<id>` or `HealthcareService/<id>`.
questionnaire = Table(
    "questionnaire",
    metadata,
    Column("owner", String(96), primary_key=True),
    Column("resource", Text, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
)

# Referring sources (discovery clients): the SHA-256 of their secret and their return URL.
referral_source = Table(
    "referral_source",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("return_url", Text, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
)

# The outcome of each referral (`source` + `booking-referral`): landed, held, booked, cancelled or
# called-off (`reason`: taken, ineligible, needs-call, expired, released), with the last slot's time and
# place. Never anything that identifies the patient. (Named `referral_outcome`: the discovery store,
# which may share the database, has its own `referral`.)
referral = Table(
    "referral_outcome",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(16), nullable=True),
    Column("slot_id", ID, nullable=True),
    Column("start", String(40), nullable=True),
    Column("end", String(40), nullable=True),
    Column("location_id", ID, nullable=True),
    Column("hold_id", ID, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# Every hold, booking and cancellation (and refused hold), in order.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("action", String(32), nullable=False),
    Column("slot_id", ID, nullable=True),
    Column("hold_id", ID, nullable=True),
    Column("appointment_id", ID, nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_audit_log_at", "at_ms"),
)


# --- staff accounts (migration 0003) ---------------------------------------------------------------
# Staff who sign in to the staff pages. `password_hash` is `scrypt$n$r$p$salt$hash` (see
# `staff_auth`); a deleted account is deactivated, so audit entries naming it stay meaningful.
staff_user = Table(
    "staff_user",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

# A signed-in browser: the SHA-256 of its session cookie (never the cookie itself) and its expiry.
staff_session = Table(
    "staff_session",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("staff_user.username"), nullable=False, index=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Index("ix_staff_session_expires", "expires_ms"),
)


# --- push subscriptions (migration 0004) -----------------------------------------------------------
# FHIR Subscriptions (`provider.push`). The change log the events come from is the data set itself
# (every change stamps `dataset` and its rows in its own transaction); `push_cursor` (one row, id = 1)
# records how far it has been turned into events: data-set stamps up to `changed_ms`, holds expiring
# up to `expired_ms`. Each subscription's events wait in `push_event`, numbered from 1, until delivered
# or given up on; `events` counts every event ever made for it (events-since-subscription-start).
# `spec` is the subscription as requested (endpoint, headers, payload, filters...) as JSON.
push_subscription, push_event = subscription_tables(metadata, "push_subscription", "push_event")

push_cursor = Table(
    "push_cursor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("changed_ms", BigInteger, nullable=False),
    Column("expired_ms", BigInteger, nullable=False),
)

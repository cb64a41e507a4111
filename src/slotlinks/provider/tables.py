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

__all__ = [
    "RESOURCE_TABLES",
    "closure",
    "dataset",
    "healthcare_service",
    "location",
    "metadata",
    "practitioner",
    "practitioner_role",
    "provider_setting",
    "rule",
    "schedule",
    "slot",
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

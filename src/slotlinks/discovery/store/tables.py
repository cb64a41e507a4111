"""The discovery store's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

Data from a publisher is kept per *generation*: a full refresh writes a new generation beside the old
one and then flips `publisher.generation` in one short transaction, so a search (which only joins rows
of the publisher's current generation) never sees half an old and half a new data set. Incremental
(`_since`) updates change rows of the current generation inside one transaction.

Rows are keyed by our own integer `pk`; `source_id` is the publisher's id. Real feeds reuse one id for
different slots (same id, different start), so a Slot's natural key is (source_id, start) and
`source_id` alone is not unique. References between resources are resolved by
(publisher_id, generation, source id) at the end of each sync into the `*_pk` columns.
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
    false,
)

from slotlinks.subscriptions.sqlstore import subscription_tables

__all__ = [
    "aggregate_event",
    "aggregate_known",
    "aggregate_push_cursor",
    "aggregate_push_publisher",
    "aggregate_subscriber",
    "aggregate_subscription",
    "alert",
    "alert_announced",
    "alert_app",
    "bad_line",
    "discovery_setting",
    "healthcare_service",
    "location",
    "metadata",
    "practitioner",
    "practitioner_role",
    "publisher",
    "publisher_push",
    "referral",
    "schedule",
    "slot",
    "sync_run",
]

metadata = MetaData()

publisher = Table(
    "publisher",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False, unique=True),  # the $bulk-publish manifest URL
    Column("name", Text, nullable=False),
    Column("states", Text, nullable=False, default=""),  # comma-separated; empty = every state
    Column("allowed_hosts", Text, nullable=False, default=""),  # extra hosts output URLs may use
    Column("paused", Boolean, nullable=False, default=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("generation", Integer, nullable=False, default=0),  # the data generation searches see
    # The highest generation number handed to a full load: each load takes the next (sync/poll.py).
    Column("last_generation", Integer, nullable=False, default=0, server_default="0"),
    # Polling state.
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("transaction_time", Text, nullable=True),  # the last manifest's transactionTime, for _since
    Column("max_age", Integer, nullable=True),
    Column("next_poll_ms", BigInteger, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),  # consecutive, drives backoff
    Column("last_attempt_ms", BigInteger, nullable=True),
    Column("last_success_ms", BigInteger, nullable=True),  # when its data was last known good
    # When its current data last changed other than by a full load (store/changes.py): the data version.
    Column("data_changed_ms", BigInteger, nullable=False, default=0, server_default="0"),
    # The pks of the current generation's full-load partition on PostgreSQL, lowest and highest
    # (ingest/partitions.py `pk_partitions`); NULL on SQLite.
    Column("slot_pk_low", BigInteger, nullable=True),
    Column("slot_pk_high", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    # Sync lease (sync/leases.py): the worker polling this publisher, and when its claim lapses unless
    # renewed; both NULL when no worker holds it.
    Column("lease_owner", Text, nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    # Reading referral outcomes from this publisher's booking portal (outcomes.py): the secret it
    # registered us with, and its origin when that is not the booking links' own.
    Column("referral_secret", Text, nullable=True),
    Column("referral_portal", Text, nullable=True),
)

# Push (discovery/push/): our subscription to a publisher's availability topic, at most one per publisher.
# `secret_hash` is the SHA-256 of the bearer secret the publisher sends with every notification (the
# secret itself is only sent, never kept); `events_seen` is the last event number applied, so a jump
# is a gap and a repeat is a no-op.
publisher_push = Table(
    "publisher_push",
    metadata,
    Column("publisher_id", Integer, ForeignKey("publisher.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(16), nullable=False),  # none | requested | active | error
    Column("fhir_base", Text, nullable=False),
    Column("remote_id", String(64), nullable=True),  # the Subscription's id at the publisher
    Column("secret_hash", String(64), nullable=True),
    Column("payload", String(16), nullable=False),  # full-resource | id-only
    Column("heartbeat_seconds", Integer, nullable=False),
    Column("events_seen", BigInteger, nullable=False, default=0),
    Column("created_ms", BigInteger, nullable=False),
    Column("last_notification_ms", BigInteger, nullable=True),  # any notification, heartbeats included
    Column("last_event_ms", BigInteger, nullable=True),  # when the last event happened at the publisher
    Column("lag_ms", BigInteger, nullable=True),  # from that event to its arrival here
    Column("next_attempt_ms", BigInteger, nullable=False, default=0),  # when to (re)subscribe or look again
    Column("failures", Integer, nullable=False, default=0),  # consecutive failed attempts, drives backoff
    Column("error", Text, nullable=True),  # why it is not active
)

# One row per sync of one publisher: what happened, for `publishers list` and the status page.
sync_run = Table(
    "sync_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("publisher_id", Integer, ForeignKey("publisher.id", ondelete="CASCADE"), nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # full | incremental | not-modified | failed
    Column("http_statuses", Text, nullable=False),  # JSON object: URL -> status code
    Column("added", Integer, nullable=False, default=0),
    Column("changed", Integer, nullable=False, default=0),
    Column("removed", Integer, nullable=False, default=0),
    Column("bad_lines", Integer, nullable=False, default=0),
    Column("warnings", Integer, nullable=False, default=0),
    Column("warning_kinds", Text, nullable=False, default="{}"),  # JSON object: quirk -> count
    Column("error", Text, nullable=True),
    Index("ix_sync_run_publisher", "publisher_id", "started_ms"),
)

bad_line = Table(
    "bad_line",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("sync_run.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("publisher_id", Integer, ForeignKey("publisher.id", ondelete="CASCADE"), nullable=False),
    Column("file_url", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("message", Text, nullable=False),
)


def _data_table(name: str, *extra: Column[object] | Index) -> Table:
    # Table names carry `feed_` so a discovery and a provider store can share one database.
    name = f"feed_{name}"
    table = Table(
        name,
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("publisher_id", Integer, ForeignKey("publisher.id", ondelete="CASCADE"), nullable=False),
        Column("generation", Integer, nullable=False),
        Column("source_id", String(200), nullable=False),
        Column("resource", Text, nullable=False),  # the normalized FHIR JSON as received
        Column("updated_ms", BigInteger, nullable=False),  # when we last stored a change to it
        *extra,
    )
    Index(f"ix_{name}_source", table.c.publisher_id, table.c.generation, table.c.source_id)
    return table


location = _data_table(
    "location",
    Column("name", Text, nullable=False),
    Column("city", Text, nullable=True),
    Column("state", String(8), nullable=True),
    Column("postal_code", String(16), nullable=True),
    # From `position`, else the postal code's centroid (`positioned` says which).
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("positioned", Boolean, nullable=False, default=False),
    Column("tz", String(64), nullable=True),
    Column("phone", Text, nullable=True),
    Column("virtual", Boolean, nullable=False, default=False),
    # Lower-cased `managingOrganization.display`, for the organization filter.
    Column("organization_text", Text, nullable=False, default="", server_default=""),
    Index("ix_feed_location_lat_lon", "latitude", "longitude"),
)

practitioner = _data_table(
    "practitioner",
    Column("name", Text, nullable=False),
    # The primary subtags of its `communication` languages, space-separated; NULL: none published.
    Column("languages", Text, nullable=True),
)

healthcare_service = _data_table(
    "healthcare_service",
    Column("name", Text, nullable=True),
    Column("location_source_id", String(200), nullable=True),
)

practitioner_role = _data_table(
    "practitioner_role",
    Column("practitioner_source_id", String(200), nullable=True),
    Column("location_source_id", String(200), nullable=True),
    Column("practitioner_name", Text, nullable=True),
    Column("organization_text", Text, nullable=False, default="", server_default=""),
)

# Search keys are derived at ingest: `location_pk` (the Location actor, or the location of a
# PractitionerRole/HealthcareService actor), `service_text` (lower-cased service-type, specialty and
# service names, for text search), `codes` (space-separated `system|code` tokens of serviceType,
# specialty and vaccine-product), `practitioner_text`, `organization_text` (the organizations of its
# PractitionerRole and HealthcareService actors), and `virtual`. Who its slots are for (issue 13,
# ingest/audience.py), NULL where nothing is published: `patients` (an accepting-patients code from its
# services' eligibility), `referral`, the age range `min_age`..`max_age` in whole years (`ages_stated`:
# its services state their eligibility, so no range means no age limit), and `languages` (its
# practitioners', space-separated).
schedule = _data_table(
    "schedule",
    Column("location_source_id", String(200), nullable=True),
    Column("location_pk", Integer, nullable=True),
    Column("service_text", Text, nullable=False, default=""),
    # What a patient reads as the service: its first serviceType's text, else that type's first
    # display (migration 0018); NULL when it names none.
    Column("service_name", Text, nullable=True),
    Column("codes", Text, nullable=False, default=""),
    Column("practitioner_text", Text, nullable=False, default=""),
    Column("virtual", Boolean, nullable=False, default=False),
    Column("organization_text", Text, nullable=False, default="", server_default=""),
    # The practitioners' names as published ("; "-separated), for showing who a time is with.
    Column("practitioner_display", Text, nullable=False, default="", server_default=""),
    Column("patients", String(16), nullable=True),
    Column("referral", Boolean, nullable=True),
    Column("min_age", Integer, nullable=True),
    Column("max_age", Integer, nullable=True),
    Column("ages_stated", Boolean, nullable=False, default=False, server_default=false()),
    Column("languages", Text, nullable=True),
    Index("ix_feed_schedule_location", "location_pk"),
)

# On PostgreSQL (migration 0011) `feed_slot` is partitioned by list of a column only PostgreSQL has,
# `load_key`: each full load's Slots are a partition of their own, every other row is in
# `feed_slot_other` (ingest/partitions.py), and there is no foreign key to `publisher`.
slot = _data_table(
    "slot",
    Column("schedule_source_id", String(200), nullable=False),
    Column("schedule_pk", Integer, nullable=True),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("status", String(24), nullable=False),
    Column("capacity", Integer, nullable=False, default=1),
    Column("booking_link", Text, nullable=True),  # only http(s) links are kept
    Column("booking_phone", Text, nullable=True),
    Column("patients", String(16), nullable=True),  # its appointmentType's accepting-patients code
    Index("ix_feed_slot_schedule_start", "schedule_pk", "start_ms"),
    Index("ix_feed_slot_start", "start_ms"),
)

# One row per deep link handed out: which slot, from which publisher, when; the outcome columns are
# filled when the portal reports back (booking outcome exchange).
referral = Table(
    "referral",
    metadata,
    Column("id", String(64), primary_key=True),  # the booking-referral value
    Column("publisher_id", Integer, ForeignKey("publisher.id", ondelete="SET NULL"), nullable=True),
    Column("slot_source_id", String(200), nullable=False),
    Column("slot_start_ms", BigInteger, nullable=False),
    Column("location_name", Text, nullable=True),
    Column("link", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("outcome", String(24), nullable=True),
    Column("outcome_detail", Text, nullable=True),
    Column("outcome_start", Text, nullable=True),
    Column("outcome_location", Text, nullable=True),
    Column("outcome_checked_ms", BigInteger, nullable=True),
    Column("slot_pk", Integer, nullable=True),  # the feed slot the deep link was for
    Column("slot_start", Text, nullable=True),  # its start, in the location's own offset
    Column("portal_origin", Text, nullable=True),  # the booking link's origin: where outcomes are read
    Column("location_source_id", String(200), nullable=True),  # the publisher's Location id
    # The status this referral's outcome set on a feed slot before the next poll (busy / busy-tentative),
    # and which slot, so a cancellation can undo it.
    Column("local_status", String(24), nullable=True),
    Column("marked_slot_pk", Integer, nullable=True),
    # What the time was for, as the results showed it ("my bookings"), and the search whose results
    # listed it, as a query string of its parameters ("back to your search").
    Column("service", Text, nullable=True),
    Column("practitioner", Text, nullable=True),
    Column("search_query", Text, nullable=True),
    Index("ix_referral_created", "created_ms"),
)

# Small settings the deployment keeps in its database (the referral cookie's signing secret, made by
# migration 0002).
discovery_setting = Table(
    "discovery_setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


# Push for the aggregate (discovery/aggregate/push.py): downstream subscribers registered by the admin
# (`PUT /admin/subscribers/{name}`, the secret kept as its SHA-256), their Subscriptions to the
# availability topic and undelivered events (the provider's `push_*` tables, same shapes), and what the
# outbox last announced: each Slot, Schedule and Location (`start_ms` -1 for the last two) with the
# `updated_ms` it was announced at (and the facts filters need), and per publisher the state its last collection saw.
aggregate_subscriber = Table(
    "aggregate_subscriber",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("updated_ms", BigInteger, nullable=False),
)

aggregate_subscription, aggregate_event = subscription_tables(metadata, "aggregate_subscription", "aggregate_event")

aggregate_push_cursor = Table(
    "aggregate_push_cursor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("changed_ms", BigInteger, nullable=False),
)

aggregate_push_publisher = Table(
    "aggregate_push_publisher",
    metadata,
    Column("publisher_id", Integer, primary_key=True),
    Column("sync_state", Text, nullable=False),  # generation and last sync attempt
    Column("row_state", Text, nullable=False),  # its data_changed_ms (before migration 0016: row counts)
)

aggregate_known = Table(
    "aggregate_known",
    metadata,
    Column("resource_type", String(32), primary_key=True),
    Column("publisher_id", Integer, primary_key=True),
    Column("source_id", String(200), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("updated_ms", BigInteger, nullable=False),
    # What the topic's filters look at, kept for the event of its removal: state and `system|code`s.
    Column("state", String(8), nullable=True),
    Column("codes", Text, nullable=False),
)


# E-mail alerts (discovery/alerts/): only the address and the search criteria (the search parameters,
# as a JSON object of text), kept until unsubscribed or expired. `confirmed_ms` is null until the
# address owner follows the confirmation link (double opt-in); `last_sent_ms` spaces the messages.
alert = Table(
    "alert",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(254), nullable=True, index=True),  # None for an app's alert (webhook)
    Column("criteria", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("confirmed_ms", BigInteger, nullable=True),
    Column("expires_ms", BigInteger, nullable=False),
    Column("last_sent_ms", BigInteger, nullable=True),
    # An earlier-time offer's booked referral (alerts/earlier.py): only times before its booked start, at
    # its place, for its service, are news; the offer ends when that booking is cancelled.
    Column("referral_id", String(64), nullable=True),
    # The language of its messages, the one it was asked in (`web.i18n.LANGUAGES`).
    Column("language", String(8), nullable=False, server_default="en"),
    Column("app", String(64), nullable=True, index=True),  # the app whose webhook it posts to (migration 0010)
)

# The slots an alert has announced, by natural key (a slot's pk changes with each full load), so none
# is announced twice; deleted with the alert.
alert_announced = Table(
    "alert_announced",
    metadata,
    Column("alert_id", String(32), ForeignKey("alert.id", ondelete="CASCADE"), primary_key=True),
    Column("publisher_id", Integer, primary_key=True),
    Column("slot_source_id", String(200), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("announced_ms", BigInteger, nullable=False),
)


# Apps that create alerts through the API and hear of matches by webhook (discovery/alerts/apps.py),
# registered by the admin: their API key kept only as its SHA-256; the signing secret kept as it is,
# since every notification is signed with it.
alert_app = Table(
    "alert_app",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("secret", String(64), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

"""FHIR Subscriptions on R4 (Subscriptions R5 Backport IG, rest-hook channel): the "availability
changed" topic, Subscription resources, notification Bundles, and their delivery. Used by the provider
(`slotlinks.provider.push` implements the store protocols over its database) and the discovery
aggregate (`slotlinks.discovery.aggregate.pushstore`, over `sqlstore`).

- `topic`: The one SubscriptionTopic slotlinks serves, "availability changed", and its filters.
- `resource`: The R4 Subscription resource with the Backport IG's profile: what a client sends, and what we answer.
- `notifications`: Notification Bundles and the R4 SubscriptionStatus.
- `store`: What the subscription routes and the deliverer need of a store, as protocols each side implements.
- `sqlstore`: Subscriptions and their undelivered events in SQL tables a side gives.
- `delivery`: Delivering notifications over the rest-hook channel.
- `routes`: The Subscription REST endpoints (create, read, delete, `$status`).
"""

from __future__ import annotations

from slotlinks.subscriptions.delivery import Deliverer, DeliveryPolicy
from slotlinks.subscriptions.notifications import Event, notification_bundle, status_bundle
from slotlinks.subscriptions.resource import NewSubscription, Subscription, parse_subscription, subscription_json
from slotlinks.subscriptions.routes import subscription_router
from slotlinks.subscriptions.store import Outbox, SubscriptionStore
from slotlinks.subscriptions.topic import (
    AVAILABILITY_TOPIC,
    FOCUS_TYPES,
    EventFacts,
    Filter,
    capability_resource,
    matches,
    parse_filter,
    parse_filters,
)

__all__ = [
    "AVAILABILITY_TOPIC",
    "FOCUS_TYPES",
    "Deliverer",
    "DeliveryPolicy",
    "Event",
    "EventFacts",
    "Filter",
    "NewSubscription",
    "Outbox",
    "Subscription",
    "SubscriptionStore",
    "capability_resource",
    "matches",
    "notification_bundle",
    "parse_filter",
    "parse_filters",
    "parse_subscription",
    "status_bundle",
    "subscription_json",
    "subscription_router",
]

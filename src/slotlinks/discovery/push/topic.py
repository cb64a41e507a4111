"""The names the push contract shares with publishers (the kernel's `subscriptions.topic`): our topic and
the Backport IG's extensions.

Subscriptions R5 Backport IG (http://hl7.org/fhir/uv/subscriptions-backport), rest-hook channel, on
FHIR R4: a Subscription's `criteria` is the topic's canonical URL, its filters are
`backport-filter-criteria` extensions on `_criteria`, the payload content is a `backport-payload-content`
extension on `channel._payload`, and the heartbeat a `backport-heartbeat-period` extension on `channel`.
An R4 server advertises a topic in its CapabilityStatement with the
`capabilitystatement-subscriptiontopic-canonical` extension on its Subscription resource entry.
"""

from __future__ import annotations

__all__ = [
    "AVAILABILITY_TOPIC",
    "FILTER_CRITERIA",
    "HEARTBEAT_PERIOD",
    "PAYLOAD_CONTENT",
    "SUBSCRIPTION_PROFILE",
    "TOPIC_CANONICAL",
]

from slotlinks.subscriptions.topic import (
    AVAILABILITY_TOPIC,
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    PAYLOAD_CONTENT,
    SUBSCRIPTION_PROFILE,
    TOPIC_CANONICAL,
)

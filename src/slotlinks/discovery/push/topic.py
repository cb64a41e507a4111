"""The names the push contract shares with publishers: our topic and the Backport IG's extensions.

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

# Must equal the kernel's `slotlinks.subscriptions.topic.AVAILABILITY_TOPIC` (the provider's side of the
# contract); defined here until that package is merged, then to be imported from it.
AVAILABILITY_TOPIC = "urn:slotlinks:fhir:SubscriptionTopic:availability-changed"

_IG = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
SUBSCRIPTION_PROFILE = _IG + "backport-subscription"
FILTER_CRITERIA = _IG + "backport-filter-criteria"
PAYLOAD_CONTENT = _IG + "backport-payload-content"
HEARTBEAT_PERIOD = _IG + "backport-heartbeat-period"
TOPIC_CANONICAL = _IG + "capabilitystatement-subscriptiontopic-canonical"

"""Push: the search tool subscribes to each publisher's availability topic (FHIR Subscriptions, R4
Backport IG, rest-hook) and applies what it is sent, so a slot taken at the provider leaves search
results in seconds instead of at the next poll. Polling stays the backstop.

- `apply`: Applying the changes of one full-resource notification to the publisher's current generation.
- `manager`: The subscriber: keeps one Subscription per publisher that offers our topic, and applies
  what it pushes; gaps fall back to polling and repair the subscription.
- `notification`: Reading one notification Bundle as the Backport IG shapes it on R4.
- `polls`: Immediate polls of one publisher, asked for by push.
- `routes`: The notification endpoint, `POST /push/{publisher id}`.
- `state`: The push state of each publisher in the discovery store.
- `subscribe`: Talking to a publisher's subscription server: its metadata, creating and deleting a Subscription.
- `topic`: The names the push contract shares with publishers: our topic and the Backport IG's extensions.
"""

from __future__ import annotations

from slotlinks.discovery.push.manager import PushManager
from slotlinks.discovery.push.notification import Notification, parse_notification
from slotlinks.discovery.push.state import PUSH_STATES
from slotlinks.discovery.push.topic import AVAILABILITY_TOPIC

__all__ = ["AVAILABILITY_TOPIC", "PUSH_STATES", "Notification", "PushManager", "parse_notification"]

"""What the subscription routes and the deliverer need of a store, as protocols each side implements.

The provider implements both over its own database (`slotlinks.provider.push`); the discovery
aggregate can implement them over its own. `SubscriptionStore` serves the REST routes: who is asking
(a registered source, by its secret) and that source's subscriptions. `Outbox` serves the deliverer:
it turns committed changes (and, for the provider, holds expiring by the clock) into numbered events
per subscription, hands them out in order, and forgets them once delivered or given up on. Both are
synchronous (database) APIs; the deliverer calls them off the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from slotlinks.subscriptions.notifications import Event
from slotlinks.subscriptions.resource import NewSubscription, Subscription

__all__ = ["Outbox", "SubscriptionStore"]


class SubscriptionStore(Protocol):
    def source_for(self, authorization: str | None) -> str | None:
        """The registered source whose secret is the `Authorization: Bearer` token, else None."""
        ...

    def create(self, *, source: str, spec: NewSubscription, at_ms: int) -> Subscription:
        """Stores a new subscription, `requested`; its events are the changes committed after this."""
        ...

    def get(self, *, source: str, subscription_id: str) -> Subscription | None:
        """The source's subscription (None for another source's, a deleted one or none)."""
        ...

    def delete(self, *, source: str, subscription_id: str) -> bool:
        """Turns the source's subscription off and drops its undelivered events; False if none."""
        ...


class Outbox(Protocol):
    def collect(self, *, now_ms: int) -> Mapping[str, int]:
        """Turns what changed since the last call into events of the live subscriptions whose
        filters they match, in one transaction; answers how many new events each subscription got."""
        ...

    def live(self, *, now_ms: int) -> list[Subscription]:
        """Subscriptions to work on: requested, active or in error, and not past their end."""
        ...

    def current(self, subscription_id: str) -> Subscription | None:
        """The subscription as it now stands (None: deleted)."""
        ...

    def pending(self, subscription_id: str, *, limit: int) -> list[Event]:
        """Its undelivered events, oldest first."""
        ...

    def done(self, subscription_id: str, *, through: int) -> None:
        """Forgets its events numbered up to `through` (delivered, or given up on)."""
        ...

    def set_status(self, subscription_id: str, *, status: str, error: str | None, at_ms: int) -> None:
        """Records where delivery stands: `active` (and since when, the first time) or `error` (why)."""
        ...

    def resources(self, keys: Iterable[tuple[str, str]]) -> Mapping[tuple[str, str], dict[str, Any] | None]:
        """The current FHIR JSON of each (type, id), None for one removed: `full-resource` payloads."""
        ...

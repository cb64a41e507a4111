"""Notification Bundles and the R4 SubscriptionStatus (Subscriptions R5 Backport IG, "Notifications").

Every notification is a `history` Bundle (profile `backport-subscription-notification-r4`) whose first
entry is the SubscriptionStatus, on R4 a `Parameters` resource (profile `backport-subscription-status-r4`):
`subscription`, `topic`, `status`, `type` (handshake | heartbeat | event-notification | query-status),
`events-since-subscription-start` (a string holding the count, which keeps counting through delivery
errors) and, per event, a `notification-event` with its `event-number`, `timestamp` and `focus` (the
changed resource's absolute URL under the configured base).

Further entries, one per focus however many of the notification's events concern it: `id-only` gives
its `fullUrl` and `request` (PUT `Type/id` for created or changed, DELETE for removed); `full-resource`
adds the resource as it now stands (none for a DELETE). `history` entries carry a `response` too (R4
Bundle, invariant bdl-4). `$status` answers a `searchset` Bundle holding the status alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slotlinks.fhir.instant import ms_to_instant
from slotlinks.subscriptions.resource import Subscription
from slotlinks.subscriptions.topic import AVAILABILITY_TOPIC, BACKPORT

__all__ = ["NOTIFICATION_PROFILE", "STATUS_PROFILE", "Event", "notification_bundle", "status_bundle"]

NOTIFICATION_PROFILE = BACKPORT + "backport-subscription-notification-r4"
STATUS_PROFILE = BACKPORT + "backport-subscription-status-r4"
_ERROR_SYSTEM = "http://terminology.hl7.org/CodeSystem/subscription-error"

#: A resource as its FHIR JSON, keyed by (type, id); None: it is gone.
Resources = Mapping[tuple[str, str], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Event:
    """One event of one subscription: its number there, when it happened, and what changed."""

    number: int
    at_ms: int
    resource_type: str
    resource_id: str
    removed: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.resource_type, self.resource_id)


def _url(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def _status_parameters(base: str, sub: Subscription, kind: str, events: Sequence[Event], status: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": _url(base, "Subscription", sub.id)}},
        {"name": "topic", "valueCanonical": AVAILABILITY_TOPIC},
        {"name": "status", "valueCode": status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(sub.events_since_start)},
    ]
    for event in events:
        parameters.append(
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(event.number)},
                    {"name": "timestamp", "valueInstant": ms_to_instant(event.at_ms)},
                    {"name": "focus", "valueReference": {"reference": _url(base, *event.key)}},
                ],
            }
        )
    if status == "error":
        parameters.append(
            {"name": "error", "valueCodeableConcept": {"coding": [{"system": _ERROR_SYSTEM, "code": "no-response"}]}}
        )
    return {"resourceType": "Parameters", "meta": {"profile": [STATUS_PROFILE]}, "parameter": parameters}


def _status_entry(base: str, sub: Subscription, kind: str, events: Sequence[Event], status: str) -> dict[str, Any]:
    ident = str(uuid.uuid4())
    return {
        "fullUrl": f"urn:uuid:{ident}",
        "resource": {"id": ident, **_status_parameters(base, sub, kind, events, status)},
        "request": {"method": "GET", "url": _url(base, "Subscription", sub.id, "$status")},
        "response": {"status": "200"},
    }


def _focus_entries(base: str, events: Sequence[Event], resources: Resources | None) -> list[dict[str, Any]]:
    latest: dict[tuple[str, str], Event] = {}
    for event in events:  # in number order: the last event of a focus says where it now stands
        latest.pop(event.key, None)
        latest[event.key] = event
    entries = []
    for key, event in latest.items():
        resource = None if resources is None or event.removed else resources.get(key)
        removed = event.removed or (resources is not None and resource is None)
        entry: dict[str, Any] = {"fullUrl": _url(base, *key)}
        if resource is not None:
            entry["resource"] = resource
        entry["request"] = {"method": "DELETE" if removed else "PUT", "url": "/".join(key)}
        entry["response"] = {"status": "204" if removed else "200"}
        entries.append(entry)
    return entries


def notification_bundle(
    *,
    base: str,
    sub: Subscription,
    kind: str,
    now_ms: int,
    events: Sequence[Event] = (),
    resources: Resources | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """The `history` Bundle of one notification (`kind`: handshake, heartbeat or event-notification).
    `resources` is given for `full-resource` payloads; a focus missing from it was removed."""
    entries = [_status_entry(base, sub, kind, events, status or sub.status)]
    if kind == "event-notification":
        entries += _focus_entries(base, events, resources)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": ms_to_instant(now_ms),
        "entry": entries,
    }


def status_bundle(*, base: str, sub: Subscription, now_ms: int) -> dict[str, Any]:
    """`GET Subscription/{id}/$status`: a `searchset` Bundle holding the status (`query-status`)."""
    ident = str(uuid.uuid4())
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
        "timestamp": ms_to_instant(now_ms),
        "total": 1,
        "entry": [
            {
                "fullUrl": f"urn:uuid:{ident}",
                "resource": {"id": ident, **_status_parameters(base, sub, "query-status", (), sub.status)},
                "search": {"mode": "match"},
            }
        ],
    }

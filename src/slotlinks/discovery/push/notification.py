"""Reading one notification Bundle as the Backport IG shapes it on R4.

A notification is a `history` Bundle whose first entry is the SubscriptionStatus, on R4 a `Parameters`
resource (profile backport-subscription-status-r4): `subscription`, `topic`, `status`, `type`,
`events-since-subscription-start` (an integer in a valueString) and one `notification-event` part per
event (`event-number`, `timestamp`, `focus`). The further entries are the changed resources: `request`
says PUT (created or changed) or DELETE (removed) and `Type/id`; with `full-resource` content the
entry carries the `resource` too (never for a DELETE).

Anything else is refused with `InvalidInput` saying what is wrong, before anything is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from slotlinks.errors import InvalidInput
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms

__all__ = ["NOTIFICATION_TYPES", "Change", "Event", "Notification", "parse_notification"]

NOTIFICATION_TYPES = frozenset({"handshake", "heartbeat", "event-notification", "query-status", "query-event"})


@dataclass(frozen=True, slots=True)
class Event:
    number: int
    timestamp_ms: int | None


@dataclass(frozen=True, slots=True)
class Change:
    """One changed resource: `removed` for a DELETE; `resource` only with full-resource content."""

    resource_type: str
    id: str
    removed: bool
    resource: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Notification:
    subscription: str  # the Subscription reference, as sent
    status: str
    type: str
    events_since_start: int
    events: list[Event]
    changes: list[Change]


def _fail(message: str, *path: str) -> InvalidInput:
    return InvalidInput(f"not a subscription notification: {message}", expression=[".".join(path)] if path else [])


def _object(value: Any, *path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail("expected a JSON object", *path)
    return value


def _count(value: Any, *path: str) -> int:
    """A non-negative integer sent as a string (or, leniently, as a number)."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text.isdigit() or len(text) > 18:
        raise _fail(f"{value!r} is not a non-negative integer", *path)
    return int(text)


def _parameters(status: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The status's single-valued parameters by name, and its notification-event parts."""
    if status.get("resourceType") != "Parameters":
        raise _fail("the first entry is not a Parameters (SubscriptionStatus) resource", "Bundle.entry[0].resource")
    params = status.get("parameter")
    if not isinstance(params, list):
        raise _fail("the status has no parameters", "Parameters.parameter")
    single: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    for i, param in enumerate(params):
        param = _object(param, f"Parameters.parameter[{i}]")
        name = param.get("name")
        if name == "notification-event":
            parts = param.get("part")
            if not isinstance(parts, list):
                raise _fail("a notification-event has no parts", f"Parameters.parameter[{i}].part")
            events.append({str(p.get("name")): p for p in parts if isinstance(p, dict)})
        elif isinstance(name, str):
            single[name] = param
    return single, events


def _value(param: dict[str, Any] | None, kind: str, name: str) -> Any:
    value = None if param is None else param.get(kind)
    if value is None:
        raise _fail(f"the status has no {name} ({kind})", f"Parameters.parameter:{name}")
    return value


def _event(parts: dict[str, Any], i: int) -> Event:
    where = f"Parameters.parameter:notification-event[{i}]"
    number = _count(_value(parts.get("event-number"), "valueString", "event-number"), where, "event-number")
    stamp = parts.get("timestamp", {}).get("valueInstant")
    try:
        timestamp_ms = instant_to_ms(stamp) if isinstance(stamp, str) else None
    except InvalidInstant as exc:
        raise _fail(f"timestamp {stamp!r} is not an instant", where, "timestamp") from exc
    return Event(number, timestamp_ms)


def _change(entry: Any, i: int) -> Change:
    where = f"Bundle.entry[{i}]"
    entry = _object(entry, where)
    request = _object(entry.get("request"), where, "request")
    method, url = request.get("method"), request.get("url")
    if method not in ("PUT", "POST", "DELETE") or not isinstance(url, str):
        raise _fail("the entry's request is not a PUT, POST or DELETE of Type/id", where, "request")
    rtype, _, rid = url.split("?", 1)[0].rstrip("/").rpartition("/")
    rtype = rtype.rsplit("/", 1)[-1]
    if not rtype or not rid:
        raise _fail(f"request url {url!r} is not Type/id", where, "request", "url")
    resource = entry.get("resource")
    if method == "DELETE" or resource is None:
        return Change(rtype, rid, method == "DELETE", None)
    resource = _object(resource, where, "resource")
    if resource.get("resourceType") != rtype or resource.get("id") != rid:
        raise _fail(f"the resource is not the {rtype}/{rid} its request names", where, "resource")
    return Change(rtype, rid, False, resource)


def parse_notification(body: bytes) -> Notification:
    """The notification in `body`, or `InvalidInput` saying why it is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _fail(f"the body is not JSON: {exc}") from exc
    bundle = _object(data, "Bundle")
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "history":
        raise _fail("expected a Bundle of type history", "Bundle.type")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise _fail("the Bundle has no entries", "Bundle.entry")
    first = _object(entries[0], "Bundle.entry[0]")
    single, event_parts = _parameters(_object(first.get("resource"), "Bundle.entry[0].resource"))
    kind = _value(single.get("type"), "valueCode", "type")
    if not isinstance(kind, str) or kind not in NOTIFICATION_TYPES:
        raise _fail(f"unknown notification type {kind!r}", "Parameters.parameter:type")
    subscription = _object(_value(single.get("subscription"), "valueReference", "subscription"), "subscription")
    return Notification(
        subscription=str(subscription.get("reference") or ""),
        status=str(_value(single.get("status"), "valueCode", "status")),
        type=kind,
        events_since_start=_count(
            _value(single.get("events-since-subscription-start"), "valueString", "events-since-subscription-start"),
            "Parameters.parameter:events-since-subscription-start",
        ),
        events=sorted((_event(parts, i) for i, parts in enumerate(event_parts)), key=lambda e: e.number),
        changes=[_change(entry, i) for i, entry in enumerate(entries[1:], start=1)],
    )

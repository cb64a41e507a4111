"""The R4 Subscription resource with the Backport IG's profile: what a client sends, and what we answer.

Subscriptions R5 Backport IG, profile `backport-subscription` (R4): `criteria` is the topic's canonical
URL, with filters in `_criteria.extension` (`backport-filter-criteria`, valueString); `channel.type`
`rest-hook`; `channel.endpoint` the http(s) URL notifications are POSTed to; `channel.payload`
`application/fhir+json` with `_payload.extension` `backport-payload-content` (`id-only` or
`full-resource`); `channel.header` strings `Name: value` sent with every notification;
`channel.extension` `backport-heartbeat-period` and `backport-timeout` (seconds, valueUnsignedInt).

`parse_subscription` reads a create request into a `NewSubscription` (every problem an `InvalidInput`
naming the element); `subscription_json` renders a stored `Subscription` back. The channel's headers
are never echoed: they carry the subscriber's secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

from slotlinks.errors import InvalidInput
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms, ms_to_instant
from slotlinks.fhir.ndjson import nests_too_deeply, split_error_path
from slotlinks.fhir.urls import is_http_url
from slotlinks.subscriptions.topic import (
    AVAILABILITY_TOPIC,
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    PAYLOAD_CONTENT,
    SUBSCRIPTION_PROFILE,
    TIMEOUT,
    parse_filters,
)

__all__ = [
    "CONTENTS",
    "NewSubscription",
    "Subscription",
    "parse_subscription",
    "subscription_json",
]

FHIR_JSON = "application/fhir+json"
CONTENTS = ("id-only", "full-resource")

MAX_HEADERS = 10
MAX_HEADER_CHARS = 1024
MAX_ENDPOINT_CHARS = 2048
MAX_REASON_CHARS = 1024
MAX_HEARTBEAT_SECONDS = 86_400
MAX_TIMEOUT_SECONDS = 60
# RFC 9110 5.1 field names are tokens; values hold no control characters (RFC 9110 5.5).
_HEADER = re.compile(r"^(?P<name>[!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(?P<value>[^\x00-\x08\x0a-\x1f\x7f]*)$")
# Headers the HTTP client owns: a subscriber must not be able to break the message's framing or target.
_RESERVED_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "content-type", "connection", "te"})


class _Extension(msgspec.Struct):
    url: str
    valueString: str | None = None  # noqa: N815  (FHIR's JSON names)
    valueCode: str | None = None  # noqa: N815
    valueUnsignedInt: int | None = None  # noqa: N815


class _Element(msgspec.Struct):
    extension: list[_Extension] = []


class _Channel(msgspec.Struct):
    type: str
    endpoint: str | None = None
    payload: str | None = None
    payload_element: _Element | None = msgspec.field(default=None, name="_payload")
    header: list[str] = []
    extension: list[_Extension] = []


class _Subscription(msgspec.Struct):
    resourceType: str  # noqa: N815
    criteria: str
    channel: _Channel
    criteria_element: _Element | None = msgspec.field(default=None, name="_criteria")
    reason: str = ""
    end: str | None = None


_DECODER = msgspec.json.Decoder(_Subscription)


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A valid create request: what the server stores and delivers by."""

    endpoint: str
    headers: tuple[str, ...]
    content: str
    filters: tuple[str, ...]
    heartbeat_seconds: int | None = None
    timeout_seconds: int | None = None
    reason: str = ""
    end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A stored subscription: the request, whose it is, and where it stands (`status`: requested,
    active, error or off; `events_since_start` counts every event generated for it)."""

    id: str
    source: str
    status: str
    spec: NewSubscription
    events_since_start: int
    created_ms: int
    error: str | None = None
    # When a handshake was first answered: until then an `error` means the endpoint refused it.
    activated_ms: int | None = None


def _values(extensions: list[_Extension], url: str) -> list[_Extension]:
    return [e for e in extensions if e.url == url]


def _seconds(channel: _Channel, url: str, name: str, most: int) -> int | None:
    found = _values(channel.extension, url)
    if not found:
        return None
    value = found[0].valueUnsignedInt
    if value is None or not 1 <= value <= most:
        raise InvalidInput(f"{name} must be a whole number of seconds from 1 to {most}", expression=[f"channel.{name}"])
    return value


def _headers(texts: list[str]) -> tuple[str, ...]:
    if len(texts) > MAX_HEADERS:
        raise InvalidInput(f"at most {MAX_HEADERS} channel headers", expression=["Subscription.channel.header"])
    for n, text in enumerate(texts):
        where = [f"Subscription.channel.header[{n}]"]
        found = _HEADER.match(text) if len(text) <= MAX_HEADER_CHARS else None
        if found is None:
            raise InvalidInput(f"channel header {n} is not 'Name: value' on one line", expression=where)
        if found["name"].lower() in _RESERVED_HEADERS:
            raise InvalidInput(f"channel header {found['name']!r} is set by the server", expression=where)
    return tuple(texts)


def _content(channel: _Channel) -> str:
    if channel.payload != FHIR_JSON:
        raise InvalidInput(f"channel.payload must be {FHIR_JSON}", expression=["Subscription.channel.payload"])
    found = _values(channel.payload_element.extension if channel.payload_element else [], PAYLOAD_CONTENT)
    content = found[0].valueCode if found else None
    if content not in CONTENTS:
        raise InvalidInput(
            "the payload content (backport-payload-content) must be id-only or full-resource",
            expression=["Subscription.channel.payload.extension"],
        )
    return content


def _end(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return instant_to_ms(text)
    except InvalidInstant as exc:
        raise InvalidInput(f"end: {exc}", expression=["Subscription.end"]) from None


def parse_subscription(body: bytes) -> NewSubscription:
    """A create request's body as a `NewSubscription`; `InvalidInput` saying what is wrong otherwise."""
    if nests_too_deeply(body):
        raise InvalidInput("the Subscription is nested too deeply")
    try:
        sent = _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        path, message = split_error_path(str(exc))
        raise InvalidInput(message, expression=["Subscription" + path[1:]]) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"not a JSON Subscription: {exc}") from None
    if sent.resourceType != "Subscription":
        raise InvalidInput("resourceType must be Subscription", expression=["Subscription.resourceType"])
    if sent.criteria != AVAILABILITY_TOPIC:
        raise InvalidInput(f"criteria must be the topic {AVAILABILITY_TOPIC}", expression=["Subscription.criteria"])
    channel = sent.channel
    if channel.type != "rest-hook":
        raise InvalidInput("channel.type must be rest-hook", expression=["Subscription.channel.type"])
    endpoint = channel.endpoint or ""
    if len(endpoint) > MAX_ENDPOINT_CHARS or not is_http_url(endpoint, allow_userinfo=False, allow_fragment=False):
        raise InvalidInput(
            "channel.endpoint must be an absolute http(s) URL without credentials or fragment",
            expression=["Subscription.channel.endpoint"],
        )
    criteria = sent.criteria_element.extension if sent.criteria_element else []
    filters = [e.valueString for e in _values(criteria, FILTER_CRITERIA)]
    if any(f is None for f in filters):
        raise InvalidInput("a filter criteria extension needs a valueString", expression=["Subscription.criteria"])
    texts = tuple(f for f in filters if f is not None)
    parse_filters(texts)
    if len(sent.reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"reason is over {MAX_REASON_CHARS} characters", expression=["Subscription.reason"])
    return NewSubscription(
        endpoint=endpoint,
        headers=_headers(channel.header),
        content=_content(channel),
        filters=texts,
        heartbeat_seconds=_seconds(channel, HEARTBEAT_PERIOD, "heartbeatPeriod", MAX_HEARTBEAT_SECONDS),
        timeout_seconds=_seconds(channel, TIMEOUT, "timeout", MAX_TIMEOUT_SECONDS),
        reason=sent.reason,
        end_ms=_end(sent.end),
    )


def subscription_json(sub: Subscription) -> dict[str, object]:
    """The stored subscription as an R4 Subscription (backport profile), its headers left out."""
    spec = sub.spec
    channel: dict[str, object] = {
        "type": "rest-hook",
        "endpoint": spec.endpoint,
        "payload": FHIR_JSON,
        "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": spec.content}]},
    }
    extensions = []
    if spec.heartbeat_seconds is not None:
        extensions.append({"url": HEARTBEAT_PERIOD, "valueUnsignedInt": spec.heartbeat_seconds})
    if spec.timeout_seconds is not None:
        extensions.append({"url": TIMEOUT, "valueUnsignedInt": spec.timeout_seconds})
    if extensions:
        channel["extension"] = extensions
    body: dict[str, object] = {
        "resourceType": "Subscription",
        "id": sub.id,
        "meta": {"profile": [SUBSCRIPTION_PROFILE]},
        "status": sub.status,
        "reason": spec.reason or "Slot availability changes",
        "criteria": AVAILABILITY_TOPIC,
    }
    if spec.filters:
        body["_criteria"] = {"extension": [{"url": FILTER_CRITERIA, "valueString": f} for f in spec.filters]}
    if spec.end_ms is not None:
        body["end"] = ms_to_instant(spec.end_ms)
    if sub.error:
        body["error"] = sub.error
    body["channel"] = channel
    return body

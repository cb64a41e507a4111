"""The one SubscriptionTopic slotlinks serves, "availability changed", and its filters.

Subscriptions R5 Backport IG (http://hl7.org/fhir/uv/subscriptions-backport), "Subscription Topics":
an R4 server names its topics by canonical URL and a Subscription selects one in `criteria`. No
published topic covers Slot availability, so ours lives in the project's own namespace (a URN: the
project owns no domain). Its events: a Slot created, changed (status, capacity, a hold placed,
released or expired, a booking made or cancelled) or removed; a Schedule or Location changed or
deactivated.

Filters (IG "Subscription Filters", the `backport-filter-criteria` extension on `Subscription.criteria`,
`[resourceType?]parameter=value`), several ANDed:

    Slot?state=MA                         the two-letter state of the Slot's Location
    Slot?service-type=<system>|<code>     a coding in the Schedule's serviceType (`<code>` alone: any system)

A Schedule event matches by its own Location and serviceType; a Location event by its state and the
service types of the Schedules at it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from slotlinks.errors import InvalidInput

__all__ = [
    "AVAILABILITY_TOPIC",
    "BACKPORT",
    "FILTER_CRITERIA",
    "FOCUS_TYPES",
    "HEARTBEAT_PERIOD",
    "PAYLOAD_CONTENT",
    "SUBSCRIPTION_PROFILE",
    "TIMEOUT",
    "TOPIC_CANONICAL",
    "EventFacts",
    "Filter",
    "capability_resource",
    "matches",
    "parse_filter",
    "parse_filters",
]

AVAILABILITY_TOPIC = "urn:slotlinks:fhir:SubscriptionTopic:availability-changed"

# The Backport IG's names, shared by our server and our subscriber.
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
SUBSCRIPTION_PROFILE = BACKPORT + "backport-subscription"
FILTER_CRITERIA = BACKPORT + "backport-filter-criteria"
PAYLOAD_CONTENT = BACKPORT + "backport-payload-content"
HEARTBEAT_PERIOD = BACKPORT + "backport-heartbeat-period"
TIMEOUT = BACKPORT + "backport-timeout"
TOPIC_CANONICAL = BACKPORT + "capabilitystatement-subscriptiontopic-canonical"
#: The resource types whose changes are events of the topic.
FOCUS_TYPES = ("Slot", "Schedule", "Location")
#: How many filter strings one Subscription may carry.
MAX_FILTERS = 20

_STATE = re.compile(r"^[A-Za-z]{2}$")
# A FHIR `uri` (the system) and `code`: no whitespace, no `|` in either; bounded so a row stays small.
_TOKEN = re.compile(r"^(?:(?P<system>[^\s|]{1,256})\|)?(?P<code>[^\s|]{1,128})$")


@dataclass(frozen=True, slots=True)
class Filter:
    """One parsed filter: `state` (upper-case two letters) or `service-type` (code, optional system)."""

    kind: Literal["state", "service-type"]
    code: str
    system: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What filters look at of one changed resource: its Location's state and its service types
    (each `(system, code)`; a Location has those of its Schedules)."""

    state: str | None = None
    services: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def parse_filter(text: str) -> Filter:
    """`Slot?state=MA` or `Slot?service-type=system|code` (the `Slot?` prefix is optional), else
    `InvalidInput` naming the filter."""
    where = ["Subscription.criteria.extension"]
    body = text.strip()
    if "?" in body:
        rtype, _, body = body.partition("?")
        if rtype != "Slot":
            raise InvalidInput(f"filter {text!r}: this topic filters on Slot, not {rtype!r}", expression=where)
    name, sep, value = body.partition("=")
    if not sep:
        raise InvalidInput(f"filter {text!r} is not parameter=value", expression=where)
    if name == "state":
        if not _STATE.match(value):
            raise InvalidInput(f"filter {text!r}: a state is two letters, e.g. MA", expression=where)
        return Filter("state", value.upper(), text=text)
    if name == "service-type":
        found = _TOKEN.match(value)
        if found is None:
            raise InvalidInput(f"filter {text!r}: service-type is system|code or code", expression=where)
        return Filter("service-type", found["code"], found["system"], text=text)
    raise InvalidInput(f"filter {text!r}: this topic filters by state and service-type only", expression=where)


def parse_filters(texts: Sequence[str]) -> tuple[Filter, ...]:
    if len(texts) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} filters", expression=["Subscription.criteria.extension"])
    return tuple(parse_filter(text) for text in texts)


def _service_matches(wanted: Filter, services: Iterable[tuple[str, str]]) -> bool:
    return any(code == wanted.code and wanted.system in (None, system) for system, code in services)


def matches(filters: Iterable[Filter], facts: EventFacts) -> bool:
    """True when every filter holds for the changed resource (no filters: every event)."""
    for wanted in filters:
        if wanted.kind == "state":
            if (facts.state or "").upper() != wanted.code:
                return False
        elif not _service_matches(wanted, facts.services):
            return False
    return True


def capability_resource() -> dict[str, object]:
    """The `CapabilityStatement.rest.resource` entry an R4 server advertises its topics with (Backport
    IG, "Conformance": the `capabilitystatement-subscriptiontopic-canonical` extension)."""
    return {
        "type": "Subscription",
        "extension": [{"url": TOPIC_CANONICAL, "valueCanonical": AVAILABILITY_TOPIC}],
        "supportedProfile": [SUBSCRIPTION_PROFILE],
        "interaction": [{"code": "create"}, {"code": "read"}, {"code": "delete"}],
        "operation": [
            {
                "name": "status",
                "definition": "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status",
            }
        ],
    }

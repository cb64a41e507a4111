"""Reading notification Bundles: the IG's R4 shape is understood, anything else is an `InvalidInput`
(a 400 at the endpoint), never another exception (a 500)."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotlinks.discovery.push.notification import parse_notification
from slotlinks.errors import InvalidInput


def bundle(*, events: list[tuple[str, str]] = (), entries: list[Any] | None = None, **status: Any) -> dict[str, Any]:  # type: ignore[assignment]
    values = {"type": "event-notification", "status": "active", "since": "2", **status}
    params: list[Any] = [
        {"name": "subscription", "valueReference": {"reference": "https://p.example/fhir/Subscription/s1"}},
        {"name": "topic", "valueCanonical": "urn:slotlinks:fhir:SubscriptionTopic:availability-changed"},
        {"name": "status", "valueCode": values["status"]},
        {"name": "type", "valueCode": values["type"]},
        {"name": "events-since-subscription-start", "valueString": values["since"]},
    ]
    for number, stamp in events:
        part = [{"name": "event-number", "valueString": number}, {"name": "timestamp", "valueInstant": stamp}]
        params.append({"name": "notification-event", "part": part})
    rest = entries if entries is not None else []
    return {
        "resourceType": "Bundle",
        "type": "history",
        "entry": [{"resource": {"resourceType": "Parameters", "parameter": params}}, *rest],
    }


SLOT = {"resourceType": "Slot", "id": "a1", "status": "busy"}


def test_an_event_notification_is_read_in_event_order() -> None:
    entries = [
        {"fullUrl": "https://p.example/fhir/Slot/a1", "request": {"method": "PUT", "url": "Slot/a1"}, "resource": SLOT},
        {"fullUrl": "https://p.example/fhir/Slot/a2", "request": {"method": "DELETE", "url": "Slot/a2"}},
    ]
    note = parse_notification(
        orjson.dumps(bundle(events=[("2", "2026-01-01T00:00:01Z"), ("1", "2026-01-01T00:00:00Z")], entries=entries))
    )
    assert (note.type, note.status, note.events_since_start) == ("event-notification", "active", 2)
    assert note.subscription.endswith("Subscription/s1")
    assert [e.number for e in note.events] == [1, 2]
    assert [(c.resource_type, c.id, c.removed, c.resource is not None) for c in note.changes] == [
        ("Slot", "a1", False, True),
        ("Slot", "a2", True, False),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": []}),
        orjson.dumps({"resourceType": "Bundle", "type": "history", "entry": []}),
        orjson.dumps({"resourceType": "Bundle", "type": "history", "entry": [{"resource": {"resourceType": "Slot"}}]}),
        orjson.dumps(bundle(type="gossip")),
        orjson.dumps(bundle(since="-1")),
        orjson.dumps(bundle(since="1" * 40)),
        orjson.dumps(bundle(events=[("one", "2026-01-01T00:00:00Z")])),
        orjson.dumps(bundle(events=[("1", "yesterday")])),
        orjson.dumps(bundle(entries=[{"request": {"method": "PATCH", "url": "Slot/a1"}}])),
        orjson.dumps(bundle(entries=[{"request": {"method": "PUT", "url": "a1"}}])),
        orjson.dumps(
            bundle(entries=[{"request": {"method": "PUT", "url": "Slot/a1"}, "resource": {**SLOT, "id": "b"}}])
        ),
        orjson.dumps(bundle(entries=["Slot/a1"])),
    ],
    ids=lambda b: b[:40].decode(errors="replace"),
)
def test_what_is_not_a_notification_is_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_notification(body)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    status=st.dictionaries(st.sampled_from(["type", "status", "since"]), _json, max_size=3),
    entries=st.lists(_json, max_size=3),
)
def test_any_json_in_the_notification_shape_reads_or_is_invalid_input(
    status: dict[str, Any], entries: list[Any]
) -> None:
    with contextlib.suppress(InvalidInput):
        parse_notification(orjson.dumps(bundle(entries=entries, **status)))

"""Subscriptions on the provider over HTTP: advertised in metadata, created by registered sources only,
handshake to `active` (or `error` when the endpoint refuses), read, `$status`, delete; bad requests and
forbidden endpoints are clear OperationOutcomes and store nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from slotlinks.clock import FixedClock
from slotlinks.provider.app import create_app
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore
from slotlinks.subscriptions import AVAILABILITY_TOPIC
from tests.push.conftest import (
    BACKPORT,
    ENDPOINT_SECRET,
    FAST,
    SOURCE_SECRET,
    Receiver,
    Rig,
    check_notification,
    push_settings,
    register_source,
    subscription_body,
    wait_for,
)
from tests.servers import serve


def _subscriptions(store: ProviderStore) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.push_subscription)).scalar_one())


def test_metadata_advertises_the_topic(rig: Rig) -> None:
    statement = httpx.get(f"{rig.fhir}/metadata", timeout=10).json()
    entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription")
    assert entry["extension"] == [
        {"url": BACKPORT + "capabilitystatement-subscriptiontopic-canonical", "valueCanonical": AVAILABILITY_TOPIC}
    ]
    assert {i["code"] for i in entry["interaction"]} == {"create", "read", "delete"}


def test_handshake_makes_the_subscription_active(rig: Rig) -> None:
    made = rig.subscribe()
    assert made["status"] == "requested"
    assert "header" not in made["channel"], "the subscriber's secret is never echoed"
    sub_id = made["id"]
    wait_for(lambda: rig.read(sub_id)["status"] == "active", what="active")
    [handshake] = rig.receiver.of("handshake")
    check_notification(handshake, rig, sub_id, kind="handshake")
    assert handshake.status["status"]["valueCode"] == "requested"
    assert handshake.status["events-since-subscription-start"]["valueString"] == "0"
    assert handshake.path == "/push/publisher-1"


def test_a_refusing_endpoint_leaves_the_subscription_in_error(rig: Rig) -> None:
    rig.receiver.answer = 401
    sub_id = rig.subscribe()["id"]
    read = wait_for(lambda: (r := rig.read(sub_id))["status"] == "error" and r, what="error")
    assert "401" in read["error"]
    assert len(rig.receiver.of("handshake")) == 1, "a refused handshake is not retried"
    rig.admin("PATCH", "/Slot/" + _any_slot(rig.store), {"status": "busy-unavailable"})
    rig.receiver.answer = 200
    with pytest.raises(AssertionError):
        wait_for(lambda: rig.receiver.of("event-notification"), timeout=1.0)


def _any_slot(store: ProviderStore) -> str:
    with store.read() as conn:
        return str(conn.execute(select(t.slot.c.id).where(t.slot.c.active).order_by(t.slot.c.id).limit(1)).scalar_one())


def test_status_operation_answers_a_searchset_with_the_status(rig: Rig) -> None:
    sub_id = rig.active()
    rig.admin("PATCH", "/Slot/" + _any_slot(rig.store), {"status": "busy-unavailable"})
    wait_for(lambda: rig.receiver.of("event-notification"), what="the event")
    bundle = httpx.get(f"{rig.fhir}/Subscription/{sub_id}/$status", headers=rig.auth(), timeout=10).json()
    assert bundle["type"] == "searchset"
    [entry] = bundle["entry"]
    params = {p["name"]: p for p in entry["resource"]["parameter"]}
    assert params["type"]["valueCode"] == "query-status"
    assert params["status"]["valueCode"] == "active"
    assert params["events-since-subscription-start"]["valueString"] == "1"
    assert params["subscription"]["valueReference"]["reference"] == f"{rig.base}/Subscription/{sub_id}"


def test_only_a_registered_source_may_subscribe_and_each_sees_only_its_own(rig: Rig) -> None:
    body = subscription_body(rig.receiver.url)
    for headers in ({}, {"Authorization": "Bearer not-a-registered-secret"}, {"Authorization": SOURCE_SECRET}):
        refused = httpx.post(f"{rig.fhir}/Subscription", json=body, headers=headers, timeout=10)
        assert refused.status_code == 401
        assert refused.json()["resourceType"] == "OperationOutcome"
        assert refused.headers["www-authenticate"] == "Bearer"
    assert _subscriptions(rig.store) == 0
    sub_id = rig.subscribe()["id"]
    register_source(rig.origin, "other", "other-source-secret-0123456789")
    other = {"Authorization": "Bearer other-source-secret-0123456789"}
    assert httpx.get(f"{rig.fhir}/Subscription/{sub_id}", headers=other, timeout=10).status_code == 404
    assert httpx.delete(f"{rig.fhir}/Subscription/{sub_id}", headers=other, timeout=10).status_code == 404
    assert httpx.get(f"{rig.fhir}/Subscription/{sub_id}/$status", headers=other, timeout=10).status_code == 404
    assert rig.read(sub_id)["id"] == sub_id


def test_delete_stops_delivery(rig: Rig) -> None:
    sub_id = rig.active()
    gone = httpx.delete(f"{rig.fhir}/Subscription/{sub_id}", headers=rig.auth(), timeout=10)
    assert gone.status_code == 204
    assert httpx.get(f"{rig.fhir}/Subscription/{sub_id}", headers=rig.auth(), timeout=10).status_code == 404
    assert rig.admin("PATCH", "/Slot/" + _any_slot(rig.store), {"status": "busy-unavailable"}).status_code == 200
    with pytest.raises(AssertionError):
        wait_for(lambda: rig.receiver.of("event-notification"), timeout=1.0)


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node[key]
    node[last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "expression"),
    [
        ("criteria", "Slot?status=free", "Subscription.criteria"),
        ("resourceType", "Patient", "Subscription.resourceType"),
        ("channel.type", "websocket", "Subscription.channel.type"),
        ("channel.endpoint", "ftp://example.org/x", "Subscription.channel.endpoint"),
        ("channel.endpoint", "http://user:pw@example.org/x", "Subscription.channel.endpoint"),
        ("channel.endpoint", 12, "Subscription.channel.endpoint"),
        ("channel.payload", "application/xml", "Subscription.channel.payload"),
        ("channel._payload", {"extension": [{"url": BACKPORT + "backport-payload-content", "valueCode": "all"}]},
         "Subscription.channel.payload.extension"),
        ("channel.header", ["Authorization Bearer x"], "Subscription.channel.header[0]"),
        ("channel.header", ["X-A: 1\r\nX-B: 2"], "Subscription.channel.header[0]"),
        ("channel.header", ["Content-Length: 1"], "Subscription.channel.header[0]"),
        ("channel.extension", [{"url": BACKPORT + "backport-heartbeat-period", "valueUnsignedInt": 0}],
         "channel.heartbeatPeriod"),
        ("_criteria", {"extension": [{"url": BACKPORT + "backport-filter-criteria", "valueString": "Slot?state=Mass"}]},
         "Subscription.criteria.extension"),
        ("_criteria", {"extension": [{"url": BACKPORT + "backport-filter-criteria", "valueString": "Patient?x=1"}]},
         "Subscription.criteria.extension"),
        ("end", "tomorrow", "Subscription.end"),
    ],
)  # fmt: skip
def test_a_bad_subscription_is_a_400_naming_the_element_and_stores_nothing(
    rig: Rig, path: str, value: Any, expression: str
) -> None:
    body = _with(subscription_body(rig.receiver.url), path, value)
    refused = httpx.post(f"{rig.fhir}/Subscription", json=body, headers=rig.auth(), timeout=10)
    assert refused.status_code == 400, refused.text
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]
    assert _subscriptions(rig.store) == 0


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b"[" * 100_000 + b"]" * 100_000, b'{"resourceType":1}'])
def test_a_body_that_is_no_subscription_is_a_400(rig: Rig, body: bytes) -> None:
    headers = {**rig.auth(), "Content-Type": "application/fhir+json"}
    refused = httpx.post(f"{rig.fhir}/Subscription", content=body, headers=headers, timeout=10)
    assert refused.status_code in (400, 413), refused.text
    assert refused.json()["resourceType"] == "OperationOutcome"


def test_an_endpoint_on_a_private_address_is_refused_unless_allowed(
    store: ProviderStore, clock: FixedClock, receiver: Receiver, tmp_path: Path
) -> None:
    settings = push_settings(tmp_path, allow_private_networks=False)
    with serve(create_app(settings, store, delivery=FAST)) as origin:
        register_source(origin)
        headers = {"Authorization": f"Bearer {SOURCE_SECRET}"}
        for endpoint in (receiver.url, "http://10.0.0.7/push", "http://169.254.169.254/latest", "http://[::1]:9/x"):
            refused = httpx.post(
                f"{origin}/fhir/Subscription", json=subscription_body(endpoint), headers=headers, timeout=10
            )
            assert refused.status_code == 403, refused.text
            assert refused.json()["issue"][0]["code"] == "forbidden"
    assert _subscriptions(store) == 0
    assert receiver.received == []
    assert ENDPOINT_SECRET  # (the secret never left the test)

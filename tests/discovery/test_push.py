"""Push freshness, subscriber side: the discovery server (with its background sync) subscribes to a
publisher that advertises the availability topic, applies the notifications it is sent to the data
search reads, and falls back to polling (and re-subscribes) on a gap. The publisher is the small
server in fake_publisher.py, written from the push contract; every request crosses 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from slotlinks.config import Settings
from slotlinks.discovery.app import create_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.push import state
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery.fake_publisher import SOURCE_SECRET, TOPIC, FakePublisher, Subscription, slot_resource
from tests.servers import serve, serve_with_origin

IG = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def push_row(store: DiscoveryStore, pid: int) -> Any:
    with store.read() as conn:
        return conn.execute(select(t.publisher_push).where(t.publisher_push.c.publisher_id == pid)).first()


def runs(store: DiscoveryStore, pid: int) -> int:
    with store.read() as conn:
        query = select(func.count()).select_from(t.sync_run).where(t.sync_run.c.publisher_id == pid)
        return int(conn.execute(query).scalar_one())


@dataclass
class Running:
    fake: FakePublisher
    origin: str  # the discovery server's
    pid: int
    store: DiscoveryStore

    def sub(self, n: int = 1) -> Subscription:
        return wait_for(
            f"subscription {n}", lambda: len(self.fake.subscriptions) >= n and self.fake.subscriptions[n - 1]
        )

    def free_starts(self) -> set[str]:
        found = httpx.get(
            f"{self.origin}/api/search", params={"near": "02114", "radius": "25mi", "per_location": "20"}, timeout=30
        )
        assert found.status_code == 200, found.text
        return {_utc(s["start"]) for loc in found.json()["locations"] for s in loc["slots"]}

    def active(self, n: int = 1) -> Subscription:
        """Subscription n, once its handshake is accepted and the catch-up poll after it has run."""
        sub = self.sub(n)
        wait_for("the handshake", lambda: sub.handshake == 200)
        wait_for("the active state", lambda: push_row(self.store, self.pid).status == "active")
        # A full load, then one `_since` poll per handshake.
        wait_for("the catch-up poll", lambda: runs(self.store, self.pid) >= 1 + n)
        return sub


def _utc(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(UTC).isoformat()


def start(slot_index: int) -> str:
    """The start of a fake slot, in UTC (search shows it in the location's own zone)."""
    return _utc(str(slot_resource(slot_index)["start"]))


@contextmanager
def running(
    store: DiscoveryStore,
    settings: Settings,
    *,
    secret: bool = True,
    advertise: bool = True,
    handshake: bool = True,
    **extra: Any,
) -> Iterator[Running]:
    fake = FakePublisher(advertise=advertise, handshake=handshake)
    tuned = {"push_tick_seconds": 0.1, "push_heartbeat_seconds": 60, **extra}
    with serve_with_origin(lambda origin: (setattr(fake, "origin", origin), fake.app())[1]):
        pid = registry.add_publisher(store, url=fake.manifest_url, name="Harbor").id
        if secret:
            registry.set_referral_secret(store, pid, SOURCE_SECRET)

        def make(origin: str) -> Any:
            return create_app(replace(settings, discovery_url=origin, extra=tuned), store)

        with serve_with_origin(make) as origin:
            wait_for("the first poll", lambda: runs(store, pid) >= 1)
            yield Running(fake, origin, pid, store)


def test_subscribes_with_the_contracts_subscription(store: DiscoveryStore, settings: Settings) -> None:
    with running(store, settings) as run:
        sub = run.active()
        body = sub.body
        assert sub.headers["authorization"] == f"Bearer {SOURCE_SECRET}"
        assert body["resourceType"] == "Subscription"
        assert body["meta"]["profile"] == [IG + "backport-subscription"]
        assert body["status"] == "requested"
        assert body["criteria"] == TOPIC
        assert "_criteria" not in body  # followed for every state: no filter
        channel = body["channel"]
        assert channel["type"] == "rest-hook"
        assert channel["endpoint"] == f"{run.origin}/push/{run.pid}"  # from the configured base URL
        assert channel["payload"] == "application/fhir+json"
        assert channel["_payload"]["extension"] == [
            {"url": IG + "backport-payload-content", "valueCode": "full-resource"}
        ]
        assert channel["extension"] == [{"url": IG + "backport-heartbeat-period", "valueUnsignedInt": 60}]
        [header] = channel["header"]
        name, _, value = header.partition(": ")
        assert name == "Authorization"
        assert value.startswith("Bearer ")
        assert len(value) > 40
        assert SOURCE_SECRET not in header
        # The state shows where people look.
        [info] = registry.list_publishers(store)
        assert info.to_json()["push"]["state"] == "active"
        status = httpx.get(f"{run.origin}/status", timeout=30)
        assert "<dt>Push</dt><dd>active" in status.text


def test_a_single_state_publisher_is_subscribed_with_a_state_filter(store: DiscoveryStore, settings: Settings) -> None:
    fake = FakePublisher()
    with serve_with_origin(lambda origin: (setattr(fake, "origin", origin), fake.app())[1]):
        pid = registry.add_publisher(store, url=fake.manifest_url, name="Harbor", states="ma").id
        registry.set_referral_secret(store, pid, SOURCE_SECRET)
        tuned = {"push_tick_seconds": 0.1}
        with serve_with_origin(lambda o: create_app(replace(settings, discovery_url=o, extra=tuned), store)):
            sub = wait_for("the subscription", lambda: fake.subscriptions and fake.subscriptions[0])
    assert sub.body["_criteria"] == {
        "extension": [{"url": IG + "backport-filter-criteria", "valueString": "Slot?state=MA"}]
    }


def test_full_resource_notifications_change_search_without_a_poll(store: DiscoveryStore, settings: Settings) -> None:
    with running(store, settings) as run:
        sub = run.active()
        assert {start(0), start(1), start(2)} <= run.free_starts()
        polls = run.fake.polls()

        run.fake.put(slot_resource(1, status="busy"))  # booked at the provider
        assert (
            run.fake.notify(sub, "event-notification", since_start=1, events=[(1, "Slot/slot1", "PUT")]).status_code
            == 200
        )
        assert start(1) not in run.free_starts()
        assert (
            run.fake.notify(sub, "event-notification", since_start=2, events=[(2, "Slot/slot2", "DELETE")]).status_code
            == 200
        )
        assert run.free_starts() == {start(0)}

        # A redelivered (older) event changes nothing, even when it carries another version.
        run.fake.put(slot_resource(1))
        again = run.fake.notify(sub, "event-notification", since_start=2, events=[(1, "Slot/slot1", "PUT")])
        assert again.status_code == 200
        assert run.free_starts() == {start(0)}
        # A heartbeat that agrees with what we applied is no gap.
        assert run.fake.notify(sub, "heartbeat", since_start=2).status_code == 200
        # Changes coalesced into one notification apply in their order: changed, then removed.
        run.fake.put({**slot_resource(0), "comment": "moved to room 2"})
        both = [(3, "Slot/slot0", "PUT"), (4, "Slot/slot0", "DELETE")]
        assert run.fake.notify(sub, "event-notification", since_start=4, events=both).status_code == 200
        assert run.free_starts() == set()

        assert run.fake.polls() == polls  # none of it needed a poll
        row = push_row(store, run.pid)
        assert (row.status, row.events_seen) == ("active", 4)
        assert row.last_event_ms is not None
        assert row.lag_ms is not None


def test_notifications_without_the_subscriptions_secret_are_refused(store: DiscoveryStore, settings: Settings) -> None:
    with running(store, settings) as run:
        sub = run.active()
        run.fake.put(slot_resource(0, status="busy"))
        event = {"since_start": 1, "events": [(1, "Slot/slot0", "PUT")]}
        wrong = run.fake.notify(sub, "event-notification", headers={"Authorization": "Bearer not-the-secret"}, **event)
        assert wrong.status_code == 401
        assert wrong.json()["resourceType"] == "OperationOutcome"
        assert run.fake.notify(sub, "event-notification", headers={}, **event).status_code == 401
        # Another publisher's endpoint, and one with no subscription at all.
        other = replace(
            sub, body={**sub.body, "channel": {**sub.body["channel"], "endpoint": f"{run.origin}/push/999"}}
        )
        assert run.fake.notify(other, "event-notification", **event).status_code == 404
        # The right secret with a body that is not a notification: 400, nothing applied.
        bad = httpx.post(sub.endpoint, content=b'{"resourceType": "Bundle"}', headers=sub.channel_headers(), timeout=30)
        assert bad.status_code == 400
        assert bad.json()["resourceType"] == "OperationOutcome"
        assert start(0) in run.free_starts()
        assert push_row(store, run.pid).events_seen == 0


def test_an_event_number_gap_polls_at_once_and_resubscribes(store: DiscoveryStore, settings: Settings) -> None:
    with running(store, settings) as run:
        first = run.active()
        since_polls = run.fake.since_polls()
        run.fake.put(slot_resource(0, status="busy"))  # event 1, whose notification never arrives
        run.fake.put(slot_resource(1, status="busy"))
        gap = run.fake.notify(first, "event-notification", since_start=2, events=[(2, "Slot/slot1", "PUT")])
        assert gap.status_code == 200
        wait_for("an immediate _since poll", lambda: run.fake.since_polls() > since_polls)
        wait_for("the poll's data", lambda: start(0) not in run.free_starts())
        assert start(1) not in run.free_starts()
        second = run.active(2)  # re-created, shaken hands with
        assert second.channel_headers() != first.channel_headers()
        wait_for("the old subscription's deletion", lambda: run.fake.deleted == [first.id])
        assert run.fake.notify(first, "heartbeat", since_start=2).status_code == 401  # its secret is gone
        assert push_row(store, run.pid).events_seen == 0


def test_a_subscription_the_publisher_reports_in_error_is_repaired(store: DiscoveryStore, settings: Settings) -> None:
    with running(store, settings) as run:
        first = run.active()
        since_polls = run.fake.since_polls()
        assert run.fake.notify(first, "heartbeat", since_start=0, status="error").status_code == 200
        wait_for("an immediate _since poll", lambda: run.fake.since_polls() > since_polls)
        run.active(2)


def test_a_subscription_without_a_handshake_is_in_error_and_created_again(
    store: DiscoveryStore, settings: Settings
) -> None:
    with running(store, settings, handshake=False, push_handshake_seconds=0.3) as run:
        run.sub(1)
        wait_for("the error state", lambda: push_row(store, run.pid).status == "error")
        assert "handshake" in push_row(store, run.pid).error
        run.sub(2)  # tried again a second later (the first failure waits no longer)
        [info] = registry.list_publishers(store)
        assert info.push.state in ("requested", "error")


def test_a_missed_heartbeat_polls_and_resubscribes(store: DiscoveryStore, settings: Settings) -> None:
    with running(store, settings, push_heartbeat_seconds=1) as run:
        run.active()
        since_polls = run.fake.since_polls()
        run.fake.put(slot_resource(2, status="busy"))
        # No heartbeat for two periods: a poll, then a new subscription.
        wait_for("the poll after the missed heartbeat", lambda: run.fake.since_polls() > since_polls, timeout=10)
        wait_for("the new subscription", lambda: len(run.fake.subscriptions) >= 2, timeout=10)
        wait_for("the poll's data", lambda: start(2) not in run.free_starts())


def test_id_only_notifications_trigger_a_since_poll(store: DiscoveryStore, settings: Settings) -> None:
    with running(store, settings, push_payload="id-only") as run:
        sub = run.active()
        assert sub.body["channel"]["_payload"]["extension"][0]["valueCode"] == "id-only"
        since_polls = run.fake.since_polls()
        run.fake.put(slot_resource(0, status="busy"))
        event = run.fake.notify(
            sub, "event-notification", since_start=1, events=[(1, "Slot/slot0", "PUT")], content="id-only"
        )
        assert event.status_code == 200
        wait_for("the _since poll", lambda: run.fake.since_polls() > since_polls)
        wait_for("the polled change", lambda: start(0) not in run.free_starts())
        assert push_row(store, run.pid).events_seen == 1


@pytest.mark.parametrize(("secret", "advertise"), [(True, False), (False, True)], ids=["no-topic", "no-secret"])
def test_publishers_without_the_topic_or_a_secret_are_polled_as_before(
    store: DiscoveryStore, settings: Settings, secret: bool, advertise: bool
) -> None:
    with running(store, settings, secret=secret, advertise=advertise) as run:
        time.sleep(1.0)  # ten push ticks
        assert run.fake.subscriptions == []
        assert start(0) in run.free_starts()
        [info] = registry.list_publishers(store)
        assert info.push.state == "none"
        assert info.last_outcome == "full"
    if not advertise:
        assert "does not advertise" in (push_row(store, run.pid).error or "")


def test_the_push_endpoint_answers_without_background_sync(store: DiscoveryStore, settings: Settings) -> None:
    """A server run without its loops (a second web process) still takes notifications of live
    subscriptions, checked against the stored secret's hash."""
    pid = registry.add_publisher(store, url="http://127.0.0.1:9/fhir/$bulk-publish", name="elsewhere").id
    secret = "a-subscription-secret-0123456789"
    with store.write() as conn:
        state.start(
            conn,
            pid,
            status="active",
            fhir_base="http://127.0.0.1:9/fhir",
            secret_hash=state.hash_secret(secret),
            payload="full-resource",
            heartbeat_seconds=60,
            created_ms=store.now_ms(),
        )
    sub = Subscription("s1", {"channel": {"endpoint": "", "header": [f"Authorization: Bearer {secret}"]}}, {})
    fake = FakePublisher(origin="http://127.0.0.1:9")
    with serve(create_app(settings, store, background_sync=False)) as origin:
        sub.body["channel"]["endpoint"] = f"{origin}/push/{pid}"
        assert fake.notify(sub, "heartbeat", since_start=0, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert fake.notify(sub, "heartbeat", since_start=0).status_code == 200
    assert push_row(store, pid).last_notification_ms is not None

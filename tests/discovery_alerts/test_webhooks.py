"""Issue 16, part 3: an app registered through the admin API creates alerts with its key, and their
news is POSTed, signed, to the app's own webhook: a real HTTP server on 127.0.0.1 started here (the
world's discovery server allows private networks, as the fetcher's tests do), with the provider,
discovery and SMTP servers of `conftest.World`."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest

from slotlinks.discovery.alerts import store as alerts
from tests.discovery.conftest import ADMIN_TOKEN
from tests.discovery_alerts.conftest import World

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Receiver:
    """An app's webhook: answers each POST with the next of `statuses` (then 200), after `delay`
    seconds, and keeps them all."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    delay: float = 0.0
    answered: int = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.posts) >= count, f"{len(self.posts)} posts arrived, expected {count}"
        return self.posts

    def settle(self, seconds: float = 1.5) -> int:
        time.sleep(seconds)
        return len(self.posts)


@contextmanager
def receiving() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(got.delay)
            self.send_response(got.statuses.pop(0) if got.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            got.answered += 1

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/slots"
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as got:
        yield got


def register(world: World, name: str, url: str, headers: dict[str, str] = ADMIN) -> httpx.Response:
    return httpx.put(f"{world.discovery}/admin/apps/{name}", json={"url": url}, headers=headers, timeout=30)


def ask(world: World, key: str) -> httpx.Response:
    values = {"near": world.near(), "radius": "10mi", "from": "2026-11-25"}
    return httpx.post(
        f"{world.discovery}/api/alerts", json=values, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What an app does with a delivery: recompute the signature over "<timestamp>.<body>"."""
    timestamp = headers["slotlinks-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["slotlinks-signature"], f"sha256={expected}")


def test_registration_needs_the_admin_token_and_refuses_hostile_urls(world: World, receiver: Receiver) -> None:
    assert register(world, "app", receiver.url, headers={}).status_code == 401
    assert register(world, "app", receiver.url, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    assert httpx.get(f"{world.discovery}/admin/apps/app", timeout=30).status_code == 401

    metadata = register(world, "app", "http://169.254.169.254/latest/meta-data/")
    assert metadata.status_code == 403, metadata.text  # link-local: refused even with private networks allowed
    assert "169.254.169.254" in metadata.text
    for hostile in ("file:///etc/passwd", "gopher://127.0.0.1/", "http://user:pw@127.0.0.1/", "http:/no-host"):
        assert register(world, "app", hostile).status_code == 400, hostile
    assert httpx.get(f"{world.discovery}/admin/apps/app", headers=ADMIN, timeout=30).status_code == 404
    assert receiver.posts == []

    made = register(world, "app", receiver.url)
    assert made.status_code == 201, made.text
    assert set(made.json()) == {"name", "url", "key", "secret"}
    shown = httpx.get(f"{world.discovery}/admin/apps/app", headers=ADMIN, timeout=30).json()
    assert shown == {"name": "app", "url": receiver.url, "alerts": 0}  # key and secret are never shown again


def test_an_app_alert_posts_one_signed_notification_when_a_matching_slot_opens(
    world: World, receiver: Receiver
) -> None:
    app = register(world, "app", receiver.url).json()
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    assert ask(world, "sla_not-a-key").status_code == 401
    created = ask(world, app["key"])
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "active"  # no e-mail, no opt-in: the app owns its user's consent
    alert_id = created.json()["id"]

    world.clock.advance(minutes=1)
    world.cancel(cancel_link)
    world.sync_now()
    ((headers, body),) = receiver.wait_for(1)
    assert receiver.settle() == 1, "exactly one notification"
    assert world.inbox.messages == []  # the webhook is the only channel

    assert headers["content-type"] == "application/json"
    assert verified(app["secret"], headers, body)
    assert not verified(app["secret"], headers, body.replace(b"10:00", b"11:00"))
    assert not verified("another secret", headers, body)
    sent = orjson.loads(body)
    assert sent["alert"] == alert_id
    (match,) = sent["matches"]
    assert match["start"].startswith("2026-11-25T")
    assert match["end"] > match["start"]
    assert match["link"].startswith(f"{world.discovery}/go/")
    assert match["location"]
    assert {"place", "distanceMiles", "service", "when"} <= set(match)

    # Nothing announced twice: another pass finds no news for this alert.
    world.clock.advance(hours=1)
    world.worker().send_due()
    assert receiver.settle(0.5) == 1


def test_a_receiver_failing_twice_gets_the_notification_on_the_third_attempt(world: World, receiver: Receiver) -> None:
    app = register(world, "app", receiver.url).json()
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    alert_id = ask(world, app["key"]).json()["id"]
    receiver.statuses = [500, 503]

    world.clock.advance(minutes=1)
    world.cancel(cancel_link)
    world.sync_now()
    posts = receiver.wait_for(3)
    assert receiver.settle() == 3
    assert len({body for _, body in posts}) == 1  # the same news each time
    assert all(verified(app["secret"], headers, body) for headers, body in posts)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with world.store.read() as conn:
            if alerts.announced(conn, alert_id):
                break
        time.sleep(0.05)
    with world.store.read() as conn:
        assert len(alerts.announced(conn, alert_id)) == 1  # recorded once the third attempt was taken


def test_only_the_app_that_made_an_alert_can_delete_it(world: World, receiver: Receiver) -> None:
    mine = register(world, "mine", receiver.url).json()
    theirs = register(world, "theirs", receiver.url).json()
    alert_id = ask(world, mine["key"]).json()["id"]
    url = f"{world.discovery}/api/alerts/{alert_id}"

    assert httpx.delete(url, timeout=30).status_code == 401
    assert httpx.delete(url, headers={"Authorization": f"Bearer {theirs['key']}"}, timeout=30).status_code == 404
    assert httpx.get(f"{world.discovery}/admin/apps/mine", headers=ADMIN, timeout=30).json()["alerts"] == 1
    assert httpx.delete(url, headers={"Authorization": f"Bearer {mine['key']}"}, timeout=30).status_code == 204
    assert httpx.delete(url, headers={"Authorization": f"Bearer {mine['key']}"}, timeout=30).status_code == 404
    assert httpx.get(f"{world.discovery}/admin/apps/mine", headers=ADMIN, timeout=30).json()["alerts"] == 0

    # Re-registering issues a new key: the old one no longer works.
    again = register(world, "mine", receiver.url)
    assert again.status_code == 200
    assert again.json()["key"] != mine["key"]
    assert ask(world, mine["key"]).status_code == 401
    assert httpx.delete(f"{world.discovery}/admin/apps/mine", headers=ADMIN, timeout=30).status_code == 204


def test_a_slow_app_delays_neither_e_mail_alerts_nor_other_apps(world: World, receiver: Receiver) -> None:
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    with receiving() as slow:
        slow.delay, slow.statuses = 4.0, [500]
        ask(world, register(world, "slow", slow.url).json()["key"])  # the oldest alert: first in each pass
        ask(world, register(world, "fast", receiver.url).json()["key"])
        assert world.ask(to="2026-11-25").status_code == 202
        world.confirm(world.inbox.wait_for(1)[0])

        world.clock.advance(minutes=1)
        world.cancel(cancel_link)
        started = time.monotonic()
        world.sync_now()
        receiver.wait_for(1, timeout=3)
        world.inbox.wait_for(2, timeout=3)
        assert slow.answered == 0, "the others went while the slow app had not answered yet"
        assert time.monotonic() - started < slow.delay
        slow.wait_for(2, timeout=15)  # its 500, then the retry


def test_the_openapi_document_describes_registration_and_the_signature(world: World) -> None:
    spec = httpx.get(f"{world.discovery}/api/openapi.json", timeout=30).json()
    create = spec["paths"]["/api/alerts"]["post"]
    assert "Slotlinks-Signature: sha256=<hex>" in create["description"]
    assert "Slotlinks-Timestamp" in create["description"]
    assert {"201", "202", "401"} <= set(create["responses"])
    assert "delete" in spec["paths"]["/api/alerts/{alert_id}"]
    register = spec["paths"]["/admin/apps/{name}"]["put"]
    schema = register["responses"]["201"]["content"]["application/json"]["schema"]
    assert {"key", "secret"} <= set(schema["properties"])

"""Push fixtures: a subscriber's endpoint (a real HTTP server on 127.0.0.1 that records what it is
sent), a small generated provider on a fixed clock with a registered source, and helpers to subscribe
and to check notifications against the push contract (Backport IG, R4)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.provider.app import create_app
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.store.store import ProviderStore, open_store
from slotlinks.subscriptions import AVAILABILITY_TOPIC, DeliveryPolicy
from tests.portal.conftest import settings_for
from tests.provider.conftest import ADMIN_TOKEN, small_options
from tests.servers import serve

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
SOURCE = "finder"
SOURCE_SECRET = "finder-source-secret-0123456789"
#: The per-subscription secret the subscriber puts in `channel.header`.
ENDPOINT_SECRET = "endpoint-secret-abcdef0123456789"
#: Quick enough for tests: collect every 50 ms, two attempts 0.2 s apart, 2 s per POST.
FAST = DeliveryPolicy(poll_seconds=0.05, attempts=2, first_backoff_seconds=0.2, timeout_seconds=2.0, idle_seconds=0.2)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def status(self) -> dict[str, Any]:
        params = self.body["entry"][0]["resource"]["parameter"]
        return {p["name"]: p for p in params}

    @property
    def kind(self) -> str:
        return str(self.status["type"]["valueCode"])

    @property
    def event_numbers(self) -> list[int]:
        params = self.body["entry"][0]["resource"]["parameter"]
        return [
            int(part["valueString"])
            for p in params
            if p["name"] == "notification-event"
            for part in p["part"]
            if part["name"] == "event-number"
        ]

    @property
    def focus(self) -> list[str]:
        params = self.body["entry"][0]["resource"]["parameter"]
        return [
            part["valueReference"]["reference"]
            for p in params
            if p["name"] == "notification-event"
            for part in p["part"]
            if part["name"] == "focus"
        ]


@dataclass
class Receiver:
    """The subscriber's endpoint. `answer`: the HTTP status it answers with; `hang`: when set, it
    reads the notification, records it, and does not answer until `release` is set."""

    url: str = ""
    answer: int = 200
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, kind: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.kind == kind]

    def events(self) -> list[int]:
        return [n for r in self.of("event-notification") for n in r.event_numbers]

    def focus(self) -> list[str]:
        return [f for r in self.of("event-notification") for f in r.focus]


def _handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with receiver.lock:
                receiver.received.append(
                    Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, orjson.loads(body), time.monotonic()
                    )
                )
            if receiver.hang:
                receiver.release.wait(60)
            try:
                self.send_response(receiver.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the provider gave up waiting and closed the connection
                pass

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A `Receiver` listening on a free loopback port for as long as the block lasts."""
    found = Receiver()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    server.daemon_threads = True
    found.url = f"http://127.0.0.1:{server.server_address[1]}/push/publisher-1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def subscription_body(
    endpoint: str,
    *,
    content: str = "id-only",
    filters: tuple[str, ...] = (),
    heartbeat: int | None = None,
    timeout: int | None = None,
    headers: tuple[str, ...] = (f"Authorization: Bearer {ENDPOINT_SECRET}",),
) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "type": "rest-hook",
        "endpoint": endpoint,
        "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": BACKPORT + "backport-payload-content", "valueCode": content}]},
        "header": list(headers),
    }
    if heartbeat is not None:
        channel["extension"] = [{"url": BACKPORT + "backport-heartbeat-period", "valueUnsignedInt": heartbeat}]
    if timeout is not None:
        channel.setdefault("extension", []).append({"url": BACKPORT + "backport-timeout", "valueUnsignedInt": timeout})
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "meta": {"profile": [BACKPORT + "backport-subscription"]},
        "status": "requested",
        "reason": "keep search results fresh",
        "criteria": AVAILABILITY_TOPIC,
        "channel": channel,
    }
    if filters:
        body["_criteria"] = {
            "extension": [{"url": BACKPORT + "backport-filter-criteria", "valueString": f} for f in filters]
        }
    return body


@dataclass
class Rig:
    store: ProviderStore
    settings: Settings
    origin: str
    clock: FixedClock
    receiver: Receiver

    @property
    def fhir(self) -> str:
        return self.origin + "/fhir"

    @property
    def base(self) -> str:
        return self.settings.base_url

    def auth(self, secret: str = SOURCE_SECRET) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    def subscribe(self, **options: Any) -> dict[str, Any]:
        endpoint = options.pop("endpoint", self.receiver.url)
        response = httpx.post(
            f"{self.fhir}/Subscription", json=subscription_body(endpoint, **options), headers=self.auth(), timeout=10
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def read(self, sub_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.fhir}/Subscription/{sub_id}", headers=self.auth(), timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def active(self, **options: Any) -> str:
        """A subscription whose handshake the receiver has answered."""
        sub_id = str(self.subscribe(**options)["id"])
        wait_for(lambda: self.read(sub_id)["status"] == "active", what="the subscription to become active")
        return sub_id

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.origin}/admin{path}",
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )


def register_source(origin: str, source: str = SOURCE, secret: str = SOURCE_SECRET) -> None:
    response = httpx.put(
        f"{origin}/admin/sources/{source}",
        json={"secret": secret, "returnUrl": "https://finder.example.org/back"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[ProviderStore]:
    store = open_store(db_url, clock=clock)
    generate_provider(store, small_options(locations=2, days=3))
    yield store
    store.dispose()


def push_settings(tmp_path: Path, **changes: object) -> Settings:
    return settings_for(tmp_path, **{"allow_private_networks": True, **changes})


@pytest.fixture
def rig(store: ProviderStore, clock: FixedClock, receiver: Receiver, tmp_path: Path) -> Iterator[Rig]:
    settings = push_settings(tmp_path)
    with serve(create_app(settings, store, delivery=FAST)) as origin:
        register_source(origin)
        yield Rig(store, settings, origin, clock, receiver)


def check_notification(note: Received, rig: Rig, sub_id: str, *, kind: str, content: str = "id-only") -> None:
    """Holds one notification to the push contract (and to FHIR R4B's Bundle and Parameters models)."""
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(note.body)
    body = note.body
    assert body["type"] == "history"
    assert note.headers["content-type"] == "application/fhir+json"
    assert note.headers["authorization"] == f"Bearer {ENDPOINT_SECRET}"
    first = body["entry"][0]
    assert first["resource"]["resourceType"] == "Parameters"
    assert first["resource"]["meta"]["profile"] == [BACKPORT + "backport-subscription-status-r4"]
    status = note.status
    assert status["subscription"]["valueReference"]["reference"] == f"{rig.base}/Subscription/{sub_id}"
    assert status["topic"]["valueCanonical"] == AVAILABILITY_TOPIC
    assert status["type"]["valueCode"] == kind
    assert int(status["events-since-subscription-start"]["valueString"]) >= 0
    if kind != "event-notification":
        assert len(body["entry"]) == 1
        return
    parts = [p for p in first["resource"]["parameter"] if p["name"] == "notification-event"]
    assert parts
    for part in parts:
        names = [x["name"] for x in part["part"]]
        assert names == ["event-number", "timestamp", "focus"]
    focus = set(note.focus)
    entries = body["entry"][1:]
    assert {e["fullUrl"] for e in entries} == focus, "one entry per focus"
    for entry in entries:
        assert entry["fullUrl"].startswith(rig.base + "/")
        rtype, rid = entry["fullUrl"][len(rig.base) + 1 :].split("/")
        assert entry["request"]["url"] == f"{rtype}/{rid}"
        assert entry["request"]["method"] in ("PUT", "DELETE")
        if content == "id-only" or entry["request"]["method"] == "DELETE":
            assert "resource" not in entry
        else:
            assert entry["resource"]["resourceType"] == rtype
            assert entry["resource"]["id"] == rid

"""A small publisher for push tests, written from the push contract (not from the provider's code): a
`$bulk-publish` feed that answers `_since`, a CapabilityStatement that may advertise the topic, and a
Subscription endpoint that records what it is sent and shakes hands. The test drives the notifications
(`notify`), so it decides every event number, payload and gap."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

TOPIC = "urn:slotlinks:fhir:SubscriptionTopic:availability-changed"
TOPIC_CANONICAL = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical"
)
SOURCE_SECRET = "source-secret-of-the-search-tool-0123"
FHIR_JSON = "application/fhir+json"


def _instant(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _day(offset: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=offset)


def slot_resource(i: int, status: str = "free") -> dict[str, Any]:
    start = _day(2) + timedelta(hours=14, minutes=30 * i)
    return {
        "resourceType": "Slot",
        "id": f"slot{i}",
        "schedule": {"reference": "Schedule/sch1"},
        "status": status,
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
    }


LOCATION = {
    "resourceType": "Location",
    "id": "loc1",
    "name": "Harbor Clinic",
    "address": {"city": "Boston", "state": "MA", "postalCode": "02114"},
    "position": {"latitude": 42.36, "longitude": -71.06},
}
SCHEDULE = {
    "resourceType": "Schedule",
    "id": "sch1",
    "actor": [{"reference": "Location/loc1"}],
    "serviceType": [{"coding": [{"system": "http://example.org/service", "code": "pc", "display": "Primary care"}]}],
}


@dataclass
class Subscription:
    id: str
    body: dict[str, Any]
    headers: dict[str, str]
    handshake: int | None = None  # the status our handshake POST got

    @property
    def endpoint(self) -> str:
        return str(self.body["channel"]["endpoint"])

    def channel_headers(self) -> dict[str, str]:
        pairs = (h.partition(":") for h in self.body["channel"].get("header", []))
        return {name.strip(): value.strip() for name, _, value in pairs}


@dataclass
class FakePublisher:
    origin: str = ""
    advertise: bool = True
    handshake: bool = True
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Type/id" -> resource
    changed_ms: dict[str, int] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    manifest_queries: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for resource in (LOCATION, SCHEDULE, *(slot_resource(i) for i in range(3))):
            self.put(resource, at_ms=int(time.time() * 1000) - 60_000)

    @property
    def base(self) -> str:
        return f"{self.origin}/fhir"

    @property
    def manifest_url(self) -> str:
        return f"{self.base}/$bulk-publish"

    def put(self, resource: dict[str, Any], *, at_ms: int | None = None) -> None:
        key = f"{resource['resourceType']}/{resource['id']}"
        with self.lock:
            self.resources[key] = resource
            # Distinct, increasing change times, so `_since` never misses one.
            latest = max(self.changed_ms.values(), default=0)
            self.changed_ms[key] = max(at_ms or int(time.time() * 1000), latest + 1)

    def polls(self) -> int:
        return len(self.manifest_queries)

    def since_polls(self) -> int:
        return sum("_since" in q for q in self.manifest_queries)

    # --- notifications ---------------------------------------------------------------------------

    def notify(
        self,
        sub: Subscription,
        kind: str,
        *,
        since_start: int,
        events: list[tuple[int, str, str]] = (),  # type: ignore[assignment]
        content: str = "full-resource",
        status: str = "active",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST one notification to the subscriber: `events` are (event number, "Type/id", PUT|DELETE)."""
        params: list[dict[str, Any]] = [
            {"name": "subscription", "valueReference": {"reference": f"{self.base}/Subscription/{sub.id}"}},
            {"name": "topic", "valueCanonical": TOPIC},
            {"name": "status", "valueCode": status},
            {"name": "type", "valueCode": kind},
            {"name": "events-since-subscription-start", "valueString": str(since_start)},
        ]
        entries: list[dict[str, Any]] = [
            {
                "fullUrl": f"urn:uuid:status-{sub.id}-{since_start}",
                "resource": {"resourceType": "Parameters", "parameter": params},
            }
        ]
        for number, ref, method in events:
            params.append(
                {
                    "name": "notification-event",
                    "part": [
                        {"name": "event-number", "valueString": str(number)},
                        {"name": "timestamp", "valueInstant": _instant(int(time.time() * 1000))},
                        {"name": "focus", "valueReference": {"reference": f"{self.base}/{ref}"}},
                    ],
                }
            )
            entry: dict[str, Any] = {"fullUrl": f"{self.base}/{ref}", "request": {"method": method, "url": ref}}
            if content == "full-resource" and method != "DELETE":
                entry["resource"] = self.resources[ref]
            entries.append(entry)
        bundle = {
            "resourceType": "Bundle",
            "type": "history",
            "timestamp": _instant(int(time.time() * 1000)),
            "entry": entries,
        }
        sent = {"Content-Type": FHIR_JSON, **(sub.channel_headers() if headers is None else headers)}
        return httpx.post(sub.endpoint, content=orjson.dumps(bundle), headers=sent, timeout=30)

    def _shake_hands(self, sub: Subscription) -> None:
        time.sleep(0.1)  # after the creation was answered, as an asynchronous server would
        try:
            sub.handshake = self.notify(sub, "handshake", since_start=0).status_code
        except httpx.HTTPError:  # the subscriber is gone already (a test that ended)
            sub.handshake = -1

    # --- the app -------------------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/fhir/$bulk-publish")
        async def manifest(request: Request) -> Response:
            self.manifest_queries.append(request.url.query)
            since = request.query_params.get("_since")
            tx = _instant(max(self.changed_ms.values()))
            query = f"?_since={since}" if since else ""
            outputs = [
                {"type": rtype, "url": f"{self.base}/data/{rtype}.ndjson{query}"}
                for rtype in ("Location", "Schedule", "Slot")
            ]
            body = {"transactionTime": tx, "request": f"{self.manifest_url}{query}", "output": outputs, "error": []}
            return Response(
                orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "max-age=3600"}
            )

        @app.get("/fhir/data/{rtype}.ndjson")
        async def data(rtype: str, request: Request) -> Response:
            since = request.query_params.get("_since")
            since_ms = int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1000) if since else -1
            with self.lock:
                lines = [
                    orjson.dumps(r)
                    for key, r in self.resources.items()
                    if key.startswith(rtype + "/") and self.changed_ms[key] > since_ms
                ]
            return Response(b"".join(line + b"\n" for line in lines), media_type="application/fhir+ndjson")

        @app.get("/fhir/metadata")
        async def metadata() -> Response:
            subscription: dict[str, Any] = {"type": "Subscription", "interaction": [{"code": "create"}]}
            if self.advertise:
                subscription["extension"] = [{"url": TOPIC_CANONICAL, "valueCanonical": TOPIC}]
            body = {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "rest": [{"mode": "server", "resource": [{"type": "Slot"}, subscription]}],
            }
            return Response(orjson.dumps(body), media_type=FHIR_JSON)

        @app.post("/fhir/Subscription")
        async def create(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {SOURCE_SECRET}":
                return Response(status_code=401)
            body = orjson.loads(await request.body())
            sub = Subscription(f"sub{len(self.subscriptions) + 1}", body, dict(request.headers))
            self.subscriptions.append(sub)
            if self.handshake:
                threading.Thread(target=self._shake_hands, args=(sub,), daemon=True).start()
            answer = {**body, "id": sub.id, "status": "requested"}
            return Response(orjson.dumps(answer), status_code=201, media_type=FHIR_JSON)

        @app.delete("/fhir/Subscription/{sid}")
        async def delete(sid: str, request: Request) -> Response:
            if request.headers.get("authorization") == f"Bearer {SOURCE_SECRET}":
                self.deleted.append(sid)
            return Response(status_code=204)

        return app

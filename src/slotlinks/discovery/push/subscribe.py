"""Talking to a publisher's subscription server: does it offer our topic, create a Subscription, delete one.

Every request goes to the publisher's FHIR base (its manifest URL without `/$bulk-publish`) through
the sync engine's guarded client (no private addresses unless allowed, no redirects followed) after
the publisher's `UrlPolicy` has passed the URL, so the source secret only ever goes to the origin the
publisher's feed is read from. Answers are read up to `MAX_ANSWER_BYTES`.

The Subscription follows the Backport IG's R4 profile (topic.py names the extensions): rest-hook to
`{discovery base}/push/{publisher id}`, our per-subscription secret as an `Authorization` header the
publisher sends with each notification, the payload content, a heartbeat period, and a
`Slot?state=XX` filter when the publisher is followed for one state only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from slotlinks.discovery.push.topic import (
    AVAILABILITY_TOPIC,
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    PAYLOAD_CONTENT,
    SUBSCRIPTION_PROFILE,
    TOPIC_CANONICAL,
)
from slotlinks.errors import FetchError, HttpStatusError, InvalidInput, SlotlinksError
from slotlinks.fhir.ids import is_valid_id
from slotlinks.net.guard import UrlPolicy

__all__ = [
    "MAX_ANSWER_BYTES",
    "Created",
    "SubscriptionRequest",
    "create_subscription",
    "delete_subscription",
    "offers_topic",
]

MAX_ANSWER_BYTES = 1024 * 1024
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    endpoint: str
    channel_secret: str
    payload: str  # full-resource | id-only
    heartbeat_seconds: int
    filters: Sequence[str] = ()
    reason: str = "Keep a search tool's results fresh"

    def body(self) -> dict[str, Any]:
        channel: dict[str, Any] = {
            "extension": [{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": self.heartbeat_seconds}],
            "type": "rest-hook",
            "endpoint": self.endpoint,
            "payload": FHIR_JSON,
            "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": self.payload}]},
            "header": [f"Authorization: Bearer {self.channel_secret}"],
        }
        body: dict[str, Any] = {
            "resourceType": "Subscription",
            "meta": {"profile": [SUBSCRIPTION_PROFILE]},
            "status": "requested",
            "reason": self.reason,
            "criteria": AVAILABILITY_TOPIC,
            "channel": channel,
        }
        if self.filters:
            body["_criteria"] = {"extension": [{"url": FILTER_CRITERIA, "valueString": f} for f in self.filters]}
        return body


@dataclass(frozen=True, slots=True)
class Created:
    id: str
    status: str


async def _send(
    client: httpx.AsyncClient,
    policy: UrlPolicy,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
) -> tuple[int, bytes]:
    """One request; its status and (bounded) body. Network trouble raises `FetchError`."""
    policy.check(url)
    request = client.build_request(method, url, headers=dict(headers), content=body)
    try:
        response = await client.send(request, stream=True)
        try:
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_ANSWER_BYTES:
                    raise FetchError(f"{url}: answer over {MAX_ANSWER_BYTES} bytes")
            return response.status_code, bytes(data)
        finally:
            await response.aclose()
    except SlotlinksError:
        raise
    except (httpx.HTTPError, OSError) as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc


def _advertises(capability: Any) -> bool:
    if not isinstance(capability, dict):
        return False
    for rest in capability.get("rest") or ():
        for resource in (rest.get("resource") or ()) if isinstance(rest, dict) else ():
            if not isinstance(resource, dict) or resource.get("type") != "Subscription":
                continue
            for ext in resource.get("extension") or ():
                if isinstance(ext, dict) and (ext.get("url"), ext.get("valueCanonical")) == (
                    TOPIC_CANONICAL,
                    AVAILABILITY_TOPIC,
                ):
                    return True
    return False


async def offers_topic(client: httpx.AsyncClient, policy: UrlPolicy, base: str) -> bool:
    """Whether `{base}/metadata` advertises our topic on its Subscription resource."""
    status, body = await _send(client, policy, "GET", f"{base}/metadata", headers={"Accept": FHIR_JSON})
    if status != 200:
        raise HttpStatusError(f"{base}/metadata", status)
    try:
        return _advertises(orjson.loads(body))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{base}/metadata is not JSON: {exc}") from exc


async def create_subscription(
    client: httpx.AsyncClient, policy: UrlPolicy, base: str, source_secret: str, request: SubscriptionRequest
) -> Created:
    """POST the Subscription; its id and status as the publisher answers them."""
    headers = {"Authorization": f"Bearer {source_secret}", "Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
    url = f"{base}/Subscription"
    status, answer = await _send(client, policy, "POST", url, headers=headers, body=orjson.dumps(request.body()))
    if status not in (200, 201):
        raise HttpStatusError(url, status)
    try:
        data = orjson.loads(answer)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{url} answered a body that is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("resourceType") != "Subscription":
        raise InvalidInput(f"{url} did not answer with a Subscription")
    sid, state = data.get("id"), data.get("status")
    if not isinstance(sid, str) or not is_valid_id(sid):
        raise InvalidInput(f"{url} answered a Subscription without a valid id")
    return Created(sid, state if isinstance(state, str) else "requested")


async def delete_subscription(
    client: httpx.AsyncClient, policy: UrlPolicy, base: str, source_secret: str, remote_id: str
) -> None:
    """Ask the publisher to delete a Subscription of ours; best effort (a failure is only a stray
    subscription the publisher will find in error, since its secret is no longer accepted here)."""
    if not is_valid_id(remote_id):
        return
    try:
        await _send(
            client,
            policy,
            "DELETE",
            f"{base}/Subscription/{remote_id}",
            headers={"Authorization": f"Bearer {source_secret}", "Accept": FHIR_JSON},
        )
    except SlotlinksError:
        return

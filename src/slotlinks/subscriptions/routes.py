"""The Subscription REST endpoints (FHIR R4 http.html, Subscriptions R5 Backport IG "Workflow"):

    POST   {base}/Subscription                 create (201, `requested`; the handshake follows)
    GET    {base}/Subscription/{id}            read
    DELETE {base}/Subscription/{id}            delete: delivery stops
    GET    {base}/Subscription/{id}/$status    a searchset Bundle holding the status Parameters

Every request carries `Authorization: Bearer <source secret>` (`SubscriptionStore.source_for`); a
source sees only its own subscriptions (another's is a 404). The endpoint must pass the outbound
address policy (`net.guard`: no loopback, private or link-local address unless the server allows
private networks) before anything is stored, and again on every delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slotlinks.clock import Clock, now_ms
from slotlinks.errors import NotFound, Unauthorized
from slotlinks.net.guard import resolve_checked
from slotlinks.subscriptions.notifications import status_bundle
from slotlinks.subscriptions.resource import Subscription, parse_subscription, subscription_json
from slotlinks.subscriptions.store import SubscriptionStore
from slotlinks.web.bodies import MAX_BODY_BYTES, read_body
from slotlinks.web.errors import FHIR_JSON

__all__ = ["subscription_router"]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


def subscription_router(
    *,
    base_url: str,
    store: SubscriptionStore,
    clock: Clock,
    allow_private_networks: bool,
    on_created: Callable[[], None] = lambda: None,
) -> APIRouter:
    """The endpoints under `base_url`'s path; `on_created` wakes the deliverer for the handshake."""
    base = base_url.rstrip("/")
    path = urlsplit(base).path
    router = APIRouter(tags=["subscriptions"])

    def source(request: Request) -> str:
        found = store.source_for(request.headers.get("authorization"))
        if found is None:
            raise Unauthorized("a registered source's secret is needed: Authorization: Bearer <secret>")
        return found

    def owned(request: Request, subscription_id: str) -> tuple[str, Subscription]:
        who = source(request)
        sub = store.get(source=who, subscription_id=subscription_id)
        if sub is None:
            raise NotFound(f"no Subscription {subscription_id!r}", expression=["Subscription.id"])
        return who, sub

    @router.post(f"{path}/Subscription", include_in_schema=False)
    async def create(request: Request) -> Response:
        who = await run_in_threadpool(source, request)
        spec = parse_subscription(await read_body(request, MAX_BODY_BYTES))
        target = urlsplit(spec.endpoint)
        port = target.port or (443 if target.scheme.lower() == "https" else 80)
        await resolve_checked(target.hostname or "", port, allow_private_networks=allow_private_networks)
        sub = await run_in_threadpool(store.create, source=who, spec=spec, at_ms=now_ms(clock))
        on_created()
        location = f"{base}/Subscription/{sub.id}"
        return _json(subscription_json(sub), 201, {"Location": location})

    @router.get(f"{path}/Subscription/{{subscription_id}}", include_in_schema=False)
    def read(subscription_id: str, request: Request) -> Response:
        return _json(subscription_json(owned(request, subscription_id)[1]))

    @router.delete(f"{path}/Subscription/{{subscription_id}}", include_in_schema=False)
    def delete(subscription_id: str, request: Request) -> Response:
        who, _sub = owned(request, subscription_id)
        store.delete(source=who, subscription_id=subscription_id)
        return Response(status_code=204)

    @router.get(f"{path}/Subscription/{{subscription_id}}/$status", include_in_schema=False)
    def status(subscription_id: str, request: Request) -> Response:
        sub = owned(request, subscription_id)[1]
        return _json(status_bundle(base=base, sub=sub, now_ms=now_ms(clock)))

    return router

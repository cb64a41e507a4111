"""Chained push routes: the availability topic's Subscription endpoints at the aggregate's FHIR base
(`{discovery_url}/fhir/Subscription`, the kernel's `subscription_router` over `AggregatePushStore`),
and the admin route that registers downstream subscribers:

    PUT /admin/subscribers/{name}   {"secret": "<16+ characters>"} registers or re-keys (201 new, 200
                                    re-keyed); {"secret": null} removes it and turns its subscriptions off

Admin token as for `/admin/publishers`. Errors as OperationOutcome.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.pushstore import AggregatePushStore, put_subscriber
from slotlinks.discovery.publishers.routes import admin_only
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput
from slotlinks.subscriptions import Deliverer, subscription_router
from slotlinks.web.bodies import read_body

__all__ = ["aggregate_push_router"]

MAX_BODY_BYTES = 4096


def aggregate_push_router(
    settings: Settings, store: DiscoveryStore, push: AggregatePushStore, deliverer: Deliverer, *, fhir_base: str
) -> APIRouter:
    router = APIRouter()
    router.include_router(
        subscription_router(
            base_url=fhir_base,
            store=push,
            clock=store.clock,
            allow_private_networks=settings.allow_private_networks,
            on_created=deliverer.wake,
        )
    )

    @router.put("/admin/subscribers/{name}", dependencies=[Depends(admin_only(settings))], tags=["subscribers"])
    async def subscriber(name: str, request: Request) -> Response:
        try:
            body = orjson.loads(await read_body(request, MAX_BODY_BYTES))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the body is not JSON: {exc}") from exc
        secret = body.get("secret", ...) if isinstance(body, dict) else ...
        if not (secret is None or isinstance(secret, str)):
            raise InvalidInput("expected a JSON object with a `secret` string (or null)", expression=["secret"])
        new = await run_in_threadpool(put_subscriber, store, name, secret)
        answer = {"name": name, "registered": secret is not None}
        return Response(orjson.dumps(answer), status_code=201 if new else 200, media_type="application/json")

    return router

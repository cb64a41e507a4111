"""The discovery admin API for publishers, under `/admin/publishers` (token-authenticated).

Every route needs `Authorization: Bearer <admin token>` (compared in constant time); with no token
of useful strength configured the API answers 401 to everyone. Errors leave as OperationOutcome. A
publisher's id in a path is digits (`{publisher_id:int}`), so `$import` and `$sync` are never read as
one, and a positive 64-bit integer (`web.paths.RowPk`).

    GET    /admin/publishers                  every publisher, with counts and last-sync figures
    POST   /admin/publishers                  {"url", "name", "states": [..] | "MA,RI", "allowHosts": [..]} (201)
    POST   /admin/publishers/$import          a publisher-repository JSON document -> added / skipped
    POST   /admin/publishers/$sync            poll every unpaused publisher now -> run summaries
    GET    /admin/publishers/{id}
    POST   /admin/publishers/{id}/pause|resume
    DELETE /admin/publishers/{id}
    PUT    /admin/publishers/{id}/referral-secret   {"secret", "portal"?}: reading referral outcomes
                                                    from its portal (outcomes.py); secret null forgets it
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slotlinks.config import Settings
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync import SyncEngine, SyncResult
from slotlinks.errors import InvalidInput, TooLarge, Unauthorized
from slotlinks.web.paths import RowPk

__all__ = ["admin_only", "publishers_router"]

JSON = "application/json"
MAX_BODY_BYTES = 4 * 1024 * 1024


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


async def _body(request: Request) -> Any:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            raise TooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        return orjson.loads(bytes(data))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from exc


def _run_json(result: SyncResult) -> dict[str, Any]:
    return {
        "publisher": result.publisher_id,
        "outcome": result.outcome,
        "durationMs": result.duration_ms,
        "added": result.counts.added,
        "changed": result.counts.changed,
        "removed": result.counts.removed,
        "badLines": result.bad_line_count,
        "warnings": dict(result.warnings),
        "error": result.error,
    }


def admin_only(settings: Settings) -> Callable[[Request], None]:
    """The dependency every discovery admin route has: the admin token, compared in constant time."""

    def authorize(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not settings.admin_enabled:
            raise Unauthorized("the admin API is disabled: no admin token of at least 16 characters is configured")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.admin_token.encode()):
            raise Unauthorized("a valid admin token is required (Authorization: Bearer <token>)")

    return authorize


def publishers_router(settings: Settings, store: DiscoveryStore, *, sync_engine: SyncEngine) -> APIRouter:
    """The `/admin/publishers` routes over `store`; "sync now" runs a pass on `sync_engine`."""
    router = APIRouter(prefix="/admin/publishers", dependencies=[Depends(admin_only(settings))], tags=["publishers"])

    @router.get("")
    async def list_all() -> Response:
        infos = await run_in_threadpool(registry.list_publishers, store)
        return _json([i.to_json() for i in infos])

    @router.post("")
    async def add(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("url"), str):
            raise InvalidInput("expected a JSON object with a `url` string", expression=["url"])
        info = await run_in_threadpool(
            lambda: registry.add_publisher(
                store,
                url=body["url"],
                name=str(body.get("name") or ""),
                states=body.get("states") or (),
                allowed_hosts=body.get("allowHosts") or (),
            )
        )
        return _json(info.to_json(), 201)

    @router.post("/$import")
    async def import_list(request: Request) -> Response:
        body = await _body(request)
        result = await run_in_threadpool(registry.import_repository, store, body)
        return _json({"added": [i.to_json() for i in result.added], "skipped": result.skipped})

    @router.post("/$sync")
    async def sync_now() -> Response:
        results = await sync_engine.sync_once(force=True)
        return _json([_run_json(r) for r in results])

    @router.get("/{publisher_id:int}")
    async def read(publisher_id: RowPk) -> Response:
        info = await run_in_threadpool(registry.get_publisher, store, publisher_id)
        return _json(info.to_json())

    @router.post("/{publisher_id:int}/pause")
    async def pause(publisher_id: RowPk) -> Response:
        info = await run_in_threadpool(registry.set_paused, store, publisher_id, True)
        return _json(info.to_json())

    @router.post("/{publisher_id:int}/resume")
    async def resume(publisher_id: RowPk) -> Response:
        info = await run_in_threadpool(registry.set_paused, store, publisher_id, False)
        return _json(info.to_json())

    @router.put("/{publisher_id:int}/referral-secret")
    async def referral_secret(publisher_id: RowPk, request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict) or not (body.get("secret") is None or isinstance(body.get("secret"), str)):
            raise InvalidInput("expected a JSON object with a `secret` string (or null)", expression=["secret"])
        portal = body.get("portal")
        if portal is not None and not isinstance(portal, str):
            raise InvalidInput("`portal` must be a URL string", expression=["portal"])
        info = await run_in_threadpool(
            lambda: registry.set_referral_secret(store, publisher_id, body.get("secret"), portal=portal)
        )
        return _json(info.to_json())

    @router.delete("/{publisher_id:int}")
    async def remove(publisher_id: RowPk) -> Response:
        await run_in_threadpool(registry.remove_publisher, store, publisher_id)
        return Response(status_code=204)

    return router

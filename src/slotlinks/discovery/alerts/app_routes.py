"""The routes of apps' alerts (webhooks, `apps.py`):

    PUT    /admin/apps/{name}     {"url": "<webhook>"} registers (201) or replaces (200) the app; the
                                  answer holds its API key and signing secret, shown this once
    GET    /admin/apps/{name}     its URL and how many alerts it has
    DELETE /admin/apps/{name}     forgets it and deletes its alerts (204)
    DELETE /api/alerts/{id}       with `Authorization: Bearer <app key>`: deletes one of the app's alerts

The admin routes take the admin token as `/admin/publishers` does. An app creates alerts with
`POST /api/alerts` and its key (`routes.py`). Errors as OperationOutcome.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slotlinks.config import Settings
from slotlinks.discovery.alerts.apps import (
    app_for_key,
    check_webhook_url,
    delete_app,
    delete_app_alert,
    get_app,
    put_app,
)
from slotlinks.discovery.publishers.routes import admin_only
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import InvalidInput
from slotlinks.web.bodies import read_body
from slotlinks.web.errors import FHIR_JSON

__all__ = ["apps_router"]

MAX_BODY_BYTES = 4096
_APP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {"url": {"type": "string", "description": "The webhook: where the app's alert news is POSTed"}},
}
_REGISTERED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "url": {"type": "string"},
        "key": {"type": "string", "description": "The app's API key (Authorization: Bearer), shown once"},
        "secret": {"type": "string", "description": "Signs every notification (HMAC-SHA256), shown once"},
    },
}


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def apps_router(settings: Settings, store: DiscoveryStore) -> APIRouter:
    router = APIRouter()
    admin = APIRouter(prefix="/admin/apps", dependencies=[Depends(admin_only(settings))], tags=["apps"])

    @admin.put(
        "/{name}",
        summary="Register an app whose alerts are posted to its webhook (or replace its URL, key and secret)",
        description=(
            "The URL must be an absolute http(s) URL without credentials or fragment whose host resolves only to "
            "addresses the SSRF guard allows; nothing is sent to it now. The answer's `key` (for `POST /api/alerts` "
            "and `DELETE /api/alerts/{id}`) and `secret` (for checking `Slotlinks-Signature`) are shown only here."
        ),
        response_class=Response,
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _APP_SCHEMA}}}},
        responses={
            200: {"description": "Replaced", "content": {"application/json": {"schema": _REGISTERED_SCHEMA}}},
            201: {"description": "Registered", "content": {"application/json": {"schema": _REGISTERED_SCHEMA}}},
            400: {"description": "Not an acceptable URL or name", "content": {FHIR_JSON: {}}},
            401: {"description": "No valid admin token", "content": {FHIR_JSON: {}}},
            403: {"description": "The URL's address is one the SSRF guard refuses", "content": {FHIR_JSON: {}}},
        },
    )
    async def register(name: str, request: Request) -> Response:
        try:
            body = orjson.loads(await read_body(request, MAX_BODY_BYTES))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the body is not JSON: {exc}") from exc
        url = body.get("url") if isinstance(body, dict) else None
        checked = await check_webhook_url(url, allow_private_networks=settings.allow_private_networks)
        made = await run_in_threadpool(put_app, store, name, checked)
        answer = {"name": made.name, "url": made.url, "key": made.key, "secret": made.secret}
        return _json(answer, 201 if made.new else 200)

    @admin.get("/{name}")
    async def read(name: str) -> Response:
        return _json(await run_in_threadpool(get_app, store, name))

    @admin.delete("/{name}")
    async def remove(name: str) -> Response:
        await run_in_threadpool(delete_app, store, name)
        return Response(status_code=204)

    @router.delete(
        "/api/alerts/{alert_id}",
        summary="Delete one of an app's alerts",
        description="With `Authorization: Bearer <app key>`; only the app that created the alert may delete it.",
        status_code=204,
        response_class=Response,
        responses={
            204: {"description": "Deleted"},
            401: {"description": "No registered app's key", "content": {FHIR_JSON: {}}},
            404: {"description": "This app has no such alert", "content": {FHIR_JSON: {}}},
        },
        tags=["alerts"],
    )
    async def delete_alert(alert_id: str, request: Request) -> Response:
        authorization = request.headers.get("authorization")

        def run() -> None:
            app = app_for_key(store, authorization)
            delete_app_alert(store=store, app=app, alert_id=alert_id)

        await run_in_threadpool(run)
        return Response(status_code=204)

    router.include_router(admin)
    return router

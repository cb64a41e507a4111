"""The admin API under `/admin/`: staff manage resources, slots, opening hours, closures and settings.

Every route needs `Authorization: Bearer <admin token>`, checked before the body is read. Routes are
thin: read the request (bodies as raw bytes, decoded by the kernel in `wire`, so errors carry FHIR
paths), call one `api` function, send the result. Errors leave as OperationOutcome (the app's error
handlers). `Location` headers and searchset links are under the origin of the configured base URL,
never the request's Host header.

    GET|PUT     /admin/settings                          {"portalUrl", "name"}
    POST        /admin/$import                           NDJSON, all or nothing -> counts per type
    POST        /admin/$regenerate                       every schedule, for the horizon
    POST        /admin/Slot                              a slot made by hand (201)
    GET|PATCH   /admin/Slot/{id}                         as published; PATCH {"status": "busy"}
    GET|POST    /admin/Schedule/{id}/rules               weekly opening hours
    PUT|DELETE  /admin/Schedule/{id}/rules/{rule_id}
    GET|POST    /admin/Schedule/{id}/closures            dated closures
    PUT|DELETE  /admin/Schedule/{id}/closures/{closure_id}
    GET|POST    /admin/{Type}                            searchset Bundle (?active=&_count=&_offset=) | create
    GET|PUT|DELETE /admin/{Type}/{id}                    read | create-or-update | deactivate
                                                         ({Type}: each of records.DESCRIPTIVE_TYPES)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slotlinks.config import Settings
from slotlinks.fhir.resources import Resource, encode_resource
from slotlinks.provider.admin import api as admin
from slotlinks.provider.admin.wire import json_bytes, parse_page, require_token
from slotlinks.provider.records.resources import DESCRIPTIVE_TYPES
from slotlinks.provider.store.store import ProviderStore
from slotlinks.web.bodies import MAX_BODY_BYTES, read_body
from slotlinks.web.errors import FHIR_JSON, FhirResponse

__all__ = ["admin_router"]

JSON = "application/json"
NDJSON = "application/fhir+ndjson"


def _fhir(resource: Resource | bytes, status: int = 200, location: str | None = None) -> Response:
    body = resource if isinstance(resource, bytes) else encode_resource(resource)
    headers = {"Location": location} if location else None
    return Response(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def _json(value: Any, status: int = 200, location: str | None = None) -> Response:
    headers = {"Location": location} if location else None
    return Response(json_bytes(value), status_code=status, media_type=JSON, headers=headers)


def admin_router(settings: Settings, store: ProviderStore) -> APIRouter:
    """The `/admin` routes over `store`; every one of them requires the admin token."""
    public = urlsplit(settings.base_url)
    admin_base = f"{public.scheme}://{public.netloc}/admin/"

    def _url(path: str) -> str:
        return admin_base + path

    async def authorized(request: Request) -> None:
        require_token(settings, request.headers.get("authorization"))

    router = APIRouter(prefix="/admin", dependencies=[Depends(authorized)], tags=["admin"])

    # --- settings, import, regeneration ---------------------------------------------------------

    @router.get("/settings")
    def get_settings() -> Response:
        return _json(admin.read_settings(store=store))

    @router.put("/settings")
    async def put_settings(request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        return _json(await run_in_threadpool(admin.write_settings, store=store, body=body))

    @router.post("/$import")
    async def import_ndjson(request: Request) -> Response:
        body = await read_body(request, settings.max_import_bytes)
        return _json(await run_in_threadpool(admin.import_file, store=store, settings=settings, body=body))

    @router.post("/$regenerate")
    def regenerate() -> Response:
        return _json(admin.regenerate_all(store=store, settings=settings))

    # --- slots ----------------------------------------------------------------------------------

    @router.post("/Slot", response_class=FhirResponse)
    async def create_slot(request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        slot_id, rendered = await run_in_threadpool(admin.create_slot, store=store, body=body)
        return _fhir(rendered, 201, _url(f"Slot/{slot_id}"))

    @router.get("/Slot/{slot_id}", response_class=FhirResponse)
    def read_slot(slot_id: str) -> Response:
        return _fhir(admin.slot_bytes(store=store, slot_id=slot_id))

    @router.patch("/Slot/{slot_id}", response_class=FhirResponse)
    async def patch_slot(slot_id: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        return _fhir(await run_in_threadpool(admin.patch_slot, store=store, slot_id=slot_id, body=body))

    # --- rules and closures ---------------------------------------------------------------------

    @router.get("/Schedule/{schedule_id}/rules")
    def list_rules(schedule_id: str) -> Response:
        return _json(admin.list_rules(store=store, schedule_id=schedule_id))

    @router.post("/Schedule/{schedule_id}/rules")
    async def create_rule(schedule_id: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        made, _ = await run_in_threadpool(
            admin.save_rule, store=store, settings=settings, schedule_id=schedule_id, body=body
        )
        return _json(made, 201, _url(f"Schedule/{schedule_id}/rules/{made['id']}"))

    @router.put("/Schedule/{schedule_id}/rules/{rule_id}")
    async def put_rule(schedule_id: str, rule_id: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        made, created = await run_in_threadpool(
            admin.save_rule, store=store, settings=settings, schedule_id=schedule_id, body=body, rule_id=rule_id
        )
        if created:
            return _json(made, 201, _url(f"Schedule/{schedule_id}/rules/{rule_id}"))
        return _json(made)

    @router.delete("/Schedule/{schedule_id}/rules/{rule_id}")
    def delete_rule(schedule_id: str, rule_id: str) -> Response:
        return _json(admin.delete_rule(store=store, settings=settings, schedule_id=schedule_id, rule_id=rule_id))

    @router.get("/Schedule/{schedule_id}/closures")
    def list_closures(schedule_id: str) -> Response:
        return _json(admin.list_closures(store=store, schedule_id=schedule_id))

    @router.post("/Schedule/{schedule_id}/closures")
    async def create_closure(schedule_id: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        made, _ = await run_in_threadpool(
            admin.save_closure, store=store, settings=settings, schedule_id=schedule_id, body=body
        )
        return _json(made, 201, _url(f"Schedule/{schedule_id}/closures/{made['id']}"))

    @router.put("/Schedule/{schedule_id}/closures/{closure_id}")
    async def put_closure(schedule_id: str, closure_id: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        made, created = await run_in_threadpool(
            admin.save_closure,
            store=store,
            settings=settings,
            schedule_id=schedule_id,
            body=body,
            closure_id=closure_id,
        )
        if created:
            return _json(made, 201, _url(f"Schedule/{schedule_id}/closures/{closure_id}"))
        return _json(made)

    @router.delete("/Schedule/{schedule_id}/closures/{closure_id}")
    def delete_closure(schedule_id: str, closure_id: str) -> Response:
        return _json(
            admin.delete_closure(store=store, settings=settings, schedule_id=schedule_id, closure_id=closure_id)
        )

    # --- descriptive resources ------------------------------------------------------------------
    # One set of routes per type, as the FHIR API has: a generic `/admin/{rtype}` would also take
    # `/admin/settings`, `/admin/Slot/{id}` and the rest above, and so answer for them (and name
    # methods in their 405s) that they do not have.
    for rtype in DESCRIPTIVE_TYPES:
        _add_resource_routes(router, rtype, store=store, settings=settings, url=_url)
    return router


def _add_resource_routes(
    router: APIRouter, rtype: str, *, store: ProviderStore, settings: Settings, url: Callable[[str], str]
) -> None:
    """`GET|POST /admin/{rtype}` and `GET|PUT|DELETE /admin/{rtype}/{rid}` for one descriptive type."""

    @router.get(f"/{rtype}", name=f"search_{rtype}", response_class=FhirResponse)
    def search(request: Request) -> Response:
        page = parse_page(request.query_params)
        body = admin.searchset(store=store, rtype=rtype, page=page, base_url=url("").rstrip("/"))
        return _fhir(body)

    @router.post(f"/{rtype}", name=f"create_{rtype}", response_class=FhirResponse)
    async def create(request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        made = await run_in_threadpool(admin.create_resource, store=store, settings=settings, rtype=rtype, body=body)
        return _fhir(made, 201, url(f"{rtype}/{made.id}"))

    @router.get(f"/{rtype}/{{rid}}", name=f"read_{rtype}", response_class=FhirResponse)
    def read(rid: str) -> Response:
        return _fhir(admin.read_resource(store=store, rtype=rtype, rid=rid))

    @router.put(f"/{rtype}/{{rid}}", name=f"put_{rtype}", response_class=FhirResponse)
    async def put(rid: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        made, created = await run_in_threadpool(
            admin.put_resource, store=store, settings=settings, rtype=rtype, rid=rid, body=body
        )
        if created:
            return _fhir(made, 201, url(f"{rtype}/{rid}"))
        return _fhir(made)

    @router.delete(f"/{rtype}/{{rid}}", name=f"deactivate_{rtype}", response_class=FhirResponse)
    def deactivate(rid: str) -> Response:
        return _fhir(admin.deactivate_resource(store=store, settings=settings, rtype=rtype, rid=rid))

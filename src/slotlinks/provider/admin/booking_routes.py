"""Admin and partner routes of the booking portal.

    GET|PUT|DELETE /admin/Schedule/{id}/questionnaire            FHIR Questionnaire (admin token)
    GET|PUT|DELETE /admin/HealthcareService/{id}/questionnaire
    GET|PUT     /admin/{Schedule|HealthcareService}/{id}/audience   who may book (JSON, see README)
    GET|PUT     /admin/Practitioner/{id}/profile                  languages spoken, published gender
    GET|PUT        /admin/sources/{source}                       {"secret", "returnUrl"} (admin token)
    GET            /referrals/{booking-referral}                 outcome JSON (the source's secret)

Admin routes check the admin token with `wire.require_token`, as `routes` does; each calls one service
(`api` for questionnaires, `portal.referrals` for sources and outcomes). This router is mounted before
`routes`'s, whose `/admin/{Type}/{id}` would otherwise take `/admin/sources/x`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slotlinks.clock import now_ms
from slotlinks.config import Settings
from slotlinks.provider.admin import api as admin
from slotlinks.provider.admin.wire import json_bytes, require_token
from slotlinks.provider.portal.referrals import put_source, read_source, referral_status
from slotlinks.provider.store.store import ProviderStore
from slotlinks.web.bodies import MAX_BODY_BYTES, read_body
from slotlinks.web.errors import FHIR_JSON

__all__ = ["booking_admin_router", "referrals_router"]

JSON = "application/json"


def booking_admin_router(settings: Settings, store: ProviderStore) -> APIRouter:
    async def authorized(request: Request) -> None:
        require_token(settings, request.headers.get("authorization"))

    router = APIRouter(prefix="/admin", dependencies=[Depends(authorized)], tags=["admin"])

    for owner_type in ("Schedule", "HealthcareService"):

        def routes(owner_type: str = owner_type) -> None:
            path = f"/{owner_type}/{{owner_id}}/questionnaire"

            @router.get(path, name=f"read_{owner_type}_questionnaire")
            def read(owner_id: str) -> Response:
                body = admin.questionnaire(store=store, owner_type=owner_type, owner_id=owner_id)
                return Response(json_bytes(body), media_type=FHIR_JSON)

            @router.put(path, name=f"put_{owner_type}_questionnaire")
            async def put(owner_id: str, request: Request) -> Response:
                body = await read_body(request, MAX_BODY_BYTES)
                kept = await run_in_threadpool(
                    admin.save_questionnaire, store=store, owner_type=owner_type, owner_id=owner_id, body=body
                )
                return Response(json_bytes(kept), media_type=FHIR_JSON)

            @router.delete(path, name=f"delete_{owner_type}_questionnaire")
            def remove(owner_id: str) -> Response:
                admin.remove_questionnaire(store=store, owner_type=owner_type, owner_id=owner_id)
                return Response(status_code=204)

        routes()

        def audience_routes(owner_type: str = owner_type) -> None:
            path = f"/{owner_type}/{{owner_id}}/audience"

            @router.get(path, name=f"read_{owner_type}_audience")
            def read(owner_id: str) -> Response:
                body = admin.audience(store=store, owner_type=owner_type, owner_id=owner_id)
                return Response(json_bytes(body), media_type=JSON)

            @router.put(path, name=f"put_{owner_type}_audience")
            async def put(owner_id: str, request: Request) -> Response:
                body = await read_body(request, MAX_BODY_BYTES)
                kept = await run_in_threadpool(
                    admin.save_audience, store=store, owner_type=owner_type, owner_id=owner_id, body=body
                )
                return Response(json_bytes(kept), media_type=JSON)

        audience_routes()

    @router.get("/Practitioner/{practitioner_id}/profile")
    def read_profile(practitioner_id: str) -> Response:
        body = admin.practitioner_profile(store=store, practitioner_id=practitioner_id)
        return Response(json_bytes(body), media_type=JSON)

    @router.put("/Practitioner/{practitioner_id}/profile")
    async def put_profile(practitioner_id: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        kept = await run_in_threadpool(
            admin.save_practitioner_profile, store=store, practitioner_id=practitioner_id, body=body
        )
        return Response(json_bytes(kept), media_type=JSON)

    @router.get("/sources/{source}")
    def get_source(source: str) -> Response:
        return Response(json_bytes(read_source(store=store, source=source)), media_type=JSON)

    @router.put("/sources/{source}")
    async def put_source_route(source: str, request: Request) -> Response:
        body = await read_body(request, MAX_BODY_BYTES)
        made = await run_in_threadpool(put_source, store=store, source=source, body=body)
        return Response(json_bytes(made), media_type=JSON)

    return router


def referrals_router(settings: Settings, store: ProviderStore) -> APIRouter:
    router = APIRouter(tags=["referrals"])

    @router.get("/referrals/{referral}")
    def get_referral(referral: str, request: Request) -> Response:
        body = referral_status(
            store=store,
            at_ms=now_ms(store.clock),
            authorization=request.headers.get("authorization"),
            referral=referral,
        )
        return Response(json_bytes(body), media_type=JSON, headers={"Cache-Control": "no-store"})

    return router

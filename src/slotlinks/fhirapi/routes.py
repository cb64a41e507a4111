"""FHIR REST routes (http://hl7.org/fhir/R4/http.html): `GET {base}/metadata`, read
`GET {base}/{type}/{id}`, and search `GET {base}/{type}` / `POST {base}/{type}/_search` (form body,
search.html#Introduction). One route per resource type, so nothing else served at the same base
(`$bulk-publish`, `*.ndjson`) is shadowed. Routes are thin: parse, run, render.

Every URL in an answer (the Bundle's `self`/`next`/`previous` links, each entry's `fullUrl`, the
CapabilityStatement's `implementation.url`) is under the configured base URL, never the request's Host
header: a forged Host must not send clients that follow those links elsewhere (ARCHITECTURE.md, "HTTP").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slotlinks.errors import InvalidInput, NotFound
from slotlinks.fhir.ids import is_valid_id
from slotlinks.fhirapi.bundle import search_bundle
from slotlinks.fhirapi.capability import capability_statement
from slotlinks.fhirapi.execute import run_search
from slotlinks.fhirapi.params import RESOURCE_TYPES
from slotlinks.fhirapi.request import parse_search
from slotlinks.fhirapi.store import FhirStore

__all__ = ["FHIR_JSON", "fhir_router"]

FHIR_JSON = "application/fhir+json"
#: Largest accepted `_search` form body.
MAX_FORM_BYTES = 64 * 1024


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)


def _strict(request: Request) -> bool:
    """`Prefer: handling=strict` (http.html#prefer, search.html#errors)."""
    prefer = request.headers.get("prefer", "")
    return any(part.strip().replace(" ", "") == "handling=strict" for part in prefer.split(","))


def fhir_router(base_url: str, store: FhirStore, *, extra_resources: Sequence[Mapping[str, Any]] = ()) -> APIRouter:
    """Read and search over `store` at the public FHIR base `base_url` (e.g. `https://host/fhir`),
    served under its path; `metadata` also lists `extra_resources` (`rest.resource` entries of what
    other routers serve at the same base)."""
    public = base_url.rstrip("/")
    base = urlsplit(public).path
    router = APIRouter()

    @router.get(f"{base}/metadata", include_in_schema=False)
    def metadata() -> Response:
        return _json(capability_statement(public, extra_resources=extra_resources))

    def search(rtype: str, request: Request, pairs: list[tuple[str, str]]) -> Response:
        req = parse_search(rtype, pairs, strict=_strict(request))
        result = run_search(store, req)
        return _json(search_bundle(public, req, result))

    def add_type(rtype: str) -> None:
        @router.get(f"{base}/{rtype}", include_in_schema=False, name=f"search-{rtype}")
        def search_get(request: Request) -> Response:
            return search(rtype, request, request.query_params.multi_items())

        @router.post(f"{base}/{rtype}/_search", include_in_schema=False, name=f"search-post-{rtype}")
        async def search_post(request: Request) -> Response:
            body = await request.body()
            if len(body) > MAX_FORM_BYTES:
                raise InvalidInput("the _search form body is too large", expression=["body"])
            content_type = request.headers.get("content-type", "application/x-www-form-urlencoded")
            if body and not content_type.startswith("application/x-www-form-urlencoded"):
                raise InvalidInput("POST _search takes an application/x-www-form-urlencoded body")
            try:
                form = parse_qsl(body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                raise InvalidInput("the _search form body is not UTF-8", expression=["body"]) from None
            pairs = request.query_params.multi_items() + form
            # Store access is blocking: run it off the event loop as a sync route would be.
            return await run_in_threadpool(search, rtype, request, pairs)

        @router.get(f"{base}/{rtype}/{{rid}}", include_in_schema=False, name=f"read-{rtype}")
        def read(rid: str) -> Response:
            found = store.read(rtype, rid) if is_valid_id(rid) else None
            if found is None:
                raise NotFound(f"no {rtype} with id {rid!r}", expression=[f"{rtype}.id"])
            return _json(found)

    for rtype in RESOURCE_TYPES:
        add_type(rtype)
    return router

"""FHIR API fixtures: a generated provider (SQLite and PostgreSQL) served by a real server with only
the FHIR router mounted, and an httpx client at its FHIR base."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from slotlinks.fhirapi import fhir_router
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.publication.fhirstore import ProviderFhirStore
from slotlinks.provider.store.store import ProviderStore, open_store
from slotlinks.web.errors import install_error_handlers
from tests.provider.conftest import small_options
from tests.servers import serve_with_origin

DERMATOLOGY = "http://snomed.info/sct|394582007"


@dataclass
class FhirServer:
    store: ProviderStore
    fhir: ProviderFhirStore
    client: httpx.Client

    def search(self, rtype: str, params: Any = None, **kwargs: Any) -> dict[str, Any]:
        response = self.client.get(f"/{rtype}", params=params, **kwargs)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+json")
        body: dict[str, Any] = response.json()
        assert body["resourceType"] == "Bundle"
        assert body["type"] == "searchset"
        return body

    def ids(self, rtype: str, params: Any = None) -> list[str]:
        pairs = list(params.items()) if isinstance(params, dict) else list(params or [])
        bundle = self.search(rtype, [*pairs, ("_count", "1000")])
        return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def build_app(store: ProviderFhirStore, base_url: str) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(fhir_router(base_url, store))
    return app


@pytest.fixture
def provider_db(db_url: str) -> Iterator[ProviderStore]:
    store = open_store(db_url)
    generate_provider(store, small_options(locations=6, days=14))
    yield store
    store.dispose()


@pytest.fixture
def fhir_server(provider_db: ProviderStore) -> Iterator[FhirServer]:
    fhir = ProviderFhirStore(provider_db)
    with (
        serve_with_origin(lambda origin: build_app(fhir, f"{origin}/fhir")) as origin,
        httpx.Client(base_url=f"{origin}/fhir", timeout=30) as client,
    ):
        yield FhirServer(provider_db, fhir, client)

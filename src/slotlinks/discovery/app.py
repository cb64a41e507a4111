"""The discovery server: search pages and API, deep links, publisher admin, aggregate publication,
and (unless turned off) the sync loop that keeps every publisher's data fresh, with push from the
publishers that offer it (discovery/push/).

`create_app(settings)` builds everything from the settings it is given; nothing happens at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.fhirstore import DiscoveryFhirStore
from slotlinks.discovery.aggregate.routes import aggregate_router
from slotlinks.discovery.publishers.routes import publishers_router
from slotlinks.discovery.push.manager import PushManager
from slotlinks.discovery.push.routes import push_router
from slotlinks.discovery.search.pages import web_router
from slotlinks.discovery.search.routes_api import search_router
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.discovery.sync.engine import SyncEngine
from slotlinks.fhirapi import fhir_router
from slotlinks.web.errors import install_error_handlers
from slotlinks.web.headers import install_security_headers

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings, store: DiscoveryStore | None = None, *, background_sync: bool = True) -> FastAPI:
    """The discovery ASGI app over `store` (default: the configured discovery database, migrated)."""
    own_store = store is None
    store = store or open_store(settings.discovery_db_url)
    # One sync engine for the background loop and "sync now", so a publisher is never polled twice at once.
    sync_engine = SyncEngine(store, settings)
    push = PushManager(store, settings, sync_engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = (
            [asyncio.create_task(sync_engine.run_forever(stop=stop)), asyncio.create_task(push.run_forever(stop=stop))]
            if background_sync
            else []
        )
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if own_store:
                store.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="slotlinks discovery",
        summary="Find appointment slots across SMART Scheduling Links publishers",
        # No interactive docs page: Swagger UI runs inline script and loads from a CDN, which the one
        # page policy (`web.headers`) rightly forbids. The OpenAPI document is the reference.
        docs_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app)
    install_security_headers(app)
    app.include_router(search_router(settings, store))
    app.include_router(publishers_router(settings, store, sync_engine=sync_engine))
    app.include_router(aggregate_router(settings, store))
    app.include_router(push_router(push))
    fhir_base = settings.discovery_url.rstrip("/") + "/fhir"
    app.include_router(fhir_router(fhir_base, DiscoveryFhirStore(store, min_poll_seconds=settings.min_poll_seconds)))
    app.include_router(web_router(settings, store))
    app.state.store = store
    return app

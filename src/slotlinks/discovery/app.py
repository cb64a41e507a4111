"""The discovery server: search pages and API, deep links, publisher admin, aggregate publication,
and (unless turned off) the sync loop that keeps every publisher's data fresh, with push from the
publishers that offer it (discovery/push/).

`create_app(settings)` builds everything from the settings it is given; nothing happens at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from slotlinks.config import Settings
from slotlinks.db.singleton import Singleton
from slotlinks.discovery.aggregate.fhirstore import DiscoveryFhirStore
from slotlinks.discovery.aggregate.push_routes import aggregate_push_router
from slotlinks.discovery.aggregate.pushstore import AggregatePushStore
from slotlinks.discovery.aggregate.routes import aggregate_router
from slotlinks.discovery.alerts.app_routes import apps_router
from slotlinks.discovery.alerts.mailer import SmtpMailer
from slotlinks.discovery.alerts.routes import alerts_router
from slotlinks.discovery.alerts.worker import AlertWorker
from slotlinks.discovery.publishers.routes import publishers_router
from slotlinks.discovery.push.manager import PushManager
from slotlinks.discovery.push.routes import push_router
from slotlinks.discovery.search.pages import web_router
from slotlinks.discovery.search.routes_api import search_router
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.discovery.sync.engine import SyncEngine
from slotlinks.fhirapi import fhir_router
from slotlinks.subscriptions import Deliverer, DeliveryPolicy, capability_resource
from slotlinks.web.errors import install_error_handlers
from slotlinks.web.headers import install_security_headers
from slotlinks.web.i18n import install_language

__all__ = ["create_app"]

#: The aggregate's deliverer looks for changes this often unless woken by an applied notification
#: (changes that polling brings are minutes old anyway).
AGGREGATE_DELIVERY = DeliveryPolicy(poll_seconds=2.0)

log = logging.getLogger(__name__)


#: How `slotlinks serve discovery --workers N` hands its settings to the worker processes it starts.
WORKER_SETTINGS_ENV = "SLOTLINKS_WORKER_SETTINGS"


def worker_app() -> FastAPI:
    """The app of one worker process of `slotlinks serve discovery --workers N` (uvicorn's factory):
    the settings the command resolved, from `WORKER_SETTINGS_ENV`. The workers share one database like
    any processes do (sync leases, one alert sender); the command migrated it before starting them."""
    given = json.loads(os.environ[WORKER_SETTINGS_ENV])
    return create_app(Settings.from_json(given["settings"]), background_sync=bool(given["background_sync"]))


def create_app(settings: Settings, store: DiscoveryStore | None = None, *, background_sync: bool = True) -> FastAPI:
    """The discovery ASGI app over `store` (default: the configured discovery database, migrated)."""
    own_store = store is None
    store = store or open_store(settings.discovery_db_url)
    # E-mail alerts (when an SMTP server is configured) hear of changed slots from polls and from push.
    mailer = SmtpMailer(settings.smtp_url) if settings.smtp_url else None
    # Apps' alerts (webhooks) need no mail server, only the admin API that registers the apps.
    alert_worker = AlertWorker(store, settings, mailer) if mailer or settings.admin_enabled else None
    # One sync engine for the background loop and "sync now", so a publisher is never polled twice at once.
    sync_engine = SyncEngine(store, settings, on_change=alert_worker.wake if alert_worker else None)
    fhir_base = settings.discovery_url.rstrip("/") + "/fhir"
    fhir_store = DiscoveryFhirStore(store, min_poll_seconds=settings.min_poll_seconds)
    # Chained push: downstream subscribers to the aggregate's FHIR base hear what publishers push here.
    aggregate_push = AggregatePushStore(store, fhir_store)
    deliverer = Deliverer(
        aggregate_push,
        base_url=fhir_base,
        clock=store.clock,
        allow_private_networks=settings.allow_private_networks,
        policy=AGGREGATE_DELIVERY,
        singleton=Singleton(store.engine, "aggregate-push-delivery"),
    )

    def applied() -> None:
        deliverer.wake()
        if alert_worker is not None:
            alert_worker.wake()

    push = PushManager(store, settings, sync_engine, on_applied=applied)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = (
            [asyncio.create_task(sync_engine.run_forever(stop=stop)), asyncio.create_task(push.run_forever(stop=stop))]
            if background_sync
            else []
        )
        tasks.append(asyncio.create_task(deliverer.run(), name="aggregate-subscription-delivery"))
        if alert_worker is not None:
            tasks.append(asyncio.create_task(alert_worker.run(stop=stop), name="alerts"))
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
    install_language(app, secure=settings.discovery_url.startswith("https:"))
    app.include_router(search_router(settings, store))
    app.include_router(publishers_router(settings, store, sync_engine=sync_engine))
    app.include_router(aggregate_router(settings, store))
    app.include_router(push_router(push))
    app.include_router(aggregate_push_router(settings, store, aggregate_push, deliverer, fhir_base=fhir_base))
    app.include_router(fhir_router(fhir_base, fhir_store, extra_resources=[capability_resource()]))
    app.include_router(alerts_router(settings, store, mailer))
    app.include_router(apps_router(settings, store))
    app.include_router(web_router(settings, store))
    app.state.store = store
    return app

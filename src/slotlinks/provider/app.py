"""The provider server: publication, FHIR read/search, subscriptions (push), admin API, booking portal,
staff pages and referral outcomes.

`create_app(settings)` builds everything from the settings it is given; nothing happens at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI

from slotlinks.config import Settings
from slotlinks.db.singleton import Singleton
from slotlinks.errors import RateLimited
from slotlinks.fhirapi import fhir_router
from slotlinks.provider.admin.booking_routes import booking_admin_router, referrals_router
from slotlinks.provider.admin.routes import admin_router
from slotlinks.provider.portal.responses import PORTAL_QUERY
from slotlinks.provider.portal.routes import portal_router
from slotlinks.provider.publication.fhirstore import ProviderFhirStore
from slotlinks.provider.publication.routes import publication_router
from slotlinks.provider.publication.snapshots import PublicationCache
from slotlinks.provider.push.store import ProviderPushStore
from slotlinks.provider.staff.routes import BookingAttempts, rate_limited_page, staff_admin_router, staff_router
from slotlinks.provider.store.store import ProviderStore, open_store
from slotlinks.subscriptions import Deliverer, DeliveryPolicy, capability_resource, subscription_router
from slotlinks.web.errors import install_error_handlers
from slotlinks.web.headers import install_security_headers
from slotlinks.web.i18n import install_language

__all__ = ["create_app"]


log = logging.getLogger(__name__)


def _warm(cache: PublicationCache) -> None:
    try:
        cache.current()
    except Exception:  # a failed warm-up only costs the first request the encode
        log.exception("could not encode the publication ahead of the first request")


def create_app(
    settings: Settings, store: ProviderStore | None = None, *, delivery: DeliveryPolicy | None = None
) -> FastAPI:
    """The provider's ASGI app over `store` (default: the configured provider database, migrated);
    `delivery` tunes how subscription notifications are sent (default `DeliveryPolicy()`)."""
    settings.validate()
    store = store or open_store(settings.provider_db_url)
    cache = PublicationCache(store, settings.base_url, Path(settings.data_dir) / "publication-cache")
    fhir_store = ProviderFhirStore(store)
    push = ProviderPushStore(store, fhir_store)
    deliverer = Deliverer(
        push,
        base_url=settings.base_url,
        clock=store.clock,
        allow_private_networks=settings.allow_private_networks,
        policy=delivery,
        singleton=Singleton(store.engine, "push-delivery"),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Encode the publication ahead of the first client so its first byte is not a full encode.
        warmup = threading.Thread(target=_warm, args=(cache,), name="publication-warmup", daemon=True)
        warmup.start()
        delivering = asyncio.create_task(deliverer.run(), name="subscription-delivery")
        yield
        delivering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivering
        warmup.join(timeout=60)
        store.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="slotlinks provider",
        summary="SMART Scheduling Links slot publisher and booking portal",
        # No interactive docs page: Swagger UI runs inline script and loads from a CDN, which the one
        # page policy (`web.headers`) rightly forbids. The OpenAPI document is the reference.
        docs_url=None,
        openapi_url="/admin/openapi.json",
        redoc_url=None,
    )
    # Errors answer as OperationOutcomes, except a booking attempt over its limit: a polite 429 page.
    install_error_handlers(app, pages={RateLimited: rate_limited_page})
    install_security_headers(app)
    # The portal's links carry only the referring source's names: a deep link's other parameters
    # (pre-answers a search tool might add) are never echoed (tests/portal/test_deciding_first.py).
    install_language(app, secure=settings.base_url.startswith("https:"), keep=frozenset(PORTAL_QUERY))
    # Subscriptions to the availability topic (`{base}/Subscription`), advertised in `{base}/metadata`.
    app.include_router(
        subscription_router(
            base_url=settings.base_url,
            store=push,
            clock=store.clock,
            allow_private_networks=settings.allow_private_networks,
            on_created=deliverer.wake,
        )
    )
    app.include_router(publication_router(settings, store, cache))
    # FHIR read and search at the same base as the publication (`{base}/Slot?...`, `{base}/metadata`).
    app.include_router(fhir_router(settings.base_url, fhir_store, extra_resources=[capability_resource()]))
    app.include_router(booking_admin_router(settings, store))
    app.include_router(staff_admin_router(settings, store))
    app.include_router(admin_router(settings, store))
    # Booking attempts (hold and book POSTs) are limited per client.
    app.include_router(portal_router(settings, store, attempt_limit=[Depends(BookingAttempts(settings))]))
    app.include_router(staff_router(settings, store))
    app.include_router(referrals_router(settings, store))
    app.state.store = store
    app.state.cache = cache

    return app

"""Both servers as a visitor meets them, for what every page and API of either shares (headers, links,
answers to malformed requests): a generated provider and a discovery server over the search tests'
data, each on 127.0.0.1 with a public URL of its own that is neither its address nor any Host a test
sends, so an answer built from the request instead of the configuration shows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.discovery.app import create_app as create_discovery
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.store.store import open_store as open_discovery
from slotlinks.provider.app import create_app as create_provider
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.store.store import ProviderStore
from slotlinks.provider.store.store import open_store as open_provider
from tests.discovery_search.conftest import NOW, Data, fill
from tests.provider.conftest import small_options
from tests.servers import serve

ADMIN_TOKEN = "web-admin-token-0123456789"
PROVIDER_BASE = "https://provider.example/fhir"
DISCOVERY_URL = "https://find.example"


@dataclass
class Server:
    origin: str
    settings: Settings
    client: httpx.Client
    app: FastAPI


@dataclass
class ProviderServer(Server):
    store: ProviderStore


@dataclass
class DiscoveryServer(Server):
    store: DiscoveryStore
    data: Data


def provider_settings(folder: Path) -> Settings:
    return Settings(
        data_dir=folder / "provider-data",
        base_url=PROVIDER_BASE,
        admin_token=ADMIN_TOKEN,
        portal_secret="web-portal-secret-0123456789",
    )


def discovery_settings(folder: Path) -> Settings:
    return Settings(
        data_dir=folder / "discovery-data",
        discovery_url=DISCOVERY_URL,
        source_id="web-finder",
        admin_token=ADMIN_TOKEN,
        allow_private_networks=True,
    )


@pytest.fixture(scope="package")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderServer]:
    folder = tmp_path_factory.mktemp("web-provider")
    store = open_provider(f"sqlite:///{folder / 'provider.db'}")
    generate_provider(store, small_options())
    settings = provider_settings(folder)
    app = create_provider(settings, store)
    with serve(app) as origin, httpx.Client(base_url=origin, timeout=30) as client:
        yield ProviderServer(origin, settings, client, app, store)
    store.dispose()


@pytest.fixture(scope="package")
def discovery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DiscoveryServer]:
    folder = tmp_path_factory.mktemp("web-discovery")
    store = open_discovery(f"sqlite:///{folder / 'discovery.db'}", clock=FixedClock(NOW))
    with store.write() as conn:
        data = fill(conn)
    settings = discovery_settings(folder)
    app = create_discovery(settings, store, background_sync=False)
    with serve(app) as origin, httpx.Client(base_url=origin, timeout=30) as client:
        yield DiscoveryServer(origin, settings, client, app, store, data)
    store.dispose()

"""Outcome fixtures: a real provider (publication and portal) on a fixed clock with one slot of
capacity 1, synced into a discovery store, and a discovery server; everything on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.discovery.app import create_app as create_discovery_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.provider.app import create_app as create_provider_app
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.store.store import ProviderStore
from slotlinks.provider.store.store import open_store as open_provider_store
from tests.discovery.conftest import ADMIN_TOKEN as DISCOVERY_TOKEN
from tests.discovery.conftest import (
    raw,  # noqa: F401  (a fixture)
    sync,
)
from tests.portal.conftest import make_slot, settings_for
from tests.provider.conftest import ADMIN_TOKEN, small_options
from tests.servers import serve_with_origin

SOURCE = "finder-test"
SECRET = "discovery-referral-secret-0123456789"
SLOT_ID = "test-slot"


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[DiscoveryStore]:
    s = open_store(db_url, clock=clock)
    yield s
    s.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        allow_private_networks=True,
        connect_timeout=2.0,
        read_timeout=2.0,
        admin_token=DISCOVERY_TOKEN,
        source_id=SOURCE,
    )


@dataclass
class Loop:
    """A provider and a discovery server that know each other (the source is registered later)."""

    provider: ProviderStore
    portal: str
    discovery: str
    store: DiscoveryStore
    settings: Settings
    publisher_id: int
    clock: FixedClock

    def register_source(self, *, secret: str = SECRET) -> None:
        made = httpx.put(
            f"{self.portal}/admin/sources/{SOURCE}",
            json={"secret": secret, "returnUrl": f"{self.discovery}/back"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert made.status_code == 200, made.text


@pytest.fixture
def loop(store: DiscoveryStore, settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[Loop]:
    pstore = open_provider_store(f"sqlite:///{tmp_path / 'provider.db'}", clock=clock)

    def make_provider(origin: str) -> Any:
        generate_provider(pstore, small_options(locations=1, days=3, portal_url=origin))
        make_slot(pstore, 1, slot_id=SLOT_ID)
        return create_provider_app(settings_for(tmp_path, base_url=f"{origin}/fhir"), pstore)

    try:
        with serve_with_origin(make_provider) as portal:
            info = registry.add_publisher(store, url=f"{portal}/fhir/$bulk-publish", name="Test Health")
            results = sync(store, settings)
            assert results[info.id].outcome == "full", results[info.id].error

            def make_discovery(origin: str) -> Any:
                return create_discovery_app(replace(settings, discovery_url=origin), store, background_sync=False)

            with serve_with_origin(make_discovery) as discovery:
                yield Loop(pstore, portal, discovery, store, replace(settings, discovery_url=discovery), info.id, clock)
    finally:
        pstore.dispose()

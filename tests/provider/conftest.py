"""Provider fixtures: a small generated provider in a fresh database, and its server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from slotlinks.config import Settings
from slotlinks.provider.app import create_app
from slotlinks.provider.demo.generate import GenerateOptions, generate_provider
from slotlinks.provider.store.store import ProviderStore, open_store
from tests.servers import serve

ADMIN_TOKEN = "test-admin-token-0123456789"
TODAY = date(2026, 11, 24)


@dataclass
class RunningProvider:
    store: ProviderStore
    settings: Settings
    origin: str
    counts: dict[str, int]

    @property
    def base(self) -> str:
        return self.settings.base_url

    @property
    def manifest_url(self) -> str:
        return f"{self.base}/$bulk-publish"


def small_options(**changes: object) -> GenerateOptions:
    values: dict[str, object] = {
        "name": "Test Health",
        "locations": 3,
        "states": ("MA", "RI"),
        "days": 7,
        "seed": 7,
        "portal_url": "https://portal.example.org",
        "today": TODAY,
    }
    values.update(changes)
    return GenerateOptions(**values)  # type: ignore[arg-type]


@pytest.fixture
def provider_store(db_url: str) -> Iterator[ProviderStore]:
    store = open_store(db_url)
    yield store
    store.dispose()


@pytest.fixture
def running_provider(provider_store: ProviderStore, tmp_path: Path) -> Iterator[RunningProvider]:
    counts = generate_provider(provider_store, small_options())
    # The server's base URL is fixed before it knows its port: a fixed public name, as in production,
    # which also shows the manifest never takes its URLs from the request.
    settings = Settings(
        data_dir=tmp_path / "data",
        base_url="http://publisher.test:8001/fhir",
        admin_token=ADMIN_TOKEN,
        max_age=120,
    )
    with serve(create_app(settings, provider_store)) as origin:
        yield RunningProvider(provider_store, settings, origin, counts)

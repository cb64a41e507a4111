"""Our own generated publisher passes `--profile general --strict`, live and exported."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from slotlinks.config import Settings
from slotlinks.conformance import run_validation
from slotlinks.provider.app import create_app
from slotlinks.provider.demo.generate import GenerateOptions, generate_provider
from slotlinks.provider.publication.snapshots import export
from slotlinks.provider.store.store import ProviderStore, open_store
from tests.servers import serve_with_origin


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderStore]:
    path = tmp_path_factory.mktemp("provider") / "provider.db"
    provider = open_store(f"sqlite:///{path}")
    options = GenerateOptions(
        name="Test Health",
        locations=3,
        states=("MA", "RI"),
        days=7,
        seed=7,
        portal_url="https://portal.example.org",
        today=date(2026, 11, 24),
    )
    generate_provider(provider, options)
    yield provider
    provider.dispose()


def _problems(report: object) -> list[tuple[str, str, int]]:
    return [(r.check.id, r.status, r.count) for r in report.results if r.status != "passed"]  # type: ignore[attr-defined]


def test_exported_directory_passes_general_strict(store: ProviderStore, tmp_path: Path) -> None:
    export(store, tmp_path / "site", "https://publisher.example.org/fhir")
    report = run_validation(str(tmp_path / "site"), profile="general")
    assert report.exit_code(strict=True) == 0
    assert all(r.check.live_only for r in report.results if r.status != "passed"), _problems(report)
    assert report.resources["Slot"] > 1000
    assert set(report.resources) == {
        "Location",
        "HealthcareService",
        "PractitionerRole",
        "Practitioner",
        "Schedule",
        "Slot",
    }


def test_live_publisher_passes_general_strict_with_every_http_check(store: ProviderStore, tmp_path: Path) -> None:
    def make_app(origin: str) -> object:
        settings = Settings(
            data_dir=tmp_path / "data",
            base_url=f"{origin}/fhir",
            admin_token="test-admin-token-0123456789",
            max_age=120,
        )
        return create_app(settings, store)

    with serve_with_origin(make_app) as origin:
        report = run_validation(f"{origin}/fhir/$bulk-publish", profile="general")
    assert _problems(report) == []
    assert report.exit_code(strict=True) == 0

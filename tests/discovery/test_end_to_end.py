"""The discovery role end to end over real servers: generated providers and the recorded real-world
feeds are synced, searched through the discovery server's API, followed through its deep links, and
the aggregate it re-publishes passes the strict conformance check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from slotlinks.config import Settings
from slotlinks.conformance import run_validation
from slotlinks.discovery.app import create_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery.conftest import run_provider, sync
from tests.servers import serve_with_origin


def test_search_deep_link_and_aggregate_over_real_servers(
    store: DiscoveryStore, settings: Settings, tmp_path: Path, corpus: dict[str, str]
) -> None:
    with (
        run_provider(tmp_path, "Alpha Health", seed=3) as alpha,
        run_provider(tmp_path, "Beta Care", seed=9, states=("RI",)) as beta,
    ):
        for name, provider in (("Alpha Health", alpha), ("Beta Care", beta)):
            registry.add_publisher(store, url=provider.manifest_url, name=name)
        for name, url in corpus.items():
            registry.add_publisher(store, url=url, name=name)
        results = sync(store, settings)
        assert all(r.outcome == "full" for r in results.values()), [r.error for r in results.values()]

        def make(origin: str) -> Any:
            return create_app(
                replace(settings, discovery_url=origin, source_id="e2e-test"), store, background_sync=False
            )

        with serve_with_origin(make) as origin:
            found = httpx.get(
                f"{origin}/api/search",
                params={
                    "near": "02114",
                    "radius": "60mi",
                    "service": "primary care",
                    "from": "2026-11-24",
                    "to": "2026-11-30",
                },
                timeout=30,
            )
            assert found.status_code == 200, found.text
            locations = found.json()["locations"]
            assert locations, "generated providers offer primary care near Boston"
            # Services read as the publisher named them, not as the lower-cased search text.
            assert "Primary care visit" in locations[0]["services"]
            publishers = {loc["publisher"]["name"] for loc in locations}
            assert publishers <= {"Alpha Health", "Beta Care"}

            link = locations[0]["slots"][0]["link"]
            redirect = httpx.get(link, timeout=30)
            assert redirect.status_code == 303
            target = urlsplit(redirect.headers["location"])
            query = parse_qs(target.query)
            assert query["source"] == ["e2e-test"]
            assert len(query["booking-referral"][0]) >= 16
            assert target.path.startswith("/book/")

            # The recorded feeds' own day-long slots pass through (an aggregator does not invent a
            # narrower window); every required check passes, and nothing else is flagged.
            report = run_validation(f"{origin}/aggregate/$bulk-publish", profile="general")
            failed = {r.check.id for r in report.results if r.status == "failed"}
            assert report.exit_code(strict=False) == 0, failed
            assert failed <= {"slot.narrow-window", "slot.longer-than-day"}


def test_aggregate_of_conformant_publishers_passes_strict(
    store: DiscoveryStore, settings: Settings, tmp_path: Path
) -> None:
    with (
        run_provider(tmp_path, "Alpha Health", seed=3) as alpha,
        run_provider(tmp_path, "Beta Care", seed=9, states=("RI",)) as beta,
    ):
        for name, provider in (("Alpha Health", alpha), ("Beta Care", beta)):
            registry.add_publisher(store, url=provider.manifest_url, name=name)
        assert all(r.outcome == "full" for r in sync(store, settings).values())

    def make(origin: str) -> Any:
        return create_app(replace(settings, discovery_url=origin), store, background_sync=False)

    with serve_with_origin(make) as origin:
        report = run_validation(f"{origin}/aggregate/$bulk-publish", profile="general")
    failed = [(r.check.id, r.examples[:1]) for r in report.results if r.status == "failed"]
    assert report.exit_code(strict=True) == 0, failed

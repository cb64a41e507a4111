"""`slotlinks demo`: every role running on this machine with realistic data on embedded SQLite.

Two generated providers publish their slots (and host their booking pages); a discovery server polls
them, searches across them and deep-links into their portals; it also re-publishes the combined data.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from rich.console import Console

from slotlinks.config import Settings, sqlite_url
from slotlinks.discovery import registry
from slotlinks.discovery.app import create_app as create_discovery_app
from slotlinks.discovery.store import open_store as open_discovery_store
from slotlinks.provider.app import create_app as create_provider_app
from slotlinks.provider.generate import GenerateOptions, generate_provider
from slotlinks.provider.store import open_store as open_provider_store

__all__ = ["DEMO_PROVIDERS", "run_demo"]


@dataclass(frozen=True, slots=True)
class DemoProvider:
    key: str
    name: str
    states: tuple[str, ...]
    locations: int
    seed: int


DEMO_PROVIDERS = (
    DemoProvider("commonwealth", "Commonwealth Health", ("MA", "RI"), 14, 11),
    DemoProvider("granite", "Granite State Clinics", ("NH", "ME", "VT"), 9, 22),
)


def _provider_server(
    provider: DemoProvider, data_dir: Path, host: str, port: int, admin_token: str, console: Console
) -> tuple[uvicorn.Server, str]:
    origin = f"http://{host}:{port}"
    provider_dir = data_dir / provider.key
    db_url = sqlite_url(provider_dir / "provider.db")
    store = open_provider_store(db_url)
    if store.state().version == 0:
        console.print(f"generating {provider.name} ...")
        counts = generate_provider(
            store,
            GenerateOptions(
                name=provider.name,
                locations=provider.locations,
                states=provider.states,
                days=28,
                seed=provider.seed,
                portal_url=origin,
                today=datetime.now(UTC).date(),
            ),
        )
        console.print("  " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    settings = Settings.from_env().with_overrides(
        data_dir=provider_dir, provider_db=db_url, base_url=f"{origin}/fhir", admin_token=admin_token
    )
    config = uvicorn.Config(create_provider_app(settings, store), host=host, port=port, log_level="warning")
    return uvicorn.Server(config), f"{origin}/fhir/$bulk-publish"


async def run_demo(*, data_dir: Path, host: str, first_port: int, fresh: bool, admin_token: str) -> None:
    console = Console()
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    servers = []
    manifests = []
    for i, provider in enumerate(DEMO_PROVIDERS, start=1):
        server, manifest = _provider_server(provider, data_dir, host, first_port + i, admin_token, console)
        servers.append(server)
        manifests.append((provider.name, manifest))
        console.print(f"[bold]{provider.name}[/bold] publishes at {manifest}")

    discovery_url = f"http://{host}:{first_port}"
    settings = Settings.from_env().with_overrides(
        data_dir=data_dir / "discovery",
        discovery_db=sqlite_url(data_dir / "discovery" / "discovery.db"),
        discovery_url=discovery_url,
        source_id="slotlinks-demo",
        admin_token=admin_token,
        allow_private_networks=True,
    )
    discovery_store = open_discovery_store(settings.discovery_db_url)
    known = {p.url for p in registry.list_publishers(discovery_store)}
    for name, manifest in manifests:
        if manifest not in known:
            registry.add_publisher(discovery_store, url=manifest, name=name)
    config = uvicorn.Config(
        create_discovery_app(settings, discovery_store), host=host, port=first_port, log_level="warning"
    )
    servers.append(uvicorn.Server(config))
    console.print(f"admin API token for this run: {admin_token}")
    console.print(f"\n[bold green]Open {discovery_url}/ to search for appointments[/bold green] (Ctrl+C stops)")
    await asyncio.gather(*(server.serve() for server in servers))

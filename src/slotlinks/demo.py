"""`slotlinks demo`: every role running on this machine with realistic data on embedded SQLite."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from rich.console import Console

from slotlinks.config import Settings, sqlite_url
from slotlinks.provider.app import create_app
from slotlinks.provider.generate import GenerateOptions, generate_provider
from slotlinks.provider.store import open_store

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


async def run_demo(*, data_dir: Path, host: str, first_port: int, fresh: bool, admin_token: str) -> None:
    console = Console()
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    servers = []
    for i, provider in enumerate(DEMO_PROVIDERS):
        port = first_port + i
        origin = f"http://{host}:{port}"
        provider_dir = data_dir / provider.key
        db_url = sqlite_url(provider_dir / "provider.db")
        store = open_store(db_url)
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
        config = uvicorn.Config(create_app(settings, store), host=host, port=port, log_level="warning")
        servers.append(uvicorn.Server(config))
        console.print(f"[bold]{provider.name}[/bold] publishes at {origin}/fhir/$bulk-publish")
    console.print(f"admin API token for this run: {admin_token}")
    console.print("Press Ctrl+C to stop.")
    await asyncio.gather(*(server.serve() for server in servers))

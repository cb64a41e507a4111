"""`slotlinks demo`: every role running on this machine with realistic data on embedded SQLite.

Two generated providers publish their slots (and host their booking pages); a discovery server polls
them, searches across them and deep-links into their portals; it also re-publishes the combined data.

The referral outcome loop is wired too: the discovery server is registered as a source on each
provider's portal (provider/referrals.py `put_source`) with a fresh random secret and the return URL
`{discovery_url}/back`, and the same secret is stored on its publisher entry (registry
`set_referral_secret`), so after booking the patient's "back to your search" link lands on
"my referrals" with the outcome, and the booked time drops out of the results at once.

E-mail alerts go to a local SMTP catcher (alerts/catcher.py) on the port after the providers'; every
message it takes is an `.eml` file in `<data dir>/mail/`, none leaves the machine.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import uvicorn
from rich.console import Console

from slotlinks.config import Settings, sqlite_url
from slotlinks.discovery.alerts.catcher import MailCatcher
from slotlinks.discovery.app import create_app as create_discovery_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store.store import open_store as open_discovery_store
from slotlinks.provider.app import create_app as create_provider_app
from slotlinks.provider.demo.generate import GenerateOptions, generate_provider
from slotlinks.provider.portal.referrals import put_source
from slotlinks.provider.store.store import open_store as open_provider_store

__all__ = ["DEMO_PROVIDERS", "run_demo"]


@dataclass(frozen=True, slots=True)
class DemoProvider:
    key: str
    name: str
    states: tuple[str, ...]
    locations: int
    seed: int


DEMO_SOURCE_ID = "slotlinks-demo"

DEMO_PROVIDERS = (
    DemoProvider("commonwealth", "Commonwealth Health", ("MA", "RI"), 14, 11),
    DemoProvider("granite", "Granite State Clinics", ("NH", "ME", "VT"), 9, 22),
)


def _provider_server(
    provider: DemoProvider,
    data_dir: Path,
    host: str,
    port: int,
    admin_token: str,
    console: Console,
    *,
    discovery_url: str,
    referral_secret: str,
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
    # The discovery server as a referral source: it reads outcomes with this secret, and patients
    # go back to its `/back` page after booking or calling off.
    body = orjson.dumps({"secret": referral_secret, "returnUrl": f"{discovery_url}/back"})
    put_source(store=store, source=DEMO_SOURCE_ID, body=body)
    settings = Settings.from_env().with_overrides(
        data_dir=provider_dir, provider_db=db_url, base_url=f"{origin}/fhir", admin_token=admin_token
    )
    config = uvicorn.Config(
        create_provider_app(settings, store),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=settings.behind_proxy,  # as `serve` does: X-Forwarded-For only behind a declared proxy
    )
    return uvicorn.Server(config), f"{origin}/fhir/$bulk-publish"


async def run_demo(*, data_dir: Path, host: str, first_port: int, fresh: bool, admin_token: str) -> None:
    console = Console()
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    servers = []
    manifests = []
    discovery_url = f"http://{host}:{first_port}"
    for i, provider in enumerate(DEMO_PROVIDERS, start=1):
        secret = secrets.token_urlsafe(24)
        server, manifest = _provider_server(
            provider,
            data_dir,
            host,
            first_port + i,
            admin_token,
            console,
            discovery_url=discovery_url,
            referral_secret=secret,
        )
        servers.append(server)
        manifests.append((provider.name, manifest, secret))
        console.print(f"[bold]{provider.name}[/bold] publishes at {manifest}")

    mail_port = first_port + len(DEMO_PROVIDERS) + 1
    mail_dir = data_dir / "mail"
    catcher = await MailCatcher(mail_dir).serve(host, mail_port)
    settings = Settings.from_env().with_overrides(
        smtp_url=f"smtp://{host}:{mail_port}",
        mail_from="alerts@slotlinks-demo.invalid",
        # Minutes rather than the default quarter hour, so a demo shows more than one message.
        alert_period_seconds=60,
        data_dir=data_dir / "discovery",
        discovery_db=sqlite_url(data_dir / "discovery" / "discovery.db"),
        discovery_url=discovery_url,
        source_id=DEMO_SOURCE_ID,
        admin_token=admin_token,
        allow_private_networks=True,
    )
    discovery_store = open_discovery_store(settings.discovery_db_url)
    known = {p.url: p.id for p in registry.list_publishers(discovery_store)}
    for name, manifest, secret in manifests:
        publisher_id = known.get(manifest)
        if publisher_id is None:
            publisher_id = registry.add_publisher(discovery_store, url=manifest, name=name).id
        registry.set_referral_secret(discovery_store, publisher_id, secret)
    config = uvicorn.Config(
        create_discovery_app(settings, discovery_store),
        host=host,
        port=first_port,
        log_level="warning",
        proxy_headers=settings.behind_proxy,
    )
    servers.append(uvicorn.Server(config))
    console.print(f"admin API token for this run: {admin_token}")
    console.print(f"alert e-mails are caught, not sent: read them in {mail_dir}/ (one .eml file each)")
    console.print(f"\n[bold green]Open {discovery_url}/ to search for appointments[/bold green] (Ctrl+C stops)")
    async with catcher:
        await asyncio.gather(*(server.serve() for server in servers))

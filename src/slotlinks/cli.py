"""The `slotlinks` command: one entry point for every role.

Each option also reads an environment variable (`SLOTLINKS_PROVIDER_DB`, `SLOTLINKS_BASE_URL`, ...);
options given on the command line win.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from slotlinks.config import Settings
from slotlinks.conformance.cli_validate import validate_command
from slotlinks.discovery.cli import AllowPrivateOption, RetentionOption, publishers_app, sync_command
from slotlinks.discovery.search.cli import search_command
from slotlinks.fhir.urls import is_http_url

__all__ = ["app", "main"]

app = typer.Typer(help="SMART Scheduling Links: publish, find and book appointment slots.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
generate_app = typer.Typer(help="Generate realistic data.", no_args_is_help=True)
serve_app = typer.Typer(help="Run a server.", no_args_is_help=True)
publish_app = typer.Typer(help="Publication tools.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(generate_app, name="generate")
app.add_typer(serve_app, name="serve")
app.add_typer(publish_app, name="publish")
app.add_typer(publishers_app, name="publishers")
app.command("sync")(sync_command)
app.command("search")(search_command)
app.command("validate")(validate_command)

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="SLOTLINKS_PROVIDER_DB", help="sqlite:///path/file.db or postgresql://..."),
]
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", envvar="SLOTLINKS_DATA_DIR", help="Where SQLite files and caches live.")
]


def _settings(db: str | None, data_dir: Path, **overrides: object) -> Settings:
    try:
        return Settings.from_env().with_overrides(provider_db=db, data_dir=data_dir, **overrides)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@db_app.command("upgrade")
def db_upgrade(
    db: Annotated[
        str | None,
        typer.Option("--db", help="sqlite:///path/file.db or postgresql://... (default: the side's variable)"),
    ] = None,
    data_dir: DataDirOption = Path("data"),
    side: Annotated[str, typer.Option(help="Which store: provider or discovery.")] = "provider",
) -> None:
    """Create or migrate a store's schema to the latest version."""
    from slotlinks.db.engine import make_engine
    from slotlinks.db.migrate import upgrade

    if side not in {"provider", "discovery"}:
        err_console.print("[red]error:[/red] --side must be provider or discovery")
        raise typer.Exit(2)
    settings = Settings.from_env().with_overrides(data_dir=data_dir)
    url = db or (settings.provider_db_url if side == "provider" else settings.discovery_db_url)
    engine = make_engine(url)
    try:
        upgrade(engine, side)
    finally:
        engine.dispose()
    console.print(f"{side} schema is up to date")


@generate_app.command("provider")
def generate_provider_cmd(
    db: DbOption = None,
    data_dir: DataDirOption = Path("data"),
    name: Annotated[str, typer.Option(help="The provider's name.")] = "Commonwealth Health",
    locations: Annotated[int, typer.Option(help="Number of physical locations.")] = 10,
    states: Annotated[str, typer.Option(help="Comma-separated US states, e.g. MA,RI.")] = "MA",
    days: Annotated[int, typer.Option(help="Days of slots from today.")] = 28,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same provider.")] = 1,
    portal_url: Annotated[
        str,
        typer.Option("--portal-url", envvar="SLOTLINKS_PORTAL_URL", help="The booking portal's public URL."),
    ] = "http://127.0.0.1:8001",
) -> None:
    """Generate a provider with realistic locations, services, practitioners, schedules and slots."""
    from slotlinks.provider.demo.generate import GenerateOptions, generate_provider
    from slotlinks.provider.store.store import open_store

    settings = _settings(db, data_dir)
    if not is_http_url(portal_url, allow_query=False, allow_fragment=False):
        err_console.print("[red]error:[/red] --portal-url must be an absolute http(s) URL without a query or fragment")
        raise typer.Exit(2)
    store = open_store(settings.provider_db_url)
    options = GenerateOptions(
        name=name,
        locations=locations,
        states=tuple(s.strip().upper() for s in states.split(",") if s.strip()),
        days=days,
        seed=seed,
        portal_url=portal_url,
        today=datetime.now(UTC).date(),
    )
    started = time.perf_counter()
    try:
        counts = generate_provider(store, options)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        store.dispose()
    table = Table(title=f"{name}: generated in {time.perf_counter() - started:.1f} s")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    for type_name, count in counts.items():
        table.add_row(type_name, str(count))
    console.print(table)


@serve_app.command("provider")
def serve_provider(
    db: DbOption = None,
    data_dir: DataDirOption = Path("data"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8001,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar="SLOTLINKS_BASE_URL",
            help="Public FHIR base URL, e.g. http://127.0.0.1:8001/fhir",
        ),
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option("--admin-token", envvar="SLOTLINKS_ADMIN_TOKEN", help="Bearer token of the admin API."),
    ] = None,
    max_age: Annotated[int | None, typer.Option("--max-age", help="Cache-Control max-age in seconds.")] = None,
    allow_private_networks: Annotated[
        bool,
        typer.Option(
            "--allow-private-networks",
            envvar="SLOTLINKS_ALLOW_PRIVATE_NETWORKS",
            help="Allow subscription endpoints on loopback and private-network addresses (demo, tests, intranets).",
        ),
    ] = False,
) -> None:
    """Serve a provider's publication ($bulk-publish), subscriptions, admin API and booking portal."""
    import uvicorn

    from slotlinks.provider.app import create_app

    settings = _settings(
        db,
        data_dir,
        base_url=base_url or f"http://{host}:{port}/fhir",
        admin_token=admin_token,
        max_age=max_age,
        allow_private_networks=allow_private_networks or None,
    )
    console.print(f"manifest: {settings.base_url.rstrip('/')}/$bulk-publish")
    # X-Forwarded-For is trusted only behind a proxy the operator declared (rate limits key on clients).
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=settings.behind_proxy)


@serve_app.command("discovery")
def serve_discovery(
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="SLOTLINKS_DISCOVERY_DB", help="sqlite:///path/file.db or postgresql://..."),
    ] = None,
    data_dir: DataDirOption = Path("data"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", envvar="SLOTLINKS_DISCOVERY_URL", help="Public URL, e.g. http://127.0.0.1:8000"),
    ] = None,
    source_id: Annotated[
        str | None, typer.Option("--source-id", envvar="SLOTLINKS_SOURCE_ID", help="`source` on deep links.")
    ] = None,
    admin_token: Annotated[
        str | None, typer.Option("--admin-token", envvar="SLOTLINKS_ADMIN_TOKEN", help="Bearer token of the admin API.")
    ] = None,
    allow_private_networks: AllowPrivateOption = False,
    no_sync: Annotated[bool, typer.Option("--no-sync", help="Serve only; do not poll publishers.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            envvar="SLOTLINKS_WORKERS",
            min=1,
            help="Server processes on one port (one per CPU serves most searches); they share the database.",
        ),
    ] = 1,
    referral_retention_days: RetentionOption = None,
    deeplink_attempts: Annotated[
        int | None,
        typer.Option(
            "--deeplink-attempts",
            envvar="SLOTLINKS_DEEPLINK_ATTEMPTS",
            help="Deep links (/go) one client may follow per --deeplink-window. [default: 30]",
        ),
    ] = None,
    deeplink_window: Annotated[
        int | None,
        typer.Option(
            "--deeplink-window",
            envvar="SLOTLINKS_DEEPLINK_WINDOW_SECONDS",
            help="Seconds of the deep-link rate limit. [default: 600]",
        ),
    ] = None,
    smtp_url: Annotated[
        str | None,
        typer.Option(
            "--smtp-url",
            envvar="SLOTLINKS_SMTP_URL",
            help="E-mail alerts' SMTP server: smtp://host:port, smtp+starttls://user:pass@host:587 or "
            "smtps://user:pass@host:465 (unset: no alerts).",
        ),
    ] = None,
    mail_from: Annotated[
        str | None,
        typer.Option("--mail-from", envvar="SLOTLINKS_MAIL_FROM", help="Sender address of alert messages."),
    ] = None,
    alert_period: Annotated[
        int | None,
        typer.Option(
            "--alert-period",
            envvar="SLOTLINKS_ALERT_PERIOD_SECONDS",
            help="Seconds between two messages of one alert, at least. [default: 900]",
        ),
    ] = None,
    alert_days: Annotated[
        int | None,
        typer.Option("--alert-days", envvar="SLOTLINKS_ALERT_DAYS", help="Days an alert lasts. [default: 30]"),
    ] = None,
) -> None:
    """Serve the discovery client: search pages and API, deep links, publisher admin, aggregate feed."""
    import uvicorn

    from slotlinks.discovery.app import create_app

    settings = _settings(
        None,
        data_dir,
        discovery_db=db,
        discovery_url=(base_url or f"http://{host}:{port}").rstrip("/"),
        source_id=source_id,
        admin_token=admin_token,
        allow_private_networks=allow_private_networks or None,
        referral_retention_days=referral_retention_days,
        deeplink_attempts=deeplink_attempts,
        deeplink_window_seconds=deeplink_window,
        smtp_url=smtp_url,
        mail_from=mail_from,
        alert_period_seconds=alert_period,
        alert_days=alert_days,
    )
    console.print(f"search: {settings.discovery_url}/")
    app: Any = "slotlinks.discovery.app:worker_app"
    if workers == 1:
        app = create_app(settings, background_sync=not no_sync)
    else:
        import os

        from slotlinks.discovery.app import WORKER_SETTINGS_ENV
        from slotlinks.discovery.store.store import open_store

        open_store(settings.discovery_db_url).dispose()  # migrated once, before the workers open it together
        payload = {"settings": settings.to_json(), "background_sync": not no_sync}
        os.environ[WORKER_SETTINGS_ENV] = json.dumps(payload)
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=settings.behind_proxy,
    )


@publish_app.command("export")
def publish_export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the manifest and NDJSON files to.")],
    base_url: Annotated[
        str,
        typer.Option("--base-url", envvar="SLOTLINKS_BASE_URL", help="Public URL the files will be served under."),
    ],
    db: DbOption = None,
    data_dir: DataDirOption = Path("data"),
) -> None:
    """Write the publication as static files, byte-identical to the live server's for the same base URL."""
    from slotlinks.provider.publication.snapshots import export
    from slotlinks.provider.store.store import open_store

    settings = _settings(db, data_dir, base_url=base_url)
    store = open_store(settings.provider_db_url)
    started = time.perf_counter()
    try:
        publication = export(store, out, settings.base_url)
    finally:
        store.dispose()
    total = sum(f.count for f in publication.files)
    console.print(
        f"wrote {len(publication.files)} files, {total} resources to {out} "
        f"in {time.perf_counter() - started:.1f} s; manifest: {out / '$bulk-publish'}"
    )


@app.command("demo")
def demo(
    data_dir: DataDirOption = Path("data/demo"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The discovery server's port; the providers take the next ones.")] = 8000,
    fresh: Annotated[bool, typer.Option("--fresh", help="Regenerate the demo data.")] = False,
) -> None:
    """Run the demo: generated providers and a discovery server over them, on embedded SQLite."""
    from slotlinks.demo import run_demo

    token = secrets.token_urlsafe(24)
    asyncio.run(run_demo(data_dir=data_dir, host=host, first_port=port, fresh=fresh, admin_token=token))


def main() -> None:
    app()

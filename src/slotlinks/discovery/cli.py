"""The discovery side's commands: `slotlinks publishers add|list|set-secret` and `slotlinks sync`.

`publishers_app` is a Typer app the main CLI mounts as `publishers`; `sync_command` is mounted as
`sync`. `--db` reads SLOTLINKS_DISCOVERY_DB and `--allow-private-networks` also
SLOTLINKS_ALLOW_PRIVATE_NETWORKS=1, like every other option's environment variable.
`RetentionOption` is shared with `serve discovery`, whose sync loop prunes referrals too.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from slotlinks.config import Settings
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.discovery.sync import SyncEngine
from slotlinks.errors import SlotlinksError

__all__ = ["RetentionOption", "publishers_app", "sync_command"]

AllowPrivateOption = Annotated[
    bool,
    typer.Option(
        "--allow-private-networks",
        envvar="SLOTLINKS_ALLOW_PRIVATE_NETWORKS",
        help="Allow publishers on loopback and private-network addresses (demo, tests, intranets).",
    ),
]

RetentionOption = Annotated[
    int | None,
    typer.Option(
        "--referral-retention-days",
        envvar="SLOTLINKS_REFERRAL_RETENTION_DAYS",
        help="Delete referrals (deep links followed) older than this many days. [default: 90]",
    ),
]
MinTransferBytesOption = Annotated[
    int | None,
    typer.Option(
        "--min-transfer-bytes",
        envvar="SLOTLINKS_MIN_TRANSFER_BYTES",
        help="A download bringing fewer bytes than this in any --min-transfer-window is cut off. [default: 1024]",
    ),
]
MinTransferWindowOption = Annotated[
    float | None,
    typer.Option(
        "--min-transfer-window",
        envvar="SLOTLINKS_MIN_TRANSFER_WINDOW_SECONDS",
        help="Seconds over which --min-transfer-bytes must arrive. [default: 30]",
    ),
]
LeaseOption = Annotated[
    float | None,
    typer.Option(
        "--lease-seconds",
        envvar="SLOTLINKS_SYNC_LEASE_SECONDS",
        help="A publisher this worker was polling goes to another worker this long after the worker stops "
        "renewing its lease (it died). [default: 60]",
    ),
]

publishers_app = typer.Typer(help="The publishers this discovery client polls.", no_args_is_help=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="SLOTLINKS_DISCOVERY_DB", help="sqlite:///path/file.db or postgresql://..."),
]


def _store(db: str | None, **overrides: object) -> tuple[Settings, DiscoveryStore]:
    try:
        settings = Settings.from_env().with_overrides(discovery_db=db, **overrides)
        return settings, open_store(settings.discovery_db_url)
    except ValueError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _when(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _push(info: registry.PublisherInfo) -> str:
    """The push state, with the last event's time and lag when there was one."""
    push = info.push
    if push.last_event_ms is None:
        return push.state
    return f"{push.state}, last event {_when(push.last_event_ms)}, lag {push.lag_ms} ms"


@publishers_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="The publisher's $bulk-publish URL.")],
    name: Annotated[str, typer.Option("--name", help="A name for people.")],
    states: Annotated[str, typer.Option("--states", help="Only these states, e.g. MA,RI (default: all).")] = "",
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="Another host output files may be on (repeatable).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Register a publisher by its $bulk-publish URL."""
    _, store = _store(db)
    try:
        info = registry.add_publisher(store, url=url, name=name, states=states, allowed_hosts=allow_host or [])
    except SlotlinksError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    Console().print(f"added publisher {info.id}: {info.name} <{info.url}>")


@publishers_app.command("list")
def list_command(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Every publisher with its data counts and last sync."""
    _, store = _store(db)
    try:
        infos = registry.list_publishers(store)
    finally:
        store.dispose()
    if as_json:
        sys.stdout.write(orjson.dumps([i.to_json() for i in infos], option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table(
        "id",
        "name",
        "url",
        "states",
        "locations",
        "schedules",
        "slots",
        "bad lines",
        "warnings",
        "last success",
        "push",
        "last error",
    )
    for i in infos:
        name = i.name + (" (paused)" if i.paused else "")
        table.add_row(
            str(i.id),
            name,
            i.url,
            ",".join(i.states) or "all",
            str(i.locations),
            str(i.schedules),
            str(i.slots),
            str(i.bad_lines),
            str(i.warnings),
            _when(i.last_success_ms),
            _push(i),
            i.last_error or "",
        )
    Console().print(table)


@publishers_app.command("set-secret")
def set_secret(
    publisher_id: Annotated[int, typer.Argument(metavar="ID", help="The publisher's id (see `publishers list`).")],
    secret: Annotated[
        str, typer.Argument(help="The secret this deployment registered as a source with the publisher's portal.")
    ],
    portal: Annotated[
        str | None,
        typer.Option("--portal", help="The portal's origin, when not the one of its booking links."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Store the secret used to read referral outcomes from a publisher's booking portal."""
    _, store = _store(db)
    try:
        info = registry.set_referral_secret(store, publisher_id, secret, portal=portal)
    except SlotlinksError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    Console().print(f"publisher {info.id} ({info.name}): referral secret stored")


def sync_command(
    once: Annotated[bool, typer.Option("--once", help="One pass over every publisher, then exit.")] = False,
    db: DbOption = None,
    allow_private_networks: AllowPrivateOption = False,
    min_transfer_bytes: MinTransferBytesOption = None,
    min_transfer_window: MinTransferWindowOption = None,
    referral_retention_days: RetentionOption = None,
    lease_seconds: LeaseOption = None,
) -> None:
    """Poll publishers: once (every unpaused one, now), or forever on each one's own cadence. Any number
    of these workers may share one database: each publisher is polled by one of them at a time."""
    settings, store = _store(
        db,
        allow_private_networks=allow_private_networks or None,
        min_transfer_bytes=min_transfer_bytes,
        min_transfer_window_seconds=min_transfer_window,
        referral_retention_days=referral_retention_days,
        sync_lease_seconds=lease_seconds,
    )
    engine = SyncEngine(store, settings)
    console = Console()
    try:
        if once:
            results = asyncio.run(engine.sync_once(force=True))
            failed = 0
            for r in results:
                failed += r.outcome == "failed"
                detail = r.error or (
                    f"+{r.counts.added} ~{r.counts.changed} -{r.counts.removed}, {r.bad_line_count} bad lines, "
                    f"{sum(r.warnings.values())} warnings"
                )
                console.print(f"publisher {r.publisher_id}: {r.outcome} ({r.duration_ms} ms) {detail}")
            if failed:
                raise typer.Exit(1)
        else:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(engine.run_forever())
    finally:
        store.dispose()

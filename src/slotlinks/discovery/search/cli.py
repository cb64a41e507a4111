"""`slotlinks search`: the discovery search from the command line (a Rich table, or JSON).

The same `parse_search` and `search` as the JSON API and the web pages (STYLE.md: one typed request
for every interface). Recorded data lies in the past, so `--from`/`--to` accept any window. Who may
book each time is shown in words; `--new-patients`, `--no-referral`, `--age` and `--language` keep
only the times whose publisher says they match (search/audience.py).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slotlinks.config import Settings
from slotlinks.discovery.search.execute import LocationResult, search
from slotlinks.discovery.search.query import parse_search
from slotlinks.discovery.store.store import open_store
from slotlinks.errors import InvalidInput

__all__ = ["search_command"]


def _table(results: list[LocationResult]) -> Table:
    table = Table(title=f"{len(results)} locations")
    for column in ("Location", "Distance", "Publisher", "Data", "Phone", "Next times", "Who can book"):
        table.add_column(column)
    for r in results:
        distance = f"{r.distance_miles:.1f} mi" if r.distance_miles is not None else ("video" if r.virtual else "")
        times = "\n".join(f"{s.start} ({s.capacity})" if s.capacity > 1 else s.start for s in r.slots)
        place = r.name + (f"\n{r.city}, {r.state}" if r.city else "")
        who = "\n".join(dict.fromkeys(", ".join(s.audience.badges) for s in r.slots))
        table.add_row(place, distance, r.publisher.name, r.freshness, r.phone or "", times, who)
    return table


def search_command(
    near: Annotated[str, typer.Option("--near", help="ZIP code (02114) or latitude,longitude (42.36,-71.06).")],
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="SLOTLINKS_DISCOVERY_DB", help="sqlite:///path/file.db or postgresql://..."),
    ] = None,
    radius: Annotated[str, typer.Option("--radius", help="25mi, 40km, or a number of miles.")] = "25mi",
    service: Annotated[str | None, typer.Option("--service", help="Service: text, code or system|code.")] = None,
    organization: Annotated[
        str | None, typer.Option("--organization", help="Health system: part of a publisher's or organization's name.")
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Window start: date or date-time (default now).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Window end: date (inclusive) or date-time.")] = None,
    sort: Annotated[str, typer.Option("--sort", help="best, soonest or nearest.")] = "best",
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="How many locations.")] = 20,
    new_patients: Annotated[
        bool, typer.Option("--new-patients", help="Only times published as open to new patients.")
    ] = False,
    no_referral: Annotated[
        bool, typer.Option("--no-referral", help="Only times whose service says no referral is needed.")
    ] = False,
    age: Annotated[
        str | None, typer.Option("--age", help="The patient's age in years: only times whose age range includes it.")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="A language a practitioner speaks: es, pt-BR or Spanish.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, one object per location.")] = False,
) -> None:
    """Find open appointment slots near a place, ranked by distance and wait."""
    settings = Settings.from_env()
    if db:
        settings = settings.with_overrides(discovery_db=db)
    params: dict[str, str | None] = {
        "near": near,
        "radius": radius,
        "service": service,
        "organization": organization,
        "from": from_,
        "to": to,
        "sort": sort,
        "limit": str(limit),
        "new_patients": "true" if new_patients else None,
        "no_referral": "true" if no_referral else None,
        "age": age,
        "language": language,
    }
    err = Console(stderr=True)
    store = open_store(settings.discovery_db_url)
    try:
        try:
            req = parse_search(params, now=store.clock())
        except InvalidInput as exc:
            err.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
            raise typer.Exit(2) from exc
        with store.searching() as conn:
            results = search(conn, req, now_ms=store.now_ms(), link_base=settings.discovery_url)
    finally:
        store.dispose()
    if as_json:
        typer.echo(msgspec.json.encode(results).decode())
    else:
        Console().print(_table(results))

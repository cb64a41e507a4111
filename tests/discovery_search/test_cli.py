"""`slotlinks search` through Typer's CliRunner."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from slotlinks.discovery.search.cli import search_command
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery_search.conftest import Data

app = typer.Typer()
app.command("search")(search_command)
app.command("noop")(lambda: None)  # two commands, so `search` is a subcommand as in the real CLI

WINDOW = ["--from", "2026-11-24", "--to", "2026-12-31"]


def test_json(store: DiscoveryStore, data: Data, db_url: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "search",
            "--db",
            db_url,
            "--near",
            "02114",
            "--radius",
            "60mi",
            "--service",
            "primary care",
            "--json",
            *WINDOW,
        ],
    )
    assert result.exit_code == 0, result.output
    locations = json.loads(result.stdout)
    assert isinstance(locations, list)
    assert {loc["name"] for loc in locations} == {
        "Boston Downtown Clinic", "Worcester Health Center", "Providence Family Practice",
    }  # fmt: skip
    first = locations[0]
    assert {"distance_miles", "publisher", "freshness", "slots"} <= set(first)
    slot = first["slots"][0]
    assert {"start", "end", "status", "link"} <= set(slot)
    assert slot["link"].endswith(f"/go/{slot['pk']}")


def test_env_db_sort_and_table(store: DiscoveryStore, data: Data, db_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["search", "--near", "42.3611,-71.0682", "--radius", "40km", "--sort", "nearest", "--limit", "1", *WINDOW],
        env={"SLOTLINKS_DISCOVERY_DB": db_url, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "Boston Downtown Clinic" in result.stdout
    assert "Cambridge" not in result.stdout


def test_bad_input(store: DiscoveryStore, data: Data, db_url: str) -> None:
    result = CliRunner().invoke(app, ["search", "--db", db_url, "--near", "nowhere"])
    assert result.exit_code == 2
    assert "near" in result.output


def test_organization(store: DiscoveryStore, data: Data, db_url: str) -> None:
    command = ["search", "--db", db_url, "--near", "02114", "--radius", "60mi", "--json", *WINDOW]
    result = CliRunner().invoke(app, [*command, "--organization", "Harbor Medical"])
    assert result.exit_code == 0, result.output
    assert [loc["name"] for loc in json.loads(result.stdout)] == ["Worcester Health Center"]

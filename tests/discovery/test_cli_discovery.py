"""`publishers add|list` and `sync --once`, through Typer's test runner (the main CLI mounts them)."""

from __future__ import annotations

import orjson
import typer
from typer.testing import CliRunner

from slotlinks.discovery.cli import publishers_app, sync_command


def test_add_sync_list_json(db_url: str, corpus: dict[str, str]) -> None:
    runner = CliRunner()
    env = {"SLOTLINKS_DISCOVERY_DB": db_url}
    r = runner.invoke(publishers_app, ["add", corpus["cvs"], "--name", "CVS", "--states", "VA"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(publishers_app, ["add", corpus["cvs"], "--name", "CVS"], env=env)
    assert r.exit_code == 1

    app = typer.Typer()
    app.command()(sync_command)
    r = runner.invoke(app, ["--once"], env=env)
    assert r.exit_code == 1  # loopback refused without --allow-private-networks
    r = runner.invoke(app, ["--once"], env={**env, "SLOTLINKS_ALLOW_PRIVATE_NETWORKS": "1"})
    assert r.exit_code == 0, r.output
    assert "full" in r.output

    r = runner.invoke(publishers_app, ["list", "--json"], env=env)
    assert r.exit_code == 0, r.output
    [entry] = orjson.loads(r.stdout)
    assert entry["name"] == "CVS"
    assert entry["states"] == ["VA"]
    assert entry["counts"] == {"Location": 1, "Schedule": 1, "Slot": 2}
    assert entry["warnings"] == 2
    assert entry["badLines"] == 0
    assert entry["lastSuccessMs"] is not None
    assert entry["lastError"] is None
    r = runner.invoke(publishers_app, ["list"], env=env)
    assert r.exit_code == 0
    assert "CVS" in r.output

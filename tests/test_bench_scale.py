"""bench/scale.py at its smallest: every step runs and the checks it makes hold (a few seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[1]
SCALE = ROOT / "bench" / "scale.py"


@pytest.mark.postgres
def test_scale_bench_runs_at_two_thousand_slots(pg_url: str, tmp_path: Path) -> None:
    # pg_url only to skip (or fail on CI) without PostgreSQL: the bench makes schemas of its own.
    del pg_url
    command = [sys.executable, str(SCALE), "--postgres", PG_URL, "--slots", "2000", "--publishers", "2"]
    command += ["--searches", "16", "--clients", "2", "--server-workers", "2", "--exports", str(tmp_path / "exports")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout.split("\n\n")[-1]
    assert table.startswith("2,000 slots from 2 publishers")
    # The two workers shared the publishers (the bench checks each was loaded once) ...
    assert "no publisher loaded twice" in table
    # ... each database took the `_since` answer as an incremental round (checked per publisher) ...
    assert "incremental round (1% of slots changed), SQLite" in table
    assert "incremental round (1% of slots changed), PostgreSQL" in table
    # ... both reloaded every publisher whole (checked: each loaded in full twice) ...
    assert "full reload (every generation replaced), SQLite" in table
    assert "full reload (every generation replaced), PostgreSQL" in table
    # ... and searches over HTTP, by one server process and by two, found locations near the ZIP codes
    # the exports use.
    for name in ("SQLite", "PostgreSQL"):
        for workers in (1, 2):
            line = next(
                x for x in table.splitlines() if x.startswith(f"search, {name}, 2 clients over HTTP, {workers} ")
            )
            assert " 0.0 locations each" not in line, line

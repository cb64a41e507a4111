"""Referral rows live `referral_retention_days` (default 90): the sync engine deletes older ones after a
pass and on its background loop, so the table is bounded by configuration, not by visitors of /go."""

from __future__ import annotations

import asyncio
import dataclasses

import typer
from sqlalchemy import insert, select
from typer.testing import CliRunner

from slotlinks.config import Settings
from slotlinks.discovery.cli import sync_command
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync import SyncEngine

DAY_MS = 86_400_000


def add_referrals(store: DiscoveryStore, ages_in_days: dict[str, float]) -> None:
    now = store.now_ms()
    rows = [
        {
            "id": f"referral-{name}-0123456789",
            "slot_source_id": "s1",
            "slot_start_ms": now,
            "link": "https://portal.example/book?booking-referral=x",
            "created_ms": now - int(age * DAY_MS),
        }
        for name, age in ages_in_days.items()
    ]
    with store.write() as conn:
        conn.execute(insert(t.referral), rows)


def kept(store: DiscoveryStore) -> set[str]:
    with store.read() as conn:
        return {row.id.split("-")[1] for row in conn.execute(select(t.referral.c.id))}


def test_a_sync_pass_prunes_referrals_past_the_retention(store: DiscoveryStore, settings: Settings) -> None:
    assert Settings().referral_retention_days == 90
    add_referrals(store, {"old": 91, "older": 400, "recent": 89, "today": 0})
    asyncio.run(SyncEngine(store, settings).sync_once(force=True))
    assert kept(store) == {"recent", "today"}


def test_the_retention_is_configurable_and_the_loop_prunes_too(store: DiscoveryStore, settings: Settings) -> None:
    add_referrals(store, {"month": 31, "week": 7})

    async def one_turn() -> None:
        stop = asyncio.Event()
        engine = SyncEngine(store, dataclasses.replace(settings, referral_retention_days=30))
        loop = asyncio.create_task(engine.run_forever(stop=stop, tick_seconds=0.05))
        await asyncio.sleep(0.5)
        stop.set()
        await loop

    asyncio.run(one_turn())
    assert kept(store) == {"week"}


def test_sync_once_takes_the_retention_from_its_option_or_the_environment(db_url: str, store: DiscoveryStore) -> None:
    add_referrals(store, {"fortnight": 14, "month": 31, "week": 7})
    app = typer.Typer()
    app.command()(sync_command)
    runner = CliRunner()
    env = {"SLOTLINKS_DISCOVERY_DB": db_url}
    r = runner.invoke(app, ["--once"], env={**env, "SLOTLINKS_REFERRAL_RETENTION_DAYS": "20"})
    assert r.exit_code == 0, r.output
    assert kept(store) == {"fortnight", "week"}
    r = runner.invoke(app, ["--once", "--referral-retention-days", "10"], env=env)
    assert r.exit_code == 0, r.output
    assert kept(store) == {"week"}
    r = runner.invoke(app, ["--once", "--referral-retention-days", "0"], env=env)
    assert r.exit_code == 2
    assert "at least one day" in r.output

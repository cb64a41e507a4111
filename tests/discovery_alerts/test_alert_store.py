"""The alerts' SQL on SQLite and PostgreSQL: which alerts are due, what they announced, and what is
deleted (expired alerts, alerts never confirmed in time, everything of an unsubscribed alert)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from slotlinks.clock import FixedClock
from slotlinks.discovery.alerts import store as alerts
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store

DAY = 86_400_000
PERIOD = 15 * 60_000


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[DiscoveryStore]:
    s = open_store(db_url, clock=clock)
    yield s
    s.dispose()


def _add(
    store: DiscoveryStore, alert_id: str, *, confirmed: bool, days: int = 30, email: str = "a@example.com"
) -> None:
    now = store.now_ms()
    with store.write() as conn:
        alerts.insert_alert(
            conn, alert_id=alert_id, email=email, criteria="{}", created_ms=now, expires_ms=now + days * DAY
        )
        if confirmed:
            alerts.confirm(conn, alert_id, now)


def _ids(store: DiscoveryStore, now_ms: int) -> list[str]:
    with store.read() as conn:
        return [row.id for row in alerts.due(conn, now_ms, PERIOD)]


def test_only_confirmed_alerts_are_due_and_then_once_per_period(store: DiscoveryStore) -> None:
    _add(store, "confirmed-1", confirmed=True)
    _add(store, "unconfirmed", confirmed=False)
    now = store.now_ms()
    assert _ids(store, now) == ["confirmed-1"]
    with store.write() as conn:
        alerts.record_sent(conn, "confirmed-1", [(1, "slot-a", now), (1, "slot-b", now)], now)
        assert alerts.announced(conn, "confirmed-1") == {(1, "slot-a", now), (1, "slot-b", now)}
    assert _ids(store, now + PERIOD - 1) == []
    assert _ids(store, now + PERIOD) == ["confirmed-1"]
    with store.read() as conn:
        assert alerts.count_for_address(conn, "a@example.com") == 2


def test_purge_deletes_expired_and_never_confirmed_alerts_with_what_they_announced(store: DiscoveryStore) -> None:
    _add(store, "short-lived", confirmed=True, days=1)
    _add(store, "long-lived", confirmed=True, days=30)
    _add(store, "never-confirmed", confirmed=False, days=30)
    now = store.now_ms()
    with store.write() as conn:
        alerts.record_sent(conn, "short-lived", [(1, "slot-a", now)], now)
        assert alerts.purge(conn, now + DAY - 1) == 0
        assert alerts.purge(conn, now + alerts.UNCONFIRMED_DAYS * DAY) == 2
        left = list(conn.execute(select(t.alert.c.id)).scalars())
        announced = conn.execute(select(func.count()).select_from(t.alert_announced)).scalar_one()
    assert (left, announced) == (["long-lived"], 0)


def test_remove_deletes_the_alert_and_its_announcements(store: DiscoveryStore) -> None:
    _add(store, "to-remove", confirmed=True)
    now = store.now_ms()
    with store.write() as conn:
        alerts.record_sent(conn, "to-remove", [(1, "slot-a", now)], now)
        assert alerts.remove(conn, "to-remove") is True
        assert alerts.remove(conn, "to-remove") is False
        assert alerts.get(conn, "to-remove") is None
        assert conn.execute(select(func.count()).select_from(t.alert_announced)).scalar_one() == 0


def test_an_apps_alerts_are_due_at_once_and_go_with_the_app(store: DiscoveryStore) -> None:
    now = store.now_ms()
    _add(store, "by-mail", confirmed=False)
    with store.write() as conn:
        for alert_id in ("app-1", "app-2"):
            alerts.insert_alert(
                conn,
                alert_id=alert_id,
                app="maker",
                criteria="{}",
                created_ms=now,
                confirmed_ms=now,
                expires_ms=now + 30 * DAY,
            )
        alerts.record_sent(conn, "app-1", [(1, "slot-a", now)], now)
    assert _ids(store, now) == ["app-2"]  # no confirmation step; app-1 waits out its period
    with store.write() as conn:
        assert alerts.count_for_app(conn, "maker") == 2
        row = alerts.get(conn, "app-2")
        assert row is not None
        assert row.email is None
        assert alerts.remove_for_app(conn, "maker") == 2
        assert conn.execute(select(func.count()).select_from(t.alert_announced)).scalar_one() == 0
        assert [row.id for row in conn.execute(select(t.alert.c.id))] == ["by-mail"]


@pytest.mark.parametrize("to", [{}, {"email": "a@example.com", "app": "maker"}], ids=["neither", "both"])
def test_an_alert_goes_to_an_address_or_an_app_never_neither_nor_both(
    store: DiscoveryStore, to: dict[str, str]
) -> None:
    now = store.now_ms()
    with store.write() as conn, pytest.raises(ValueError, match="exactly one"):
        alerts.insert_alert(conn, alert_id="nowhere", criteria="{}", created_ms=now, expires_ms=now + DAY, **to)
    with store.read() as conn:
        assert alerts.get(conn, "nowhere") is None

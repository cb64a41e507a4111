"""Issue 16 with push: a slot freed at a publisher that pushes reaches a confirmed alert's inbox
within seconds of the notification, with no poll. The publisher is tests/discovery/fake_publisher.py
(written from the push contract), the mail server aiosmtpd; every request crosses 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from slotlinks.config import Settings
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from tests.discovery.conftest import ADMIN_TOKEN
from tests.discovery.fake_publisher import slot_resource
from tests.discovery.test_push import running
from tests.discovery_alerts.conftest import PATIENT_EMAIL, Inbox, body, link


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DiscoveryStore]:
    s = open_store(f"sqlite:///{tmp_path / 'discovery.db'}")
    yield s
    s.dispose()


def test_a_pushed_cancellation_reaches_the_alert_within_seconds_without_a_poll(
    store: DiscoveryStore, tmp_path: Path, inbox: tuple[Inbox, str]
) -> None:
    box, smtp_url = inbox
    settings = Settings(
        data_dir=tmp_path / "data",
        allow_private_networks=True,
        admin_token=ADMIN_TOKEN,
        smtp_url=smtp_url,
    )
    with running(store, settings, alert_tick_seconds=3600.0) as run:
        sub = run.active()
        run.fake.put(slot_resource(1, status="busy"))  # booked at the provider
        assert run.fake.notify(sub, "event-notification", since_start=1, events=[(1, "Slot/slot1", "PUT")]).is_success
        asked = httpx.post(
            f"{run.origin}/api/alerts", json={"email": PATIENT_EMAIL, "near": "02114", "radius": "10mi"}, timeout=30
        )
        assert asked.status_code == 202, asked.text
        confirmation = box.wait_for(1)[0]
        token = link(confirmation, "/confirm?token=").split("token=")[1]
        confirmed = httpx.post(link(confirmation, "/confirm?token=").split("?")[0], data={"token": token}, timeout=30)
        assert "Your alert is on" in confirmed.text
        time.sleep(0.01)  # the freed slot's stamp comes after the confirmation's
        polls = run.fake.polls()

        run.fake.put(slot_resource(1))  # the patient cancelled: free again
        sent = time.monotonic()
        assert run.fake.notify(sub, "event-notification", since_start=2, events=[(2, "Slot/slot1", "PUT")]).is_success
        news = box.wait_for(2, timeout=10)[1]
        assert time.monotonic() - sent < 5
        assert box.settle() == 2
        assert run.fake.polls() == polls, "no poll was needed"
        text = body(news)
        assert text.startswith("1 new open time matching your alert")
        assert f"{run.origin}/go/" in text

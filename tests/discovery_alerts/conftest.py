"""Alert fixtures: a real SMTP server (aiosmtpd) that keeps what it is sent, and a real provider
(publication and portal) with one bookable slot, synced into a discovery server that mails through
that SMTP server; all on 127.0.0.1, on one fixed clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.discovery.alerts import AlertWorker, SmtpMailer
from slotlinks.discovery.app import create_app as create_discovery_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from slotlinks.provider.app import create_app as create_provider_app
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.store.store import ProviderStore
from slotlinks.provider.store.store import open_store as open_provider_store
from tests.discovery.conftest import ADMIN_TOKEN, sync
from tests.portal.conftest import PATIENT, Browser, make_slot, settings_for
from tests.provider.conftest import small_options
from tests.servers import free_port, serve_with_origin

SLOT_ID = "alert-slot"
PATIENT_EMAIL = "patient@example.com"


@dataclass
class Inbox:
    """What the SMTP server was sent, in order."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.messages) >= count, f"{len(self.messages)} messages arrived, expected {count}"
        return self.messages

    def settle(self, seconds: float = 1.5) -> int:
        """How many messages there are once nothing was sent for `seconds` more."""
        time.sleep(seconds)
        return len(self.messages)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def link(message: EmailMessage, marker: str) -> str:
    return next(word for word in body(message).split() if marker in word)


@dataclass
class World:
    provider: ProviderStore
    portal: str
    discovery: str
    store: DiscoveryStore
    settings: Settings
    publisher_id: int
    clock: FixedClock
    inbox: Inbox

    def near(self) -> str:
        """The place of the alert slot's location, as latitude,longitude."""
        sl, sc, lo = t.slot.c, t.schedule.c, t.location.c
        query = (
            select(lo.latitude, lo.longitude)
            .join_from(t.slot, t.schedule, sc.pk == sl.schedule_pk)
            .join(t.location, lo.pk == sc.location_pk)
            .where(sl.source_id == SLOT_ID)
        )
        with self.store.read() as conn:
            lat, lon = conn.execute(query).one()
        return f"{lat},{lon}"

    def ask(self, **changes: str) -> httpx.Response:
        values = {"email": PATIENT_EMAIL, "near": self.near(), "radius": "10mi", "from": "2026-11-25"}
        values.update(changes)
        return httpx.post(f"{self.discovery}/api/alerts", json=values, timeout=30)

    def confirm(self, message: EmailMessage) -> None:
        page = httpx.get(link(message, "/confirm?token="), timeout=30)
        assert page.status_code == 200, page.text
        assert "Start this alert?" in page.text
        token = link(message, "/confirm?token=").split("token=")[1]
        done = httpx.post(link(message, "/confirm?token=").split("?")[0], data={"token": token}, timeout=30)
        assert done.status_code == 200, done.text
        assert "Your alert is on" in done.text

    def sync_now(self) -> None:
        """A pass of the discovery server's own engine (its "slots changed" signal included)."""
        done = httpx.post(
            f"{self.discovery}/admin/publishers/$sync", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
        )
        assert done.status_code == 200, done.text
        assert all(run["outcome"] != "failed" for run in done.json()), done.text

    def book(self) -> str:
        """Books the slot at the portal; the appointment's cancel link."""
        with Browser(self.portal) as browser:
            held = browser.land_and_hold(SLOT_ID, referral="alert-test")
            assert held.status_code == 200, held.text
            done = browser.submit(action="book", **PATIENT)
            assert "You're booked" in done.text, done.text
            return next(p for p in done.text.split('"') if "/cancel?token=" in p).replace("&amp;", "&")

    def cancel(self, cancel_link: str) -> None:
        """The patient calls the appointment off at the portal: the slot is free again."""
        with Browser(self.portal) as browser:
            browser.get(cancel_link)
            done = browser.submit(token=cancel_link.split("token=")[1])
            assert "Your appointment is cancelled" in done.text, done.text

    def worker(self) -> AlertWorker:
        """A worker over the same store and mail server, for passes the test times itself."""
        return AlertWorker(self.store, self.settings, SmtpMailer(self.settings.smtp_url))


@pytest.fixture
def alert_attempts() -> int:
    """Alerts one client may ask for per window (a test parametrizes it to ask more)."""
    return 3


@pytest.fixture
def world(inbox: tuple[Inbox, str], clock: FixedClock, tmp_path: Path, alert_attempts: int) -> Iterator[World]:
    box, smtp_url = inbox
    store = open_store(f"sqlite:///{tmp_path / 'discovery.db'}", clock=clock)
    pstore = open_provider_store(f"sqlite:///{tmp_path / 'provider.db'}", clock=clock)
    settings = Settings(
        data_dir=tmp_path / "data",
        allow_private_networks=True,
        connect_timeout=2.0,
        read_timeout=5.0,
        admin_token=ADMIN_TOKEN,
        smtp_url=smtp_url,
        mail_from="alerts@finder.example.org",
        alert_attempts=alert_attempts,
        # Passes come from "slots changed" signals only, so a test knows when one runs.
        extra={"alert_tick_seconds": 3600.0, "webhook_backoff_seconds": 0.05},
    )

    def make_provider(origin: str) -> Any:
        generate_provider(pstore, small_options(locations=1, days=3, portal_url=origin))
        make_slot(pstore, 1, slot_id=SLOT_ID)
        return create_provider_app(settings_for(tmp_path, base_url=f"{origin}/fhir"), pstore)

    try:
        with serve_with_origin(make_provider) as portal:
            info = registry.add_publisher(store, url=f"{portal}/fhir/$bulk-publish", name="Test Health")
            results = sync(store, settings)
            assert results[info.id].outcome == "full", results[info.id].error
            made: list[Settings] = []

            def make_discovery(origin: str) -> Any:
                made.append(replace(settings, discovery_url=origin))
                return create_discovery_app(made[0], store, background_sync=False)

            with serve_with_origin(make_discovery) as discovery:
                yield World(pstore, portal, discovery, store, made[0], info.id, clock, box)
    finally:
        pstore.dispose()
        store.dispose()

"""Portal fixtures: a small generated provider on a fixed clock, a hand-made slot of chosen capacity,
the provider server, and a browser-like client that keeps cookies and reads forms."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.provider.app import create_app
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.schedule.slots import create_slot
from slotlinks.provider.store.store import ProviderStore, open_store
from tests.provider.conftest import ADMIN_TOKEN, small_options
from tests.servers import serve

SLOT_START = "2026-11-25T10:00:00-05:00"
SLOT_END = "2026-11-25T10:20:00-05:00"


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[ProviderStore]:
    store = open_store(db_url, clock=clock)
    generate_provider(store, small_options(locations=1, days=3))
    yield store
    store.dispose()


def first_schedule(store: ProviderStore, *, service: str | None = None) -> str:
    from sqlalchemy import select

    from slotlinks.provider.store import tables as t

    with store.read() as conn:
        query = select(t.schedule.c.id, t.schedule.c.resource).order_by(t.schedule.c.id)
        for row in conn.execute(query):
            if service is None or service in row.resource:
                return str(row.id)
    raise AssertionError("no schedule")


def make_slot(store: ProviderStore, capacity: int, slot_id: str = "test-slot", schedule_id: str | None = None) -> str:
    schedule_id = schedule_id or first_schedule(store)
    with store.change() as change:
        create_slot(change, schedule_id, SLOT_START, SLOT_END, capacity=capacity, slot_id=slot_id)
    return slot_id


def settings_for(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "base_url": "http://publisher.test:8001/fhir",
        "admin_token": ADMIN_TOKEN,
        "portal_secret": "portal-secret-for-tests-0123456789",
        # The concurrency test fires 100 booking attempts from one address (127.0.0.1).
        "booking_attempts": 10_000,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Portal:
    store: ProviderStore
    settings: Settings
    origin: str
    clock: FixedClock


@pytest.fixture
def portal(store: ProviderStore, clock: FixedClock, tmp_path: Path) -> Iterator[Portal]:
    settings = settings_for(tmp_path)
    with serve(create_app(settings, store)) as origin:
        yield Portal(store, settings, origin, clock)


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_FORM = re.compile(r'<form method="post" action="([^"]+)"')


class Browser:
    """One patient's browser: its own cookie jar; follows the portal's redirects."""

    def __init__(self, origin: str) -> None:
        self.client = httpx.Client(base_url=origin, timeout=60, follow_redirects=True)
        self.page: httpx.Response | None = None

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def get(self, path: str, **params: str) -> httpx.Response:
        self.page = self.client.get(path, params=params) if params else self.client.get(path)
        return self.page

    @property
    def csrf(self) -> str:
        assert self.page is not None
        found = _CSRF.search(self.page.text)
        assert found, self.page.text
        return found.group(1)

    @property
    def action(self) -> str:
        assert self.page is not None
        found = _FORM.search(self.page.text)
        assert found, self.page.text
        return found.group(1)

    @property
    def hidden(self) -> dict[str, str]:
        """The form's hidden fields, which a browser sends with it (the CSRF token among them)."""
        assert self.page is not None
        return {name: html.unescape(value) for name, value in _HIDDEN.findall(self.page.text)}

    def submit(self, **fields: str) -> httpx.Response:
        data = {**self.hidden, "csrf": self.csrf, **fields}
        self.page = self.client.post(self.action, data=data)
        return self.page

    def land_and_hold(self, slot_id: str, source: str = "finder", referral: str = "ref-1") -> httpx.Response:
        self.get(f"/book/{slot_id}", source=source, **{"booking-referral": referral})
        assert self.page is not None
        if "Continue with this time" not in self.page.text:
            return self.page
        return self.submit(source=source, **{"booking-referral": referral})


PATIENT = {"name": "Ada Lovelace", "birthDate": "1980-12-10", "phone": "617-555-0100", "email": "ada@example.com"}

"""Schemathesis against both servers' OpenAPI documents (ARCHITECTURE.md; issue 12, "Also"): every
documented operation, with the admin token, is fed examples, boundary values and methods it does not
take, on real servers on 127.0.0.1. No answer is a 5xx, every answer matches its documented schema and
content type, and every 405 names what is allowed (`Allow`, RFC 9110, section 15.5.6).

Bounded and repeatable: a fixed seed, derandomized generation, a few examples per operation and no
example database. Each server is its own (the admin operations change its data), and nothing it does
leaves 127.0.0.1: the discovery side's "sync now" is left out, and its publishers point at a closed
loopback port.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiosmtpd.controller import Controller
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from sqlalchemy import update

from slotlinks.clock import FixedClock
from slotlinks.discovery.app import create_app as create_discovery
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import open_store as open_discovery
from slotlinks.provider.app import create_app as create_provider
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.store.store import open_store as open_provider
from tests.discovery_search.conftest import CLOSED_MANIFEST, NOW, fill
from tests.provider.conftest import small_options
from tests.servers import free_port, serve
from tests.web.conftest import ADMIN_TOKEN, discovery_settings, provider_settings

CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "unsupported_method",
    "allow_header_conformance",
)


def _config(origin: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 20261124,
            "base-url": origin,
            "headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            "generation": {"max-examples": 5, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


@pytest.fixture(scope="module")
def provider_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder: Path = tmp_path_factory.mktemp("schemathesis-provider")
    store = open_provider(f"sqlite:///{folder / 'provider.db'}")
    generate_provider(store, small_options(locations=2, days=3))
    with serve(create_provider(provider_settings(folder), store)) as origin:
        yield schemathesis.openapi.from_url(f"{origin}/admin/openapi.json", config=_config(origin))
    store.dispose()


@pytest.fixture(scope="module")
def discovery_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder: Path = tmp_path_factory.mktemp("schemathesis-discovery")
    store = open_discovery(f"sqlite:///{folder / 'discovery.db'}", clock=FixedClock(NOW))
    with store.write() as conn:
        data = fill(conn)
        ocean = CLOSED_MANIFEST.replace("/r4/", "/ocean/")
        conn.execute(update(t.publisher).where(t.publisher.c.id == data.pub2).values(url=ocean))
    # Alerts on, mailing a real SMTP server on loopback, so `POST /api/alerts` is fuzzed as well.
    mail = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    mail.start()
    settings = replace(discovery_settings(folder), smtp_url=f"smtp://127.0.0.1:{mail.port}")
    app = create_discovery(settings, store, background_sync=False)
    with serve(app) as origin:
        schema = schemathesis.openapi.from_url(f"{origin}/api/openapi.json", config=_config(origin))
        yield schema.exclude(path_regex=r"/\$sync$")
    mail.stop()
    store.dispose()


class Sink:
    """An aiosmtpd handler that takes every message and keeps none."""

    async def handle_DATA(self, _server: Any, _session: Any, _envelope: Any) -> str:
        return "250 OK"


def _problems(schema: Any) -> list[str]:
    """Runs every phase of schemathesis on `schema` (as `st run` would); what it found, one line each."""
    found: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.status in (Status.FAILURE, Status.ERROR):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        sample = check.failure_info.code_sample
                        found.append(f"{event.label}: {check.name}: {failure.title}: {failure.message}\n{sample}")
                    elif check.status == Status.ERROR:
                        found.append(f"{event.label}: {check.name} crashed on case {case_id}")
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            found.append(f"fatal: {event.exception!r}")
    return found


def test_provider_api(provider_schema: Any) -> None:
    problems = _problems(provider_schema)
    assert problems == [], "\n\n".join(problems)


def test_discovery_api(discovery_schema: Any) -> None:
    problems = _problems(discovery_schema)
    assert problems == [], "\n\n".join(problems)

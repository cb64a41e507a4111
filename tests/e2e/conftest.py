"""End-to-end fixtures: two generated providers and one discovery server on 127.0.0.1, a real
headless Chromium (Debian's package, driven by Playwright), and numbered screenshots of every step.

The servers are shared by the tests (each test books or holds different slots). The discovery
server syncs both providers once, before the browser starts, and is registered on each provider as
the referring source named by its `source_id` (return URL: its `/back` page where it has one, else
its home page); where it reads referral outcomes, it knows each provider's secret.
Without a Chromium binary the tests skip with the reason, except on CI (CI=true), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import httpx
import pytest

from slotlinks.config import Settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
TIMEOUT_MS = 30_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SOURCE_ID = "e2e-finder"
ADMIN_TOKEN = "e2e-admin-token-0123456789"
# Both providers sit in Rhode Island; these seeds give primary care at every location and neurology
# (with its referral questionnaire) at one location of each, all within 50 miles of Providence.
NEAR_ZIP = "02903"
RADIUS = "50mi"
PROVIDERS = (("Ocean State Health", 3), ("Narragansett Care", 9))
LOCAL_ZONE = ZoneInfo("America/New_York")


@dataclass
class RunningProvider:
    name: str
    origin: str
    store: Any

    @property
    def secret(self) -> str:
        """The discovery server's secret as a referring source of this provider (one per provider)."""
        return f"e2e-finder-secret-{self.origin.rsplit(':', 1)[-1]}-0123456789"

    @property
    def fhir(self) -> str:
        return f"{self.origin}/fhir"


@dataclass
class World:
    discovery: str
    providers: list[RunningProvider]
    settings: Settings
    store: Any
    # Pages the discovery server has (probed over HTTP): a return URL for portals, and the list of
    # this browser's referrals with their outcomes.
    has_back: bool = False
    has_my_referrals: bool = False

    def provider_at(self, url: str) -> RunningProvider:
        return next(p for p in self.providers if url.startswith(p.origin + "/"))


def _chromium() -> str | None:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.access(path, os.X_OK) else None


def skip_or_fail(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI requires a browser: {reason}")
    pytest.skip(reason)


@contextmanager
def _provider(tmp: Path, name: str, seed: int) -> Iterator[RunningProvider]:
    from slotlinks.provider.app import create_app
    from slotlinks.provider.demo.generate import GenerateOptions, generate_provider
    from slotlinks.provider.store.store import open_store
    from tests.servers import serve_with_origin

    slug = name.lower().replace(" ", "-")
    store = open_store(f"sqlite:///{tmp / slug}.db")

    def make(origin: str) -> Any:
        # Generated with the server's own origin as the portal, so deep links lead to this server;
        # from today, in the locations' own time zone, because the search page starts at now.
        options = GenerateOptions(
            name=name,
            locations=3,
            states=("RI",),
            days=7,
            seed=seed,
            portal_url=origin,
            today=datetime.now(LOCAL_ZONE).date(),
        )
        generate_provider(store, options)
        settings = Settings(
            data_dir=tmp / f"{slug}-data",
            base_url=f"{origin}/fhir",
            admin_token=ADMIN_TOKEN,
            portal_secret=f"{slug}-portal-secret-0123456789",
            max_age=60,
            # Every patient of these tests books from 127.0.0.1: one address, many patients, far more
            # attempts than one person makes (the limit itself is tested in tests/staff).
            booking_attempts=10_000,
        )
        return create_app(settings, store)

    with serve_with_origin(make) as origin:
        yield RunningProvider(name, origin, store)


def _register(store: Any, provider: RunningProvider) -> None:
    """Adds the provider as a publisher; where the discovery side reads referral outcomes, it is given
    the secret it registered with the provider's portal."""
    from slotlinks.discovery.publishers import registry

    info = registry.add_publisher(store, url=f"{provider.fhir}/$bulk-publish", name=provider.name)
    set_secret = getattr(registry, "set_referral_secret", None)
    if set_secret is not None:
        set_secret(store, info.id, provider.secret)


def _exists(url: str) -> bool:
    return httpx.get(url, timeout=30).status_code not in (404, 405)


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from slotlinks.discovery.app import create_app
    from slotlinks.discovery.store.store import open_store
    from slotlinks.discovery.sync.engine import SyncEngine
    from tests.servers import serve_with_origin

    tmp = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        data_dir=tmp / "discovery-data",
        allow_private_networks=True,
        connect_timeout=5.0,
        read_timeout=30.0,
        admin_token=ADMIN_TOKEN,
        source_id=SOURCE_ID,
    )
    store = open_store(f"sqlite:///{tmp / 'discovery.db'}")
    with ExitStack() as stack:
        providers = [stack.enter_context(_provider(tmp, name, seed)) for name, seed in PROVIDERS]
        for provider in providers:
            _register(store, provider)
        results = asyncio.run(SyncEngine(store, settings).sync_once(force=True))
        assert [r.outcome for r in results] == ["full", "full"], [r.error for r in results]

        def make(origin: str) -> Any:
            return create_app(replace(settings, discovery_url=origin), store, background_sync=False)

        discovery = stack.enter_context(serve_with_origin(make))
        has_back = _exists(f"{discovery}/back")
        has_my_referrals = _exists(f"{discovery}/my-referrals")
        back = f"{discovery}/back" if has_back else f"{discovery}/"
        for provider in providers:
            answer = httpx.put(
                f"{provider.origin}/admin/sources/{SOURCE_ID}",
                json={"secret": provider.secret, "returnUrl": back},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
        yield World(discovery, providers, settings, store, has_back, has_my_referrals)
    store.dispose()


@pytest.fixture(scope="package")
def chromium(world: World) -> Iterator[Any]:
    """One headless Chromium for these tests (Debian's binary; never a downloaded one), started once the
    servers are up and synced."""
    executable = _chromium()
    if executable is None:
        skip_or_fail("no Chromium binary: install Debian's `chromium` package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        skip_or_fail(f"the playwright package is not installed: {exc}")
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(world: World, chromium: Any) -> Iterator[Callable[..., Any]]:
    """Makes fresh browser contexts (own cookies: one patient each; Playwright's context options, such
    as `java_script_enabled=False`); all closed after the test."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        context = chromium.new_context(viewport={"width": 1000, "height": 800}, locale="en-US", **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Callable[[], Any]) -> Any:
    return new_context().new_page()


class Shots:
    """Numbered full-page screenshots: test-artifacts/e2e/<test name>/NN-step.png."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def __call__(self, page: Any, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    folder = ARTIFACTS / request.node.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return Shots(folder)

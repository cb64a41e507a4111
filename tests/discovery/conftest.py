"""Discovery fixtures: a discovery store per database, the real-world corpora served by
serve_corpus.py, generated providers served by the provider app, and a raw HTTP server whose every
answer (status, headers, body, stalls, lies) a test scripts. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from slotlinks.config import Settings
from slotlinks.discovery.store.store import DiscoveryStore, open_store
from tests.conftest import REALWORLD
from tests.servers import serve_with_origin

ADMIN_TOKEN = "discovery-admin-token-0123456789"


@pytest.fixture
def store(db_url: str) -> Iterator[DiscoveryStore]:
    s = open_store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        allow_private_networks=True,
        connect_timeout=2.0,
        read_timeout=2.0,
        admin_token=ADMIN_TOKEN,
    )


@pytest.fixture(scope="session")
def corpus() -> Iterator[dict[str, str]]:
    """The recorded real-world corpora on 127.0.0.1: corpus name -> manifest URL."""
    script = REALWORLD / "serve_corpus.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(REALWORLD), "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("serving http://127.0.0.1:"), first
        urls: dict[str, str] = {}
        while len(urls) < 3:
            line = proc.stdout.readline().strip()
            assert line, "serve_corpus.py stopped early"
            urls[line.rsplit("/", 2)[-2]] = line
        yield urls
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# --- a scriptable raw HTTP server --------------------------------------------------------------

Handler = Callable[[socket.socket, str, dict[str, str]], None]


def response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, length: int | None = None
) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body) if length is None else length}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class RawServer:
    """Answers each request from `routes[path]` (bytes, or a handler writing to the socket)."""

    origin: str = ""
    routes: dict[str, bytes | Handler] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.origin + path

    def manifest(
        self,
        path: str,
        outputs: list[tuple[str, str]],
        *,
        tx: str = "2026-01-01T00:00:00Z",
        headers: dict[str, str] | None = None,
        extension: dict[str, Any] | None = None,
    ) -> str:
        import orjson

        body = orjson.dumps(
            {
                "transactionTime": tx,
                "request": self.url(path),
                "output": [
                    {
                        "type": t,
                        "url": u if "://" in u else self.url(u),
                        **({"extension": extension} if extension else {}),
                    }
                    for t, u in outputs
                ],
                "error": [],
            }
        )
        self.routes[path] = response(200, body, {"Content-Type": "application/json", **(headers or {})})
        return self.url(path)

    def file(self, path: str, lines: list[bytes] | bytes, *, gzipped: bool = False) -> None:
        body = lines if isinstance(lines, bytes) else b"".join(line + b"\n" for line in lines)
        headers = {"Content-Type": "application/fhir+ndjson"}
        if gzipped:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.routes[path] = response(200, body, headers)

    def stall(self, path: str) -> None:
        def handler(conn: socket.socket, _path: str, _headers: dict[str, str]) -> None:
            self.released.wait(30)

        self.routes[path] = handler

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            target = head[0].split(" ")[1]
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
            self.requests.append((target, headers))
            route = self.routes.get(target.split("?")[0])
            try:
                if route is None:
                    conn.sendall(response(404, b"not found"))
                elif isinstance(route, bytes):
                    conn.sendall(route)
                else:
                    route(conn, target, headers)
            except OSError:
                pass


@contextmanager
def serve_raw() -> Iterator[RawServer]:
    """A `RawServer` on a free loopback port, for as long as the block runs."""
    server = RawServer()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    server.origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=server._serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        stop.set()
        thread.join(timeout=5)
        sock.close()


@pytest.fixture
def raw() -> Iterator[RawServer]:
    with serve_raw() as server:
        yield server


# --- generated providers behind the provider app --------------------------------------------------


@dataclass
class Provider:
    store: Any
    manifest_url: str
    counts: dict[str, int]


@contextmanager
def run_provider(tmp_path: Path, name: str, **options: Any) -> Iterator[Provider]:
    """A generated provider (always on SQLite: the provider side is not under test) on 127.0.0.1."""
    from slotlinks.provider.app import create_app
    from slotlinks.provider.demo.generate import generate_provider
    from slotlinks.provider.store.store import open_store as open_provider
    from tests.provider.conftest import small_options

    pstore = open_provider(f"sqlite:///{tmp_path / name}.db")
    counts = generate_provider(pstore, small_options(name=name, **options))

    def make(origin: str) -> Any:
        psettings = Settings(data_dir=tmp_path / f"{name}-data", base_url=f"{origin}/fhir", max_age=120)
        return create_app(psettings, pstore)

    with serve_with_origin(make) as origin:
        yield Provider(pstore, f"{origin}/fhir/$bulk-publish", counts)


# --- helpers -----------------------------------------------------------------------------------


def sync(store: DiscoveryStore, settings: Settings, **kwargs: Any) -> dict[int, Any]:
    """One forced pass of a new sync engine; results by publisher id."""
    import asyncio

    from slotlinks.discovery.sync import SyncEngine

    engine = SyncEngine(store, settings)
    return {r.publisher_id: r for r in asyncio.run(engine.sync_once(force=True, **kwargs))}


def held(store: DiscoveryStore, publisher_id: int) -> dict[str, int]:
    """How many resources of each type the publisher's current generation holds."""
    from sqlalchemy import func, select

    from slotlinks.discovery.ingest import TABLES
    from slotlinks.discovery.store import tables as t

    with store.read() as conn:
        gen = conn.execute(select(t.publisher.c.generation).where(t.publisher.c.id == publisher_id)).scalar_one()
        return {
            name: int(
                conn.execute(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.publisher_id == publisher_id, table.c.generation == gen)
                ).scalar_one()
            )
            for name, table in TABLES.items()
        }

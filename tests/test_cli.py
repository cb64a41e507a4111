"""The command-line contract, run as real processes: generate, export, serve."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import psutil

from tests.servers import free_port


def slotlinks(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slotlinks", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


@contextmanager
def running(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "slotlinks", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            return httpx.get(url, timeout=10)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_generate_export_and_serve(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    portal = f"http://127.0.0.1:{port}"
    generated = slotlinks(
        "generate", "provider", "--db", db_url, "--name", "CLI Health", "--locations", "2",
        "--states", "MA,RI", "--days", "5", "--seed", "3", "--portal-url", portal,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    for type_name in ("Location", "Schedule", "Slot", "PractitionerRole", "HealthcareService", "Practitioner"):
        assert type_name in generated.stdout

    base = f"http://127.0.0.1:{port}/fhir"
    exported = slotlinks("publish", "export", "--db", db_url, "--out", str(tmp_path / "site"), "--base-url", base)
    assert exported.returncode == 0, exported.stderr
    manifest_file = tmp_path / "site" / "$bulk-publish"

    with running(
        "serve", "provider", "--db", db_url, "--data-dir", str(tmp_path / "data"),
        "--host", "127.0.0.1", "--port", str(port), "--base-url", base,
    ) as process:  # fmt: skip
        response = wait_until_up(f"{base}/$bulk-publish", process)
        assert response.status_code == 200
        assert response.content == manifest_file.read_bytes()
        for output in orjson.loads(response.content)["output"]:
            name = output["url"].rsplit("/", 1)[1]
            assert httpx.get(output["url"], timeout=30).content == (tmp_path / "site" / name).read_bytes()


def test_environment_variables_stand_in_for_options(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'env.db'}"
    result = slotlinks("db", "upgrade", env={"SLOTLINKS_PROVIDER_DB": db})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env.db").exists()


def test_bad_portal_url_is_refused(tmp_path: Path) -> None:
    result = slotlinks(
        "generate", "provider", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--portal-url", "javascript:alert(1)"
    )
    assert result.returncode == 2
    assert "portal-url" in result.stderr


def test_db_upgrade_of_each_side(db_url: str) -> None:
    for side in ("provider", "discovery"):
        result = slotlinks("db", "upgrade", "--db", db_url, "--side", side)
        assert result.returncode == 0, result.stderr
        assert f"{side} schema is up to date" in result.stdout
    assert slotlinks("db", "upgrade", "--db", db_url, "--side", "other").returncode == 2


def test_serve_discovery_in_several_worker_processes(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["serve", "discovery", "--db", db_url, "--data-dir", str(tmp_path / "data"), "--no-sync"]
    args += ["--port", str(port), "--base-url", f"{base}/", "--admin-token", "token-of-the-workers", "--workers", "2"]
    with running(*args) as server:
        wait_until_up(f"{base}/fhir/metadata", server)
        children = psutil.Process(server.pid).children()
        deadline = time.monotonic() + 60
        while len([c for c in children if "multiprocessing" in " ".join(c.cmdline())]) < 2:
            assert time.monotonic() < deadline, "two worker processes did not start"
            time.sleep(0.2)
            children = psutil.Process(server.pid).children()
        with httpx.Client(base_url=base, timeout=10) as http:
            for _ in range(20):  # answered by either worker: each has the settings the command resolved
                assert (
                    http.get("/admin/publishers", headers={"Authorization": "Bearer token-of-the-workers"}).status_code
                    == 200
                )
                assert http.get("/admin/publishers").status_code == 401
                metadata = http.get("/fhir/metadata").json()
                assert metadata["implementation"]["url"] == f"{base}/fhir"
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, "every worker process ends with the command"

"""The versioned on-disk cache, with a fake source: one build per data version, built aside and put in
place whole, the previous version kept for clients still downloading it, older ones removed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from slotlinks.publishing.manifest import write_publication
from slotlinks.publishing.outputs import Line
from slotlinks.publishing.versions import Version, VersionedCache


class FakeSource:
    """Data whose version is `data`; each build writes one file holding it."""

    def __init__(self) -> None:
        self.data = 1
        self.builds: list[int | None] = []  # the previous version's stamp seen by each build
        self.checks: list[bool] = []  # `confirm` of each check
        self.fail = False

    def unchanged(self, version: Version[int], *, confirm: bool) -> bool:
        self.checks.append(confirm)
        return version.stamp == self.data

    def build(self, staging: Path, previous: Version[int] | None) -> Version[int]:
        self.builds.append(previous.stamp if previous else None)
        if self.fail:
            raise RuntimeError("the store went away")
        lines: list[Line[bytes]] = [("Slot", "slots.ndjson", "MA", b'{"v":%d}\n' % self.data)]
        publication = write_publication(staging, lines, transaction_ms=self.data * 1000, base_url="https://p.example")
        return Version(staging, publication, tag=f"d{self.data}", modified_ms=self.data * 1000, stamp=self.data)


def _versions(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_built_once_per_data_version(tmp_path: Path) -> None:
    source = FakeSource()
    cache = VersionedCache(tmp_path, source)
    first = cache.current()
    assert cache.current() is first
    assert source.builds == [None]
    assert source.checks == [False], "an unchanged version is confirmed without the lock's second check"
    assert (first.directory / "slots.ndjson").read_bytes() == b'{"v":1}\n'
    assert first.file("slots.ndjson") is not None
    assert first.file("other.ndjson") is None
    assert first.transaction_ms == 1000


def test_a_change_builds_a_new_version_and_keeps_only_the_previous(tmp_path: Path) -> None:
    source = FakeSource()
    cache = VersionedCache(tmp_path, source)
    directories = []
    for data in (1, 2, 3):
        source.data = data
        source.checks.clear()
        built = cache.current()
        directories.append(built.directory)
        assert built.stamp == data
        assert (built.directory / "slots.ndjson").read_bytes() == b'{"v":%d}\n' % data
        time.sleep(0.01)  # distinct modification times
    assert source.builds == [None, 1, 2], "each build sees the version it replaces"
    assert source.checks == [False, True], "a change is confirmed under the lock before a rebuild"
    assert _versions(tmp_path) == sorted(d.name for d in directories[1:]), "no staging left; v1 removed"


def test_a_failed_build_leaves_the_current_version_and_no_staging(tmp_path: Path) -> None:
    source = FakeSource()
    cache = VersionedCache(tmp_path, source)
    first = cache.current()
    source.data, source.fail = 2, True
    with pytest.raises(RuntimeError):
        cache.current()
    assert _versions(tmp_path) == [first.directory.name]
    source.fail = False
    assert cache.current().stamp == 2


def test_concurrent_requests_share_one_build(tmp_path: Path) -> None:
    source = FakeSource()
    cache = VersionedCache(tmp_path, source)
    results: list[Version[int]] = []
    threads = [threading.Thread(target=lambda: results.append(cache.current())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert source.builds == [None]
    assert len({id(r) for r in results}) == 1


def test_precompress_makes_gzip_siblings_in_the_background(tmp_path: Path) -> None:
    cache = VersionedCache(tmp_path, FakeSource(), precompress=True)
    built = cache.current()
    deadline = time.monotonic() + 10
    while not (built.directory / "slots.ndjson.gz").exists():
        assert time.monotonic() < deadline, "no gzip sibling made"
        time.sleep(0.01)

"""Encoded publications on disk: the live server's cache and `slotlinks publish export`.

A data set that has not changed is encoded once: the first request after a change writes every file
of the new version into its own directory, renamed into place when complete, and every later request
streams those bytes. Static export is the same build aimed at a directory of the operator's choice,
so exported files are byte-identical to what the live server returns for the same base URL.

Holds expire by the clock, with no job and no commit, yet change how their slots are published: a
publication is therefore named by (data-set version, number of holds expired unreleased), and its
`transactionTime` is the later of the last commit and the last such expiry (`holds.expiry_key`).
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from slotlinks.clock import now_ms
from slotlinks.provider.portal.holds import expiry_key
from slotlinks.provider.publication.render import (
    MANIFEST_NAME,
    OutputFile,
    Publication,
    manifest_bytes,
    write_files,
)
from slotlinks.provider.store.settings import PORTAL_URL_SETTING
from slotlinks.provider.store.store import ProviderStore
from slotlinks.publishing.http import gzip_sibling
from slotlinks.publishing.staging import install_directory, staged_directory

__all__ = ["BuiltPublication", "PublicationCache", "build", "export"]

_BUFFER = 1 << 20
_KEEP_VERSIONS = 2


@dataclass(frozen=True, slots=True)
class BuiltPublication:
    """A complete publication in a directory: the manifest and every NDJSON file it lists."""

    directory: Path
    version: int
    publication: Publication
    expired: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.version, self.expired)

    @property
    def transaction_ms(self) -> int:
        return self.publication.transaction_ms

    def file(self, name: str) -> OutputFile | None:
        for out in self.publication.files:
            if out.name == name:
                return out
        return None


def build(store: ProviderStore, directory: Path, base_url: str) -> tuple[tuple[int, int], Publication]:
    """Writes the current data set (one consistent snapshot, holds as live at the store clock's now)
    as a publication into `directory`; returns its key (version, expired holds) and the publication."""
    directory.mkdir(parents=True, exist_ok=True)

    def opener(name: str) -> IO[bytes]:
        return open(directory / name, "wb", buffering=_BUFFER)

    at_ms = now_ms(store.clock)
    with store.read() as conn:
        state = store.state(conn)
        expired, last_expiry = expiry_key(conn, at_ms)
        portal_url = store.get_setting(PORTAL_URL_SETTING, conn=conn)
        files = write_files(conn, portal_url, opener, now_ms=at_ms)
    publication = Publication(max(state.changed_ms, last_expiry), files)
    (directory / MANIFEST_NAME).write_bytes(manifest_bytes(publication, base_url))
    return (state.version, expired), publication


def export(store: ProviderStore, out_dir: Path, base_url: str) -> Publication:
    """`slotlinks publish export`: the publication as static files, swapped into `out_dir` whole."""
    out_dir = out_dir.resolve()
    with staged_directory(out_dir.parent, f".{out_dir.name}.") as staging:
        _, publication = build(store, staging, base_url)
        install_directory(staging, out_dir)
    return publication


class PublicationCache:
    """The live server's encoded publications, one directory per data-set version."""

    def __init__(self, store: ProviderStore, base_url: str, directory: Path) -> None:
        self.store = store
        self.base_url = base_url
        self.directory = directory
        self._lock = threading.Lock()
        self._latest: BuiltPublication | None = None

    def current(self) -> BuiltPublication:
        """The publication of the data set as it is now, encoding it first if it changed (a commit,
        or a hold's expiry)."""
        key = self._key()
        latest = self._latest
        if latest is not None and latest.key == key:
            return latest
        with self._lock:
            latest = self._latest
            if latest is not None and latest.key >= key:
                return latest
            with staged_directory(self.directory, ".build-") as staging:
                built_key, publication = build(self.store, staging, self.base_url)
                target = self.directory / f"v{built_key[0]}.{built_key[1]}"
                install_directory(staging, target)
            self._latest = BuiltPublication(target, built_key[0], publication, built_key[1])
            self._prune(keep=target)
            # Compress in the background so gzip clients find the files ready; until then they get
            # the identity encoding or an on-the-fly stream, never a wait.
            threading.Thread(target=self._precompress, args=(target,), name="gzip-files", daemon=True).start()
            return self._latest

    def _key(self) -> tuple[int, int]:
        with self.store.read() as conn:
            version = self.store.state(conn).version
            expired, _ = expiry_key(conn, now_ms(self.store.clock))
        return (version, expired)

    def _precompress(self, directory: Path) -> None:
        for path in sorted(directory.glob("*.ndjson")):
            if not directory.exists():
                return
            try:
                gzip_sibling(path)
            except OSError:  # the version was pruned meanwhile
                return

    def _prune(self, keep: Path) -> None:
        # Older versions stay a little while: a client that read the previous manifest may still be
        # downloading its files.
        versions = sorted((p for p in self.directory.glob("v*") if p.is_dir() and p != keep), key=_version_order)
        for old in versions[: max(len(versions) - (_KEEP_VERSIONS - 1), 0)]:
            shutil.rmtree(old, ignore_errors=True)


def _version_order(path: Path) -> tuple[int, int]:
    version, _, expired = path.name[1:].partition(".")
    if not version.isdigit():
        return (-1, -1)
    return (int(version), int(expired) if expired.isdigit() else 0)

"""A publication encoded once per data version, on disk (spec "Bulk Publication": the full data set is
the same bytes for every client until the data changes).

The first request after a change writes every file of the new version in a staging directory, which is
put in place whole (`staging`), so no reader ever sees a version half-written; later requests stream
those bytes. The previous version is kept a while for clients still downloading the files of the
manifest before; older ones are removed.

What a data version is belongs to each side (`VersionSource`): the provider's is its store's version and
the holds expired since; the aggregate's a digest of every publisher's sync state, plus the clock.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from slotlinks.publishing.http import gzip_sibling
from slotlinks.publishing.outputs import OutputFile, Publication
from slotlinks.publishing.staging import install_directory, staged_directory

__all__ = ["Version", "VersionSource", "VersionedCache"]

#: What a side keeps with a version to tell later whether the data has moved on.
Stamp = TypeVar("Stamp")

_KEEP_VERSIONS = 2


@dataclass(frozen=True, slots=True)
class Version(Generic[Stamp]):
    """One complete publication in its own directory: the manifest and every NDJSON file it lists."""

    directory: Path
    publication: Publication
    #: Names the content in validators: two versions with the same tag hold the same bytes.
    tag: str
    #: Its Last-Modified time.
    modified_ms: int
    stamp: Stamp
    _by_name: dict[str, OutputFile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.publication.files})

    @property
    def transaction_ms(self) -> int:
        return self.publication.transaction_ms

    def file(self, name: str) -> OutputFile | None:
        """The output named `name`, if this version has one."""
        return self._by_name.get(name)


class VersionSource(Protocol[Stamp]):
    """One side's data as the cache needs it."""

    def unchanged(self, version: Version[Stamp], *, confirm: bool) -> bool:
        """Whether `version` still publishes the data as it is now.

        Without `confirm` (any number of callers at once): a cheap answer, False when unsure. With it
        (one caller at a time, under the cache's lock, before a rebuild): the authoritative answer.
        """
        ...

    def build(self, staging: Path, previous: Version[Stamp] | None) -> Version[Stamp]:
        """Writes the publication of the data as it is now into `staging` and describes it (its
        `directory` is then `staging`; the cache moves it)."""
        ...


class VersionedCache(Generic[Stamp]):
    """The encoded publication under `directory`, one subdirectory per version, rebuilt when the source
    says the data moved on.

    With `precompress`, each new version's files are gzipped in the background so gzip clients find
    them ready; until then they get the identity encoding or an on-the-fly stream, never a wait.
    """

    def __init__(self, directory: Path, source: VersionSource[Stamp], *, precompress: bool = False) -> None:
        self.directory = directory
        self.source = source
        self.precompress = precompress
        self._lock = threading.Lock()
        self._latest: Version[Stamp] | None = None

    def current(self) -> Version[Stamp]:
        """The publication of the data as it is now, encoding it first if it changed."""
        latest = self._latest
        if latest is not None and self.source.unchanged(latest, confirm=False):
            return latest
        with self._lock:
            latest = self._latest
            if latest is not None and self.source.unchanged(latest, confirm=True):
                return latest
            with staged_directory(self.directory, ".build-") as staging:
                built = self.source.build(staging, latest)
                target = self.directory / f"v-{built.tag}"
                install_directory(staging, target)
            built = replace(built, directory=target)
            self._latest = built
            self._prune(keep=target)
            if self.precompress:
                threading.Thread(target=_precompress, args=(target,), name="gzip-files", daemon=True).start()
            return built

    def _prune(self, keep: Path) -> None:
        # Only the newest other version stays: a client that read the previous manifest may still be
        # downloading its files.
        older = sorted(
            (p for p in self.directory.glob("v*") if p.is_dir() and p != keep),
            key=lambda p: p.stat().st_mtime,
        )
        for old in older[: max(len(older) - (_KEEP_VERSIONS - 1), 0)]:
            shutil.rmtree(old, ignore_errors=True)


def _precompress(directory: Path) -> None:
    for path in sorted(directory.glob("*.ndjson")):
        if not directory.exists():
            return
        try:
            gzip_sibling(path)
        except OSError:  # the version was pruned meanwhile
            return

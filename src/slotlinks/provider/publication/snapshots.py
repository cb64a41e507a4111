"""Encoded publications on disk: the live server's cache and `slotlinks publish export`.

Both write the same publication (`slotlinks.publishing.manifest.write_publication` over `render.iter_lines`):
the live server into the versioned cache of `slotlinks.publishing.versions`, export into a directory of
the operator's choice, swapped in whole. So exported files are byte-identical to what the live server
returns for the same base URL.

Holds expire by the clock, with no job and no commit, yet change how their slots are published: a
publication's data version is therefore (data-set version, number of holds expired unreleased), and its
`transactionTime` is the later of the last commit and the last such expiry (`holds.expiry_key`).
"""

from __future__ import annotations

from pathlib import Path

from slotlinks.clock import now_ms
from slotlinks.provider.portal.holds import expiry_key
from slotlinks.provider.publication.render import iter_lines
from slotlinks.provider.store.settings import PORTAL_URL_SETTING
from slotlinks.provider.store.store import ProviderStore
from slotlinks.publishing.manifest import write_publication
from slotlinks.publishing.outputs import Publication
from slotlinks.publishing.staging import install_directory, staged_directory
from slotlinks.publishing.versions import Version, VersionedCache

__all__ = ["DataKey", "PublicationCache", "export"]

#: A provider data version: (the store's data-set version, holds expired unreleased by now).
DataKey = tuple[int, int]


def _write(store: ProviderStore, directory: Path, base_url: str) -> tuple[DataKey, Publication]:
    """Writes the current data set (one consistent snapshot, holds as live at the store clock's now)
    as a publication into `directory`; returns its data version and the publication."""
    at_ms = now_ms(store.clock)
    with store.read() as conn:
        state = store.state(conn)
        expired, last_expiry = expiry_key(conn, at_ms)
        portal_url = store.get_setting(PORTAL_URL_SETTING, conn=conn)
        publication = write_publication(
            directory,
            iter_lines(conn, portal_url, now_ms=at_ms),
            transaction_ms=max(state.changed_ms, last_expiry),
            base_url=base_url,
        )
    return (state.version, expired), publication


def export(store: ProviderStore, out_dir: Path, base_url: str) -> Publication:
    """`slotlinks publish export`: the publication as static files, swapped into `out_dir` whole."""
    out_dir = out_dir.resolve()
    with staged_directory(out_dir.parent, f".{out_dir.name}.") as staging:
        _, publication = _write(store, staging, base_url)
        install_directory(staging, out_dir)
    return publication


class _ProviderVersions:
    """The provider store as a `VersionSource`: a version is current while the data key is unchanged."""

    def __init__(self, store: ProviderStore, base_url: str) -> None:
        self.store = store
        self.base_url = base_url

    def data_key(self) -> DataKey:
        with self.store.read() as conn:
            version = self.store.state(conn).version
            expired, _ = expiry_key(conn, now_ms(self.store.clock))
        return (version, expired)

    def unchanged(self, version: Version[DataKey], *, confirm: bool) -> bool:
        # Reading the key is cheap (one row and an indexed count), so every caller reads it.
        return version.stamp == self.data_key()

    def build(self, staging: Path, previous: Version[DataKey] | None) -> Version[DataKey]:
        key, publication = _write(self.store, staging, self.base_url)
        tag = f"{key[0]}-{publication.transaction_ms}"
        return Version(staging, publication, tag=tag, modified_ms=publication.transaction_ms, stamp=key)


class PublicationCache(VersionedCache[DataKey]):
    """The live server's encoded publications under `directory`, one subdirectory per data version;
    new versions' files are gzipped in the background."""

    def __init__(self, store: ProviderStore, base_url: str, directory: Path) -> None:
        super().__init__(directory, _ProviderVersions(store, base_url), precompress=True)

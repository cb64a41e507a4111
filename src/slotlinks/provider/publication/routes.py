"""The publication endpoints: `GET|HEAD {base}/$bulk-publish` and the NDJSON files it lists.

The endpoints and their HTTP behaviours are the shared pipeline's (`slotlinks.publishing.routes`); this
module says what the provider's `_since` answers hold: every row changed after the instant, and every
slot whose hold expired unreleased after it. A `_since` manifest's `transactionTime` is the data set's
time: its last commit, or the last hold expiry since then, which changed the publication without any
commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter

from slotlinks.clock import now_ms
from slotlinks.config import Settings
from slotlinks.provider.portal.holds import expiry_key
from slotlinks.provider.publication.render import iter_lines
from slotlinks.provider.publication.snapshots import PublicationCache
from slotlinks.provider.store.settings import PORTAL_URL_SETTING
from slotlinks.provider.store.store import ProviderStore
from slotlinks.publishing.routes import Changes
from slotlinks.publishing.routes import publication_router as shared_router

__all__ = ["publication_router"]


class _ProviderChanges:
    """The provider store's `_since` answers (a `ChangeSource`): it can always list its changes, since
    removed resources stay in the store, deactivated."""

    def __init__(self, store: ProviderStore) -> None:
        self.store = store

    def answers_since(self, since_ms: int) -> bool:
        return True

    @contextmanager
    def changes(self, since_ms: int) -> Iterator[Changes[str]]:
        with self.store.read() as conn:
            at = now_ms(self.store.clock)
            _, latest_expiry = expiry_key(conn, at)
            data_ms = max(self.store.state(conn).changed_ms, latest_expiry)
            portal = self.store.get_setting(PORTAL_URL_SETTING, conn=conn)
            yield Changes(data_ms, iter_lines(conn, portal, since_ms=since_ms, now_ms=at))


def publication_router(settings: Settings, store: ProviderStore, cache: PublicationCache) -> APIRouter:
    """The provider's publication under `{base}` (its public URL: `settings.base_url`)."""
    return shared_router(
        prefix=settings.base_path,
        base_url=settings.base_url,
        cache=cache,
        changes=_ProviderChanges(store),
        max_age=settings.max_age,
    )

"""What the FHIR layer needs from a store (ARCHITECTURE.md: each side supplies its own).

Descriptive resources (thousands) are handed over whole and matched in memory; Slots (millions) are
filtered, ordered and paged by the store in SQL from a `SlotQuery`, whose Schedule-level criteria the
executor has already resolved to `schedule_ids`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slotlinks.fhirapi.dates import DateValue

__all__ = ["DESCRIPTIVE_TYPES", "FhirStore", "Key", "SlotQuery"]

#: The types served from `FhirStore.resources` (everything but Slot).
DESCRIPTIVE_TYPES = ("Location", "Schedule", "PractitionerRole", "HealthcareService", "Practitioner")

#: A sort key: the sort columns' values, then the id; JSON scalars, as the paging cursor carries them.
Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class SlotQuery:
    """Slot filters a store applies in SQL, ANDed; each frozenset is an OR list.

    `dates` name `start`, `end` or `_lastUpdated`. `sort` keys are `start`, `end`, `_lastUpdated`,
    `_id` and `near` (order schedules by `ranks`, schedule id -> rank). `after`/`before` are keyset
    bounds (exclusive) on the sort key; with `before` the store yields in reverse order.
    `limit` None: stream everything that matches."""

    schedule_ids: frozenset[str] | None = None
    ids: tuple[frozenset[str], ...] = ()
    statuses: tuple[frozenset[str], ...] = ()
    dates: tuple[tuple[str, DateValue], ...] = ()
    sort: tuple[tuple[str, bool], ...] = (("start", False),)
    ranks: Mapping[str, int] | None = None
    after: Key | None = None
    before: Key | None = None
    limit: int | None = None


class FhirStore(Protocol):
    """A store the FHIR REST layer can serve."""

    def read(self, rtype: str, rid: str) -> dict[str, Any] | None:
        """One current resource as its FHIR JSON, or None."""
        ...

    def resources(self, rtype: str) -> Sequence[dict[str, Any]]:
        """Every current resource of a descriptive type (may be cached; callers must not mutate)."""
        ...

    def slots(self, query: SlotQuery) -> Iterator[tuple[Key, dict[str, Any]]]:
        """Matching current Slots as (sort key, FHIR JSON), in the query's order."""
        ...

    def count_slots(self, query: SlotQuery) -> int:
        """How many current Slots match (ignoring `after`, `before`, `limit`)."""
        ...

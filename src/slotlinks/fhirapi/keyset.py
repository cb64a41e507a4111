"""Keyset paging in SQL (search.html#paging): order by the sort columns then the id, and continue
strictly after (or before) the key of the last (first) row shown, never by offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

from slotlinks.fhirapi.store import Key

__all__ = ["keyset_clause", "keyset_order"]


def keyset_clause(columns: Sequence[tuple[ColumnElement[Any], bool]], key: Key, *, before: bool) -> ColumnElement[bool]:
    """Rows strictly after `key` in the order of `columns` ((expression, descending) pairs), or
    strictly before it with `before`."""
    if len(key) != len(columns):
        return false()
    alternatives = []
    for i, (col, desc) in enumerate(columns):
        step = col < key[i] if desc != before else col > key[i]
        equal = [c == key[j] for j, (c, _) in enumerate(columns[:i])]
        alternatives.append(and_(*equal, step))
    return or_(*alternatives)


def keyset_order(columns: Sequence[tuple[ColumnElement[Any], bool]], *, before: bool) -> list[ColumnElement[Any]]:
    """ORDER BY for the columns; reversed when reading backwards from a `before` key."""
    return [col.desc() if desc != before else col.asc() for col, desc in columns]

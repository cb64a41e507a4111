"""The services patients can search for: the names of the services in the current data, for the
search form's suggestions (a native `<datalist>` on the service field) and for the page that finds
nothing ("zzzz": these are the services we have).

Read from the store once per publishers' data generations and kept (`ServiceNames`): the names
change only when a publisher's data does. One row per distinct service text is read, then that
schedule's patient-facing name (`execute.service_names`), so the cost follows the number of
services, not of schedules.
"""

from __future__ import annotations

import difflib
import threading

from sqlalchemy import Connection, and_, func, select

from slotlinks.discovery.search.execute import service_names
from slotlinks.discovery.store import tables as t

__all__ = ["MAX_SERVICES", "ServiceNames", "close_services", "current_services"]

MAX_SERVICES = 300  # a datalist longer than this helps no one


def _generations(conn: Connection) -> tuple[tuple[int, int], ...]:
    p = t.publisher
    return tuple((int(r.id), int(r.generation)) for r in conn.execute(select(p.c.id, p.c.generation).order_by(p.c.id)))


def current_services(conn: Connection) -> list[str]:
    """The distinct names of the services in the publishers' current data, in alphabetical order."""
    s, p = t.schedule, t.publisher
    rows = conn.execute(
        select(func.min(s.c.pk), s.c.service_text)
        .join(p, and_(p.c.id == s.c.publisher_id, p.c.generation == s.c.generation))
        .where(s.c.service_text != "")
        .group_by(s.c.service_text)
        .limit(MAX_SERVICES * 2)
    )
    texts = {int(row[0]): str(row[1]) for row in rows}
    names = service_names(conn, list(texts))
    # The readable name where the Schedule gives one, else its search text (as results show it).
    chosen = [(names.get(pk) or text).strip() for pk, text in texts.items()]
    unique = {name.casefold(): name for name in chosen if name}
    return sorted(unique.values(), key=str.casefold)[:MAX_SERVICES]


class ServiceNames:
    """`current_services`, read again only when a publisher's data generation has changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[tuple[int, int], ...] | None = None
        self._names: list[str] = []

    def names(self, conn: Connection) -> list[str]:
        key = _generations(conn)
        with self._lock:
            if key == self._key:
                return self._names
        names = current_services(conn)
        with self._lock:
            self._key, self._names = key, names
        return names


def close_services(asked: str, services: list[str], *, limit: int = 6) -> list[str]:
    """Services that look like `asked` (a typo, a part of the name); else the first few we have."""
    wanted = asked.strip().casefold()
    if not wanted:
        return services[:limit]
    by_key = {name.casefold(): name for name in services}
    containing = [name for key, name in by_key.items() if wanted in key or key in wanted]
    similar = difflib.get_close_matches(wanted, list(by_key), n=limit, cutoff=0.6)
    found = list(dict.fromkeys([*containing, *(by_key[key] for key in similar)]))[:limit]
    return found or services[:limit]

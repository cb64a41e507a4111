"""How fresh each publisher's data is, and the publisher status page's figures.

Slot data goes stale (SPEC-NOTES, "UX problems" 2): every result says when its publisher's data was
last known good ("as of 3 minutes ago", from `publisher.last_success_ms`), and `/status` shows each
publisher's last sync, counts, bad lines, warnings and last error (from `publisher` and `sync_run`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, and_, func, select

from slotlinks.discovery.store import tables as t
from slotlinks.fhir.instant import ms_to_instant

__all__ = ["PublisherStatus", "PushState", "describe_age", "publisher_statuses", "push_states"]


def describe_age(now_ms: int, then_ms: int | None) -> str:
    """`as of 3 minutes ago`, `as of just now`, ...; `not yet synced` when never."""
    if then_ms is None:
        return "not yet synced"
    seconds = max(0, now_ms - then_ms) // 1000
    if seconds < 60:
        return "as of just now"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"as of {count} {unit}{'' if count == 1 else 's'} ago"
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class PushState:
    """A publisher's push subscription (discovery/push/): `none`, `requested`, `active` or `error`, when
    the last event happened at the publisher and how long it took to arrive, and why it is not active."""

    state: str
    last_event_ms: int | None = None
    lag_ms: int | None = None
    detail: str | None = None

    @property
    def last_event(self) -> str | None:
        return _instant(self.last_event_ms)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "lastEvent": self.last_event, "lagMs": self.lag_ms, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class PublisherStatus:
    """One publisher's line on the status page."""

    id: int
    name: str
    url: str
    paused: bool
    freshness: str
    last_success: str | None
    last_attempt: str | None
    last_error: str | None
    failures: int
    locations: int
    schedules: int
    slots: int
    last_run_outcome: str | None
    last_run_started: str | None
    last_run_duration_ms: int | None
    added: int
    changed: int
    removed: int
    bad_lines: int
    warnings: int
    push: PushState = field(default_factory=lambda: PushState("none"))


def push_states(conn: Connection) -> dict[int, PushState]:
    """Every publisher's push state that is not `none` for want of a row."""
    s = t.publisher_push.c
    rows = conn.execute(select(s.publisher_id, s.status, s.last_event_ms, s.lag_ms, s.error))
    return {int(r.publisher_id): PushState(r.status, r.last_event_ms, r.lag_ms, r.error) for r in rows}


def _counts(conn: Connection, table: Table) -> dict[int, int]:
    p = t.publisher
    query = (
        select(table.c.publisher_id, func.count())
        .select_from(table.join(p, and_(p.c.id == table.c.publisher_id, p.c.generation == table.c.generation)))
        .group_by(table.c.publisher_id)
    )
    return {int(pid): int(n) for pid, n in conn.execute(query)}


def publisher_statuses(conn: Connection, *, now_ms: int) -> list[PublisherStatus]:
    """Every publisher, by name, with its current data's counts and its latest sync run."""
    p, run = t.publisher, t.sync_run
    locations, schedules, slots = _counts(conn, t.location), _counts(conn, t.schedule), _counts(conn, t.slot)
    pushes = push_states(conn)
    latest = select(run.c.publisher_id, func.max(run.c.id).label("run_id")).group_by(run.c.publisher_id).subquery()
    query = (
        select(p, run.c.outcome, run.c.started_ms, run.c.duration_ms, run.c.added, run.c.changed, run.c.removed)
        .add_columns(run.c.bad_lines, run.c.warnings)
        .outerjoin(latest, latest.c.publisher_id == p.c.id)
        .outerjoin(run, run.c.id == latest.c.run_id)
        .order_by(p.c.name, p.c.id)
    )
    out = []
    for row in conn.execute(query).mappings():
        pid = int(row["id"])
        out.append(
            PublisherStatus(
                id=pid,
                name=row["name"],
                url=row["url"],
                paused=bool(row["paused"]),
                freshness=describe_age(now_ms, row["last_success_ms"]),
                last_success=_instant(row["last_success_ms"]),
                last_attempt=_instant(row["last_attempt_ms"]),
                last_error=row["last_error"],
                failures=int(row["failures"] or 0),
                locations=locations.get(pid, 0),
                schedules=schedules.get(pid, 0),
                slots=slots.get(pid, 0),
                last_run_outcome=row["outcome"],
                last_run_started=_instant(row["started_ms"]),
                last_run_duration_ms=row["duration_ms"],
                added=int(row["added"] or 0),
                changed=int(row["changed"] or 0),
                removed=int(row["removed"] or 0),
                bad_lines=int(row["bad_lines"] or 0),
                warnings=int(row["warnings"] or 0),
                push=pushes.get(pid, PushState("none")),
            )
        )
    return out


def _instant(ms: int | None) -> str | None:
    return None if ms is None else ms_to_instant(int(ms))

"""Turning a schedule's availability rules into Slot rows for a rolling horizon, idempotently.

Regeneration compares the slots the rules describe now with the rule-made slots already stored:
missing ones are added, changed free ones updated, and free ones no rule covers any more are
deactivated (published once more as `busy-unavailable`, so `_since` clients learn of it). A slot that
is booked, held or set by staff is never touched, nor is a slot created by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, and_, delete, select, update

from slotlinks.provider.schedule.opening_hours import Closure, Rule, format_weekdays, parse_weekdays
from slotlinks.provider.schedule.slot_times import SlotTime, expand, slot_id
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "RegenStats",
    "load_closures",
    "load_rules",
    "regenerate",
    "regenerate_schedules",
    "save_closure",
    "save_rule",
    "today_of",
]

_BATCH = 20_000
#: How many days ahead rules are turned into slots, unless the caller says otherwise.
DEFAULT_HORIZON_DAYS = 28
# Deactivated slots are kept this long so `_since` clients can learn of the removal, then purged.
TOMBSTONE_RETENTION_DAYS = 30


@dataclass(slots=True)
class RegenStats:
    added: int = 0
    updated: int = 0
    removed: int = 0
    kept_booked: int = 0

    def __iadd__(self, other: RegenStats) -> RegenStats:
        self.added += other.added
        self.updated += other.updated
        self.removed += other.removed
        self.kept_booked += other.kept_booked
        return self


def _time(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


def load_rules(conn: Connection, schedule_id: str) -> list[Rule]:
    r = t.rule.c
    rows = conn.execute(select(t.rule).where(r.schedule_id == schedule_id, r.active).order_by(r.id)).all()
    return [
        Rule(
            id=row.id,
            weekdays=parse_weekdays(row.weekdays),
            start=time.fromisoformat(row.start_time),
            end=time.fromisoformat(row.end_time),
            slot_minutes=row.slot_minutes,
            capacity=row.capacity,
            valid_from=date.fromisoformat(row.valid_from) if row.valid_from else None,
            valid_to=date.fromisoformat(row.valid_to) if row.valid_to else None,
        )
        for row in rows
    ]


def load_closures(conn: Connection, schedule_id: str) -> list[Closure]:
    c = t.closure.c
    rows = conn.execute(select(t.closure).where(c.schedule_id == schedule_id, c.active)).all()
    return [
        Closure(
            day=date.fromisoformat(row.day),
            start=_time(row.start_time),
            end=_time(row.end_time),
            reason=row.reason,
        )
        for row in rows
    ]


def save_rule(change: Change, schedule_id: str, rule: Rule, *, active: bool = True) -> None:
    """Inserts or replaces an availability rule row (callers regenerate the schedule afterwards)."""
    values = {
        "schedule_id": schedule_id,
        "weekdays": format_weekdays(rule.weekdays),
        "start_time": rule.start.strftime("%H:%M"),
        "end_time": rule.end.strftime("%H:%M"),
        "slot_minutes": rule.slot_minutes,
        "capacity": rule.capacity,
        "valid_from": rule.valid_from.isoformat() if rule.valid_from else None,
        "valid_to": rule.valid_to.isoformat() if rule.valid_to else None,
        "active": active,
        "last_updated": change.stamp_ms,
    }
    _upsert(change.conn, t.rule, rule.id, values)


def save_closure(change: Change, schedule_id: str, closure_id: str, closure: Closure, *, active: bool = True) -> None:
    """Inserts or replaces a dated closure row (callers regenerate the schedule afterwards)."""
    values = {
        "schedule_id": schedule_id,
        "day": closure.day.isoformat(),
        "start_time": closure.start.strftime("%H:%M") if closure.start else None,
        "end_time": closure.end.strftime("%H:%M") if closure.end else None,
        "reason": closure.reason,
        "active": active,
        "last_updated": change.stamp_ms,
    }
    _upsert(change.conn, t.closure, closure_id, values)


def _upsert(conn: Connection, table: Table, row_id: str, values: dict[str, Any]) -> None:
    done = conn.execute(update(table).where(table.c.id == row_id).values(**values)).rowcount
    if not done:
        conn.execute(table.insert().values(id=row_id, **values))


def _schedule_zone(conn: Connection, schedule_id: str) -> tuple[bool, ZoneInfo] | None:
    row = conn.execute(
        select(t.schedule.c.active, t.location.c.tz)
        .outerjoin(t.location, t.location.c.id == t.schedule.c.location_id)
        .where(t.schedule.c.id == schedule_id)
    ).first()
    if row is None:
        return None
    return bool(row.active), ZoneInfo(row.tz or "UTC")


def _insert(conn: Connection, rows: Iterable[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            conn.execute(t.slot.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        conn.execute(t.slot.insert(), batch)
        count += len(batch)
    return count


def _new_row(row_id: str, schedule_id: str, s: SlotTime, stamp: int) -> dict[str, Any]:
    return {
        "id": row_id,
        "schedule_id": schedule_id,
        "start": s.start,
        "end": s.end,
        "start_ms": s.start_ms,
        "end_ms": s.end_ms,
        "status": "free",
        "capacity": s.capacity,
        "booked": 0,
        "rule_id": s.rule_id,
        "active": True,
        "last_updated": stamp,
    }


def _regenerate_one(change: Change, schedule_id: str, first_day: date, last_day: date) -> RegenStats:
    conn, stamp = change.conn, change.stamp_ms
    stats = RegenStats()
    found = _schedule_zone(conn, schedule_id)
    if found is None:
        return stats
    active, zone = found
    wanted: dict[str, SlotTime] = {}
    if active:
        rules, closures = load_rules(conn, schedule_id), load_closures(conn, schedule_id)
        for want in expand(rules, closures, zone, first_day, last_day):
            wanted[slot_id(schedule_id, want.start_ms)] = want
    window_start = int(datetime.combine(first_day, time(), zone).timestamp() * 1000)
    window_end = int(datetime.combine(last_day + timedelta(days=1), time(), zone).timestamp() * 1000)
    s = t.slot.c
    existing = conn.execute(
        select(s.id, s.start_ms, s.end_ms, s.capacity, s.booked, s.status, s.active, s.rule_id).where(
            s.schedule_id == schedule_id,
            s.rule_id.is_not(None),
            s.start_ms >= window_start,
            s.start_ms < window_end,
        )
    ).all()
    h = t.hold.c
    held = set(
        conn.execute(
            select(h.slot_id)
            .join(t.slot, t.slot.c.id == h.slot_id)
            .where(t.slot.c.schedule_id == schedule_id, h.state == "active", h.expires_ms > stamp)
        ).scalars()
    )
    for row in existing:
        target = wanted.pop(row.id, None)
        # Bookings, live holds and statuses staff set by hand are theirs, not the rules'.
        untouchable = row.booked > 0 or row.status != "free" or row.id in held
        if untouchable:
            stats.kept_booked += 1
            continue
        if target is None:
            if row.active:
                conn.execute(update(t.slot).where(s.id == row.id).values(active=False, last_updated=stamp))
                stats.removed += 1
            continue
        same = (
            row.active
            and row.status == "free"
            and row.end_ms == target.end_ms
            and row.capacity == target.capacity
            and row.rule_id == target.rule_id
        )
        if not same:
            values = _new_row(row.id, schedule_id, target, stamp)
            del values["id"]
            conn.execute(update(t.slot).where(s.id == row.id).values(**values))
            stats.updated += 1
    stats.added += _insert(conn, (_new_row(i, schedule_id, w, stamp) for i, w in wanted.items()))
    return stats


def _expire_past(change: Change, before_ms: int) -> int:
    """Free rule-made slots that have ended drop out of the publication; old tombstones are purged."""
    s = t.slot.c
    conn = change.conn
    ended = conn.execute(
        update(t.slot)
        .where(and_(s.active, s.end_ms <= before_ms, s.booked == 0, s.status == "free", s.rule_id.is_not(None)))
        .values(active=False, last_updated=change.stamp_ms)
    ).rowcount
    cutoff = change.stamp_ms - TOMBSTONE_RETENTION_DAYS * 86_400_000
    conn.execute(delete(t.slot).where(and_(s.active.is_(False), s.last_updated < cutoff, s.booked == 0)))
    return int(ended or 0)


def regenerate(
    change: Change,
    *,
    today: date,
    horizon_days: int,
    schedule_ids: Sequence[str] | None = None,
    now_ms: int | None = None,
) -> RegenStats:
    """Brings the slots of the given schedules (default: all) in line with their rules for
    `horizon_days` days from `today` (each schedule's own local date)."""
    conn = change.conn
    if schedule_ids is None:
        schedule_ids = list(conn.execute(select(t.schedule.c.id).order_by(t.schedule.c.id)).scalars())
    last_day = today + timedelta(days=horizon_days - 1)
    stats = RegenStats()
    for schedule_id in schedule_ids:
        stats += _regenerate_one(change, schedule_id, today, last_day)
    if now_ms is not None:
        stats.removed += _expire_past(change, now_ms)
    return stats


def today_of(change: Change) -> date:
    """Today in UTC by the store's clock (the change's stamp comes from it)."""
    return datetime.fromtimestamp(change.stamp_ms / 1000, UTC).date()


def regenerate_schedules(change: Change, schedule_ids: Iterable[str], horizon_days: int) -> RegenStats:
    """Regenerates the named schedules (each once, none when there are none) from today."""
    ids = sorted(set(schedule_ids))
    if not ids:
        return RegenStats()
    return regenerate(change, today=today_of(change), horizon_days=horizon_days, schedule_ids=ids)

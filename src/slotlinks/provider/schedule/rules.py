"""Availability rules and closures as staff write them: the admin-facing layer over `regenerate`.

A rule is a weekly opening window (`mon-fri`, `09:00`-`17:00` local time, in slots of N minutes); a
closure takes a whole day, or part of one, out of a schedule. Specs are checked field by field (every
issue names its field, e.g. `start` or `validFrom`), saved through `regenerate.save_rule` /
`save_closure`, and the schedule is regenerated in the same transaction, so the publication follows at
once: new slots appear, and ended free slots leave it (as `busy-unavailable` for `_since` clients).
Every function raises only `slotlinks.errors`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import Connection, Row, Table, select, update

from slotlinks.errors import Conflict, InvalidInput, Issue, NotFound, raise_invalid
from slotlinks.fhir.ids import is_valid_id
from slotlinks.provider.schedule.opening_hours import Closure, Rule, parse_weekdays, validate_closure, validate_rule
from slotlinks.provider.schedule.regenerate import (
    DEFAULT_HORIZON_DAYS,
    RegenStats,
    regenerate,
    regenerate_schedules,
    save_closure,
    save_rule,
    today_of,
)
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change

__all__ = [
    "ClosureRecord",
    "ClosureSpec",
    "RuleRecord",
    "RuleSpec",
    "create_closure",
    "create_rule",
    "deactivate_closure",
    "deactivate_rule",
    "list_closures",
    "list_rules",
    "put_closure",
    "put_rule",
    "regenerate_all",
]

_HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A weekly opening window as staff write it: `mon-fri`, `08:00`-`17:00`, local time."""

    weekdays: str
    start: str
    end: str
    slot_minutes: int
    capacity: int = 1
    valid_from: str | None = None
    valid_to: str | None = None


@dataclass(frozen=True, slots=True)
class RuleRecord:
    id: str
    schedule_id: str
    weekdays: str
    start: str
    end: str
    slot_minutes: int
    capacity: int
    valid_from: str | None
    valid_to: str | None
    active: bool
    last_updated: int


@dataclass(frozen=True, slots=True)
class ClosureSpec:
    """A dated closure: the whole `day`, or `[start, end)` local time on it."""

    day: str
    start: str | None = None
    end: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ClosureRecord:
    id: str
    schedule_id: str
    day: str
    start: str | None
    end: str | None
    reason: str
    active: bool
    last_updated: int


_RULE_FIELDS = (
    ("weekdays", "weekdays"),
    ("start", "start"),
    ("end", "end"),
    ("slot_minutes", "slotMinutes"),
    ("a ", "slotMinutes"),
    ("capacity", "capacity"),
    ("valid_from", "validFrom"),
)


def _hhmm(text: str | None, field: str, issues: list[Issue], *, required: bool) -> time | None:
    if text is None or text == "":
        if required:
            issues.append(Issue(f"{field} is required (HH:MM)", expression=(field,)))
        return None
    if not _HHMM.fullmatch(text):
        issues.append(Issue(f"{field} {text!r} is not a time of day as HH:MM", expression=(field,)))
        return None
    return time.fromisoformat(text)


def _day(text: str | None, field: str, issues: list[Issue]) -> date | None:
    if text is None or text == "":
        return None
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        issues.append(Issue(f"{field} {text!r} is not a date as YYYY-MM-DD", expression=(field,)))
        return None


def _to_rule(rule_id: str, spec: RuleSpec) -> Rule:
    issues: list[Issue] = []
    weekdays: frozenset[int] = frozenset()
    try:
        weekdays = parse_weekdays(spec.weekdays)
    except ValueError as exc:
        issues.append(Issue(str(exc), expression=("weekdays",)))
    start = _hhmm(spec.start, "start", issues, required=True)
    end = _hhmm(spec.end, "end", issues, required=True)
    valid_from = _day(spec.valid_from, "validFrom", issues)
    valid_to = _day(spec.valid_to, "validTo", issues)
    raise_invalid(issues, "invalid availability rule")
    assert start is not None
    assert end is not None
    rule = Rule(rule_id, weekdays, start, end, spec.slot_minutes, spec.capacity, valid_from, valid_to)
    for problem in validate_rule(rule):
        field = next((name for prefix, name in _RULE_FIELDS if problem.startswith(prefix)), "rule")
        issues.append(Issue(problem, expression=(field,)))
    raise_invalid(issues, "invalid availability rule")
    return rule


def _to_closure(spec: ClosureSpec) -> Closure:
    issues: list[Issue] = []
    day = _day(spec.day, "day", issues)
    if day is None and not issues:
        issues.append(Issue("day is required (YYYY-MM-DD)", expression=("day",)))
    start = _hhmm(spec.start, "start", issues, required=False)
    end = _hhmm(spec.end, "end", issues, required=False)
    raise_invalid(issues, "invalid closure")
    assert day is not None
    closure = Closure(day, start, end, spec.reason)
    raise_invalid([Issue(p, expression=("end",)) for p in validate_closure(closure)], "invalid closure")
    return closure


def _schedule_active(conn: Connection, schedule_id: str) -> bool:
    active = conn.execute(select(t.schedule.c.active).where(t.schedule.c.id == schedule_id)).scalar()
    if active is None:
        raise NotFound(f"no Schedule with id {schedule_id!r}", expression=["Schedule.id"])
    return bool(active)


def _rule_record(row: Row[Any]) -> RuleRecord:
    return RuleRecord(
        id=row.id,
        schedule_id=row.schedule_id,
        weekdays=row.weekdays,
        start=row.start_time,
        end=row.end_time,
        slot_minutes=int(row.slot_minutes),
        capacity=int(row.capacity),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        active=bool(row.active),
        last_updated=int(row.last_updated),
    )


def _closure_record(row: Row[Any]) -> ClosureRecord:
    return ClosureRecord(
        id=row.id,
        schedule_id=row.schedule_id,
        day=row.day,
        start=row.start_time,
        end=row.end_time,
        reason=row.reason,
        active=bool(row.active),
        last_updated=int(row.last_updated),
    )


def _owned_row(conn: Connection, table: Table, schedule_id: str, row_id: str, what: str) -> Row[Any] | None:
    row = conn.execute(select(table).where(table.c.id == row_id)).first()
    if row is not None and row.schedule_id != schedule_id:
        raise Conflict(f"{what} {row_id!r} belongs to Schedule/{row.schedule_id}", expression=["id"])
    return row


def _new_child_id(rule_id: str | None, prefix: str) -> str:
    if rule_id is None:
        return f"{prefix}-{uuid.uuid4().hex[:20]}"
    if not is_valid_id(rule_id):
        raise InvalidInput(f"id {rule_id!r} is not 1-64 characters from A-Z a-z 0-9 - .", expression=["id"])
    return rule_id


def list_rules(conn: Connection, schedule_id: str, *, active_only: bool = True) -> list[RuleRecord]:
    _schedule_active(conn, schedule_id)
    query = select(t.rule).where(t.rule.c.schedule_id == schedule_id).order_by(t.rule.c.id)
    if active_only:
        query = query.where(t.rule.c.active)
    return [_rule_record(row) for row in conn.execute(query)]


def put_rule(
    change: Change,
    schedule_id: str,
    spec: RuleSpec,
    *,
    rule_id: str | None = None,
    create_only: bool = False,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> RuleRecord:
    """Creates (or, unless `create_only`, replaces) an availability rule and regenerates the schedule."""
    conn = change.conn
    if not _schedule_active(conn, schedule_id):
        raise Conflict(f"Schedule/{schedule_id} is inactive; activate it before adding hours")
    rid = _new_child_id(rule_id, "rule")
    existing = _owned_row(conn, t.rule, schedule_id, rid, "rule")
    if existing is not None and create_only:
        raise Conflict(f"rule {rid!r} already exists", expression=["id"])
    save_rule(change, schedule_id, _to_rule(rid, spec))
    regenerate_schedules(change, [schedule_id], horizon_days)
    return _rule_record(conn.execute(select(t.rule).where(t.rule.c.id == rid)).one())


def create_rule(
    change: Change,
    schedule_id: str,
    spec: RuleSpec,
    *,
    rule_id: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> RuleRecord:
    return put_rule(change, schedule_id, spec, rule_id=rule_id, create_only=True, horizon_days=horizon_days)


def deactivate_rule(
    change: Change, schedule_id: str, rule_id: str, *, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> RuleRecord:
    """Ends a rule: its free, unbooked slots leave the publication (as busy-unavailable for `_since`)."""
    conn = change.conn
    if _owned_row(conn, t.rule, schedule_id, rule_id, "rule") is None:
        raise NotFound(f"no rule {rule_id!r} on Schedule/{schedule_id}", expression=["id"])
    conn.execute(update(t.rule).where(t.rule.c.id == rule_id).values(active=False, last_updated=change.stamp_ms))
    regenerate_schedules(change, [schedule_id], horizon_days)
    return _rule_record(conn.execute(select(t.rule).where(t.rule.c.id == rule_id)).one())


def list_closures(conn: Connection, schedule_id: str, *, active_only: bool = True) -> list[ClosureRecord]:
    _schedule_active(conn, schedule_id)
    c = t.closure.c
    query = select(t.closure).where(c.schedule_id == schedule_id).order_by(c.day, c.id)
    if active_only:
        query = query.where(c.active)
    return [_closure_record(row) for row in conn.execute(query)]


def put_closure(
    change: Change,
    schedule_id: str,
    spec: ClosureSpec,
    *,
    closure_id: str | None = None,
    create_only: bool = False,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> ClosureRecord:
    """Creates (or replaces) a closure and regenerates the schedule: that day's free slots go."""
    conn = change.conn
    _schedule_active(conn, schedule_id)
    cid = _new_child_id(closure_id, "closure")
    existing = _owned_row(conn, t.closure, schedule_id, cid, "closure")
    if existing is not None and create_only:
        raise Conflict(f"closure {cid!r} already exists", expression=["id"])
    save_closure(change, schedule_id, cid, _to_closure(spec))
    regenerate_schedules(change, [schedule_id], horizon_days)
    return _closure_record(conn.execute(select(t.closure).where(t.closure.c.id == cid)).one())


def create_closure(
    change: Change,
    schedule_id: str,
    spec: ClosureSpec,
    *,
    closure_id: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> ClosureRecord:
    return put_closure(change, schedule_id, spec, closure_id=closure_id, create_only=True, horizon_days=horizon_days)


def deactivate_closure(
    change: Change, schedule_id: str, closure_id: str, *, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> ClosureRecord:
    """Lifts a closure: the day's slots come back."""
    conn = change.conn
    if _owned_row(conn, t.closure, schedule_id, closure_id, "closure") is None:
        raise NotFound(f"no closure {closure_id!r} on Schedule/{schedule_id}", expression=["id"])
    conn.execute(
        update(t.closure).where(t.closure.c.id == closure_id).values(active=False, last_updated=change.stamp_ms)
    )
    regenerate_schedules(change, [schedule_id], horizon_days)
    return _closure_record(conn.execute(select(t.closure).where(t.closure.c.id == closure_id)).one())


def regenerate_all(change: Change, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> RegenStats:
    """Every schedule's slots for the horizon; ended free slots leave the publication."""
    return regenerate(change, today=today_of(change), horizon_days=horizon_days, now_ms=change.stamp_ms)

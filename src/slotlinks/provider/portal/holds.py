"""Holds: the "Hold" of Find → Hold → Book (2026 IG, "Find, Hold, Book").

When a patient who landed on a deep link continues, the portal reserves one unit of the slot's
capacity for `Settings.hold_minutes`; the very next publication shows the slot `busy-tentative` (or,
with a capacity over one, one less free `slot-capacity`). A hold counts while its state is `active`
and the clock has not passed `expires_ms`, so expiry needs no background job: renderers ignore
expired holds and the publication cache keys on how many have expired (`expiry_key`). Expired holds
are marked `expired` lazily, by the next write that touches their slot.

Never double-booked: a hold is placed by a conditional UPDATE of the slot row
(`booked + active holds < capacity`) inside `store.change()`, whose first statement (the `dataset`
row update) serializes writers on SQLite (BEGIN IMMEDIATE) and PostgreSQL (row lock) alike.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from slotlinks.clock import Clock, now_ms
from slotlinks.errors import NotFound, SlotUnavailable
from slotlinks.provider.portal.audit import audit
from slotlinks.provider.portal.referrals import outcome_log, record_outcome
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change, ProviderStore

__all__ = [
    "Hold",
    "active_holds",
    "call_off_hold",
    "expire_holds",
    "expiry_key",
    "get_hold",
    "held_by",
    "hold_counts",
    "place_hold",
    "release_hold",
]


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    slot_id: str
    token: str
    created_ms: int
    expires_ms: int
    state: str
    referral: str | None
    source: str | None

    def live(self, at_ms: int) -> bool:
        return self.state == "active" and self.expires_ms > at_ms


def _hold(row: Row[Any]) -> Hold:
    return Hold(
        id=row.id,
        slot_id=row.slot_id,
        token=row.token,
        created_ms=int(row.created_ms),
        expires_ms=int(row.expires_ms),
        state=row.state,
        referral=row.referral,
        source=row.source,
    )


def get_hold(conn: Connection, hold_id: str) -> Hold:
    row = conn.execute(select(t.hold).where(t.hold.c.id == hold_id)).first()
    if row is None:
        raise NotFound(f"no hold {hold_id!r}")
    return _hold(row)


def held_by(conn: Connection, slot_id: str, token: str, at_ms: int) -> Hold | None:
    """The live hold on `slot_id` of the browser whose flow hash is `token`, if it has one."""
    h = t.hold.c
    row = conn.execute(
        select(t.hold)
        .where(h.slot_id == slot_id, h.token == token, h.state == "active", h.expires_ms > at_ms)
        .order_by(h.created_ms)
        .limit(1)
    ).first()
    return None if row is None else _hold(row)


def active_holds(at_ms: int, slot_id: ColumnElement[Any] | str = t.slot.c.id) -> Any:
    """The number of live holds on a slot, as a scalar subquery (correlated to `slot.id` by default)."""
    h = t.hold.c
    return (
        select(func.count())
        .select_from(t.hold)
        .where(h.slot_id == slot_id, h.state == "active", h.expires_ms > at_ms)
        .scalar_subquery()
    )


def hold_counts(conn: Connection, at_ms: int, slot_id: str | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """(live holds per slot, latest expiry per slot of holds that expired unreleased) at `at_ms`."""
    h = t.hold.c
    query = select(h.slot_id, h.expires_ms).where(h.state == "active")
    if slot_id is not None:
        query = query.where(h.slot_id == slot_id)
    live: dict[str, int] = {}
    expired: dict[str, int] = {}
    for row in conn.execute(query):
        if int(row.expires_ms) > at_ms:
            live[row.slot_id] = live.get(row.slot_id, 0) + 1
        else:
            expired[row.slot_id] = max(expired.get(row.slot_id, 0), int(row.expires_ms))
    return live, expired


def expiry_key(conn: Connection, at_ms: int) -> tuple[int, int]:
    """(how many holds have expired without being released, the latest such expiry) at `at_ms`.

    Between two commits the first only grows with time, so (data-set version, this count) names
    the publication exactly; the second dates the change the expiry made."""
    h = t.hold.c
    row = conn.execute(
        select(func.count(), func.max(h.expires_ms)).where(h.state == "active", h.expires_ms <= at_ms)
    ).one()
    return int(row[0]), int(row[1] or 0)


def expire_holds(change: Change, at_ms: int, *, slot_id: str | None = None) -> int:
    """Marks active holds past their expiry `expired` (all, or one slot's), stamps their slots and
    records the referrals as called off. Returns how many."""
    conn = change.conn
    h = t.hold.c
    query = select(t.hold).where(h.state == "active", h.expires_ms <= at_ms)
    if slot_id is not None:
        query = query.where(h.slot_id == slot_id)
    rows = [_hold(r) for r in conn.execute(query)]
    for hold in rows:
        conn.execute(update(t.hold).where(h.id == hold.id).values(state="expired", last_updated=change.stamp_ms))
        conn.execute(update(t.slot).where(t.slot.c.id == hold.slot_id).values(last_updated=change.stamp_ms))
        audit(conn, at_ms=at_ms, action="expire", slot_id=hold.slot_id, hold_id=hold.id)
        record_outcome(
            conn,
            source=hold.source,
            referral=hold.referral,
            outcome="called-off",
            reason="expired",
            at_ms=at_ms,
            hold_id=hold.id,
            only_if_hold=hold.id,
        )
    return len(rows)


def _why_not(conn: Connection, slot_id: str, at_ms: int) -> str:
    row = conn.execute(select(t.slot.c.active, t.slot.c.start_ms).where(t.slot.c.id == slot_id)).first()
    if row is None or not row.active:
        return "gone"
    if int(row.start_ms) <= at_ms:
        return "past"
    return "taken"


def reserve(conn: Connection, slot_id: str, at_ms: int, *, stamp_ms: int) -> bool:
    """One unit of the slot's capacity, if a unit is free of bookings and live holds: the conditional
    UPDATE that makes double booking impossible. Stamps the slot (its published status changes)."""
    s = t.slot.c
    result = conn.execute(
        update(t.slot)
        .where(
            and_(
                s.id == slot_id,
                s.active,
                s.status == "free",
                s.start_ms > at_ms,
                s.booked + active_holds(at_ms) < s.capacity,
            )
        )
        .values(last_updated=stamp_ms)
    )
    return result.rowcount == 1


def place_hold(
    *,
    store: ProviderStore,
    clock: Clock,
    slot_id: str,
    ttl: timedelta,
    token: str,
    referral: str | None = None,
    source: str | None = None,
) -> Hold:
    """Holds one unit of `slot_id` for `ttl` for the browser whose flow-cookie hash is `token`.

    A browser that already holds the slot gets that hold back, unchanged and with nothing written
    (a double-clicked "Continue" must not find the patient's own hold in the way). Raises
    `SlotUnavailable` (nothing written to the data set; the refusal is logged and the referral
    recorded as called off, `taken`) when the slot is gone, past, busy, full or held by others."""
    at_ms = now_ms(clock)
    try:
        with store.change() as change:
            # Looked up inside the change, whose first statement serializes writers: two
            # simultaneous POSTs of one browser cannot both reserve.
            mine = held_by(change.conn, slot_id, token, at_ms)
            if mine is not None:
                _take_back(change)
                return mine
            expire_holds(change, at_ms, slot_id=slot_id)
            if not reserve(change.conn, slot_id, at_ms, stamp_ms=change.stamp_ms):
                raise SlotUnavailable(slot_id, _why_not(change.conn, slot_id, at_ms))
            hold = Hold(
                id=secrets.token_hex(16),
                slot_id=slot_id,
                token=token,
                created_ms=at_ms,
                expires_ms=at_ms + int(ttl.total_seconds() * 1000),
                state="active",
                referral=referral,
                source=source,
            )
            change.conn.execute(
                t.hold.insert().values(
                    id=hold.id,
                    slot_id=slot_id,
                    token=token,
                    created_ms=hold.created_ms,
                    expires_ms=hold.expires_ms,
                    state="active",
                    referral=referral,
                    source=source,
                    last_updated=change.stamp_ms,
                )
            )
            audit(change.conn, at_ms=at_ms, action="hold", slot_id=slot_id, hold_id=hold.id)
            record_outcome(
                change.conn,
                source=source,
                referral=referral,
                outcome="held",
                at_ms=at_ms,
                slot_id=slot_id,
                hold_id=hold.id,
            )
            return hold
    except SlotUnavailable as refused:
        _log_refusal(store, at_ms, slot_id, refused.reason, source, referral)
        raise


def _take_back(change: Change) -> None:
    # Nothing changed: roll the change's stamp back so the data-set version does not move.
    transaction = change.conn.get_transaction()
    if transaction is not None:
        transaction.rollback()


def _log_refusal(
    store: ProviderStore, at_ms: int, slot_id: str, reason: str, source: str | None, referral: str | None
) -> None:
    # Not a change to the data set: written without bumping it (see `referrals.outcome_log`).
    with outcome_log(store) as conn:
        audit(conn, at_ms=at_ms, action="hold-refused", slot_id=slot_id, detail=reason)
        record_outcome(
            conn, source=source, referral=referral, outcome="called-off", reason="taken", at_ms=at_ms, slot_id=slot_id
        )


def release_hold(*, store: ProviderStore, clock: Clock, hold_id: str, token: str, reason: str) -> Hold:
    """Calls a hold off (`reason`: ineligible, needs-call, released): its unit is free again at once."""
    at_ms = now_ms(clock)
    with store.change() as change:
        return call_off_hold(change, hold_id=hold_id, token=token, reason=reason, at_ms=at_ms)


def call_off_hold(change: Change, *, hold_id: str, token: str, reason: str, at_ms: int) -> Hold:
    """`release_hold` inside the caller's change: a hold still active is released, audited and its
    referral recorded as called off for `reason`. Returns the hold as it now stands."""
    hold = get_hold(change.conn, hold_id)
    if hold.token != token:
        raise NotFound(f"no hold {hold_id!r}")
    if hold.state == "active":
        change.conn.execute(
            update(t.hold).where(t.hold.c.id == hold_id).values(state="released", last_updated=change.stamp_ms)
        )
        change.conn.execute(update(t.slot).where(t.slot.c.id == hold.slot_id).values(last_updated=change.stamp_ms))
        audit(change.conn, at_ms=at_ms, action="release", slot_id=hold.slot_id, hold_id=hold_id, detail=reason)
        record_outcome(
            change.conn,
            source=hold.source,
            referral=hold.referral,
            outcome="called-off",
            reason=reason,
            at_ms=at_ms,
            hold_id=hold_id,
            only_if_hold=hold_id,
        )
    return get_hold(change.conn, hold_id)

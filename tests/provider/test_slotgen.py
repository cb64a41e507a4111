"""Slot generation from availability rules, in a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select, update

from slotlinks.clock import FixedClock
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import Address, Extension, Location, Reference, Schedule
from slotlinks.provider.records.resources import put_resource
from slotlinks.provider.schedule.opening_hours import Closure, Rule
from slotlinks.provider.schedule.regenerate import regenerate, save_closure, save_rule
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore

MON_FRI = frozenset(range(5))


def setup_schedule(store: ProviderStore, tz: str = "America/New_York") -> None:
    with store.change() as change:
        put_resource(
            change,
            Location(
                id="loc-1",
                name="Clinic",
                address=Address(city="Boston", state="MA", postalCode="02114"),
                extension=[Extension(url=ext.TIMEZONE, valueCode=tz)],
            ),
        )
        put_resource(change, Schedule(id="sch-1", actor=[Reference(reference="Location/loc-1")]))
        save_rule(change, "sch-1", Rule("r1", MON_FRI, time(9), time(12), 30, capacity=2))


def slots(store: ProviderStore) -> list[tuple[str, str, bool, int]]:
    s = t.slot.c
    with store.read() as conn:
        rows = conn.execute(select(s.id, s.start, s.active, s.capacity).order_by(s.start_ms)).all()
    return [(r.id, r.start, bool(r.active), r.capacity) for r in rows]


def test_rules_make_slots_in_local_time(provider_store: ProviderStore) -> None:
    setup_schedule(provider_store)
    with provider_store.change() as change:
        stats = regenerate(change, today=date(2026, 11, 23), horizon_days=7)
    made = slots(provider_store)
    assert stats.added == len(made) == 5 * 6
    assert made[0][1] == "2026-11-23T09:00:00-05:00"
    assert all(capacity == 2 for *_, capacity in made)


def test_regeneration_is_idempotent(provider_store: ProviderStore) -> None:
    setup_schedule(provider_store)
    with provider_store.change() as change:
        regenerate(change, today=date(2026, 11, 23), horizon_days=7)
    first = slots(provider_store)
    with provider_store.change() as change:
        stats = regenerate(change, today=date(2026, 11, 23), horizon_days=7)
    assert (stats.added, stats.updated, stats.removed) == (0, 0, 0)
    assert slots(provider_store) == first


def test_dst_change_gives_correct_offsets(provider_store: ProviderStore) -> None:
    setup_schedule(provider_store)
    with provider_store.change() as change:
        regenerate(change, today=date(2026, 10, 30), horizon_days=5)  # DST ends Sunday 2026-11-01
    starts = [start for _, start, *_ in slots(provider_store)]
    assert "2026-10-30T09:00:00-04:00" in starts
    assert "2026-11-02T09:00:00-05:00" in starts


def test_booked_and_held_slots_survive_rule_removal(provider_store: ProviderStore) -> None:
    setup_schedule(provider_store)
    with provider_store.change() as change:
        regenerate(change, today=date(2026, 11, 23), horizon_days=7)
    booked_id, held_id, free_id = (row[0] for row in slots(provider_store)[:3])
    with provider_store.change() as change:
        change.conn.execute(update(t.slot).where(t.slot.c.id == booked_id).values(booked=1))
        change.conn.execute(update(t.slot).where(t.slot.c.id == held_id).values(status="busy-tentative"))
        save_rule(change, "sch-1", Rule("r1", MON_FRI, time(9), time(12), 30, capacity=2), active=False)
        stats = regenerate(change, today=date(2026, 11, 23), horizon_days=7)
    state = {slot_id: active for slot_id, _, active, _ in slots(provider_store)}
    assert state[booked_id] is True
    assert state[held_id] is True
    assert state[free_id] is False
    assert stats.kept_booked == 2
    assert stats.removed == 5 * 6 - 2


def test_closure_removes_the_day_and_reopening_restores_it(provider_store: ProviderStore) -> None:
    setup_schedule(provider_store)
    with provider_store.change() as change:
        regenerate(change, today=date(2026, 11, 23), horizon_days=7)
        save_closure(change, "sch-1", "c1", Closure(date(2026, 11, 26), reason="Thanksgiving"))
        regenerate(change, today=date(2026, 11, 23), horizon_days=7)
    thursday = [s for s in slots(provider_store) if s[1].startswith("2026-11-26")]
    assert thursday
    assert not any(active for _, _, active, _ in thursday)
    with provider_store.change() as change:
        save_closure(change, "sch-1", "c1", Closure(date(2026, 11, 26)), active=False)
        stats = regenerate(change, today=date(2026, 11, 23), horizon_days=7)
    assert stats.updated == 6
    assert all(active for _, start, active, _ in slots(provider_store) if start.startswith("2026-11-26"))


def test_change_stamps_increase_even_when_the_clock_stands_still(provider_store: ProviderStore) -> None:
    clock = FixedClock(provider_store.clock())
    store = ProviderStore(provider_store.engine, clock=clock)
    stamps = []
    for _ in range(3):
        with store.change() as change:
            stamps.append(change.stamp_ms)
    assert stamps == sorted(set(stamps))
    assert store.state().changed_ms == stamps[-1]


def test_a_live_hold_keeps_its_slot_through_rule_removal(provider_store: ProviderStore) -> None:
    from datetime import UTC, datetime, timedelta

    from slotlinks.provider.portal.holds import place_hold

    # Slots a week ahead of the real clock, which stamps the store's changes.
    first_day = datetime.now(UTC).date() + timedelta(days=7)
    setup_schedule(provider_store)
    with provider_store.change() as change:
        regenerate(change, today=first_day, horizon_days=7)
    held_id = slots(provider_store)[0][0]
    place_hold(
        store=provider_store,
        clock=provider_store.clock,
        slot_id=held_id,
        ttl=timedelta(minutes=10),
        token="t" * 32,
    )
    with provider_store.change() as change:
        save_rule(change, "sch-1", Rule("r1", MON_FRI, time(9), time(12), 30, capacity=2), active=False)
        regenerate(change, today=first_day, horizon_days=7)
    state = {slot_id: active for slot_id, _, active, _ in slots(provider_store)}
    assert state[held_id] is True
    assert sum(state.values()) == 1

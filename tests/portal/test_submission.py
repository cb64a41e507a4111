"""The booking use case over the SQL store (SQLite and PostgreSQL): a booking that finds its slot
taken records the called-off outcome in the same transaction as the attempt, without moving the
data set; a unit of work keeps all of its writes or none of them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Table, func, select

from slotlinks.clock import FixedClock
from slotlinks.errors import SlotUnavailable
from slotlinks.provider.portal.booking_store import SqlBookingStore
from slotlinks.provider.portal.holds import Hold, get_hold, place_hold
from slotlinks.provider.portal.patient import Patient
from slotlinks.provider.portal.submission import Booked, NotBookable, submit_booking
from slotlinks.provider.schedule.slots import get_slot, set_slot_status
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore
from tests.portal.conftest import PATIENT, make_slot

TOKEN = "a" * 64
TTL = timedelta(minutes=10)
ADA = Patient("Ada Lovelace", date(1980, 12, 10), "617-555-0100", None)


def _held(store: ProviderStore, clock: FixedClock, referral: str = "ref-sub") -> Hold:
    slot_id = make_slot(store, 1)
    return place_hold(
        store=store, clock=clock, slot_id=slot_id, ttl=TTL, token=TOKEN, referral=referral, source="finder"
    )


def _outcome(store: ProviderStore, referral: str) -> tuple[str, str | None]:
    with store.read() as conn:
        row = conn.execute(select(t.referral.c.outcome, t.referral.c.reason).where(t.referral.c.id == referral)).one()
    return row.outcome, row.reason


def _count(store: ProviderStore, table: Table) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _make_busy(store: ProviderStore, slot_id: str) -> None:
    with store.change() as change:
        set_slot_status(change, slot_id, "busy-unavailable")


def test_a_slot_taken_meanwhile_is_called_off_in_the_attempts_own_transaction(
    store: ProviderStore, clock: FixedClock
) -> None:
    hold = _held(store, clock)
    _make_busy(store, hold.slot_id)
    version = store.state().version
    result = submit_booking(store=SqlBookingStore(store), clock=clock, hold_id=hold.id, token=TOKEN, form=PATIENT)
    assert result == NotBookable("taken")
    assert _outcome(store, "ref-sub") == ("called-off", "taken")
    # The failed attempt is taken back out: the data set did not change, nothing was booked.
    assert store.state().version == version
    assert _count(store, t.appointment) == 0
    with store.read() as conn:
        assert get_slot(conn, hold.slot_id).booked == 0
        assert get_hold(conn, hold.id).state == "active"


def test_a_hold_that_ran_out_and_lost_its_slot_is_called_off_as_expired(
    store: ProviderStore, clock: FixedClock
) -> None:
    hold = _held(store, clock)
    clock.advance(minutes=11)
    other = place_hold(store=store, clock=clock, slot_id=hold.slot_id, ttl=TTL, token="b" * 64, referral="ref-other")
    bookings = SqlBookingStore(store)
    assert isinstance(
        submit_booking(store=bookings, clock=clock, hold_id=other.id, token="b" * 64, form=PATIENT), Booked
    )
    result = submit_booking(store=bookings, clock=clock, hold_id=hold.id, token=TOKEN, form=PATIENT)
    assert result == NotBookable("expired")
    assert _outcome(store, "ref-sub") == ("called-off", "expired")
    assert _outcome(store, "ref-other") == ("booked", None)
    assert _count(store, t.appointment) == 1


def test_an_outcome_recorded_after_a_failed_attempt_is_lost_with_its_unit_when_not_committed(
    store: ProviderStore, clock: FixedClock
) -> None:
    hold = _held(store, clock)
    _make_busy(store, hold.slot_id)
    at_ms = int(clock().timestamp() * 1000)
    with SqlBookingStore(store).unit() as unit:
        with pytest.raises(SlotUnavailable):
            unit.book(hold_id=hold.id, token=TOKEN, patient=ADA, response=None, at_ms=at_ms)
        unit.record_outcome(hold, outcome="called-off", reason="taken", at_ms=at_ms)
    assert _outcome(store, "ref-sub") == ("held", None)


def _release_then_fail(bookings: SqlBookingStore, hold: Hold, at_ms: int) -> None:
    with bookings.unit() as unit:
        unit.release(hold_id=hold.id, token=TOKEN, reason="ineligible", at_ms=at_ms)
        unit.commit()
        raise RuntimeError("the request failed before its transaction ended")


def test_a_release_and_its_outcome_land_together_or_not_at_all(store: ProviderStore, clock: FixedClock) -> None:
    hold = _held(store, clock)
    version = store.state().version
    at_ms = int(clock().timestamp() * 1000)
    bookings = SqlBookingStore(store)
    with pytest.raises(RuntimeError):
        _release_then_fail(bookings, hold, at_ms)
    with bookings.unit() as unit:
        unit.release(hold_id=hold.id, token=TOKEN, reason="ineligible", at_ms=at_ms)
    with store.read() as conn:
        assert get_hold(conn, hold.id).state == "active"
    assert _outcome(store, "ref-sub") == ("held", None)
    assert store.state().version == version
    with bookings.unit() as unit:
        unit.release(hold_id=hold.id, token=TOKEN, reason="ineligible", at_ms=at_ms)
        unit.commit()
    with store.read() as conn:
        assert get_hold(conn, hold.id).state == "released"
    assert _outcome(store, "ref-sub") == ("called-off", "ineligible")
    assert store.state().version == version + 1


def test_a_booking_is_one_change_to_the_data_set(store: ProviderStore, clock: FixedClock) -> None:
    hold = _held(store, clock)
    version = store.state().version
    result = submit_booking(store=SqlBookingStore(store), clock=clock, hold_id=hold.id, token=TOKEN, form=PATIENT)
    assert isinstance(result, Booked)
    assert store.state().version == version + 1
    assert _outcome(store, "ref-sub") == ("booked", None)
    with store.read() as conn:
        assert get_slot(conn, hold.slot_id).booked == 1
        actions = list(conn.execute(select(t.audit_log.c.action).order_by(t.audit_log.c.id)).scalars())
    assert actions == ["hold", "book"]

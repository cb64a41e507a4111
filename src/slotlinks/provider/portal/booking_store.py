"""What the booking use case needs of a store, as one unit of work, and its SQL implementation.

`submit_booking` reads a hold, its slot and the slot's questionnaire, then books the hold or calls it
off, and records the referral's outcome (SPEC-NOTES "Deep links": the portal may keep
`booking-referral` so the client can later learn the outcome). All of it happens inside one
`BookingUnit`: nothing is kept unless the use case calls `commit()`, and then all of it is.

`SqlBookingStore` opens the unit as one write transaction. A booking or a release is a change to
the data set (`ProviderStore.stamp`); an attempt to book that finds the slot unavailable is taken
back out (a savepoint) so that the called-off outcome recorded after it commits without moving the
data-set version, as the outcome log's other rows do (`referrals.outcome_log`). Unit tests use an
in-memory fake of the same protocol (`tests/unit/fakes.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection

from slotlinks.db.engine import writing
from slotlinks.provider.portal.booking import AppointmentRecord, book_hold
from slotlinks.provider.portal.holds import Hold, call_off_hold, get_hold
from slotlinks.provider.portal.patient import Patient
from slotlinks.provider.portal.questionnaires import Questionnaire, questionnaire_for_schedule
from slotlinks.provider.portal.referrals import record_outcome
from slotlinks.provider.portal.slotinfo import SlotView, slot_view
from slotlinks.provider.store.store import Change, ProviderStore

__all__ = ["BookingStore", "BookingUnit", "SqlBookingStore", "SqlBookingUnit"]


class BookingUnit(Protocol):
    """One unit of work of the booking use case: everything done through it lands together on
    `commit()`, or not at all."""

    def hold(self, hold_id: str) -> Hold:
        """The hold (`NotFound` when there is none)."""
        ...

    def slot(self, slot_id: str) -> SlotView | None:
        """What the portal shows of the slot, or None when it is gone."""
        ...

    def questionnaire(self, schedule_id: str) -> Questionnaire | None:
        """The active questionnaire a slot of this schedule asks, if any."""
        ...

    def book(
        self, *, hold_id: str, token: str, patient: Patient, response: dict[str, Any] | None, at_ms: int
    ) -> AppointmentRecord:
        """Turns the hold into a booked Appointment and records the referral as `booked` (a hold
        already booked returns its appointment). Raises `SlotUnavailable`, having kept nothing."""
        ...

    def release(self, *, hold_id: str, token: str, reason: str, at_ms: int) -> None:
        """Releases a hold still active and records its referral as called off for `reason`."""
        ...

    def record_outcome(self, hold: Hold, *, outcome: str, reason: str | None, at_ms: int) -> None:
        """Sets the outcome of the hold's referral, if it still concerns this hold."""
        ...

    def commit(self) -> None:
        """Keeps what the unit did; a unit left without it keeps nothing."""
        ...


class BookingStore(Protocol):
    """Where booking units come from."""

    def unit(self) -> AbstractContextManager[BookingUnit]: ...


class SqlBookingUnit:
    """A `BookingUnit` over one open write transaction of the provider store."""

    def __init__(self, store: ProviderStore, conn: Connection) -> None:
        self._store = store
        self._conn = conn
        self._change: Change | None = None
        self.committed = False

    def _stamped(self) -> Change:
        # One data-set change per unit, however many of its steps write booking state.
        if self._change is None:
            self._change = self._store.stamp(self._conn)
        return self._change

    def hold(self, hold_id: str) -> Hold:
        return get_hold(self._conn, hold_id)

    def slot(self, slot_id: str) -> SlotView | None:
        return slot_view(self._conn, slot_id)

    def questionnaire(self, schedule_id: str) -> Questionnaire | None:
        return questionnaire_for_schedule(self._conn, schedule_id)

    def book(
        self, *, hold_id: str, token: str, patient: Patient, response: dict[str, Any] | None, at_ms: int
    ) -> AppointmentRecord:
        stamped_here = self._change is None
        attempt = self._conn.begin_nested()
        try:
            record = book_hold(
                self._stamped(), hold_id=hold_id, token=token, patient=patient, response=response, at_ms=at_ms
            )
        except BaseException:
            attempt.rollback()
            if stamped_here:  # the rolled-back savepoint took the stamp with it
                self._change = None
            raise
        attempt.commit()
        return record

    def release(self, *, hold_id: str, token: str, reason: str, at_ms: int) -> None:
        call_off_hold(self._stamped(), hold_id=hold_id, token=token, reason=reason, at_ms=at_ms)

    def record_outcome(self, hold: Hold, *, outcome: str, reason: str | None, at_ms: int) -> None:
        record_outcome(
            self._conn,
            source=hold.source,
            referral=hold.referral,
            outcome=outcome,
            reason=reason,
            at_ms=at_ms,
            only_if_hold=hold.id,
        )

    def commit(self) -> None:
        self.committed = True


class SqlBookingStore:
    """The provider store as a `BookingStore`: each unit is one write transaction, committed only
    when the unit was."""

    def __init__(self, store: ProviderStore) -> None:
        self.store = store

    @contextmanager
    def unit(self) -> Iterator[SqlBookingUnit]:
        with writing(self.store.engine) as conn:
            unit = SqlBookingUnit(self.store, conn)
            yield unit
            if not unit.committed:
                transaction = conn.get_transaction()
                if transaction is not None:
                    transaction.rollback()

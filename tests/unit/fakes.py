"""In-memory fakes of the stores' protocols, for unit tests of the use cases with no database.

`FakeBookingStore` keeps holds, slots and questionnaires in dicts. Its units stage every write and
apply them only on `commit()`, which also sets `committed`: a test sees exactly what the use case
kept, and whether it kept it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from slotlinks.errors import NotFound, SlotUnavailable
from slotlinks.provider.portal.booking import AppointmentRecord
from slotlinks.provider.portal.holds import Hold
from slotlinks.provider.portal.patient import Patient
from slotlinks.provider.portal.questionnaires import Questionnaire
from slotlinks.provider.portal.slotinfo import SlotView


@dataclass(frozen=True)
class RecordedOutcome:
    """A referral outcome as the fake keeps it."""

    referral: str | None
    outcome: str
    reason: str | None = None


class FakeBookingUnit:
    """One unit of work over a `FakeBookingStore`: reads the store, stages writes until `commit()`."""

    def __init__(self, store: FakeBookingStore) -> None:
        self._store = store
        self._staged: list[Callable[[], None]] = []
        self.committed = False

    def hold(self, hold_id: str) -> Hold:
        if hold_id not in self._store.holds:
            raise NotFound(f"no hold {hold_id!r}")
        return self._store.holds[hold_id]

    def slot(self, slot_id: str) -> SlotView | None:
        return self._store.slots.get(slot_id)

    def questionnaire(self, schedule_id: str) -> Questionnaire | None:
        return self._store.questionnaires.get(schedule_id)

    def _own(self, hold_id: str, token: str) -> Hold:
        hold = self.hold(hold_id)
        if hold.token != token:
            raise NotFound(f"no hold {hold_id!r}")
        return hold

    def book(
        self, *, hold_id: str, token: str, patient: Patient, response: dict[str, Any] | None, at_ms: int
    ) -> AppointmentRecord:
        hold = self._own(hold_id, token)
        if hold.state == "booked":
            return next(a for a in self._store.appointments.values() if a.hold_id == hold_id)
        if hold.state != "active":
            raise SlotUnavailable(hold.slot_id, "expired")
        if hold.slot_id in self._store.refusals:
            raise SlotUnavailable(hold.slot_id, self._store.refusals[hold.slot_id])
        record = AppointmentRecord(
            f"appointment-{hold_id}", hold.slot_id, hold_id, "booked", {"patient": patient, "response": response}
        )

        def apply() -> None:
            self._store.holds[hold_id] = replace(hold, state="booked")
            self._store.appointments[record.id] = record

        self._staged.append(apply)
        self.record_outcome(hold, outcome="booked", reason=None, at_ms=at_ms)
        return record

    def release(self, *, hold_id: str, token: str, reason: str, at_ms: int) -> None:
        hold = self._own(hold_id, token)
        if hold.state != "active":
            return

        def apply() -> None:
            self._store.holds[hold_id] = replace(hold, state="released")
            self._store.released.append((hold_id, reason))

        self._staged.append(apply)
        self.record_outcome(hold, outcome="called-off", reason=reason, at_ms=at_ms)

    def record_outcome(self, hold: Hold, *, outcome: str, reason: str | None, at_ms: int) -> None:
        if hold.referral:
            self._staged.append(lambda: self._store.outcomes.append(RecordedOutcome(hold.referral, outcome, reason)))

    def commit(self) -> None:
        for apply in self._staged:
            apply()
        self._staged.clear()
        self.committed = True
        self._store.committed = True


class FakeBookingStore:
    """A `BookingStore` in memory. `refusals` maps a slot id to the `SlotUnavailable` reason booking
    it fails with (the slot was taken meanwhile)."""

    def __init__(
        self,
        *,
        holds: dict[str, Hold] | None = None,
        slots: dict[str, SlotView] | None = None,
        questionnaires: dict[str, Questionnaire] | None = None,
        refusals: dict[str, str] | None = None,
    ) -> None:
        self.holds = dict(holds or {})
        self.slots = dict(slots or {})
        self.questionnaires = dict(questionnaires or {})
        self.refusals = dict(refusals or {})
        self.appointments: dict[str, AppointmentRecord] = {}
        self.released: list[tuple[str, str]] = []
        self.outcomes: list[RecordedOutcome] = []
        self.committed = False

    @contextmanager
    def unit(self) -> Iterator[FakeBookingUnit]:
        yield FakeBookingUnit(self)

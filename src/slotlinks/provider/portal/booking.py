"""Booking: the "Book" of Find → Hold → Book, with no account (UX problem 1).

The patient gives a name, date of birth and a phone number and/or email (checked field by field in
`patient`). Confirming turns the hold into a FHIR Appointment (status `booked`, the slot referenced, the
patient and the QuestionnaireResponse contained) and increments the slot's `booked` in the same
transaction: the slot turns `busy` in the publication once full. A hold that ran out is rebooked if a
unit is still free (the conditional UPDATE of `holds.reserve`), else the slot is no longer available.
Cancelling frees the unit again. Each of these is one `store.change()` and is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select, update

from slotlinks.clock import Clock, now_ms
from slotlinks.errors import NotFound, SlotUnavailable
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.provider.portal.audit import audit
from slotlinks.provider.portal.holds import get_hold, reserve
from slotlinks.provider.portal.patient import Patient
from slotlinks.provider.portal.reference import looks_like_reference, new_reference
from slotlinks.provider.portal.referrals import record_outcome
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change, ProviderStore

__all__ = [
    "AppointmentRecord",
    "appointment_for_hold",
    "book",
    "book_hold",
    "cancel",
    "find_appointment",
    "get_appointment",
]


@dataclass(frozen=True, slots=True)
class AppointmentRecord:
    """A stored Appointment: its ids, `booked` or `cancelled`, and the FHIR resource as kept."""

    id: str
    slot_id: str
    hold_id: str
    state: str
    resource: dict[str, Any]
    reference: str = ""

    @property
    def key(self) -> str:
        """What the patient's links name the appointment by: its reference (its id before it had one)."""
        return self.reference or self.id


def _record(row: Row[Any]) -> AppointmentRecord:
    return AppointmentRecord(
        row.id, row.slot_id, row.hold_id, row.state, orjson.loads(row.resource), row.reference or ""
    )


def get_appointment(conn: Connection, appointment_id: str) -> AppointmentRecord:
    row = conn.execute(select(t.appointment).where(t.appointment.c.id == appointment_id)).first()
    if row is None:
        raise NotFound(f"no appointment {appointment_id!r}")
    return _record(row)


def find_appointment(conn: Connection, key: str) -> AppointmentRecord:
    """The appointment a patient's link names: by its booking reference, or by its id (links sent
    before references existed keep working)."""
    a = t.appointment.c
    column = a.reference if looks_like_reference(key) else a.id
    row = conn.execute(select(t.appointment).where(column == key)).first()
    if row is None and column is a.reference:
        row = conn.execute(select(t.appointment).where(a.id == key)).first()
    if row is None:
        raise NotFound(f"no appointment {key!r}")
    return _record(row)


def _appointment_resource(
    conn: Connection,
    *,
    appointment_id: str,
    slot_id: str,
    patient: Patient,
    response: dict[str, Any] | None,
    at_ms: int,
) -> dict[str, Any]:
    slot = conn.execute(
        select(t.slot.c.start, t.slot.c.end, t.schedule.c.resource, t.schedule.c.location_id)
        .join(t.schedule, t.schedule.c.id == t.slot.c.schedule_id)
        .where(t.slot.c.id == slot_id)
    ).one()
    schedule = orjson.loads(slot.resource)
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    contained: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": "patient",
            "name": [{"text": patient.name}],
            "birthDate": patient.birth_date.isoformat(),
            "telecom": telecom,
        }
    ]
    participants: list[dict[str, Any]] = [
        {"actor": {"reference": "#patient", "display": patient.name}, "required": "required", "status": "accepted"}
    ]
    for actor in schedule.get("actor", []):
        if actor.get("reference"):
            participants.append(
                {"actor": {"reference": actor["reference"]}, "required": "required", "status": "accepted"}
            )
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appointment_id,
        "meta": {"lastUpdated": ms_to_instant(at_ms)},
        "contained": contained,
        "status": "booked",
        "serviceType": schedule.get("serviceType", []),
        "specialty": schedule.get("specialty", []),
        "start": slot.start,
        "end": slot.end,
        "created": ms_to_instant(at_ms)[:10],
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": participants,
    }
    if response is not None:
        contained.append(response)
        resource["supportingInformation"] = [{"reference": f"#{response['id']}"}]
    return resource


def appointment_for_hold(conn: Connection, hold_id: str) -> AppointmentRecord:
    """The appointment a booked hold became (NotFound when the hold was never booked)."""
    row = conn.execute(select(t.appointment).where(t.appointment.c.hold_id == hold_id)).first()
    if row is None:
        raise NotFound(f"no appointment for hold {hold_id!r}")
    return _record(row)


def book(
    *,
    store: ProviderStore,
    clock: Clock,
    hold_id: str,
    token: str,
    patient: Patient,
    response: dict[str, Any] | None = None,
) -> AppointmentRecord:
    """Turns the hold into a booked Appointment (idempotent: a hold already booked returns its
    appointment). Raises `SlotUnavailable` when the hold ran out and the slot was taken meanwhile."""
    at_ms = now_ms(clock)
    with store.change() as change:
        return book_hold(change, hold_id=hold_id, token=token, patient=patient, response=response, at_ms=at_ms)


def book_hold(
    change: Change,
    *,
    hold_id: str,
    token: str,
    patient: Patient,
    response: dict[str, Any] | None,
    at_ms: int,
) -> AppointmentRecord:
    """`book` inside the caller's change: the slot's unit, the hold, the Appointment, its audit row
    and the referral's `booked` outcome, written together; `SlotUnavailable` after writing nothing."""
    conn = change.conn
    hold = get_hold(conn, hold_id)
    if hold.token != token:
        raise NotFound(f"no hold {hold_id!r}")
    if hold.state == "booked":
        return appointment_for_hold(conn, hold_id)
    if hold.state != "active":
        raise SlotUnavailable(hold.slot_id, "expired")
    if hold.expires_ms <= at_ms and not reserve(conn, hold.slot_id, at_ms, stamp_ms=change.stamp_ms):
        raise SlotUnavailable(hold.slot_id, "expired")
    s = t.slot.c
    taken = conn.execute(
        update(t.slot)
        .where(s.id == hold.slot_id, s.active, s.status != "busy-unavailable", s.booked < s.capacity)
        .values(booked=s.booked + 1, last_updated=change.stamp_ms)
    )
    if taken.rowcount != 1:
        raise SlotUnavailable(hold.slot_id, "taken")
    conn.execute(update(t.hold).where(t.hold.c.id == hold_id).values(state="booked", last_updated=change.stamp_ms))
    appointment_id = secrets.token_hex(16)
    reference = new_reference(conn)
    resource = _appointment_resource(
        conn, appointment_id=appointment_id, slot_id=hold.slot_id, patient=patient, response=response, at_ms=at_ms
    )
    conn.execute(
        t.appointment.insert().values(
            id=appointment_id,
            slot_id=hold.slot_id,
            hold_id=hold_id,
            state="booked",
            resource=orjson.dumps(resource).decode(),
            questionnaire_response=orjson.dumps(response).decode() if response is not None else None,
            created_ms=at_ms,
            last_updated=change.stamp_ms,
            reference=reference,
        )
    )
    audit(conn, at_ms=at_ms, action="book", slot_id=hold.slot_id, hold_id=hold_id, appointment_id=appointment_id)
    record_outcome(
        conn,
        source=hold.source,
        referral=hold.referral,
        outcome="booked",
        at_ms=at_ms,
        slot_id=hold.slot_id,
        hold_id=hold_id,
    )
    return AppointmentRecord(appointment_id, hold.slot_id, hold_id, "booked", resource, reference)


def cancel(*, store: ProviderStore, clock: Clock, appointment_id: str, staff: str | None = None) -> AppointmentRecord:
    """Cancels a booked appointment and frees its unit of the slot (idempotent). `staff` names the
    staff member who cancelled on the patient's behalf, for the audit log."""
    at_ms = now_ms(clock)
    with store.change() as change:
        conn = change.conn
        record = get_appointment(conn, appointment_id)
        if record.state != "booked":
            return record
        resource = dict(record.resource, status="cancelled", meta={"lastUpdated": ms_to_instant(at_ms)})
        conn.execute(
            update(t.appointment)
            .where(t.appointment.c.id == appointment_id, t.appointment.c.state == "booked")
            .values(state="cancelled", resource=orjson.dumps(resource).decode(), last_updated=change.stamp_ms)
        )
        s = t.slot.c
        conn.execute(
            update(t.slot)
            .where(s.id == record.slot_id, s.booked > 0)
            .values(booked=s.booked - 1, last_updated=change.stamp_ms)
        )
        audit(
            conn,
            at_ms=at_ms,
            action="cancel" if staff is None else "cancel-by-staff",
            slot_id=record.slot_id,
            appointment_id=appointment_id,
            detail=None if staff is None else f"staff:{staff}",
        )
        hold = get_hold(conn, record.hold_id)
        record_outcome(
            conn,
            source=hold.source,
            referral=hold.referral,
            outcome="cancelled",
            at_ms=at_ms,
            slot_id=record.slot_id,
            only_if_hold=hold.id,
        )
        return AppointmentRecord(record.id, record.slot_id, record.hold_id, "cancelled", resource, record.reference)

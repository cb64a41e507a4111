"""What staff see and do: today's and upcoming bookings, and cancelling on a patient's behalf.

Bookings are grouped by location, then schedule, in order of time, each with the patient's name,
birth date and contact and the answers to the provider's questions (the QuestionnaireResponse kept
with the booking). "Today" is the location's own day: a booking shows from the start of its local day.
Only these pages and the patient's own confirmation page ever show patient data.

Cancelling on behalf goes through `booking.cancel`, which frees the unit of the slot and writes the
cancellation's one audit entry, naming the staff member who did it, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, select

from slotlinks.clock import Clock
from slotlinks.provider.portal.booking import AppointmentRecord, cancel
from slotlinks.provider.portal.reference import spaced
from slotlinks.provider.portal.slotinfo import SlotView, slot_view
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore

__all__ = [
    "MAX_BOOKINGS",
    "Answer",
    "LocationBookings",
    "ScheduleBookings",
    "StaffBooking",
    "cancel_for_patient",
    "locations",
    "staff_bookings",
]

MAX_BOOKINGS = 500
_DAY_MS = 24 * 3600 * 1000
# No time zone is more than 14 hours from UTC.
_ZONE_SPREAD_MS = 14 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class StaffBooking:
    appointment_id: str
    reference: str  # what the patient reads out on the phone (`portal.reference`)
    slot: SlotView
    today: bool
    patient_name: str
    birth_date: str | None
    phone: str | None
    email: str | None
    answers: tuple[Answer, ...]


@dataclass(slots=True)
class ScheduleBookings:
    schedule_id: str
    label: str
    bookings: list[StaffBooking] = field(default_factory=list)


@dataclass(slots=True)
class LocationBookings:
    location_id: str | None
    name: str
    schedules: list[ScheduleBookings] = field(default_factory=list)


def locations(conn: Connection) -> list[tuple[str, str]]:
    """(id, name) of every active location, by name: the choices of the location filter."""
    loc = t.location.c
    rows = conn.execute(select(loc.id, loc.name).where(loc.active).order_by(loc.name, loc.id))
    return [(str(r.id), str(r.name)) for r in rows]


def _answer_text(answer: dict[str, Any]) -> str:
    if "valueBoolean" in answer:
        return "Yes" if answer["valueBoolean"] else "No"
    if "valueCoding" in answer:
        coding = answer["valueCoding"]
        return str(coding.get("display") or coding.get("code") or "")
    for key in ("valueString", "valueInteger", "valueDate", "valueDecimal"):
        if key in answer:
            return str(answer[key])
    return ""


def _answers(response_json: str | None) -> tuple[Answer, ...]:
    if not response_json:
        return ()
    response = orjson.loads(response_json)
    return tuple(
        Answer(str(item.get("text") or item.get("linkId")), "; ".join(_answer_text(a) for a in item.get("answer", [])))
        for item in response.get("item", [])
    )


def _patient(resource: dict[str, Any]) -> dict[str, Any]:
    for contained in resource.get("contained", []):
        if contained.get("resourceType") == "Patient":
            return dict(contained)
    return {}


def _booking(row: Any, view: SlotView, today: bool) -> StaffBooking:
    patient = _patient(orjson.loads(row.resource))
    telecom = {c.get("system"): c.get("value") for c in patient.get("telecom", [])}
    names = patient.get("name") or [{}]
    return StaffBooking(
        appointment_id=str(row.id),
        reference=spaced(str(row.reference or "")),
        slot=view,
        today=today,
        patient_name=str(names[0].get("text") or ""),
        birth_date=patient.get("birthDate"),
        phone=telecom.get("phone"),
        email=telecom.get("email"),
        answers=_answers(row.questionnaire_response),
    )


def _schedule_label(view: SlotView) -> str:
    return f"{view.service} with {view.practitioner}" if view.practitioner else view.service


def staff_bookings(
    conn: Connection, *, at_ms: int, location_id: str | None = None, day: date | None = None
) -> tuple[list[LocationBookings], bool]:
    """Booked appointments from the start of today (each location's today) on, or on `day` only (a
    local date), of one location or all; grouped by location, then schedule. Also whether the list
    was cut at `MAX_BOOKINGS`."""
    a, s, sc = t.appointment.c, t.slot.c, t.schedule.c
    query = (
        select(a.id, a.slot_id, a.resource, a.questionnaire_response, a.reference, s.start_ms)
        .join(t.slot, s.id == a.slot_id)
        .join(t.schedule, sc.id == s.schedule_id)
        .where(a.state == "booked")
    )
    if day is None:
        query = query.where(s.start_ms >= at_ms - _DAY_MS)
    else:
        midnight_ms = _utc_midnight_ms(day)
        query = query.where(
            s.start_ms >= midnight_ms - _ZONE_SPREAD_MS, s.start_ms < midnight_ms + _DAY_MS + _ZONE_SPREAD_MS
        )
    if location_id:
        query = query.where(sc.location_id == location_id)
    rows = conn.execute(query.order_by(s.start_ms, a.id).limit(MAX_BOOKINGS + 1)).all()
    truncated = len(rows) > MAX_BOOKINGS
    groups: dict[str | None, LocationBookings] = {}
    schedules: dict[str, ScheduleBookings] = {}
    for row in rows[:MAX_BOOKINGS]:
        view = slot_view(conn, row.slot_id)
        if view is None:
            continue
        local_today = datetime.fromtimestamp(at_ms / 1000, view.start.tzinfo).date()
        local_day = view.start.date()
        if (day is None and local_day < local_today) or (day is not None and local_day != day):
            continue
        place = groups.get(view.location_id)
        if place is None:
            place = groups[view.location_id] = LocationBookings(view.location_id, view.location_name or "No location")
        group = schedules.get(view.schedule_id)
        if group is None:
            group = schedules[view.schedule_id] = ScheduleBookings(view.schedule_id, _schedule_label(view))
            place.schedules.append(group)
        group.bookings.append(_booking(row, view, local_day == local_today))
    ordered = sorted(groups.values(), key=lambda g: (g.name, g.location_id or ""))
    for place in ordered:
        place.schedules.sort(key=lambda g: (g.label, g.schedule_id))
    return ordered, truncated


def _utc_midnight_ms(day: date) -> int:
    return (day - date(1970, 1, 1)) // timedelta(days=1) * _DAY_MS


def cancel_for_patient(*, store: ProviderStore, clock: Clock, appointment_id: str, username: str) -> AppointmentRecord:
    """Cancels the appointment on the patient's behalf (idempotent); the audit log's one row for the
    cancellation names the staff member. Raises `NotFound` for an unknown appointment."""
    return cancel(store=store, clock=clock, appointment_id=appointment_id, staff=username)

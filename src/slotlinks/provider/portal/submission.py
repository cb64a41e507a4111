"""Submitting a booking: the patient's details and answers on a hold → booked, or called off
(2026 IG "Find, Hold, Book"; UX problem 1: no account, the provider's questions asked once).

One use case, one unit of work (`booking_store`). The form is read once: the patient's fields
(`patient.validate_patient`) and the answers to the slot's questionnaire (`questionnaires`), whose
eligibility rules (`eligibility`) decide whether the visit may be booked online. Then either the
hold becomes an Appointment, or it is released, or the slot turned out to be unavailable; in each
case the referral's outcome (`referrals`) is recorded in the same transaction as what happened.

The answer is one of four typed results, for the caller to render:

    Booked       the Appointment record
    Invalid      a message per form field (`q-<linkId>` for an answer); nothing written
    CalledOff    not eligible, or needs a call: the rules' messages; the hold released
    NotBookable  the slot is gone, or was taken (`SlotUnavailable.reason`); the referral called off
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date
from typing import Literal

from slotlinks.clock import Clock, now_ms
from slotlinks.errors import NotFound, SlotUnavailable
from slotlinks.fhir.instant import format_instant
from slotlinks.provider.portal.booking import AppointmentRecord
from slotlinks.provider.portal.booking_store import BookingStore, BookingUnit
from slotlinks.provider.portal.eligibility import decide, parse_rules
from slotlinks.provider.portal.holds import Hold
from slotlinks.provider.portal.patient import validate_patient
from slotlinks.provider.portal.questionnaires import parse_answers, response_resource
from slotlinks.provider.portal.slotinfo import SlotView

__all__ = ["Booked", "BookingResult", "CalledOff", "Invalid", "NotBookable", "held_slot", "submit_booking"]


@dataclass(frozen=True, slots=True)
class Booked:
    """The hold is now this Appointment."""

    record: AppointmentRecord


@dataclass(frozen=True, slots=True)
class Invalid:
    """Fields to correct, each with its message (answers as `q-<linkId>`); nothing was written."""

    errors: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CalledOff:
    """The answers rule online booking out: `not-eligible` or `needs-call`, with the rules' messages."""

    outcome: Literal["not-eligible", "needs-call"]
    messages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotBookable:
    """The slot cannot be booked: `gone`, or a `SlotUnavailable.reason` (`taken`, `expired`)."""

    reason: str


BookingResult = Booked | Invalid | CalledOff | NotBookable


def _maybe_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def held_slot(unit: BookingUnit, hold_id: str, token: str) -> tuple[Hold, SlotView | None]:
    """Hold `hold_id` when `token` (the hash of the browser's flow) is the one it was placed with, and
    its slot's view (None: the slot is gone); `NotFound` for any other browser."""
    hold = unit.hold(hold_id)
    if not secrets.compare_digest(hold.token, token):
        raise NotFound(f"no hold {hold_id!r}")
    return hold, unit.slot(hold.slot_id)


def submit_booking(
    *,
    store: BookingStore,
    clock: Clock,
    hold_id: str,
    token: str,
    form: Mapping[str, str],
    today: date | None = None,
) -> BookingResult:
    """Books hold `hold_id` for the patient in `form` (fields `name`, `birthDate`, `phone`, `email` and
    `q-<linkId>` answers), or calls it off, recording the referral's outcome in the same unit of work.

    `token` is the hash of the browser's flow cookie the hold was placed with (`NotFound` for any
    other); `today` (default: the clock's day) bounds the date of birth."""
    at_ms = now_ms(clock)
    today = clock().date() if today is None else today
    with store.unit() as unit:
        hold, view = held_slot(unit, hold_id, token)
        if view is None:
            return NotBookable("gone")
        questionnaire = unit.questionnaire(view.schedule_id)
        checked = validate_patient(form, today=today)
        # The questionnaire's birth-date item is answered by the form's date of birth, even one the
        # patient checks rejected, so the answers' own messages still show beside it.
        birth = checked.patient.birth_date if checked.patient else _maybe_date(form.get("birthDate"))
        parsed = parse_answers(questionnaire, form, birth) if questionnaire else None
        errors = dict(checked.errors)
        if parsed is not None:
            errors.update({f"q-{k}": v for k, v in parsed.errors.items()})
        if errors or checked.patient is None:
            return Invalid(errors)
        response = None
        if questionnaire is not None and parsed is not None:
            decision = decide(parse_rules(questionnaire), parsed.answers, view.start.date())
            if decision.outcome != "eligible":
                reason = "ineligible" if decision.outcome == "not-eligible" else "needs-call"
                unit.release(hold_id=hold.id, token=hold.token, reason=reason, at_ms=at_ms)
                unit.commit()
                return CalledOff(decision.outcome, decision.messages)
            authored = format_instant(clock().astimezone(UTC))
            response = response_resource(questionnaire, parsed.answers, authored=authored, response_id="answers")
        try:
            record = unit.book(
                hold_id=hold.id, token=hold.token, patient=checked.patient, response=response, at_ms=at_ms
            )
        except SlotUnavailable as refused:
            unit.record_outcome(hold, outcome="called-off", reason=refused.reason, at_ms=at_ms)
            unit.commit()
            return NotBookable(refused.reason)
        unit.commit()
        return Booked(record)

"""The booking portal: deep link, hold, questions, book or call off, and referral outcomes (2026 IG "Find, Hold,
Book").

- `appointment_routes`: The booked appointment's pages, for the patient who booked it: confirmation, `.ics`,
  cancellation.
- `audit`: The portal's audit log: one row per hold, booking and cancellation (and refused or released hold),
  written inside the transaction that makes the change it records.
- `booking`: Booking: the "Book" of Find → Hold → Book, with no account (UX problem 1): the hold becomes an
  Appointment; cancelling frees the slot.
- `booking_store`: What the booking use case needs of a store, as one unit of work (a Protocol), and its SQL
  implementation.
- `csrf`: Portal security: the signing secret, signed tokens, per-flow CSRF tokens and page headers.
- `eligibility`: Eligibility rules on a pre-booking Questionnaire: eligible, not eligible, or needs a call.
- `flows`: The browser's flow identity: minted and signed by the portal, carried in a cookie, renewed when the
  browser places a hold (no session fixation).
- `holds`: Holds: the "Hold" of Find → Hold → Book (2026 IG, "Find, Hold, Book").
- `ics`: An appointment as an iCalendar file (RFC 5545), for the confirmation page's "add to calendar".
- `patient`: The patient's details on the booking form, checked field by field (a pure decision).
- `questionnaires`: Pre-booking questionnaires: the provider's questions, asked once, on the portal (UX problem 1).
- `reference`: Booking references: the short code a patient reads on the confirmation, the cancel page and the
  calendar file, and can say on the phone, in place of the appointment's internal id.
- `referrals`: Referral outcomes: the answer to UX problem 3 ("the search tool does not learn whether the booking
  succeeded, nor its final time and place"; SPEC-NOTES "Deep links": the portal may keep `booking-referral` so the
  client can later learn the outcome).
- `responses`: How the portal answers: templates, the page frame (nonce CSP, flow cookie, CSRF tokens), and the
  "no longer available" and "called off" pages.
- `routes`: The booking portal's pages: deep link → hold → questions → book, or call off (2026 IG "Find, Hold,
  Book"; SPEC-NOTES "Deep links" and the three UX problems).
- `screening`: The deciding questions first (issue 13): the questions an eligibility rule reads are asked and
  decided before the patient's name, date of birth and contact details; nothing is pre-answered from the deep link.
- `slotinfo`: What the portal shows about a slot: service, practitioner, place, local time, contact, and the nearest
  other free times of the same schedule (UX problem 2: the slot may be gone on arrival).
- `submission`: Submitting a booking, the use case: patient details and answers on a hold → booked, invalid,
  called off or unavailable, with the referral's outcome recorded in the same transaction.

Routes and commands (the modules named routes, pages or cli) are wired by the app factory and the CLI,
which import them by module path; what is listed below is the capability's surface for the rest of slotlinks.
"""

from __future__ import annotations

from slotlinks.provider.portal import csrf
from slotlinks.provider.portal.audit import audit
from slotlinks.provider.portal.booking import AppointmentRecord, book, cancel
from slotlinks.provider.portal.booking_store import BookingStore, BookingUnit, SqlBookingStore
from slotlinks.provider.portal.eligibility import ELIGIBILITY_RULE, decide, parse_rules
from slotlinks.provider.portal.holds import (
    active_holds,
    expiry_key,
    hold_counts,
    place_hold,
    release_hold,
)
from slotlinks.provider.portal.patient import Patient, validate_patient
from slotlinks.provider.portal.questionnaires import (
    BIRTH_DATE,
    LOINC,
    delete_questionnaire,
    parse_answers,
    put_questionnaire,
    read_questionnaire,
)
from slotlinks.provider.portal.referrals import put_source, read_source, referral_status
from slotlinks.provider.portal.slotinfo import SlotView, slot_view
from slotlinks.provider.portal.submission import (
    Booked,
    BookingResult,
    CalledOff,
    Invalid,
    NotBookable,
    submit_booking,
)

__all__ = [
    "BIRTH_DATE",
    "ELIGIBILITY_RULE",
    "LOINC",
    "AppointmentRecord",
    "Booked",
    "BookingResult",
    "BookingStore",
    "BookingUnit",
    "CalledOff",
    "Invalid",
    "NotBookable",
    "Patient",
    "SlotView",
    "SqlBookingStore",
    "active_holds",
    "audit",
    "book",
    "cancel",
    "csrf",
    "decide",
    "delete_questionnaire",
    "expiry_key",
    "hold_counts",
    "parse_answers",
    "parse_rules",
    "place_hold",
    "put_questionnaire",
    "put_source",
    "read_questionnaire",
    "read_source",
    "referral_status",
    "release_hold",
    "slot_view",
    "submit_booking",
    "validate_patient",
]

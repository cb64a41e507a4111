"""`submit_booking` with a fake store: each way a booking submission ends, what it keeps, and that
it keeps it in one committed unit of work (or keeps nothing). No database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from slotlinks.clock import FixedClock
from slotlinks.errors import NotFound
from slotlinks.provider.demo.catalog import service
from slotlinks.provider.demo.questionnaires import immunization_questionnaire, neurology_questionnaire
from slotlinks.provider.portal.booking_store import BookingStore
from slotlinks.provider.portal.holds import Hold
from slotlinks.provider.portal.questionnaires import Questionnaire, parse_questionnaire
from slotlinks.provider.portal.slotinfo import SlotView
from slotlinks.provider.portal.submission import (
    Booked,
    BookingResult,
    CalledOff,
    Invalid,
    NotBookable,
    submit_booking,
)
from tests.unit.fakes import FakeBookingStore, RecordedOutcome

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
ZONE = ZoneInfo("America/New_York")
START = datetime(2026, 11, 25, 10, 0, tzinfo=ZONE)
TOKEN = "a" * 64
PATIENT = {"name": "Ada Lovelace", "birthDate": "1980-12-10", "phone": "617-555-0100", "email": "ada@example.com"}


def _slot(slot_id: str = "slot-1", schedule_id: str = "sched-1") -> SlotView:
    end = START.replace(minute=20)
    return SlotView(
        id=slot_id,
        schedule_id=schedule_id,
        start=START,
        end=end,
        start_instant=START.isoformat(),
        end_instant=end.isoformat(),
        start_ms=int(START.timestamp() * 1000),
        service="Neurology visit",
        practitioner=None,
        location_id="loc-1",
        location_name="Test Health",
        address=(),
        virtual=False,
        phone="617-555-0199",
        active=True,
        status="free",
        capacity=1,
        booked=0,
    )


def _hold(state: str = "active", referral: str | None = "ref-1") -> Hold:
    created = int(NOW.timestamp() * 1000)
    return Hold("hold-1", "slot-1", TOKEN, created, created + 600_000, state, referral, "finder")


def _questionnaire(resource: dict[str, object]) -> Questionnaire:
    return parse_questionnaire(orjson.dumps(resource))


def _store(questionnaire: Questionnaire | None = None, **changes: object) -> FakeBookingStore:
    store = FakeBookingStore(
        holds={"hold-1": _hold()},
        slots={"slot-1": _slot()},
        questionnaires={"sched-1": questionnaire} if questionnaire else {},
    )
    for name, value in changes.items():
        setattr(store, name, value)
    return store


def _submit(store: BookingStore, **form: str) -> BookingResult:
    return submit_booking(store=store, clock=FixedClock(NOW), hold_id="hold-1", token=TOKEN, form=form)


def test_valid_details_book_the_hold_and_record_booked_together() -> None:
    store = _store()
    result = _submit(store, **PATIENT)
    assert isinstance(result, Booked)
    assert store.committed
    assert list(store.appointments) == [result.record.id]
    assert result.record.resource["patient"].name == "Ada Lovelace"
    assert result.record.resource["response"] is None
    assert store.holds["hold-1"].state == "booked"
    assert store.outcomes == [RecordedOutcome("ref-1", "booked")]


def test_wrong_patient_details_are_sent_back_and_nothing_is_kept() -> None:
    store = _store()
    result = _submit(store, name=" ", birthDate="2030-01-01", phone="", email="not-an-email")
    assert isinstance(result, Invalid)
    assert set(result.errors) == {"name", "birthDate", "email"}
    assert not store.committed
    assert store.appointments == {}
    assert store.outcomes == []
    assert store.holds["hold-1"].state == "active"


def test_missing_answers_are_sent_back_by_question_and_nothing_is_kept() -> None:
    store = _store(_questionnaire(neurology_questionnaire()))
    result = _submit(store, **PATIENT, **{"q-referral": "yes"})
    assert result == Invalid({"q-diagnosis": "Please answer this question."})
    assert not store.committed
    assert store.outcomes == []


def test_patient_and_answer_errors_come_back_together() -> None:
    store = _store(_questionnaire(neurology_questionnaire()))
    result = _submit(store, **{**PATIENT, "phone": "12", "email": ""})
    assert isinstance(result, Invalid)
    assert set(result.errors) == {"phone", "q-referral"}


def test_not_eligible_releases_the_hold_and_records_why_in_the_same_unit() -> None:
    store = _store(_questionnaire(neurology_questionnaire()))
    result = _submit(store, **PATIENT, **{"q-referral": "no"})
    assert isinstance(result, CalledOff)
    assert result.outcome == "not-eligible"
    assert result.messages == ("Neurology visits need a referral. Your primary care clinician can send one.",)
    assert store.committed
    assert store.released == [("hold-1", "ineligible")]
    assert store.holds["hold-1"].state == "released"
    assert store.outcomes == [RecordedOutcome("ref-1", "called-off", "ineligible")]
    assert store.appointments == {}


def test_an_answer_the_rules_do_not_list_needs_a_call() -> None:
    store = _store(_questionnaire(neurology_questionnaire()))
    result = _submit(store, **PATIENT, **{"q-referral": "yes", "q-diagnosis": "urn:slotlinks:answer|other"})
    assert isinstance(result, CalledOff)
    assert result.outcome == "needs-call"
    assert store.released == [("hold-1", "needs-call")]
    assert store.outcomes == [RecordedOutcome("ref-1", "called-off", "needs-call")]
    assert store.committed


def test_the_date_of_birth_answers_the_questionnaire_and_age_counts_on_the_visit_day() -> None:
    kind = service("flu-vaccine")
    answers = {"q-dose": "1", "q-allergy": "no"}
    # Three on the visit day (Nov 25), though still two on the day of booking (Nov 24).
    store = _store(_questionnaire(immunization_questionnaire(kind)))
    assert isinstance(_submit(store, **{**PATIENT, "birthDate": "2023-11-25"}, **answers), Booked)
    younger = _store(_questionnaire(immunization_questionnaire(kind)))
    result = _submit(younger, **{**PATIENT, "birthDate": "2023-11-26"}, **answers)
    assert isinstance(result, CalledOff)
    assert result.outcome == "needs-call"


def test_eligible_answers_go_with_the_booking_as_a_questionnaire_response() -> None:
    store = _store(_questionnaire(neurology_questionnaire()))
    result = _submit(store, **PATIENT, **{"q-referral": "yes", "q-diagnosis": "http://snomed.info/sct|37796009"})
    assert isinstance(result, Booked)
    response = result.record.resource["response"]
    assert response["resourceType"] == "QuestionnaireResponse"
    assert response["authored"] == "2026-11-24T06:00:00Z"
    answers = {i["linkId"]: i["answer"][0] for i in response["item"]}
    assert answers["referral"] == {"valueBoolean": True}
    assert answers["diagnosis"]["valueCoding"]["code"] == "37796009"


def test_a_slot_taken_meanwhile_records_the_call_off_in_the_same_committed_unit() -> None:
    store = _store(refusals={"slot-1": "taken"})
    result = _submit(store, **PATIENT)
    assert result == NotBookable("taken")
    assert store.committed
    assert store.outcomes == [RecordedOutcome("ref-1", "called-off", "taken")]
    assert store.appointments == {}
    assert store.released == []


def test_a_hold_that_ran_out_is_unavailable_as_expired() -> None:
    store = _store(holds={"hold-1": _hold(state="expired")})
    assert _submit(store, **PATIENT) == NotBookable("expired")
    assert store.outcomes == [RecordedOutcome("ref-1", "called-off", "expired")]
    assert store.committed


def test_a_slot_that_is_gone_keeps_nothing() -> None:
    store = _store(slots={})
    assert _submit(store, **PATIENT) == NotBookable("gone")
    assert not store.committed
    assert store.outcomes == []


def test_another_browsers_hold_is_not_found() -> None:
    store = _store()
    with pytest.raises(NotFound):
        submit_booking(store=store, clock=FixedClock(NOW), hold_id="hold-1", token="b" * 64, form=PATIENT)
    assert not store.committed


def test_today_bounds_the_date_of_birth() -> None:
    store = _store()
    form = {**PATIENT, "birthDate": "2026-11-25"}
    result = submit_booking(
        store=store, clock=FixedClock(NOW), hold_id="hold-1", token=TOKEN, form=form, today=date(2026, 11, 24)
    )
    assert isinstance(result, Invalid)
    assert set(result.errors) == {"birthDate"}
